// The CI gate's checks over a bench result. Pure: config + summaries in, verdicts out.
import type { CellSummary, PacedSummary } from './stats.ts';
import { fmtFixed, fmtMs } from './table.ts';

export interface GateChecksConfig {
  /** Sentinel req/s ÷ direct req/s (13 B body, same run) must be at least this. */
  readonly minRpsRatioVsDirect: number;
  /** Sentinel paced p99 − direct paced p99 (ms) must be at most this. */
  readonly maxAddedP99Ms: number;
  /** Sentinel process-tree RSS after the saturated run (MB) must be at most this. */
  readonly maxRssMb: number;
  /** (non-2xx + socket errors) ÷ requests of Sentinel's runs must be at most this. */
  readonly maxErrorFraction: number;
}

export interface GateRunConfig {
  readonly durationS: number;
  readonly warmupS: number;
  readonly passes: number;
  readonly connections: number;
  readonly pacedDurationS: number;
  readonly quietWaitMs: number;
  /** A failing gate is re-measured this many times; it fails only if every attempt fails. */
  readonly retries: number;
}

export interface GateConfig {
  readonly run: GateRunConfig;
  readonly checks: GateChecksConfig;
}

export interface CheckResult {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

const SUBJECT = 'sentinel';

function isPositiveNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

/** Validates a parsed gate.config.json; throws with every problem listed. */
export function parseGateConfig(raw: unknown): GateConfig {
  const problems: string[] = [];
  const obj = (v: unknown, name: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push(`${name} must be an object`);
      return {};
    }
    return v as Record<string, unknown>;
  };
  const root = obj(raw, 'config');
  const run = obj(root.run, 'run');
  const checks = obj(root.checks, 'checks');
  const num = (o: Record<string, unknown>, section: string, key: string, allowZero = false): number => {
    const v = o[key];
    if (!(isPositiveNumber(v) || (allowZero && v === 0))) problems.push(`${section}.${key} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
    return typeof v === 'number' ? v : 0;
  };
  const cfg: GateConfig = {
    run: {
      durationS: num(run, 'run', 'durationS'),
      warmupS: num(run, 'run', 'warmupS', true),
      passes: num(run, 'run', 'passes'),
      connections: num(run, 'run', 'connections'),
      pacedDurationS: num(run, 'run', 'pacedDurationS'),
      quietWaitMs: num(run, 'run', 'quietWaitMs', true),
      retries: num(run, 'run', 'retries', true),
    },
    checks: {
      minRpsRatioVsDirect: num(checks, 'checks', 'minRpsRatioVsDirect'),
      maxAddedP99Ms: num(checks, 'checks', 'maxAddedP99Ms'),
      maxRssMb: num(checks, 'checks', 'maxRssMb'),
      maxErrorFraction: num(checks, 'checks', 'maxErrorFraction', true),
    },
  };
  if (problems.length > 0) throw new Error(`invalid gate config: ${problems.join('; ')}`);
  return cfg;
}

/** Evaluates every check; a missing measurement is a failing check, never a silent pass. */
export function evaluateGate(cells: readonly CellSummary[], paced: readonly PacedSummary[], c: GateChecksConfig): CheckResult[] {
  const subject = cells.find((x) => x.scenario === SUBJECT && x.body === 'small');
  const direct = cells.find((x) => x.scenario === 'direct' && x.body === 'small' && x.connections === subject?.connections);
  const pacedSubject = paced.find((p) => p.scenario === SUBJECT);
  const out: CheckResult[] = [];

  const ratioValue = subject?.ratioVsDirect ?? null;
  out.push({
    name: 'throughput ratio sentinel/direct',
    pass: ratioValue !== null && ratioValue >= c.minRpsRatioVsDirect,
    detail:
      ratioValue === null
        ? 'no measurement'
        : `${ratioValue.toFixed(3)} (${fmtFixed(subject?.best.load.rps ?? null, 0)} / ${fmtFixed(direct?.best.load.rps ?? null, 0)} req/s) >= floor ${c.minRpsRatioVsDirect}`,
  });

  const added = pacedSubject?.addedP99Ms ?? null;
  out.push({
    name: 'added p99 at equal load',
    pass: added !== null && added <= c.maxAddedP99Ms,
    detail: added === null ? 'no measurement' : `${fmtMs(added)} ms (p99 ${fmtMs(pacedSubject?.p99Ms ?? null)} ms) <= bound ${c.maxAddedP99Ms} ms`,
  });

  const rss = subject?.best.rssMb ?? null;
  out.push({
    name: 'RSS after saturated run',
    pass: rss !== null && rss <= c.maxRssMb,
    detail: rss === null ? 'no measurement' : `${rss.toFixed(1)} MB <= bound ${c.maxRssMb} MB`,
  });

  const requests = (subject?.requests ?? 0) + (pacedSubject?.requests ?? 0);
  const errors = (subject?.errors ?? 0) + (pacedSubject?.errors ?? 0);
  const fraction = subject ? errors / Math.max(1, requests) : null;
  out.push({
    name: 'error fraction',
    pass: fraction !== null && fraction <= c.maxErrorFraction,
    detail: fraction === null ? 'no measurement' : `${errors} errors in ${requests} requests = ${fraction.toExponential(1)} <= bound ${c.maxErrorFraction}`,
  });
  return out;
}

export function formatCheck(r: CheckResult): string {
  return `${r.pass ? 'PASS' : 'FAIL'}  ${r.name}: ${r.detail}`;
}
