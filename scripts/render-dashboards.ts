// Writes dashboards/*.json from dashboards/src (spec/dashboards/dashboards.test.ts checks they are current).
import { writeFileSync } from 'node:fs';
import { renderDashboards } from '../dashboards/src/index.ts';

for (const [file, text] of renderDashboards()) {
  writeFileSync(new URL(`../dashboards/${file}`, import.meta.url), text);
  process.stdout.write(`dashboards/${file} written\n`);
}
