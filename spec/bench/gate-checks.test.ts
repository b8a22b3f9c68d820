import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluateGate, formatCheck, parseGateConfig } from '../../bench/lib/gate-checks.ts';
import type { GateChecksConfig } from '../../bench/lib/gate-checks.ts';
import { summarizeCells, summarizePaced } from '../../bench/lib/stats.ts';
import type { LoadResult, RunRecord } from '../../bench/lib/types.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function load(rps: number, p99Ms: number, non2xx = 0): LoadResult {
  return { tool: 'wrk', requests: rps * 3, durationS: 3, rps, p50Ms: p99Ms / 3, p75Ms: p99Ms / 2, p90Ms: p99Ms / 1.5, p99Ms, non2xx, socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 } };
}
function rec(scenario: string, l: LoadResult, paced: boolean, rssMb: number | null = null): RunRecord {
  return { pass: 1, scenario, body: 'small', connections: paced ? 100 : 50, paced, load: l, proxyCpuUsPerReq: null, proxyCpuPct: null, rssMb, idleRssMb: null, foreignCpuPct: null };
}

const checks: GateChecksConfig = { minRpsRatioVsDirect: 0.2, maxAddedP99Ms: 10, maxRssMb: 200, maxErrorFraction: 0.001 };

function evaluate(sentinelRps: number, sentinelPacedP99: number, rss: number, errors = 0) {
  const runs = [
    rec('direct', load(60_000, 0.9), false),
    rec('sentinel', load(sentinelRps, 7, errors), false, rss),
    rec('direct', load(4900, 0.6), true),
    rec('sentinel', load(4800, sentinelPacedP99), true),
  ];
  return evaluateGate(summarizeCells(runs), summarizePaced(runs), checks);
}

describe('evaluateGate', () => {
  it('passes a healthy result', () => {
    const r = evaluate(20_000, 3, 90);
    expect(r.map((c) => c.pass)).toEqual([true, true, true, true]);
    expect(formatCheck(r[0]!)).toMatch(/^PASS {2}throughput ratio sentinel\/direct: 0\.333 \(20000 \/ 60000 req\/s\) >= floor 0\.2$/);
  });
  it('fails each check on its own', () => {
    expect(evaluate(10_000, 3, 90).map((c) => c.pass)).toEqual([false, true, true, true]);
    expect(evaluate(20_000, 11, 90).map((c) => c.pass)).toEqual([true, false, true, true]);
    expect(evaluate(20_000, 3, 201).map((c) => c.pass)).toEqual([true, true, false, true]);
    expect(evaluate(20_000, 3, 90, 500).map((c) => c.pass)).toEqual([true, true, true, false]);
  });
  it('fails every check when sentinel was never measured', () => {
    const runs = [rec('direct', load(60_000, 0.9), false), rec('direct', load(4900, 0.6), true)];
    const r = evaluateGate(summarizeCells(runs), summarizePaced(runs), checks);
    expect(r.every((c) => !c.pass && c.detail === 'no measurement')).toBe(true);
    expect(formatCheck(r[0]!)).toMatch(/^FAIL/);
  });
});

describe('parseGateConfig', () => {
  it('accepts the committed bench/gate.config.json', () => {
    const cfg = parseGateConfig(JSON.parse(readFileSync(path.join(repo, 'bench', 'gate.config.json'), 'utf8')));
    expect(cfg.checks.minRpsRatioVsDirect).toBeGreaterThan(0);
    expect(cfg.checks.minRpsRatioVsDirect).toBeLessThan(1);
    // The gate must fit CI's budget: passes × 3 scenarios × (warm-up + run) + 2 paced runs, well under a minute.
    const r = cfg.run;
    expect(r.passes * 3 * (r.warmupS + r.durationS) + 2 * (1 + r.pacedDurationS)).toBeLessThanOrEqual(45);
  });
  it('lists every problem', () => {
    expect(() => parseGateConfig({ run: { durationS: 0 }, checks: [] })).toThrow(/checks must be an object.*run\.durationS must be a positive number/);
    expect(() => parseGateConfig(null)).toThrow(/config must be an object/);
  });
});
