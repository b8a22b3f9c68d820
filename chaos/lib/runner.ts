// Runs scenarios one after the other: a context per scenario (checks, progress, cleanups, a timeout
// signal), a hard time limit, cleanups in reverse order, and one result per scenario. A scenario
// passes only when it recorded at least one check and every check passed.
import type { Area, CheckResult, Scenario, ScenarioContext } from './scenario.ts';

export type Outcome = 'PASS' | 'FAIL';

export interface ScenarioResult {
  readonly name: string;
  readonly area: Area;
  readonly expectation: string;
  readonly checks: readonly CheckResult[];
  /** Thrown error or timeout, else null. */
  readonly error: string | null;
  readonly outcome: Outcome;
  readonly durationMs: number;
}

export interface Reporter {
  start(scenario: Scenario<never>, index: number, total: number): void;
  progress(scenario: Scenario<never>, message: string): void;
  end(result: ScenarioResult, index: number, total: number): void;
}

export const silentReporter: Reporter = { start() {}, progress() {}, end() {} };

/** Builds the context a scenario runs with from the runner's base context (e.g. the drill kit). */
export type ContextFactory<C extends ScenarioContext> = (base: ScenarioContext, scenario: Scenario<C>) => C;

/** Bound on each cleanup, so a stuck one cannot hold the run. */
const CLEANUP_TIMEOUT_MS = 20_000;

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

export interface RunOptions {
  readonly reporter?: Reporter;
  /** Aborting it (SIGINT) ends the running scenario as failed, runs its cleanups, and starts no other. */
  readonly signal?: AbortSignal;
}

function interrupted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (signal === undefined) return;
    const fail = (): void => reject(new Error('interrupted'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

export async function runScenario<C extends ScenarioContext>(scenario: Scenario<C>, makeContext: ContextFactory<C>, options: RunOptions = {}, index = 0, total = 1): Promise<ScenarioResult> {
  const reporter = options.reporter ?? silentReporter;
  const started = performance.now();
  const checks: CheckResult[] = [];
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const controller = new AbortController();
  const base: ScenarioContext = {
    progress: (message) => reporter.progress(scenario as Scenario<never>, message),
    check: (what, expected, observed, pass) => {
      checks.push({ what, expected, observed, pass });
    },
    defer: (cleanup) => {
      cleanups.push(cleanup);
    },
    signal: controller.signal,
  };
  reporter.start(scenario as Scenario<never>, index, total);
  let error: string | null = null;
  try {
    const running = Promise.resolve().then(() => scenario.run(makeContext(base, scenario)));
    running.catch(() => undefined); // a run that outlives its timeout must not become an unhandled rejection
    const stop = interrupted(options.signal);
    stop.catch(() => undefined);
    await withTimeout(Promise.race([running, stop]), scenario.timeoutMs, `timed out after ${scenario.timeoutMs / 1000} s`);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
    controller.abort(new Error(error));
  }
  for (const cleanup of cleanups.reverse()) {
    try {
      await withTimeout(Promise.resolve().then(cleanup), CLEANUP_TIMEOUT_MS, `cleanup timed out after ${CLEANUP_TIMEOUT_MS / 1000} s`);
    } catch (e) {
      error ??= `cleanup failed: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  if (error === null && checks.length === 0) error = 'recorded no check';
  const result: ScenarioResult = {
    name: scenario.name,
    area: scenario.area,
    expectation: scenario.expectation,
    checks,
    error,
    outcome: error === null && checks.every((c) => c.pass) ? 'PASS' : 'FAIL',
    durationMs: performance.now() - started,
  };
  reporter.end(result, index, total);
  return result;
}

export async function runScenarios<C extends ScenarioContext>(list: readonly Scenario<C>[], makeContext: ContextFactory<C>, options: RunOptions = {}): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (let i = 0; i < list.length && options.signal?.aborted !== true; i++) results.push(await runScenario(list[i]!, makeContext, options, i, list.length));
  return results;
}

/** 0 when every scenario passed, 1 otherwise (an empty run is a failure). */
export function exitCode(results: readonly ScenarioResult[]): 0 | 1 {
  return results.length > 0 && results.every((r) => r.outcome === 'PASS') ? 0 : 1;
}

/** The "observed" column: each check's observation, failed ones marked with what was expected. */
export function observedText(r: ScenarioResult): string {
  const parts = r.checks.map((c) => (c.pass ? `${c.what}: ${c.observed}` : `✗ ${c.what}: ${c.observed} (expected ${c.expected})`));
  if (r.error !== null) parts.push(`✗ ${r.error}`);
  return parts.join('; ');
}
