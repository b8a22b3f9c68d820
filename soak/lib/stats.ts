// Pure statistics for the soak runner: k6-compatible percentiles and threshold expressions, least-squares
// slopes, and the leak judgement over the resource samples.

/**
 * Percentile as k6 computes it for Trend metrics: linear interpolation at rank p/100 × (n − 1) of the
 * ascending-sorted values. `p` in [0, 100]. Like k6, an empty metric reads 0.
 */
export function percentileK6(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  if (n === 1) return sorted[0] as number;
  const i = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = sorted[Math.floor(i)] as number;
  const hi = sorted[Math.ceil(i)] as number;
  return lo + (hi - lo) * (i - Math.floor(i));
}

export type ThresholdOp = '<' | '<=' | '>' | '>=' | '==' | '===' | '!=';

export interface ThresholdExpr {
  /** `rate`, `count`, `avg`, `min`, `max`, `med`, or `p(N)`. */
  readonly stat: string;
  /** The percentile for `p(N)`, else null. */
  readonly percentile: number | null;
  readonly op: ThresholdOp;
  readonly value: number;
}

const EXPR = /^\s*(rate|count|avg|min|max|med|p\(\s*(\d+(?:\.\d+)?)\s*\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*$/i;

/** Parses a k6 threshold expression such as `p(95)<200` or `rate<0.01`. Throws on anything else. */
export function parseThreshold(expr: string): ThresholdExpr {
  const m = EXPR.exec(expr);
  if (m === null) throw new SyntaxError(`unsupported threshold expression: ${expr}`);
  const stat = (m[1] as string).toLowerCase().replace(/\s+/g, '');
  return {
    stat: stat.startsWith('p(') ? 'p' : stat,
    percentile: m[2] === undefined ? null : Number(m[2]),
    op: m[3] as ThresholdOp,
    value: Number(m[4]),
  };
}

export function compare(observed: number, op: ThresholdOp, value: number): boolean {
  switch (op) {
    case '<': return observed < value;
    case '<=': return observed <= value;
    case '>': return observed > value;
    case '>=': return observed >= value;
    case '==': case '===': return observed === value;
    case '!=': return observed !== value;
  }
}

/** The metric values the runner collects, under k6's metric names. */
export type MetricSink =
  | { readonly kind: 'rate'; readonly passes: number; readonly total: number }
  | { readonly kind: 'trend'; readonly sorted: ArrayLike<number> }
  | { readonly kind: 'counter'; readonly count: number; readonly durationS: number };

export function statValue(sink: MetricSink, e: ThresholdExpr): number {
  switch (sink.kind) {
    case 'rate':
      if (e.stat !== 'rate') break;
      return sink.total === 0 ? 0 : sink.passes / sink.total;
    case 'counter':
      if (e.stat === 'count') return sink.count;
      if (e.stat === 'rate') return sink.durationS > 0 ? sink.count / sink.durationS : 0;
      break;
    case 'trend': {
      const s = sink.sorted;
      const n = s.length;
      if (e.stat === 'p') return percentileK6(s, e.percentile ?? 0);
      if (e.stat === 'med') return percentileK6(s, 50);
      if (e.stat === 'min') return n === 0 ? 0 : (s[0] as number);
      if (e.stat === 'max') return n === 0 ? 0 : (s[n - 1] as number);
      if (e.stat === 'avg') {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += s[i] as number;
        return n === 0 ? 0 : sum / n;
      }
      break;
    }
  }
  throw new SyntaxError(`${e.stat} does not apply to a ${sink.kind} metric`);
}

export interface ThresholdResult {
  readonly metric: string;
  readonly expr: string;
  readonly observed: number;
  readonly pass: boolean;
}

/** Evaluates k6 `thresholds` ({ metric: [expr, …] }) against the collected metrics. A missing metric fails. */
export function evaluateThresholds(thresholds: Readonly<Record<string, readonly string[]>>, metrics: Readonly<Record<string, MetricSink>>): ThresholdResult[] {
  const out: ThresholdResult[] = [];
  for (const [metric, exprs] of Object.entries(thresholds)) {
    const sink = metrics[metric];
    for (const expr of exprs) {
      if (sink === undefined) {
        out.push({ metric, expr, observed: Number.NaN, pass: false });
        continue;
      }
      const e = parseThreshold(expr);
      const observed = statValue(sink, e);
      out.push({ metric, expr, observed, pass: compare(observed, e.op, e.value) });
    }
  }
  return out;
}

export interface LinearFit {
  readonly slope: number;
  readonly intercept: number;
  readonly n: number;
}

/** Ordinary least squares y = intercept + slope·x. NaN slope and intercept with fewer than 2 distinct x. */
export function linearRegression(xs: readonly number[], ys: readonly number[]): LinearFit {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN, n };
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i] as number;
    my += ys[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    sxy += dx * ((ys[i] as number) - my);
    sxx += dx * dx;
  }
  if (sxx === 0) return { slope: Number.NaN, intercept: Number.NaN, n };
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, n };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** One reading of the proxy process; null where it could not be read. */
export interface ResourceSample {
  /** ms since the load started (negative = before). */
  readonly tMs: number;
  readonly rssMb: number | null;
  readonly heapUsedMb: number | null;
  readonly fds: number | null;
  readonly eventLoopLagP99Ms: number | null;
}

export interface LeakBoundsLike {
  readonly maxRssSlopeMbPerMin: number;
  readonly minRssWindowMs: number;
  readonly maxHeapGrowthAfterGcMb: number;
  readonly maxFdGrowth: number;
  readonly warmupFraction: number;
}

/** Live heap after a full GC at the start of the judged window and at the end of the load (MB); null = no probe. */
export interface HeapAfterGc {
  readonly startMb: number | null;
  readonly endMb: number | null;
}

/** Open fds before the load, and once the load has stopped and idle connections have closed. */
export interface FdSettle {
  readonly baseline: number | null;
  readonly after: number | null;
}

export interface LeakVerdict {
  /** The judged window (steady phase minus warm-up), ms since load start. */
  readonly fromMs: number;
  readonly toMs: number;
  readonly samples: number;
  readonly rssSlopeMbPerMin: number;
  readonly heapSlopeMbPerMin: number;
  /** Informational: fds track the connection high-water mark during the load, so only the settle check judges. */
  readonly fdSlopePerMin: number;
  /** fds after the load settled minus fds before it (NaN when either is unknown). */
  readonly fdGrowth: number;
  /** Whether the window was long enough for the RSS slope to be judged (else it is information). */
  readonly rssJudged: boolean;
  /** Live heap after GC at the end minus at the start of the judged window (NaN without the probe). */
  readonly heapGrowthAfterGcMb: number;
  /** null when no bounds were given (informational only). */
  readonly pass: boolean | null;
  readonly reasons: string[];
}

function slopePerMin(samples: readonly ResourceSample[], pick: (s: ResourceSample) => number | null): number {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of samples) {
    const v = pick(s);
    if (v === null) continue;
    xs.push(s.tMs / 60_000);
    ys.push(v);
  }
  return linearRegression(xs, ys).slope;
}

/**
 * Judges leaks: the least-squares slope of RSS (MB/min) over the steady window [startMs, endMs) with its
 * first `warmupFraction` left out, and fd growth = fds after the load settled − fds before it. With
 * bounds, fewer than 5 samples in the window, an unknown slope or unknown fds fail.
 */
export function judgeLeaks(samples: readonly ResourceSample[], window: { startMs: number; endMs: number }, bounds: LeakBoundsLike | null, fds: FdSettle, heap: HeapAfterGc = { startMb: null, endMb: null }): LeakVerdict {
  const warmup = bounds?.warmupFraction ?? 0.25;
  const fromMs = window.startMs + (window.endMs - window.startMs) * warmup;
  const toMs = window.endMs;
  const inWin = samples.filter((s) => s.tMs >= fromMs && s.tMs < toMs);
  const rssSlope = slopePerMin(inWin, (s) => s.rssMb);
  const heapSlope = slopePerMin(inWin, (s) => s.heapUsedMb);
  const fdSlope = slopePerMin(inWin, (s) => s.fds);
  const fdGrowth = fds.baseline === null || fds.after === null ? Number.NaN : fds.after - fds.baseline;
  const heapGrowth = heap.startMb === null || heap.endMb === null ? Number.NaN : heap.endMb - heap.startMb;
  const rssJudged = bounds !== null && toMs - fromMs >= bounds.minRssWindowMs;
  const reasons: string[] = [];
  let pass: boolean | null = null;
  if (bounds !== null) {
    pass = true;
    if (inWin.length < 5) {
      pass = false;
      reasons.push(`only ${inWin.length} samples in the steady window (need >= 5)`);
    }
    if (rssJudged && !(rssSlope < bounds.maxRssSlopeMbPerMin)) {
      pass = false;
      reasons.push(`RSS slope ${rssSlope.toFixed(2)} MB/min, bound < ${bounds.maxRssSlopeMbPerMin}`);
    }
    if (!rssJudged && Number.isNaN(heapGrowth)) {
      pass = false;
      reasons.push(`the judged window (${((toMs - fromMs) / 1000).toFixed(0)} s) is too short for the RSS slope and there is no heap probe: nothing judges leaks`);
    }
    if (!Number.isNaN(heapGrowth) && !(heapGrowth <= bounds.maxHeapGrowthAfterGcMb)) {
      pass = false;
      reasons.push(`live heap after GC grew ${heapGrowth.toFixed(2)} MB, bound <= ${bounds.maxHeapGrowthAfterGcMb}`);
    }
    if (!(fdGrowth <= bounds.maxFdGrowth)) {
      pass = false;
      reasons.push(`fd growth ${fdGrowth} after the load settled, bound <= ${bounds.maxFdGrowth}`);
    }
  }
  return { fromMs, toMs, samples: inWin.length, rssSlopeMbPerMin: rssSlope, heapSlopeMbPerMin: heapSlope, fdSlopePerMin: fdSlope, fdGrowth, rssJudged, heapGrowthAfterGcMb: heapGrowth, pass, reasons };
}
