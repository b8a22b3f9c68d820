import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { evaluateThresholds, judgeLeaks, linearRegression, parseThreshold, percentileK6 } from '../../soak/lib/stats.ts';
import type { ResourceSample } from '../../soak/lib/stats.ts';
import { parseDurationMs } from '../../soak/lib/duration.ts';
import { parsePromValue, parseVmRssKb } from '../../soak/lib/sampler.ts';

describe('percentileK6 (linear interpolation at p × (n − 1))', () => {
  it('matches hand-computed values', () => {
    const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentileK6(v, 0)).toBe(1);
    expect(percentileK6(v, 100)).toBe(10);
    expect(percentileK6(v, 50)).toBeCloseTo(5.5, 12);
    expect(percentileK6(v, 95)).toBeCloseTo(9.55, 12);
    expect(percentileK6(v, 99)).toBeCloseTo(9.91, 12);
    expect(percentileK6([10, 20], 25)).toBeCloseTo(12.5, 12);
    expect(percentileK6([42], 99)).toBe(42);
    expect(percentileK6([], 99)).toBe(0);
  });

  it('property: monotone in p and within [min, max]', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (arr, p, q) => {
      const s = [...arr].sort((a, b) => a - b);
      const [lo, hi] = p <= q ? [p, q] : [q, p];
      expect(percentileK6(s, lo)).toBeLessThanOrEqual(percentileK6(s, hi) + 1e-9);
      expect(percentileK6(s, lo)).toBeGreaterThanOrEqual(s[0] as number);
      expect(percentileK6(s, hi)).toBeLessThanOrEqual(s[s.length - 1] as number);
    }));
  });
});

describe('k6 threshold expressions', () => {
  it('parses the forms the profiles use', () => {
    expect(parseThreshold('p(95)<200')).toEqual({ stat: 'p', percentile: 95, op: '<', value: 200 });
    expect(parseThreshold('p(99.9) <= 1.5')).toEqual({ stat: 'p', percentile: 99.9, op: '<=', value: 1.5 });
    expect(parseThreshold('rate<0.01')).toEqual({ stat: 'rate', percentile: null, op: '<', value: 0.01 });
    expect(parseThreshold('count>=3')).toEqual({ stat: 'count', percentile: null, op: '>=', value: 3 });
    expect(() => parseThreshold('p95<200')).toThrow(SyntaxError);
    expect(() => parseThreshold('rate<')).toThrow(SyntaxError);
  });

  it('evaluates rate, trend and counter metrics, and fails a metric that was not collected', () => {
    const durations = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100 ms
    const res = evaluateThresholds(
      { http_req_failed: ['rate<0.01'], http_req_duration: ['p(95)<96', 'p(99)<99', 'avg<=50.5', 'max<100'], dropped_iterations: ['count<1'], missing: ['rate<1'] },
      {
        http_req_failed: { kind: 'rate', passes: 1, total: 200 },
        http_req_duration: { kind: 'trend', sorted: durations },
        dropped_iterations: { kind: 'counter', count: 0, durationS: 10 },
      },
    );
    expect(res.map((r) => [r.metric, r.expr, r.pass])).toEqual([
      ['http_req_failed', 'rate<0.01', true],
      ['http_req_duration', 'p(95)<96', true], // 95.05
      ['http_req_duration', 'p(99)<99', false], // 99.01
      ['http_req_duration', 'avg<=50.5', true],
      ['http_req_duration', 'max<100', false],
      ['dropped_iterations', 'count<1', true],
      ['missing', 'rate<1', false],
    ]);
    expect(res[0]?.observed).toBe(0.005);
    expect(res[1]?.observed).toBeCloseTo(95.05, 9);
    const failedOne = evaluateThresholds({ http_req_failed: ['rate<0.01'] }, { http_req_failed: { kind: 'rate', passes: 2, total: 200 } });
    expect(failedOne[0]?.pass).toBe(false);
  });
});

describe('least-squares regression', () => {
  it('recovers a known line and a known slope from noisy symmetric data', () => {
    const xs = [0, 1, 2, 3, 4];
    expect(linearRegression(xs, xs.map((x) => 3 + 2 * x))).toEqual({ slope: 2, intercept: 3, n: 5 });
    // y = 1, 3, 2, 5, 4 → slope = Σ(dx·dy)/Σdx² = (−2·−2 + −1·0 + 0 + 1·2 + 2·1) / 10 = 0.8
    const fit = linearRegression(xs, [1, 3, 2, 5, 4]);
    expect(fit.slope).toBeCloseTo(0.8, 12);
    expect(fit.intercept).toBeCloseTo(1.4, 12);
    expect(linearRegression([1], [1]).slope).toBeNaN();
    expect(linearRegression([2, 2, 2], [1, 2, 3]).slope).toBeNaN();
  });

  it('property: slope of a + b·x plus a symmetric wobble is b', () => {
    fc.assert(fc.property(fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.double({ min: -100, max: 100, noNaN: true }), fc.integer({ min: 1, max: 50 }), (a, b, half) => {
      const xs = Array.from({ length: 2 * half + 1 }, (_, i) => i - half);
      // The wobble is an even function of x, so it is uncorrelated with x.
      const ys = xs.map((x) => a + b * x + (x % 2 === 0 ? 1 : -1));
      expect(linearRegression(xs, ys).slope).toBeCloseTo(b, 6);
    }));
  });
});

function samples(rssAt: (tMin: number) => number, fds = 30): ResourceSample[] {
  return Array.from({ length: 61 }, (_, i) => ({ tMs: i * 1000, rssMb: rssAt(i / 60), heapUsedMb: 20, fds, eventLoopLagP99Ms: 10 }));
}

describe('leak judgement', () => {
  const window = { startMs: 0, endMs: 60_000 };
  // minRssWindowMs 0: these cases judge the RSS slope whatever the window's length.
  const bounds = { maxRssSlopeMbPerMin: 5, minRssWindowMs: 0, maxHeapGrowthAfterGcMb: 8, maxFdGrowth: 8, warmupFraction: 0.25 };

  it('passes a flat RSS and fds back at the baseline', () => {
    const v = judgeLeaks(samples(() => 120), window, bounds, { baseline: 24, after: 25 });
    expect(v.pass).toBe(true);
    expect(v.rssSlopeMbPerMin).toBeCloseTo(0, 9);
    expect(v.fdGrowth).toBe(1);
    expect(v.fromMs).toBe(15_000);
    expect(v.samples).toBe(45);
  });

  it('fails 10 MB/min of growth, and ignores growth confined to the warm-up', () => {
    const leaking = judgeLeaks(samples((t) => 100 + 10 * t), window, bounds, { baseline: 24, after: 24 });
    expect(leaking.pass).toBe(false);
    expect(leaking.rssSlopeMbPerMin).toBeCloseTo(10, 9);
    expect(leaking.reasons.join()).toMatch(/RSS slope 10\.00/);
    const warmupOnly = judgeLeaks(samples((t) => (t < 0.2 ? 100 + 100 * t : 120)), window, bounds, { baseline: 24, after: 24 });
    expect(warmupOnly.pass).toBe(true);
  });

  it('fails fds that do not come back, unknown fds, and too few samples', () => {
    expect(judgeLeaks(samples(() => 120), window, bounds, { baseline: 24, after: 40 }).pass).toBe(false);
    expect(judgeLeaks(samples(() => 120), window, bounds, { baseline: null, after: null }).pass).toBe(false);
    expect(judgeLeaks(samples(() => 120).slice(0, 18), window, bounds, { baseline: 24, after: 24 }).pass).toBe(false);
    expect(judgeLeaks(samples((t) => 100 + 10 * t), window, null, { baseline: 24, after: 99 }).pass).toBeNull();
  });

  it('judges a short window by the live heap after GC, and reports its RSS slope as information', () => {
    const short = { ...bounds, minRssWindowMs: 4 * 60_000 };
    const rising = samples((t) => 100 + 120 * t); // V8 sizing its heap: RSS climbs fast in the first minutes
    const ok = judgeLeaks(rising, window, short, { baseline: 24, after: 24 }, { startMb: 30, endMb: 31.5 });
    expect(ok.rssJudged).toBe(false);
    expect(ok.heapGrowthAfterGcMb).toBeCloseTo(1.5, 9);
    expect(ok.pass).toBe(true);
    const leak = judgeLeaks(rising, window, short, { baseline: 24, after: 24 }, { startMb: 30, endMb: 45 });
    expect(leak.pass).toBe(false);
    expect(leak.reasons.join()).toMatch(/live heap after GC grew 15\.00 MB/);
    // Neither judged (short window, no probe): that is a failure, never a silent pass.
    const blind = judgeLeaks(rising, window, short, { baseline: 24, after: 24 });
    expect(blind.pass).toBe(false);
    expect(blind.reasons.join()).toMatch(/nothing judges leaks/);
  });
});

describe('parsers', () => {
  it('reads VmRSS and Prometheus samples', () => {
    expect(parseVmRssKb('Name:\tnode\nVmRSS:\t  123456 kB\nVmData: 1 kB\n')).toBe(123456);
    expect(parseVmRssKb('Name:\tnode\n')).toBeNull();
    const prom = [
      '# HELP sentinel_nodejs_heap_size_used_bytes x',
      'sentinel_nodejs_heap_size_used_bytes_extra 1',
      'sentinel_nodejs_heap_size_used_bytes 2.5e7',
      'sentinel_nodejs_eventloop_lag_p99_seconds{worker="0"} 0.0125',
    ].join('\n');
    expect(parsePromValue(prom, 'sentinel_nodejs_heap_size_used_bytes')).toBe(25_000_000);
    expect(parsePromValue(prom, 'sentinel_nodejs_eventloop_lag_p99_seconds')).toBe(0.0125);
    expect(parsePromValue(prom, 'absent')).toBeNull();
  });

  it('parses --duration values', () => {
    expect(parseDurationMs('10m')).toBe(600_000);
    expect(parseDurationMs('90s')).toBe(90_000);
    expect(parseDurationMs('1m30s')).toBe(90_000);
    expect(parseDurationMs('1500ms')).toBe(1500);
    expect(parseDurationMs('1h')).toBe(3_600_000);
    expect(parseDurationMs('0s')).toBeNull();
    expect(parseDurationMs('10')).toBeNull();
    expect(parseDurationMs('-5s')).toBeNull();
  });
});
