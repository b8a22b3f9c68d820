// Writes docs/metrics.md from the metric catalogue.
import { writeFileSync } from 'node:fs';
import { renderMetricsDoc } from '../src/observability/render-doc.ts';

writeFileSync(new URL('../docs/metrics.md', import.meta.url), renderMetricsDoc());
process.stdout.write('docs/metrics.md written\n');
