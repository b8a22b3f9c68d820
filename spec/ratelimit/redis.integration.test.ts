// Integration against REAL Redis: a standalone redis-server and a 3-master Redis Cluster on loopback
// ports (spec/helpers/containers.ts): containers under CI (Testcontainers, private dockerd), local
// redis-server processes where Docker is absent. The backend is in the describe names.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { TIMEOUTS_TO_TRIP, createRedisLimiterStore } from '../../src/ratelimit/redis-store.ts';
import type { RedisLimit, RedisLimiterStore, RedisStoreOptions } from '../../src/ratelimit/redis-store.ts';
import type { Decision } from '../../src/ratelimit/types.ts';
import { redisBackend, startRedis, startRedisCluster } from '../helpers/containers.ts';
import type { RedisClusterHandle, RedisHandle } from '../helpers/containers.ts';

const backend = await redisBackend();

const opened: RedisLimiterStore[] = [];
const admins: Redis[] = [];

async function store(options: RedisStoreOptions): Promise<RedisLimiterStore> {
  const s = createRedisLimiterStore(options);
  opened.push(s);
  expect(await s.start(10_000)).toBe(true);
  return s;
}

function admin(port: number): Redis {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  admins.push(r);
  return r;
}

/** `perClient` concurrent decisions from each store, interleaved, for the given keys. */
async function hammer(stores: readonly RedisLimiterStore[], keys: readonly string[], perClient: number): Promise<Decision[][]> {
  const calls: Promise<{ key: number; d: Decision }>[] = [];
  for (let i = 0; i < perClient; i++) {
    for (const s of stores) {
      for (let k = 0; k < keys.length; k++) {
        calls.push(Promise.resolve(s.consume(keys[k]!, Date.now())).then((d) => ({ key: k, d })));
      }
    }
  }
  const results = await Promise.all(calls);
  return keys.map((_, k) => results.filter((r) => r.key === k).map((r) => r.d));
}

const LIMITS: Array<{ name: string; limit: RedisLimit; quota: number }> = [
  { name: 'sliding-log', limit: { algorithm: 'sliding-log', limit: 60, windowMs: 600_000 }, quota: 60 },
  // one token per 1000 s: no refill during the test, so the burst is the exact quota
  { name: 'gcra', limit: { algorithm: 'gcra', maxRps: 0.001, burst: 60 }, quota: 60 },
];

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  for (const a of admins) a.disconnect();
});

describe(`standalone Redis (${backend})`, () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it.each(LIMITS)('$name: three separate clients enforce one global limit exactly under concurrency', async ({ name, limit, quota }) => {
    const stores = await Promise.all([0, 1, 2].map(() => store({ filterId: `g-${name}`, limit, connection: { url: redis.url }, redisTimeoutMs: 5000 })));
    const [decisions] = await hammer(stores, ['tenant-a'], 3 * quota);
    const all = decisions!;
    expect(all).toHaveLength(9 * quota);
    expect(all.every((d) => d.source === 'redis')).toBe(true);
    expect(all.filter((d) => d.allowed)).toHaveLength(quota);
    // a different key has its own quota
    expect((await stores[0]!.consume('tenant-b', Date.now())).allowed).toBe(true);
  });

  it('keys carry the hash tag and expire', async () => {
    const latencies: number[] = [];
    const s = await store({ filterId: 'ttl', limit: { algorithm: 'sliding-log', limit: 5, windowMs: 30_000 }, connection: { url: redis.url }, redisTimeoutMs: 5000, observeLatencyMs: (ms) => latencies.push(ms) });
    await s.consume('1.2.3.4', 0);
    expect(latencies).toHaveLength(1);
    expect(() => s.consume('1.2.3.4', 0, 0)).toThrow(RangeError);
    const a = admin(redis.port);
    expect(s.redisKey('1.2.3.4')).toBe('sentinel:rl:ttl:{1.2.3.4}');
    const ttl = await a.pttl('sentinel:rl:ttl:{1.2.3.4}');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30_000);
    const g = await store({ filterId: 'ttlg', limit: { algorithm: 'gcra', maxRps: 10, burst: 5 }, connection: { url: redis.url }, redisTimeoutMs: 5000 });
    await g.consume('k', 0);
    const gttl = await a.pttl(g.redisKey('k'));
    expect(gttl).toBeGreaterThan(0);
    expect(gttl).toBeLessThanOrEqual(100);
    // long and brace-carrying keys are hashed so the tag stays one well-formed segment
    expect(s.redisKey('x'.repeat(1000))).toMatch(/^sentinel:rl:ttl:\{#[A-Za-z0-9_-]+\}$/);
    expect(s.redisKey('a}b')).toMatch(/^sentinel:rl:ttl:\{#[A-Za-z0-9_-]+\}$/);
  });

  it('SCRIPT FLUSH mid-run: NOSCRIPT reloads the script and no decision fails', async () => {
    const quota = 80;
    const stores = await Promise.all([0, 1, 2].map(() => store({ filterId: 'flush', limit: { algorithm: 'sliding-log', limit: quota, windowMs: 600_000 }, connection: { url: redis.url }, redisTimeoutMs: 5000 })));
    const a = admin(redis.port);
    const decisions: Decision[] = [];
    for (let round = 0; round < 4; round++) {
      const batch = hammer(stores, ['k'], 20);
      await a.script('FLUSH'); // lands while the batch is in flight
      decisions.push(...(await batch)[0]!);
    }
    expect(decisions).toHaveLength(240);
    expect(decisions.every((d) => d.source === 'redis')).toBe(true);
    expect(decisions.filter((d) => d.allowed)).toHaveLength(quota);
    const reloads = stores.reduce((n, s) => n + s.stats().scriptReloads, 0);
    expect(reloads).toBeGreaterThanOrEqual(3);
    expect(stores.every((s) => s.stats().fallbackDecisions === 0 && s.stats().redisErrors === 0)).toBe(true);
  });
  it('a pool of connections: every connection is used, the count stays global and exact; hooks see latency and NOSCRIPT', async () => {
    const a = admin(redis.port);
    const clients = async (): Promise<Map<string, string>> =>
      new Map(((await a.client('LIST')) as string).trim().split('\n').map((l) => [/\bid=(\d+)/.exec(l)?.[1] ?? '', /\bcmd=(\S+)/.exec(l)?.[1] ?? '']));
    const before = await clients();
    const latencies: number[] = [];
    let reloads = 0;
    const s = await store({
      filterId: 'pool', limit: { algorithm: 'sliding-log', limit: 40, windowMs: 600_000 }, connection: { node: { host: '127.0.0.1', port: redis.port } }, redisTimeoutMs: 5000,
      poolSize: 3, observeLatencyMs: (ms) => latencies.push(ms), onScriptReload: () => { reloads++; },
    });
    await a.script('FLUSH');
    const [decisions] = await hammer([s], ['k'], 100);
    expect(decisions!.filter((d) => d.allowed)).toHaveLength(40);
    const added = [...(await clients())].filter(([id]) => !before.has(id));
    expect(added).toHaveLength(3);
    for (const [, cmd] of added) expect(['evalsha', 'eval']).toContain(cmd);
    expect(latencies).toHaveLength(100);
    expect(reloads).toBeGreaterThanOrEqual(1);
    expect(reloads).toBe(s.stats().scriptReloads);
    await s.ready(); // settled: resolves at once
  });
});

describe(`Redis failure and recovery (${backend})`, () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const limit: RedisLimit = { algorithm: 'sliding-log', limit: 3, windowMs: 600_000 };
  const common = (): Pick<RedisStoreOptions, 'limit' | 'connection' | 'redisTimeoutMs' | 'probeIntervalMs'> => ({ limit, connection: { url: redis.url }, redisTimeoutMs: 1000, probeIntervalMs: 50 });

  it('stopped: every mode takes its fallback at once; restarted: decisions are global again', async () => {
    const local = await store({ filterId: 'down-local', onRedisFailure: 'fallback-to-local', ...common() });
    const open = await store({ filterId: 'down-open', onRedisFailure: 'open', ...common() });
    const closed = await store({ filterId: 'down-closed', onRedisFailure: 'closed', ...common() });
    for (const s of [local, open, closed]) expect((await s.consume('k', 0)).source).toBe('redis');

    await redis.stop();

    // fallback-to-local: the per-instance bucket has the same burst (3)
    const localDecisions: Decision[] = [];
    for (let i = 0; i < 6; i++) localDecisions.push(await local.consume('k', 1000));
    expect(localDecisions.every((d) => d.source === 'fallback-local')).toBe(true);
    expect(localDecisions.map((d) => d.allowed)).toEqual([true, true, true, false, false, false]);
    expect(local.stats().fallbackActive).toBe(true);

    const openDecision = await open.consume('k', 0);
    expect(openDecision).toMatchObject({ allowed: true, source: 'fallback-open' });
    const closedDecision = await closed.consume('k', 0);
    expect(closedDecision).toMatchObject({ allowed: false, source: 'fallback-closed' });
    expect(closedDecision.retryAfterMs).toBeGreaterThan(0);
    // once unhealthy, requests do not touch Redis: one error each, then fallback decisions only
    for (let i = 0; i < 20; i++) await open.consume('k', 0);
    expect(open.stats().redisErrors + open.stats().redisTimeouts).toBe(1);
    expect(open.stats().fallbackDecisions).toBe(21);

    await redis.restart();

    for (const s of [local, open, closed]) {
      await vi.waitFor(async () => expect((await s.consume('k2', 0)).source).toBe('redis'), { timeout: 15_000, interval: 50 });
      expect(s.stats().recoveries).toBeGreaterThanOrEqual(1);
      expect(s.stats().fallbackActive).toBe(false);
    }
    // global again: the restarted (empty) Redis counts for all clients together
    const again = await store({ filterId: 'down-local', onRedisFailure: 'fallback-to-local', ...common() });
    const d1 = await local.consume('after', 0);
    const d2 = await again.consume('after', 0);
    const d3 = await local.consume('after', 0);
    const d4 = await again.consume('after', 0);
    expect([d1, d2, d3, d4].map((d) => [d.source, d.allowed])).toEqual([
      ['redis', true],
      ['redis', true],
      ['redis', true],
      ['redis', false],
    ]);
  });

  it('frozen (SIGSTOP, no answers): the decision times out into the fallback, then recovers', async () => {
    const s = await store({ filterId: 'frozen', onRedisFailure: 'fallback-to-local', ...common() });
    expect((await s.consume('k', 0)).source).toBe('redis');
    redis.freeze();
    try {
      // each timed-out decision is the fallback's; the TIMEOUTS_TO_TRIP-th in a row switches the store
      for (let i = 1; i <= TIMEOUTS_TO_TRIP; i++) {
        const d = await s.consume('k', 0);
        expect(d.source).toBe('fallback-local');
        expect(d.allowed).toBe(true);
        expect(s.stats().redisTimeouts).toBe(i);
        expect(s.stats().fallbackActive).toBe(i === TIMEOUTS_TO_TRIP);
      }
      // later decisions do not wait on Redis at all
      for (let i = 0; i < 10; i++) expect((await s.consume('k', 0)).source).toBe('fallback-local');
      expect(s.stats().redisTimeouts).toBe(TIMEOUTS_TO_TRIP);
    } finally {
      redis.thaw();
    }
    await vi.waitFor(async () => expect((await s.consume('k', 0)).source).toBe('redis'), { timeout: 15_000, interval: 50 });
  });

  it('timeouts switch to the fallback only when they come in a row: a success in between resets the count', async () => {
    const s = await store({ filterId: 'lag', onRedisFailure: 'fallback-to-local', ...common(), redisTimeoutMs: 200 });
    const slowCalls = async (n: number): Promise<void> => {
      redis.freeze();
      try {
        for (let i = 0; i < n; i++) expect((await s.consume('k', 0)).source).toBe('fallback-local');
      } finally {
        redis.thaw();
      }
    };
    await slowCalls(TIMEOUTS_TO_TRIP - 1);
    expect(s.stats().fallbackActive).toBe(false);
    await vi.waitFor(async () => expect((await s.consume('k', 0)).source).toBe('redis'), { timeout: 15_000, interval: 50 });
    await slowCalls(TIMEOUTS_TO_TRIP - 1);
    expect(s.stats().fallbackActive).toBe(false);
    expect(s.stats().redisTimeouts).toBe(2 * (TIMEOUTS_TO_TRIP - 1));
  });

  it('starting with Redis down never throws: fallback first, Redis once it appears', async () => {
    await redis.stop();
    const s = createRedisLimiterStore({ filterId: 'late', onRedisFailure: 'closed', ...common() });
    opened.push(s);
    expect(await s.start(300)).toBe(false);
    expect((await s.consume('k', 0)).source).toBe('fallback-closed');
    await redis.restart();
    await vi.waitFor(async () => expect((await s.consume('k', 0)).source).toBe('redis'), { timeout: 15_000, interval: 50 });
  });
});

describe(`Redis Cluster, 3 masters (${backend})`, () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it.each(LIMITS)('$name: three cluster clients enforce each key exactly, keys spread over masters', async ({ name, limit, quota }) => {
    const stores = await Promise.all([0, 1, 2].map(() => store({ filterId: `c-${name}`, limit, connection: { clusterNodes: cluster.nodes }, redisTimeoutMs: 5000 })));
    const keys = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
    const perKey = await hammer(stores, keys, 2 * quota);
    for (const decisions of perKey) {
      expect(decisions).toHaveLength(6 * quota);
      expect(decisions.every((d) => d.source === 'redis')).toBe(true);
      expect(decisions.filter((d) => d.allowed)).toHaveLength(quota);
    }
    const sizes = await Promise.all(cluster.ports.map((port) => admin(port).dbsize()));
    expect(sizes.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('SCRIPT FLUSH on every master mid-run: no failed decision, exact count', async () => {
    const quota = 50;
    const stores = await Promise.all([0, 1, 2].map(() => store({ filterId: 'c-flush', limit: { algorithm: 'sliding-log', limit: quota, windowMs: 600_000 }, connection: { clusterNodes: cluster.nodes }, redisTimeoutMs: 5000 })));
    const masters = cluster.ports.map((port) => admin(port));
    const decisions: Decision[][] = [[], []];
    for (let round = 0; round < 3; round++) {
      const batch = hammer(stores, ['x', 'y'], 15);
      await Promise.all(masters.map((m) => m.script('FLUSH')));
      const got = await batch;
      decisions[0]!.push(...got[0]!);
      decisions[1]!.push(...got[1]!);
    }
    for (const d of decisions) {
      expect(d.every((x) => x.source === 'redis')).toBe(true);
      expect(d.filter((x) => x.allowed)).toHaveLength(quota);
    }
    expect(stores.reduce((n, s) => n + s.stats().scriptReloads, 0)).toBeGreaterThanOrEqual(2);
  });
});
