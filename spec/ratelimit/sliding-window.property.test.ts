// The Lua scripts run on a REAL redis-server (spawned locally) under arbitrary arrival sequences,
// with caller-supplied time so fast-check controls the clock; decisions are compared with exact
// models and the window invariant is checked directly on the admitted timestamps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRedisLimiterStore } from '../../src/ratelimit/redis-store.ts';
import type { RedisLimiterStore } from '../../src/ratelimit/redis-store.ts';
import { startRedis } from '../helpers/redis.ts';
import type { RedisHandle } from '../helpers/redis.ts';
import { arrivalTimes, slidingLogModel, tokenBucketModel } from './models.ts';

let redis: RedisHandle;
const stores: RedisLimiterStore[] = [];
let run = 0;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await redis?.stop();
});

async function slidingStore(limit: number, windowMs: number): Promise<RedisLimiterStore> {
  const store = createRedisLimiterStore({
    filterId: `sw${run++}`,
    limit: { algorithm: 'sliding-log', limit, windowMs },
    connection: { url: redis.url },
    timeSource: 'caller', minKeyTtlMs: 600_000,
    redisTimeoutMs: 2000,
    onRedisFailure: 'closed',
  });
  stores.push(store);
  expect(await store.start()).toBe(true);
  return store;
}

// Gaps around the window edge (w - 1, w, w + 1) and bursts of simultaneous arrivals.
const slidingCase = fc.record({ limit: fc.integer({ min: 1, max: 8 }), windowMs: fc.integer({ min: 2, max: 500 }) }).chain(({ limit, windowMs }) =>
  fc.record({
    limit: fc.constant(limit),
    windowMs: fc.constant(windowMs),
    gaps: fc.array(fc.oneof(fc.constant(0), fc.constant(1), fc.constant(windowMs - 1), fc.constant(windowMs), fc.integer({ min: 0, max: windowMs })), { minLength: 1, maxLength: 60 }),
  }),
);

describe('sliding-window log (Lua on real Redis)', () => {
  it('admits exactly `limit` in any window: never more, and rejects only a full window', async () => {
    await fc.assert(
      fc.asyncProperty(slidingCase, async ({ limit, windowMs, gaps }) => {
        const store = await slidingStore(limit, windowMs);
        const times = arrivalTimes(gaps, 1_000_000);
        const allowed: boolean[] = [];
        for (const t of times) {
          const d = await store.consume('k', t);
          expect(d.source).toBe('redis');
          allowed.push(d.allowed);
        }
        await store.close();
        expect(allowed).toEqual(slidingLogModel(limit, windowMs, times));
        const admitted = times.filter((_, i) => allowed[i]);
        times.forEach((t, i) => {
          const inWindow = admitted.filter((a) => a > t - windowMs && a <= t).length;
          expect(inWindow).toBeLessThanOrEqual(limit); // never more than limit in (t - w, t]
          if (!allowed[i]) expect(inWindow).toBe(limit); // a rejection means the window is full
        });
      }),
      { numRuns: 40 },
    );
  });

  it('retryAfterMs is exact: waiting it is admitted, one ms less is not', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 300 }), fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 10 }), async (limit, windowMs, gaps) => {
        const store = await slidingStore(limit, windowMs);
        let t = 1_000_000;
        for (const g of gaps) await store.consume('k', (t += g));
        let d = await store.consume('k', t);
        while (d.allowed) d = await store.consume('k', t);
        expect(d.remaining).toBe(0);
        expect((await store.consume('k', t + d.retryAfterMs - 1)).allowed).toBe(false);
        expect((await store.consume('k', t + d.retryAfterMs)).allowed).toBe(true);
        await store.close();
      }),
      { numRuns: 25 },
    );
  });
});

describe('GCRA (Lua on real Redis)', () => {
  it('decides exactly like the token-bucket model (same rate and burst)', async () => {
    const rates = fc.constantFrom(1, 2, 4, 5, 10, 20, 25, 50, 100, 250);
    await fc.assert(
      fc.asyncProperty(
        rates.chain((rate) =>
          fc.tuple(
            fc.constant(rate),
            fc.integer({ min: 1, max: 10 }),
            fc.array(fc.oneof(fc.constant(0), fc.constant(1000 / rate), fc.constant(1000 / rate - 1), fc.integer({ min: 0, max: 3000 / rate })), { minLength: 1, maxLength: 80 }),
          ),
        ),
        async ([rate, burst, gaps]) => {
          const store = createRedisLimiterStore({
            filterId: `gcra${run++}`,
            limit: { algorithm: 'gcra', maxRps: rate, burst },
            connection: { url: redis.url },
            timeSource: 'caller', minKeyTtlMs: 600_000,
            redisTimeoutMs: 2000,
            onRedisFailure: 'closed',
          });
          stores.push(store);
          expect(await store.start()).toBe(true);
          const times = arrivalTimes(gaps, 1_000_000);
          const allowed: boolean[] = [];
          for (const t of times) allowed.push((await store.consume('k', t)).allowed);
          await store.close();
          expect(allowed).toEqual(tokenBucketModel(rate, burst, times));
        },
      ),
      { numRuns: 40 },
    );
  });
});
