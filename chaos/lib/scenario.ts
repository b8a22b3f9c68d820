// What a chaos scenario is: one fault, the exact expectation written next to it, and a run() that
// injects the fault, observes what clients and the metrics saw, and records one check per part of
// the expectation. A scenario is a small file under chaos/scenarios/ exporting `scenario` (or
// `scenarios`, for variants such as fail-open / fail-closed); the runner finds it by itself.

export type Area = 'upstream' | 'agent' | 'redis' | 'proxy';
export const AREAS: readonly Area[] = ['upstream', 'agent', 'redis', 'proxy'];

/** One recorded part of the expectation. */
export interface CheckResult {
  /** What was checked, e.g. "status" or "max latency". */
  readonly what: string;
  /** The bound or value expected, e.g. "all 502 UPSTREAM_CONNECT_FAILED" or "≤ 2500 ms". */
  readonly expected: string;
  /** What was seen, e.g. "20×502 UPSTREAM_CONNECT_FAILED". */
  readonly observed: string;
  readonly pass: boolean;
}

/** What a scenario's run() gets: progress output, check recording, cleanup registration. */
export interface ScenarioContext {
  /** One line of progress ("disabling the upstream"), shown while the scenario runs. */
  progress(message: string): void;
  /** Records one check. */
  check(what: string, expected: string, observed: string, pass: boolean): void;
  /** Registers a cleanup, run in reverse order when the scenario ends (pass, fail or timeout). */
  defer(cleanup: () => Promise<unknown> | unknown): void;
  /** Aborted when the scenario times out: long waits should give up. */
  readonly signal: AbortSignal;
}

export interface Scenario<C extends ScenarioContext = ScenarioContext> {
  /** kebab-case and unique: `npm run chaos -- --scenario NAME`. */
  readonly name: string;
  readonly area: Area;
  /** The fault and how it is injected, one line. */
  readonly fault: string;
  /** The exact expectation (statuses, latency bounds from the configured timeouts, metric deltas, recovery). Every part is checked. */
  readonly expectation: string;
  /** Part of the short subset CI runs (`npm run chaos -- --ci`). */
  readonly ci: boolean;
  /** Upper bound on the whole scenario, set-up included; past it the scenario fails as timed out. */
  readonly timeoutMs: number;
  run(ctx: C): Promise<void>;
}

/** A scenario module exports one of these. */
export interface ScenarioModule<C extends ScenarioContext = ScenarioContext> {
  readonly scenario?: Scenario<C>;
  readonly scenarios?: readonly Scenario<C>[];
}

const NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Checks a scenario's declaration; returns the problems (empty when it is well-formed). */
export function scenarioProblems(s: Scenario<never>): string[] {
  const problems: string[] = [];
  if (!NAME.test(s.name)) problems.push(`name "${s.name}" is not kebab-case`);
  if (!AREAS.includes(s.area)) problems.push(`${s.name}: area "${s.area}" is not one of ${AREAS.join(', ')}`);
  if (s.fault.trim() === '') problems.push(`${s.name}: fault is empty`);
  if (s.expectation.trim() === '') problems.push(`${s.name}: expectation is empty`);
  if (!(Number.isFinite(s.timeoutMs) && s.timeoutMs > 0)) problems.push(`${s.name}: timeoutMs must be a positive number`);
  if (typeof s.run !== 'function') problems.push(`${s.name}: run is not a function`);
  return problems;
}
