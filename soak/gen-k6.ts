// Regenerates soak/k6/profiles.generated.json from soak/profiles.ts: `node soak/gen-k6.ts`.
// `node soak/gen-k6.ts --check` exits 1 when the committed file is stale (spec/soak checks it too).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderGeneratedK6Profiles } from './lib/k6-options.ts';

const file = fileURLToPath(new URL('./k6/profiles.generated.json', import.meta.url));
const text = renderGeneratedK6Profiles();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch { /* missing: stale */ }
  if (current !== text) {
    process.stderr.write(`${file} is stale: run node soak/gen-k6.ts\n`);
    process.exit(1);
  }
  process.stdout.write(`${file} is current\n`);
} else {
  writeFileSync(file, text);
  process.stdout.write(`wrote ${file}\n`);
}
