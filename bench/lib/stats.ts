// Pure statistics over benchmark runs: percentiles, best-of-N, ratios, added latency.
import type { BodyKind, RunRecord } from './types.ts';
import { totalErrors } from './wrk-parse.ts';

/** Nearest-rank percentile of an ascending-sorted array; NaN when empty. `p` in [0, 100]. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * n);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))] as number;
}

/** Median (mean of the two middle values for even counts); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** `num / den`, or null when either side is missing or the denominator is not positive. */
export function ratio(num: number | null | undefined, den: number | null | undefined): number | null {
  if (num == null || den == null || !Number.isFinite(num) || !Number.isFinite(den) || den <= 0) return null;
  return num / den;
}

export function cellKey(scenario: string, body: BodyKind, connections: number): string {
  return `${scenario}|${body}|${connections}`;
}

/** Best-of-N summary of one (scenario, body, connections) cell; ratios compare best runs in the same invocation. */
export interface CellSummary {
  readonly scenario: string;
  readonly body: BodyKind;
  readonly connections: number;
  /** The pass with the highest req/s; its latency, CPU and RSS figures are the ones reported. */
  readonly best: RunRecord;
  readonly passesRps: readonly number[];
  readonly medianRps: number;
  readonly medianCpuUsPerReq: number | null;
  /** Completed requests and errors (non-2xx + socket errors), summed over all passes. */
  readonly requests: number;
  readonly errors: number;
  readonly ratioVsDirect: number | null;
  readonly ratioVsNginx: number | null;
  /** CPU µs/req ÷ nginx's, medians over passes. */
  readonly cpuRatioVsNginx: number | null;
}

/**
 * Groups saturated (non-paced) runs into cells, picks the best pass of each, and computes ratios against
 * the `direct` and `nginx` cells of the same body and connection count. Order follows first appearance.
 */
export function summarizeCells(runs: readonly RunRecord[]): CellSummary[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) {
    if (r.paced) continue;
    const k = cellKey(r.scenario, r.body, r.connections);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const partial = [...groups.values()].map((g) => {
    let best = g[0] as RunRecord;
    for (const r of g) if (r.load.rps > best.load.rps) best = r;
    const cpus = g.map((r) => r.proxyCpuUsPerReq).filter((v): v is number => v !== null);
    return {
      scenario: best.scenario,
      body: best.body,
      connections: best.connections,
      best,
      passesRps: g.map((r) => r.load.rps),
      medianRps: median(g.map((r) => r.load.rps)),
      medianCpuUsPerReq: cpus.length > 0 ? median(cpus) : null,
      requests: g.reduce((sum, r) => sum + r.load.requests, 0),
      errors: g.reduce((sum, r) => sum + totalErrors(r.load), 0),
    };
  });
  const byKey = new Map(partial.map((c) => [cellKey(c.scenario, c.body, c.connections), c]));
  return partial.map((c) => {
    const direct = byKey.get(cellKey('direct', c.body, c.connections));
    const nginx = byKey.get(cellKey('nginx', c.body, c.connections));
    return {
      ...c,
      ratioVsDirect: ratio(c.best.load.rps, direct?.best.load.rps),
      ratioVsNginx: ratio(c.best.load.rps, nginx?.best.load.rps),
      cpuRatioVsNginx: ratio(c.medianCpuUsPerReq, nginx?.medianCpuUsPerReq),
    };
  });
}

/** Median-of-passes summary of a paced (equal-load) run, with latency added over `direct`. */
export interface PacedSummary {
  readonly scenario: string;
  readonly passes: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerReq: number | null;
  readonly addedP50Ms: number | null;
  readonly addedP99Ms: number | null;
  /** Summed over passes. */
  readonly requests: number;
  readonly errors: number;
}

export function summarizePaced(runs: readonly RunRecord[]): PacedSummary[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) {
    if (!r.paced) continue;
    const g = groups.get(r.scenario);
    if (g) g.push(r);
    else groups.set(r.scenario, [r]);
  }
  const partial = [...groups.entries()].map(([scenario, g]) => {
    const cpus = g.map((r) => r.proxyCpuUsPerReq).filter((v): v is number => v !== null);
    return {
      scenario,
      passes: g.length,
      rps: median(g.map((r) => r.load.rps)),
      p50Ms: median(g.map((r) => r.load.p50Ms)),
      p99Ms: median(g.map((r) => r.load.p99Ms)),
      cpuUsPerReq: cpus.length > 0 ? median(cpus) : null,
      requests: g.reduce((sum, r) => sum + r.load.requests, 0),
      errors: g.reduce((sum, r) => sum + totalErrors(r.load), 0),
    };
  });
  const direct = partial.find((p) => p.scenario === 'direct');
  return partial.map((p) => ({
    ...p,
    addedP50Ms: direct ? p.p50Ms - direct.p50Ms : null,
    addedP99Ms: direct ? p.p99Ms - direct.p99Ms : null,
  }));
}

/** CPU µs per request from a tick delta: ticks / clkTck seconds spread over `requests`. */
export function cpuUsPerRequest(ticks: number, clkTck: number, requests: number): number | null {
  if (requests <= 0 || clkTck <= 0) return null;
  return ((ticks / clkTck) * 1e6) / requests;
}

/** One algorithm of the load-balancing runs: its best pass, and ratios against round_robin in the same run. */
export interface LbSummary {
  readonly algorithm: string;
  readonly cell: CellSummary;
  /** Best req/s ÷ round_robin's best req/s. */
  readonly rpsVsRoundRobin: number | null;
  /** Median proxy CPU µs per request ÷ round_robin's (the steadier measure of selection cost). */
  readonly cpuVsRoundRobin: number | null;
}

/** Summarises load-balancing runs (their `scenario` is the algorithm) against round_robin's. */
export function summarizeLb(runs: readonly RunRecord[]): LbSummary[] {
  const cells = summarizeCells(runs);
  const rr = cells.find((c) => c.scenario === 'round_robin');
  return cells.map((c) => ({
    algorithm: c.scenario,
    cell: c,
    rpsVsRoundRobin: ratio(c.best.load.rps, rr?.best.load.rps),
    cpuVsRoundRobin: ratio(c.medianCpuUsPerReq, rr?.medianCpuUsPerReq),
  }));
}
