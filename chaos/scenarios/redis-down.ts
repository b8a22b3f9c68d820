// Redis dies (SIGKILL) under two Sentinel instances sharing it, then comes back empty. While it is
// down each filter applies its on-redis-failure at once; fallback-to-local enforces the limit per
// instance (so two instances admit twice the limit); once Redis is back the two share one limit again.
import { fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import {
  CLOSED, LIMITED, LOCAL, MAX_REQUESTS, OPEN, REDIS_RECOVERY_MS, REDIS_RECOVERY_TEXT, REQUEST_BOUND_TEXT, WINDOW_SECS, expectLimit, expectWithinBound,
  is200, is503, scrapeAll, sendAcross, startLimited, timeToGlobal,
} from '../lib/redis-drill.ts';
import type { Scenario } from '../lib/scenario.ts';

const INSTANCES = 2;
const EXTRA = 2;
const OTHERS = 3;

export const scenario: Scenario<Drill> = {
  name: 'redis-down',
  area: 'redis',
  fault: `Redis is killed (SIGKILL) under ${INSTANCES} Sentinel instances sharing it (rate-limit filters with on-redis-failure fallback-to-local, open, closed; sliding-log ${MAX_REQUESTS} per ${WINDOW_SECS} s), then restarted empty`,
  expectation:
    `before: ${MAX_REQUESTS + EXTRA} requests to /local alternating over the instances: the first ${MAX_REQUESTS} 200, then 429 (one global limit); ` +
    `Redis down: on each instance /local the first ${MAX_REQUESTS} 200, then 429 (fallback-to-local: ${INSTANCES} × ${MAX_REQUESTS} admitted in all), /open all 200, ` +
    `/closed all 503 RATE_LIMITER_UNAVAILABLE with Retry-After; every request within ${REQUEST_BOUND_TEXT}; per filter and instance exactly one failed Redis call ` +
    `(sentinel_ratelimit_redis_errors_total{kind="error"} +${INSTANCES} per filter), then decisions without Redis (source="fallback-…"), fallback_active 1; ` +
    `Redis restarted → every filter of both instances on Redis again within ${REDIS_RECOVERY_TEXT}; then global again: ${MAX_REQUESTS + EXTRA} requests to /local ` +
    `alternating: the first ${MAX_REQUESTS} 200, then 429, /open and /closed 200, all source="redis"; the empty Redis's NOSCRIPT answered with EVAL ` +
    `(sentinel_ratelimit_redis_script_reloads_total ≥ +1)`,
  ci: true,
  timeoutMs: 90_000,
  async run(d) {
    const redis = await d.redis();
    const instances = await startLimited(d, redis.address, INSTANCES);

    d.progress('healthy: one limit across both instances');
    const m0 = await scrapeAll(instances);
    expectLimit(d, 'before: /local over both', await sendAcross(instances, LOCAL.path, MAX_REQUESTS + EXTRA), MAX_REQUESTS);
    const m1 = await scrapeAll(instances);
    d.expectDelta(m0, m1, 'sentinel_ratelimit_decisions_total', { filter: LOCAL.filter, source: 'redis' }, MAX_REQUESTS + EXTRA);

    d.progress('killing Redis');
    await redis.kill();
    const outcomes = [];
    for (const [i, s] of instances.entries()) {
      const local = await sendAcross([s], LOCAL.path, MAX_REQUESTS + 1);
      expectLimit(d, `down: /local on instance ${i + 1}`, local, MAX_REQUESTS);
      const open = await sendAcross([s], OPEN.path, OTHERS);
      d.expectOutcomes(`down: /open on instance ${i + 1}`, 'all 200', open, is200);
      const closed = await sendAcross([s], CLOSED.path, OTHERS);
      d.expectOutcomes(`down: /closed on instance ${i + 1}`, 'all 503 RATE_LIMITER_UNAVAILABLE with Retry-After', closed, is503);
      outcomes.push(...local, ...open, ...closed);
    }
    expectWithinBound(d, outcomes);
    const m2 = await scrapeAll(instances);
    for (const l of LIMITED) {
      d.expectDelta(m1, m2, 'sentinel_ratelimit_redis_errors_total', { filter: l.filter, kind: 'error' }, INSTANCES);
      d.expectDelta(m1, m2, 'sentinel_ratelimit_decisions_total', { filter: l.filter, source: l.fallbackSource }, l === LOCAL ? INSTANCES * (MAX_REQUESTS + 1) : INSTANCES * OTHERS);
      d.expectValue(m2, 'sentinel_ratelimit_fallback_active', { filter: l.filter }, INSTANCES, `1 on each instance`);
    }

    d.progress('restarting Redis (empty)');
    await redis.restart();
    const ms = await timeToGlobal(d, instances);
    d.expectRecovery(ms, REDIS_RECOVERY_MS, 'fallback_active 0 on every filter of both instances');
    d.progress(`back on Redis after ${ms === null ? 'never' : fmtMs(ms)}`);

    const m3 = await scrapeAll(instances);
    expectLimit(d, 'after: /local over both', await sendAcross(instances, LOCAL.path, MAX_REQUESTS + EXTRA), MAX_REQUESTS);
    const others = [...(await sendAcross(instances, OPEN.path, INSTANCES)), ...(await sendAcross(instances, CLOSED.path, INSTANCES))];
    d.expectOutcomes('after: /open, /closed on both', 'all 200', others, is200);
    const m4 = await scrapeAll(instances);
    d.expectDelta(m3, m4, 'sentinel_ratelimit_decisions_total', { source: 'redis' }, MAX_REQUESTS + EXTRA + 2 * INSTANCES);
    d.expectDelta(m1, m4, 'sentinel_ratelimit_redis_script_reloads_total', {}, { atLeast: 1 });
  },
};
