// Global rate limiting across Sentinel processes sharing one Redis (standalone and a 3-master
// Cluster), driven by paced load at several times the limit, and the failure drills: Redis frozen
// and stopped mid-run (requests keep flowing under the fallback, none hangs, global limiting
// returns with Redis) and SCRIPT FLUSH mid-run (NOSCRIPT path, no failed request, exact count).
//
// Real processes: the CLI (spec/helpers/sentinel-process.ts), redis-server on ephemeral ports
// (spec/helpers/redis.ts, redis-cluster.ts), a loopback upstream.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { Pool } from 'undici';
import { Redis } from 'ioredis';
import { TIMEOUTS_TO_TRIP } from '../../src/ratelimit/redis-store.ts';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { startRedis } from '../helpers/redis.ts';
import type { RedisHandle } from '../helpers/redis.ts';
import { startRedisCluster } from '../helpers/redis-cluster.ts';
import { startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';

let upstream: Upstream;
const cleanups: Array<() => Promise<unknown> | void> = [];

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.end('ok'));
});
afterAll(async () => {
  await upstream.close();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sentinelConfig(filter: string, system = ''): string {
  return `
${system}
listeners { listener "main" { address "127.0.0.1:0" } }
routes { route "app" { matches { path-prefix "/" }; filters "rl"; upstream "app" } }
upstreams { upstream "app" { target "${upstream.address}"; timeouts { request-secs 2 } } }
filters { filter "rl" { type "rate-limit"; ${filter} } }
observability { metrics { enabled #true; address "127.0.0.1:0" }; logging { level "info"; access-log { enabled #false } } }
`;
}

async function startSentinels(n: number, filter: string, system = ''): Promise<SentinelProcess[]> {
  const procs = await Promise.all(Array.from({ length: n }, () => startSentinel(sentinelConfig(filter, system), { listeners: ['main'], metrics: true })));
  for (const p of procs) cleanups.push(() => p.stop());
  return procs;
}

function pools(procs: readonly SentinelProcess[]): Pool[] {
  const out = procs.map((p) => new Pool(`http://127.0.0.1:${p.ports.get('main')}`, { connections: 16 }));
  cleanups.push(() => Promise.all(out.map((pool) => pool.close())));
  return out;
}

interface LoadResult {
  readonly sent: number;
  readonly byStatus: Map<number, number>;
  /** Requests that failed at the socket or took longer than the bound. */
  readonly failures: string[];
  /** Admitted (200) per label (e.g. tenant). */
  readonly admittedBy: Map<string, number>;
}

/**
 * Sends `rps` requests per second for `durationMs`, round-robin over `targets` and `labels` (sent as
 * X-Tenant). Each request must complete within `boundMs` or it counts as a failure.
 */
async function paced(targets: readonly Pool[], rps: number, durationMs: number, boundMs: number, labels: readonly string[] = ['-']): Promise<LoadResult> {
  const byStatus = new Map<number, number>();
  const admittedBy = new Map<string, number>();
  const failures: string[] = [];
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  let sent = 0;
  const one = async (pool: Pool, label: string): Promise<void> => {
    try {
      const res = await pool.request({ path: '/', method: 'GET', headers: { 'x-tenant': label }, signal: AbortSignal.timeout(boundMs) });
      await res.body.text();
      byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode === 200) admittedBy.set(label, (admittedBy.get(label) ?? 0) + 1);
    } catch (err) {
      failures.push((err as Error).name + ': ' + (err as Error).message);
    }
  };
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= durationMs) break;
    const due = Math.floor((elapsed * rps) / 1000) + 1;
    while (sent < due) {
      inflight.push(one(targets[sent % targets.length] as Pool, labels[Math.floor(sent / targets.length) % labels.length] as string));
      sent++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(inflight);
  return { sent, byStatus, failures, admittedBy };
}

async function metrics(p: SentinelProcess): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`);
  return res.text();
}

/** Sum of the series of `name` whose labels include every `labels` pair. */
async function metricSum(procs: readonly SentinelProcess[], name: string, labels: Record<string, string> = {}): Promise<number> {
  let sum = 0;
  for (const p of procs) {
    for (const line of (await metrics(p)).split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
      if (m === null || m[1] !== name) continue;
      const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
    }
  }
  return sum;
}

const within = (actual: number, expected: number, fraction: number): boolean => Math.abs(actual - expected) <= expected * fraction;

describe('three Sentinel processes, one Redis', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('enforce one global limit: admitted within 5% of rate × 10 s + burst at 4× the limit', async () => {
    const rate = 40;
    const burst = 10;
    const procs = await startSentinels(3, `max-rps ${rate}; burst ${burst}; backend "redis"; redis-url "${redis.url}"; redis-timeout-ms 500`);
    const r = await paced(pools(procs), 4 * rate, 10_000, 5000);
    const admitted = r.byStatus.get(200) ?? 0;
    const expected = rate * 10 + burst;
    expect(r.failures).toEqual([]);
    expect([...r.byStatus.keys()].sort()).toEqual([200, 429]);
    expect(within(admitted, expected, 0.05), `admitted ${admitted}, expected ${expected} ± 5% (sent ${r.sent})`).toBe(true);
    // every decision was global: none came from a fallback, each process admitted some
    expect(await metricSum(procs, 'sentinel_ratelimit_decisions_total', { source: 'redis' })).toBe(r.sent);
    for (const p of procs) expect(await metricSum([p], 'sentinel_ratelimit_decisions_total', { outcome: 'allowed', source: 'redis' })).toBeGreaterThan(0);
    expect(await metricSum(procs, 'sentinel_ratelimit_redis_duration_seconds_count')).toBe(r.sent);
  }, 120_000);

  it('SCRIPT FLUSH mid-run: the NOSCRIPT path reloads the script, no request fails, the count stays exact', async () => {
    const quota = 300;
    const procs = await startSentinels(3, `algorithm "sliding-log"; max-requests ${quota}; window-secs 600; backend "redis"; redis-url "${redis.url}"; redis-timeout-ms 500`);
    const admin = new Redis({ host: '127.0.0.1', port: redis.port });
    admin.on('error', () => undefined);
    cleanups.push(() => admin.disconnect());
    let flushes = 0;
    const flusher = setInterval(() => { void admin.script('FLUSH').then(() => { flushes++; }); }, 400);
    let r: LoadResult;
    try {
      r = await paced(pools(procs), 120, 5000, 5000);
    } finally {
      clearInterval(flusher);
    }
    expect(flushes).toBeGreaterThanOrEqual(5);
    expect(r.failures).toEqual([]);
    expect(r.byStatus.get(200)).toBe(quota);
    expect(r.byStatus.get(429)).toBe(r.sent - quota);
    expect(await metricSum(procs, 'sentinel_ratelimit_redis_script_reloads_total')).toBeGreaterThanOrEqual(3);
    expect(await metricSum(procs, 'sentinel_ratelimit_redis_errors_total')).toBe(0);
    expect(await metricSum(procs, 'sentinel_ratelimit_decisions_total', { source: 'redis' })).toBe(r.sent);
  }, 120_000);
});

describe('three Sentinel processes, a 3-master Redis Cluster', () => {
  it('enforce one global limit per key within 5%, with keys on every master', async () => {
    const cluster = await startRedisCluster(3);
    cleanups.push(() => cluster.stop());
    const rate = 15;
    const burst = 5;
    // these tenants' hash tags fall in the three masters' slot ranges (865, 8623, 14438)
    const tenants = ['alpha', 'bravo', 'echo'];
    const urls = cluster.nodes.map((n) => `"redis://${n}"`).join(' ');
    const procs = await startSentinels(3, `max-rps ${rate}; burst ${burst}; key "header:X-Tenant"; backend "redis"; redis-url ${urls}; redis-timeout-ms 500`);
    // GCRA keys expire as soon as their bucket is full again: look for them on each master while the load runs.
    const admins = cluster.ports.map((port) => {
      const c = new Redis({ host: '127.0.0.1', port });
      c.on('error', () => undefined);
      return c;
    });
    cleanups.push(() => { for (const c of admins) c.disconnect(); });
    const keysSeen = cluster.ports.map(() => 0);
    const watcher = setInterval(() => {
      admins.forEach((c, i) => { void c.dbsize().then((n) => { keysSeen[i] = Math.max(keysSeen[i] as number, n); }, () => undefined); });
    }, 250);
    let r: LoadResult;
    try {
      r = await paced(pools(procs), 4 * rate * tenants.length, 10_000, 5000, tenants);
    } finally {
      clearInterval(watcher);
    }
    expect(r.failures).toEqual([]);
    const expected = rate * 10 + burst;
    for (const t of tenants) {
      const admitted = r.admittedBy.get(t) ?? 0;
      expect(within(admitted, expected, 0.05), `${t}: admitted ${admitted}, expected ${expected} ± 5%`).toBe(true);
    }
    expect(await metricSum(procs, 'sentinel_ratelimit_decisions_total', { source: 'redis' })).toBe(r.sent);
    expect(keysSeen.every((n) => n >= 1), `keys seen per master: ${keysSeen.join(', ')}`).toBe(true);
  }, 120_000);
});

describe('Redis failure mid-run (fallback-to-local)', () => {
  it('frozen then stopped: requests keep flowing within redis-timeout-ms plus the budget, per-instance limits apply, global limiting returns with Redis', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const rate = 20;
    const burst = 5;
    const timeoutMs = 200;
    // the client bound: redis-timeout-ms plus the route's whole budget (request-secs 2)
    const boundMs = timeoutMs + 2000;
    const procs = await startSentinels(2, `max-rps ${rate}; burst ${burst}; backend "redis"; redis-url "${redis.url}"; redis-timeout-ms ${timeoutMs}; redis-probe-interval-ms 200; on-redis-failure "fallback-to-local"`);
    const targets = pools(procs);
    const global = rate * 3 + burst;

    const healthy = await paced(targets, 4 * rate, 3000, boundMs);
    expect(healthy.failures).toEqual([]);
    expect(within(healthy.byStatus.get(200) ?? 0, global, 0.15)).toBe(true);

    // Slow Redis: frozen, the socket stays open and nothing answers, so calls time out.
    redis.freeze();
    let frozen: LoadResult;
    try {
      frozen = await paced(targets, 4 * rate, 3000, boundMs);
      expect(await metricSum(procs, 'sentinel_ratelimit_fallback_active')).toBe(2);
    } finally {
      redis.thaw();
    }
    expect(frozen.failures).toEqual([]);
    expect([...frozen.byStatus.keys()].every((s) => s === 200 || s === 429)).toBe(true);
    expect(await metricSum(procs, 'sentinel_ratelimit_redis_errors_total', { kind: 'timeout' })).toBeGreaterThanOrEqual(2 * TIMEOUTS_TO_TRIP);
    await expect.poll(() => metricSum(procs, 'sentinel_ratelimit_fallback_active'), { timeout: 15_000, interval: 100 }).toBe(0);

    // Down: connection refused.
    await redis.stop();
    const down = await paced(targets, 4 * rate, 3000, boundMs);
    expect(down.failures).toEqual([]);
    expect([...down.byStatus.keys()].every((s) => s === 200 || s === 429)).toBe(true);
    // each instance limits on its own: about twice the global quota, never unlimited
    const downAdmitted = down.byStatus.get(200) ?? 0;
    expect(downAdmitted).toBeGreaterThan(global * 1.5);
    expect(downAdmitted).toBeLessThanOrEqual(2 * (rate * 3.5 + burst));
    expect(await metricSum(procs, 'sentinel_ratelimit_fallback_active')).toBe(2);
    expect(await metricSum(procs, 'sentinel_ratelimit_decisions_total', { source: 'fallback-local' })).toBeGreaterThan(0);

    // Back: the probe finds Redis and decisions are global again.
    await redis.restart();
    await expect.poll(() => metricSum(procs, 'sentinel_ratelimit_fallback_active'), { timeout: 15_000, interval: 100 }).toBe(0);
    const before = await metricSum(procs, 'sentinel_ratelimit_decisions_total', { source: 'redis' });
    const back = await paced(targets, 4 * rate, 3000, boundMs);
    expect(back.failures).toEqual([]);
    expect(within(back.byStatus.get(200) ?? 0, global, 0.15)).toBe(true);
    expect(await metricSum(procs, 'sentinel_ratelimit_decisions_total', { source: 'redis' })).toBe(before + back.sent);
    // each switch is logged once per process: frozen, recovered, stopped, recovered
    for (const p of procs) {
      expect(p.stderr().split('\n').filter((l) => l.includes('rate-limit: Redis unavailable, deciding without it'))).toHaveLength(2);
      expect(p.stderr().split('\n').filter((l) => l.includes('rate-limit: Redis is back, limits are global again'))).toHaveLength(2);
    }
  }, 180_000);
});

/** One request on a fresh connection (the cluster primary deals connections to workers in turn). */
function freshGet(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('two workers (worker-threads 2)', () => {
  it('local: each worker has its own buckets (up to 2 × burst); redis: one limit for both workers', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const burst = 4;
    const limit = `max-rps 0.01; burst ${burst}`;
    const [local] = await startSentinels(1, limit, 'system { worker-threads 2; reuse-port #false }');
    const [shared] = await startSentinels(1, `${limit}; backend "redis"; redis-url "${redis.url}"; redis-timeout-ms 500`, 'system { worker-threads 2; reuse-port #false }');
    const admitted = async (p: SentinelProcess): Promise<number> => {
      let n = 0;
      for (let i = 0; i < 4 * burst; i++) if ((await freshGet(p.ports.get('main') as number)) === 200) n++;
      return n;
    };
    const localAdmitted = await admitted(local!);
    expect(localAdmitted).toBeGreaterThan(burst);
    expect(localAdmitted).toBeLessThanOrEqual(2 * burst);
    expect(await admitted(shared!)).toBe(burst);
  }, 120_000);
});
