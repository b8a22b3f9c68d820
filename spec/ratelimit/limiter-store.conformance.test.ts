// One conformance suite, run against every LimiterStore implementation (ARCHITECTURE §5): the
// local token bucket, and the Redis store with each algorithm on a real redis-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisLimiterStore } from '../../src/ratelimit/redis-store.ts';
import { TokenBucketStore } from '../../src/ratelimit/token-bucket.ts';
import type { LimiterStore } from '../../src/ratelimit/types.ts';
import { startRedis } from '../helpers/redis.ts';
import type { RedisHandle } from '../helpers/redis.ts';

const QUOTA = 5;
let redis: RedisHandle;
let seq = 0;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

interface Impl {
  readonly name: string;
  readonly source: string;
  create(): Promise<LimiterStore>;
}

const impls: Impl[] = [
  { name: 'local token bucket', source: 'local', create: async () => new TokenBucketStore({ maxRps: 10, burst: QUOTA }) },
  {
    name: 'redis gcra',
    source: 'redis',
    create: async () => {
      const s = createRedisLimiterStore({ filterId: `conf${seq++}`, limit: { algorithm: 'gcra', maxRps: 10, burst: QUOTA }, connection: { url: redis.url }, timeSource: 'caller', minKeyTtlMs: 600_000, redisTimeoutMs: 5000, onRedisFailure: 'closed' });
      await s.start(10_000);
      return s;
    },
  },
  {
    name: 'redis sliding-log',
    source: 'redis',
    create: async () => {
      const s = createRedisLimiterStore({ filterId: `conf${seq++}`, limit: { algorithm: 'sliding-log', limit: QUOTA, windowMs: 500 }, connection: { url: redis.url }, timeSource: 'caller', minKeyTtlMs: 600_000, redisTimeoutMs: 5000, onRedisFailure: 'closed' });
      await s.start(10_000);
      return s;
    },
  },
];

describe.each(impls)('LimiterStore conformance: $name', ({ create, source }) => {
  it('admits `quota` at one instant, then rejects with remaining 0 and a retry-after', async () => {
    const s = await create();
    const t = 1_000_000;
    for (let i = 0; i < QUOTA; i++) {
      const d = await s.consume('k', t);
      expect(d).toMatchObject({ allowed: true, limit: QUOTA, remaining: QUOTA - 1 - i, retryAfterMs: 0, source });
      expect(d.resetMs).toBeGreaterThan(0);
    }
    const rejected = await s.consume('k', t);
    expect(rejected).toMatchObject({ allowed: false, limit: QUOTA, remaining: 0, source });
    expect(rejected.retryAfterMs).toBeGreaterThan(0);
    expect((await s.consume('k', t + rejected.retryAfterMs)).allowed).toBe(true);
    await s.close();
  });

  it('keeps keys independent', async () => {
    const s = await create();
    for (let i = 0; i < QUOTA; i++) await s.consume('a', 2_000_000);
    expect((await s.consume('a', 2_000_000)).allowed).toBe(false);
    expect((await s.consume('b', 2_000_000)).allowed).toBe(true);
    await s.close();
  });

  it('charges `cost` units; a cost above the quota is never admitted and charges nothing', async () => {
    const s = await create();
    expect((await s.consume('c', 3_000_000, QUOTA + 1)).allowed).toBe(false);
    expect(await s.consume('c', 3_000_000, QUOTA - 1)).toMatchObject({ allowed: true, remaining: 1 });
    expect((await s.consume('c', 3_000_000, 2)).allowed).toBe(false);
    expect((await s.consume('c', 3_000_000, 1)).allowed).toBe(true);
    await s.close();
  });
});
