import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuUsPerRequest, median, percentileSorted, ratio, summarizeCells, summarizeLb, summarizePaced } from '../../bench/lib/stats.ts';
import type { BodyKind, LoadResult, RunRecord } from '../../bench/lib/types.ts';

function load(rps: number, p50Ms = 1, p99Ms = 2, errors = 0): LoadResult {
  return { tool: 'wrk', requests: Math.round(rps * 10), durationS: 10, rps, p50Ms, p75Ms: p50Ms, p90Ms: p99Ms, p99Ms, non2xx: errors, socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 } };
}

function run(scenario: string, pass: number, rps: number, extra: Partial<RunRecord> = {}, body: BodyKind = 'small', connections = 50): RunRecord {
  return { pass, scenario, body, connections, paced: false, load: load(rps), proxyCpuUsPerReq: scenario === 'direct' ? null : 50, proxyCpuPct: null, rssMb: null, idleRssMb: null, foreignCpuPct: 0, ...extra };
}

describe('percentileSorted', () => {
  it('uses nearest rank', () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentileSorted(a, 50)).toBe(5);
    expect(percentileSorted(a, 99)).toBe(10);
    expect(percentileSorted(a, 0)).toBe(1);
    expect(percentileSorted(a, 100)).toBe(10);
    expect(percentileSorted([], 50)).toBeNaN();
  });
  it('returns an element of the array, monotone in p', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (xs, p, q) => {
        const s = [...xs].sort((a, b) => a - b);
        expect(s).toContain(percentileSorted(s, p));
        if (p <= q) expect(percentileSorted(s, p)).toBeLessThanOrEqual(percentileSorted(s, q));
      }),
    );
  });
});

describe('median, ratio, cpuUsPerRequest', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
  it('ratio refuses missing or non-positive denominators', () => {
    expect(ratio(10, 20)).toBe(0.5);
    expect(ratio(10, 0)).toBeNull();
    expect(ratio(null, 2)).toBeNull();
    expect(ratio(1, undefined)).toBeNull();
  });
  it('converts ticks to µs per request', () => {
    // 150 ticks at 100 Hz = 1.5 s of CPU over 30,000 requests = 50 µs each.
    expect(cpuUsPerRequest(150, 100, 30_000)).toBeCloseTo(50, 9);
    expect(cpuUsPerRequest(150, 100, 0)).toBeNull();
  });
});

describe('summarizeCells', () => {
  const runs: RunRecord[] = [
    run('direct', 1, 60_000),
    run('sentinel', 1, 20_000, { proxyCpuUsPerReq: 40, rssMb: 90 }),
    run('nginx', 1, 50_000, { proxyCpuUsPerReq: 20 }),
    run('direct', 2, 50_000),
    run('sentinel', 2, 24_000, { proxyCpuUsPerReq: 44, rssMb: 95 }),
    run('nginx', 2, 40_000, { proxyCpuUsPerReq: 22 }),
    run('sentinel', 1, 9_000, {}, 'large'),
    run('direct', 1, 18_000, {}, 'large'),
  ];
  const cells = summarizeCells(runs);
  const cell = (s: string, b: BodyKind = 'small') => cells.find((c) => c.scenario === s && c.body === b);

  it('keeps the best pass and all pass figures', () => {
    expect(cell('sentinel')?.best.load.rps).toBe(24_000);
    expect(cell('sentinel')?.best.rssMb).toBe(95);
    expect(cell('sentinel')?.passesRps).toEqual([20_000, 24_000]);
    expect(cell('sentinel')?.medianRps).toBe(22_000);
  });
  it('computes ratios against direct and nginx of the same cell, best vs best', () => {
    expect(cell('sentinel')?.ratioVsDirect).toBeCloseTo(0.4, 9);
    expect(cell('sentinel')?.ratioVsNginx).toBeCloseTo(0.48, 9);
    expect(cell('nginx')?.ratioVsNginx).toBe(1);
    expect(cell('sentinel')?.cpuRatioVsNginx).toBeCloseTo(42 / 21, 9);
    expect(cell('sentinel', 'large')?.ratioVsDirect).toBeCloseTo(0.5, 9);
    expect(cell('sentinel', 'large')?.ratioVsNginx).toBeNull();
  });
  it('sums requests and errors over passes and ignores paced runs', () => {
    const withErr = summarizeCells([run('direct', 1, 100, { load: load(100, 1, 2, 3) }), run('direct', 2, 90, { load: load(90, 1, 2, 4) }), run('direct', 1, 5, { paced: true })]);
    expect(withErr).toHaveLength(1);
    expect(withErr[0]?.errors).toBe(7);
    expect(withErr[0]?.requests).toBe(1900);
  });
});

describe('summarizePaced', () => {
  it('takes medians over passes and subtracts direct', () => {
    const p = summarizePaced([
      run('direct', 1, 4900, { paced: true, load: load(4900, 0.15, 0.5) }),
      run('direct', 2, 4950, { paced: true, load: load(4950, 0.17, 0.7) }),
      run('sentinel', 1, 4800, { paced: true, load: load(4800, 0.4, 2.0) }),
      run('sentinel', 2, 4850, { paced: true, load: load(4850, 0.5, 3.0) }),
      run('sentinel', 1, 20_000),
    ]);
    const s = p.find((x) => x.scenario === 'sentinel');
    expect(s?.passes).toBe(2);
    expect(s?.p99Ms).toBeCloseTo(2.5, 9);
    expect(s?.addedP50Ms).toBeCloseTo(0.45 - 0.16, 9);
    expect(s?.addedP99Ms).toBeCloseTo(2.5 - 0.6, 9);
    expect(p.find((x) => x.scenario === 'direct')?.addedP99Ms).toBe(0);
  });
  it('has no added latency without a direct run', () => {
    expect(summarizePaced([run('sentinel', 1, 4800, { paced: true })])[0]?.addedP99Ms).toBeNull();
  });
});

describe('summarizeLb', () => {
  it('compares each algorithm with round_robin of the same run: best req/s, median CPU per request', () => {
    const lb = summarizeLb([
      run('round_robin', 1, 20_000, { proxyCpuUsPerReq: 40 }),
      run('maglev', 1, 18_000, { proxyCpuUsPerReq: 44 }),
      run('round_robin', 2, 22_000, { proxyCpuUsPerReq: 42 }),
      run('maglev', 2, 19_800, { proxyCpuUsPerReq: 46 }),
    ]);
    expect(lb.map((l) => l.algorithm)).toEqual(['round_robin', 'maglev']);
    expect(lb[0]?.rpsVsRoundRobin).toBe(1);
    expect(lb[1]?.rpsVsRoundRobin).toBeCloseTo(0.9, 9);
    expect(lb[1]?.cpuVsRoundRobin).toBeCloseTo(45 / 41, 9);
    expect(summarizeLb([run('p2c', 1, 1_000)])[0]?.rpsVsRoundRobin).toBeNull();
  });
});
