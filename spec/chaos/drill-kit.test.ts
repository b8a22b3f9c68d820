// The drill kit's pieces that the agent and Redis drills are built from, tested without running a
// drill: the configs they write are accepted by the real `sentinel validate`, the outcome predicates
// and the expectation helpers judge right and wrong outcomes correctly, polling is bounded, the
// catalogue holds every drill issue 8 asks for, and .ci/run's counting of chaos and soak reports.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agentOutcomeKey, bypassed, endpointKdl, FAILURE_CODE, guardConfig, inspected, isAnswer } from '../../chaos/lib/agent-drill.ts';
import type { Drill } from '../../chaos/lib/drill.ts';
import { tally, timeUntil } from '../../chaos/lib/http.ts';
import type { Outcome } from '../../chaos/lib/http.ts';
import { expectLimit, is429, is503, limitedConfig, MAX_REQUESTS } from '../../chaos/lib/redis-drill.ts';
import { loadScenarios } from '../../chaos/lib/registry.ts';
import type { CheckResult } from '../../chaos/lib/scenario.ts';
import { countChecks } from '../../scripts/ci/count-checks.ts';
import { runSentinel } from '../helpers/sentinel-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function outcome(status: number | null, extra: Partial<Outcome> = {}): Outcome {
  const body = extra.body ?? null;
  return { status, code: null, bytes: body?.length ?? 0, complete: status !== null, error: status === null ? 'ECONNRESET' : null, startedAt: 0, ms: 1, headers: {}, body, ...extra };
}
const text = (s: string): Partial<Outcome> => ({ body: Buffer.from(s), headers: { 'content-type': 'text/plain' } });
const error = (status: number, code: string): Outcome => outcome(status, { code, headers: { 'content-type': 'application/json', 'retry-after': '1' } });

/** Just enough of a Drill to record checks. */
function recorder(): { d: Drill; checks: CheckResult[] } {
  const checks: CheckResult[] = [];
  const d = { check: (what: string, expected: string, observed: string, pass: boolean) => checks.push({ what, expected, observed, pass }) } as unknown as Drill;
  return { d, checks };
}

async function validates(kdl: string): Promise<{ code: number | null; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-chaos-kit-'));
  try {
    writeFileSync(join(dir, 'sentinel.kdl'), kdl);
    return await runSentinel(['validate', '-c', join(dir, 'sentinel.kdl')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('drill configs are accepted by sentinel validate', () => {
  it('the agent drills: Unix socket and gRPC, fail-open and fail-closed', { timeout: 60_000 }, async () => {
    const endpoints = [endpointKdl({ socket: '/tmp/agent.sock', grpc: null } as never), endpointKdl({ grpc: '127.0.0.1:50051' })];
    expect(endpoints).toEqual(['unix-socket "/tmp/agent.sock"', 'grpc "127.0.0.1:50051"']);
    for (const endpoint of endpoints) {
      for (const mode of ['open', 'closed'] as const) {
        const r = await validates(guardConfig('127.0.0.1:1', { mode, endpoint }));
        expect(r.code, r.stderr).toBe(0);
      }
    }
  });

  it('the Redis drills: three filters, one per on-redis-failure mode', { timeout: 30_000 }, async () => {
    const kdl = limitedConfig('127.0.0.1:1', '127.0.0.1:6379');
    for (const mode of ['fallback-to-local', 'open', 'closed']) expect(kdl).toContain(`on-redis-failure "${mode}"`);
    const r = await validates(kdl);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('outcome predicates', () => {
  it('agent drills: inspected, bypassed, and each failure mode answer', () => {
    const yes = outcome(200, text('inspected'));
    const no = outcome(200, text('uninspected'));
    expect([inspected(yes), bypassed(yes), inspected(no), bypassed(no)]).toEqual([true, false, false, true]);
    // a truncated 200 is neither
    expect(inspected(outcome(200, { ...text('inspected'), complete: false }))).toBe(false);
    expect(isAnswer('closed', 'timeout')(error(504, FAILURE_CODE.timeout))).toBe(true);
    expect(isAnswer('closed', 'timeout')(error(503, FAILURE_CODE.timeout))).toBe(false);
    expect(isAnswer('closed', 'error')(error(503, 'AGENT_UNAVAILABLE'))).toBe(true);
    expect(isAnswer('closed', 'error')(error(503, 'AGENT_CIRCUIT_OPEN'))).toBe(false);
    expect(isAnswer('closed', 'circuit_open')(no)).toBe(false);
    expect(isAnswer('open', 'timeout')(no)).toBe(true);
    expect(isAnswer('open', 'timeout')(yes)).toBe(false);
    expect(isAnswer('open', 'error')(error(503, 'AGENT_UNAVAILABLE'))).toBe(false);
    expect(tally([yes, no, no, error(504, 'AGENT_TIMEOUT'), outcome(null)], agentOutcomeKey)).toBe('2×200 uninspected, 1×200 inspected, 1×504 AGENT_TIMEOUT, 1×ECONNRESET');
  });

  it('Redis drills: 429 and 503 need their code and Retry-After; expectLimit wants exactly the first N admitted', () => {
    expect(is429(error(429, 'RATE_LIMITED'))).toBe(true);
    expect(is429(outcome(429, { code: 'RATE_LIMITED' }))).toBe(false);
    expect(is503(error(503, 'RATE_LIMITER_UNAVAILABLE'))).toBe(true);
    expect(is503(error(503, 'AGENT_UNAVAILABLE'))).toBe(false);
    const ok = outcome(200);
    const limited = error(429, 'RATE_LIMITED');
    const { d, checks } = recorder();
    expectLimit(d, 'exact', [...Array<Outcome>(MAX_REQUESTS).fill(ok), limited], MAX_REQUESTS);
    expectLimit(d, 'one too many admitted', [...Array<Outcome>(MAX_REQUESTS + 1).fill(ok)], MAX_REQUESTS);
    expectLimit(d, 'rejected too early', [limited, ok], 1);
    expectLimit(d, 'all rejected', [limited], 0);
    expectLimit(d, 'nothing sent', [], 0);
    expect(checks.map((c) => [c.what, c.pass])).toEqual([
      ['exact', true],
      ['one too many admitted', false],
      ['rejected too early', false],
      ['all rejected', true],
      ['nothing sent', false],
    ]);
    expect(checks[0]?.expected).toBe(`the first ${MAX_REQUESTS} 200, then 1×429 RATE_LIMITED`);
    expect(checks[3]?.expected).toBe('1×429 RATE_LIMITED');
  });
});

describe('timeUntil', () => {
  it('resolves with the time once the probe holds; a probe that throws counts as not yet', async () => {
    let calls = 0;
    const ms = await timeUntil(async () => {
      calls++;
      if (calls === 1) throw new Error('not up');
      return calls >= 3;
    }, 5000, undefined, 5);
    expect(calls).toBe(3);
    expect(ms).not.toBeNull();
  });

  it('null when the probe never holds within the bound, or when aborted', async () => {
    expect(await timeUntil(async () => false, 30, undefined, 5)).toBeNull();
    const aborted = new AbortController();
    aborted.abort();
    let asked = 0;
    expect(await timeUntil(async () => ++asked > 0, 5000, aborted.signal)).toBeNull();
    expect(asked).toBe(0);
  });
});

describe('the catalogue holds the drills of issue 8', () => {
  it('agent drills under fail-open and fail-closed, the breaker drill, the Redis drills; the CI subset has both failure modes and every Redis drill', async () => {
    const all = await loadScenarios(join(ROOT, 'chaos/scenarios'));
    const names = new Set(all.map((s) => s.name));
    const wanted = [
      ...['down-at-start', 'killed-mid-request', 'frozen', 'slow', 'flapping'].flatMap((k) => [`agent-${k}-open`, `agent-${k}-closed`]),
      'agent-breaker-recovers',
      'redis-down',
      'redis-slow',
      'redis-reset',
    ];
    for (const n of wanted) expect(names.has(n), n).toBe(true);
    for (const s of all.filter((x) => x.area === 'agent' && x.name !== 'agent-breaker-recovers')) {
      const mode = s.name.endsWith('-open') ? 'open' : 'closed';
      expect(s.fault, s.name).toContain(`failure-mode "${mode}"`);
      expect(s.expectation, s.name).toContain(mode === 'open' ? '200 uninspected (bypass)' : 'AGENT_');
    }
    const ci = all.filter((s) => s.ci).map((s) => s.name);
    expect(ci.some((n) => n.startsWith('agent-') && n.endsWith('-open'))).toBe(true);
    expect(ci.some((n) => n.startsWith('agent-') && n.endsWith('-closed'))).toBe(true);
    for (const n of ['redis-down', 'redis-slow', 'redis-reset']) expect(ci).toContain(n);
  });
});

describe('.ci/run counting (scripts/ci/count-checks.ts)', () => {
  it('chaos: one check per scenario', () => {
    const json = JSON.stringify({ results: [{ outcome: 'PASS' }, { outcome: 'FAIL' }, { outcome: 'PASS' }] });
    expect(countChecks('chaos', json)).toEqual({ passed: 2, failed: 1 });
  });

  it('soak: one check per threshold and per check of the report', () => {
    const json = JSON.stringify({ thresholds: [{ pass: true }, { pass: true }, { pass: false }], checks: [{ pass: true }, { pass: true }], pass: false });
    expect(countChecks('soak', json)).toEqual({ passed: 4, failed: 1 });
  });

  it('no report, an unreadable one, or an empty one is one failure', () => {
    for (const [kind, body] of [['chaos', ''], ['chaos', '{'], ['chaos', '{"results":[]}'], ['soak', '{"thresholds":[]}'], ['soak', '{"thresholds":[],"checks":[]}'], ['soak', 'null']] as const) {
      expect(countChecks(kind, body), `${kind} ${body}`).toEqual({ passed: 0, failed: 1 });
    }
  });
});
