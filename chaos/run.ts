// npm run chaos [-- --scenario NAME ...] [--ci] [--list] [--json FILE] [--scenarios-dir DIR]
// Runs the failure drills in chaos/scenarios/ against the real Sentinel, with faults injected through
// Toxiproxy (TOXIPROXY_URL, or the built-in chaos/toxiproxy server), shows progress on stderr, prints
// the results table on stdout, and exits 0 when every scenario passed, 1 otherwise, 2 on bad usage.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseChaosArgs, USAGE } from './lib/cli.ts';
import type { ChaosArgs } from './lib/cli.ts';
import { createDrill, createDrillEnvironment, fmtMs } from './lib/drill.ts';
import type { Drill, DrillEnvironment } from './lib/drill.ts';
import { loadScenarios, selectScenarios, SelectionError } from './lib/registry.ts';
import { exitCode, observedText, runScenarios } from './lib/runner.ts';
import type { Reporter } from './lib/runner.ts';
import type { Scenario } from './lib/scenario.ts';
import { renderResults, summaryLine, wrap } from './lib/table.ts';

function usage(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

let args: ChaosArgs;
try {
  args = parseChaosArgs(process.argv.slice(2));
} catch (e) {
  usage((e as Error).message);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const width = Math.max(80, Math.min(200, process.stdout.columns ?? 160));
const dir = args.scenariosDir ?? fileURLToPath(new URL('./scenarios/', import.meta.url));
let all: Scenario<Drill>[];
try {
  all = await loadScenarios<Drill>(dir);
} catch (e) {
  process.stderr.write(`chaos: ${(e as Error).message}\n`);
  process.exit(2);
}

let selected: Scenario<Drill>[];
try {
  selected = selectScenarios(all, { names: args.names, ci: args.ci });
} catch (e) {
  if (e instanceof SelectionError) usage(`chaos: ${e.message}`);
  throw e;
}

if (args.list) {
  for (const s of selected) {
    process.stdout.write(`${s.name}  [${s.area}${s.ci ? ', ci' : ''}]\n`);
    for (const line of wrap(`fault: ${s.fault}`, width - 4)) process.stdout.write(`    ${line}\n`);
    for (const line of wrap(`expect: ${s.expectation}`, width - 4)) process.stdout.write(`    ${line}\n`);
  }
  process.exit(0);
}

const t0 = performance.now();
const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
const reporter: Reporter = {
  start(s, i, n) {
    process.stderr.write(`[${i + 1}/${n}] ${s.name}: ${s.fault}\n`);
  },
  progress(_s, message) {
    process.stderr.write(`      ${elapsed().padStart(6)}  ${message}\n`);
  },
  end(r, i, n) {
    process.stderr.write(`[${i + 1}/${n}] ${r.name} ${r.outcome} in ${fmtMs(r.durationMs)}${r.outcome === 'FAIL' ? `: ${observedText(r)}` : ''}\n`);
  },
};

let env: DrillEnvironment;
try {
  env = await createDrillEnvironment();
} catch (e) {
  process.stderr.write(`chaos: ${(e as Error).message}\n`);
  process.exit(1);
}
process.stderr.write(`chaos: ${selected.length} scenario${selected.length === 1 ? '' : 's'}; Toxiproxy ${env.external ? 'at TOXIPROXY_URL' : 'built in'}: ${env.toxiproxyUrl}\n`);

const interrupt = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`chaos: ${signal}: stopping after the current scenario's cleanup\n`);
    interrupt.abort();
  });
}

const results = await runScenarios(selected, (base, s) => createDrill(base, env, s.name), { reporter, signal: interrupt.signal });
await env.close();

process.stdout.write(`\n${renderResults(results, width)}\n${summaryLine(results, performance.now() - t0)}\n`);
if (args.json !== null) {
  writeFileSync(args.json, `${JSON.stringify({ toxiproxy: { url: env.toxiproxyUrl, external: env.external }, results }, null, 2)}\n`);
}
process.exit(interrupt.signal.aborted ? 130 : exitCode(results));
