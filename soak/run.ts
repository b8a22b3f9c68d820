// npm run soak -- --profile smoke|load|stress|spike|soak [--duration 10m] [--target URL [--pid PID] [--metrics URL]]
//                [--results DIR] [--no-write]
// Runs a profile from soak/profiles.ts with the Node open-model generator, samples the proxy's resources,
// prints progress and a PASS/FAIL table, writes JSON under soak/results/, exits 1 on any failure.
// Without --target it starts a loopback upstream and the real proxy (bin/sentinel.js) itself.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PROFILE_NAMES, PROFILES, isProfileName, scaleProfile, totalDurationMs } from './profiles.ts';
import { GRACEFUL_STOP_MS } from './lib/k6-options.ts';
import { formatSummary, runProfile } from './lib/runner.ts';
import { parseDurationMs } from './lib/duration.ts';

const USAGE = `usage: npm run soak -- --profile ${PROFILE_NAMES.join('|')} [--duration 10m] [--target http://127.0.0.1:PORT [--pid PID] [--metrics http://127.0.0.1:PORT/metrics]] [--results DIR] [--no-write]`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      profile: { type: 'string' },
      duration: { type: 'string' },
      target: { type: 'string' },
      pid: { type: 'string' },
      metrics: { type: 'string' },
      results: { type: 'string' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  }));
} catch (e) {
  fail((e as Error).message);
}
if (values.help === true) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const name = values.profile;
if (name === undefined || !isProfileName(name)) fail(`--profile must be one of ${PROFILE_NAMES.join(', ')}`);
let profile = PROFILES[name];
if (values.duration !== undefined) {
  const ms = parseDurationMs(values.duration);
  if (ms === null) fail(`bad --duration ${values.duration} (examples: 90s, 10m, 1h, 1500ms)`);
  profile = scaleProfile(profile, ms);
}
const pid = values.pid === undefined ? null : Number(values.pid);
if (pid !== null && !(Number.isInteger(pid) && pid > 0)) fail(`bad --pid ${values.pid}`);
if (values.target === undefined && (values.pid !== undefined || values.metrics !== undefined)) fail('--pid and --metrics go with --target');

const resultsDir = values['no-write'] === true ? null : (values.results ?? fileURLToPath(new URL('./results/', import.meta.url)));
const controller = new AbortController();
let proxyPid: number | null = null;
const killProxy = (): void => {
  if (proxyPid === null) return;
  try {
    process.kill(proxyPid, 'SIGKILL');
  } catch { /* already gone */ }
};
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts++;
  if (interrupts > 1) {
    killProxy();
    process.exit(130);
  }
  process.stderr.write('interrupted: stopping the load (Ctrl-C again to quit at once)\n');
  controller.abort();
});
// Watchdog: everything is bounded by the schedule and the graceful stop; this is the backstop.
const watchdog = setTimeout(() => {
  process.stderr.write('soak: watchdog expired, exiting\n');
  killProxy();
  process.exit(3);
}, totalDurationMs(profile) + GRACEFUL_STOP_MS + 90_000);
watchdog.unref();

try {
  const report = await runProfile({
    profile,
    target: values.target ?? null,
    pid,
    metricsUrl: values.metrics ?? null,
    resultsDir,
    signal: controller.signal,
    onProxyStarted: (p) => { proxyPid = p; },
  });
  process.stdout.write(`${formatSummary(report)}\n`);
  clearTimeout(watchdog);
  process.exitCode = report.pass ? 0 : 1;
} catch (e) {
  process.stderr.write(`soak: ${(e as Error).stack ?? String(e)}\n`);
  clearTimeout(watchdog);
  process.exitCode = 1;
}
