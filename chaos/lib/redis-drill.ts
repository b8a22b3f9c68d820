// The shared shape of the Redis drills: three Redis-backed rate-limit filters, one per failure mode
// (`on-redis-failure` fallback-to-local, open, closed), each on its own route, all on one Redis (or
// on one Toxiproxy proxy in front of it). A sliding log of MAX_REQUESTS per WINDOW_SECS per client
// makes the limit exact and long enough that Redis still remembers the count after a fault, so
// "global again" is visible: the count kept in Redis decides, not a fresh local bucket.
import type { Proxy } from 'toxiproxy-node-client';
import { TIMEOUTS_TO_TRIP } from '../../src/ratelimit/redis-store.ts';
import { MARGIN_MS, drillConfig, fmtMs } from './drill.ts';
import type { Drill, DrillSentinel } from './drill.ts';
import { maxMs, send, timeUntil } from './http.ts';
import type { Outcome } from './http.ts';
import { sumOf } from './metrics.ts';
import type { Sample } from './metrics.ts';

export { TIMEOUTS_TO_TRIP };
export const MAX_REQUESTS = 4;
export const WINDOW_SECS = 60;
export const REDIS_TIMEOUT_MS = 250;
export const PROBE_INTERVAL_MS = 500;
/** ioredis' reconnect backoff ceiling in the store (src/ratelimit/redis-store.ts retryStrategy). */
export const REDIS_RECONNECT_MAX_MS = 2000;
/** Every request is answered within redis-timeout-ms plus the drill margin for the proxy's own work. */
export const REQUEST_BOUND_MS = REDIS_TIMEOUT_MS + MARGIN_MS;
export const REQUEST_BOUND_TEXT = `redis-timeout-ms ${REDIS_TIMEOUT_MS} + ${fmtMs(MARGIN_MS)} = ${fmtMs(REQUEST_BOUND_MS)}`;
/** From "Redis is back" to every filter deciding with it: a reconnect, a probe interval, a probe's own timeout, the margin. */
export const REDIS_RECOVERY_MS = REDIS_RECONNECT_MAX_MS + PROBE_INTERVAL_MS + REDIS_TIMEOUT_MS + MARGIN_MS;
export const REDIS_RECOVERY_TEXT = `reconnect backoff ceiling ${fmtMs(REDIS_RECONNECT_MAX_MS)} + redis-probe-interval-ms ${PROBE_INTERVAL_MS} + redis-timeout-ms ${REDIS_TIMEOUT_MS} + ${fmtMs(MARGIN_MS)} = ${fmtMs(REDIS_RECOVERY_MS)}`;

export interface Limited {
  /** Filter id. */
  readonly filter: string;
  readonly path: string;
  readonly onFailure: 'fallback-to-local' | 'open' | 'closed';
  /** The `source` label of its decisions while Redis is down. */
  readonly fallbackSource: string;
}

export const LIMITED: readonly Limited[] = [
  { filter: 'rl-local', path: '/local', onFailure: 'fallback-to-local', fallbackSource: 'fallback-local' },
  { filter: 'rl-open', path: '/open', onFailure: 'open', fallbackSource: 'fallback-open' },
  { filter: 'rl-closed', path: '/closed', onFailure: 'closed', fallbackSource: 'fallback-closed' },
];
export const [LOCAL, OPEN, CLOSED] = LIMITED as [Limited, Limited, Limited];

export const is200 = (o: Outcome): boolean => o.status === 200 && o.complete;
export const is429 = (o: Outcome): boolean => o.status === 429 && o.code === 'RATE_LIMITED' && o.headers['retry-after'] !== undefined;
export const is503 = (o: Outcome): boolean => o.status === 503 && o.code === 'RATE_LIMITER_UNAVAILABLE' && o.headers['retry-after'] !== undefined;

export function limitedConfig(upstream: string, redisAddress: string): string {
  const filters = LIMITED.map(
    (l) =>
      `  filter "${l.filter}" { type "rate-limit"; algorithm "sliding-log"; max-requests ${MAX_REQUESTS}; window-secs ${WINDOW_SECS}; key "client-ip"; ` +
      `backend "redis"; redis-url "redis://${redisAddress}"; redis-timeout-ms ${REDIS_TIMEOUT_MS}; redis-probe-interval-ms ${PROBE_INTERVAL_MS}; on-redis-failure "${l.onFailure}" }`,
  );
  return drillConfig({
    targets: [upstream],
    routes: LIMITED.map((l) => `route "${l.filter}" { matches { path-prefix "${l.path}" }; upstream "app"; filters "${l.filter}" }`).join('\n  '),
    blocks: `filters {\n${filters.join('\n')}\n}`,
  });
}

/** An upstream and `instances` Sentinel processes with the three filters on Redis at `redisAddress`. */
export async function startLimited(d: Drill, redisAddress: string, instances = 1): Promise<DrillSentinel[]> {
  const up = await d.upstream((_req, res) => res.end('ok'));
  const kdl = limitedConfig(up.address, redisAddress);
  return Promise.all(Array.from({ length: instances }, () => d.sentinel(kdl)));
}

/** Requests one after the other, spread over the instances in turn (A, B, A, B, …). */
export async function sendAcross(instances: readonly DrillSentinel[], path: string, n: number): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let i = 0; i < n; i++) out.push(await send((instances[i % instances.length] as DrillSentinel).port, path, { timeoutMs: 30_000 }));
  return out;
}

/** The first `admitted` are 200, the rest 429 RATE_LIMITED. */
export function expectLimit(d: Drill, what: string, outcomes: readonly Outcome[], admitted: number): void {
  const ok = outcomes.every((o, i) => (i < admitted ? is200(o) : is429(o)));
  const rejected = outcomes.length - admitted;
  const expected = rejected === 0 ? `${admitted}×200` : admitted === 0 ? `${rejected}×429 RATE_LIMITED` : `the first ${admitted} 200, then ${rejected}×429 RATE_LIMITED`;
  const observed = outcomes.map((o) => (is200(o) ? '200' : is429(o) ? '429' : `${o.status ?? o.error}${o.code !== null ? ` ${o.code}` : ''}`)).join(' ');
  d.check(what, expected, observed, ok && outcomes.length > 0);
}

/** Scrapes every instance, as one list of samples: sums (and so deltas) are over all instances. */
export async function scrapeAll(instances: readonly DrillSentinel[]): Promise<Sample[]> {
  return (await Promise.all(instances.map((s) => s.metrics()))).flat();
}

/** ms until every filter on every instance decides with Redis again (sentinel_ratelimit_fallback_active 0); null if not within the bound. */
export function timeToGlobal(d: Drill, instances: readonly DrillSentinel[]): Promise<number | null> {
  return timeUntil(async () => {
    const samples = await scrapeAll(instances);
    return LIMITED.every((l) => sumOf(samples, 'sentinel_ratelimit_fallback_active', { filter: l.filter }) === 0);
  }, REDIS_RECOVERY_MS + 1000, d.signal, 50);
}

export function expectWithinBound(d: Drill, outcomes: readonly Outcome[]): void {
  d.expectAtMost('slowest answer (no request waits past redis-timeout-ms)', maxMs(outcomes), REQUEST_BOUND_MS);
}

/** Requests per filter while Redis is failing. */
export const FAULT_REQUESTS = MAX_REQUESTS + 2;

export interface RedisFault {
  /** How the failed Redis calls are counted (sentinel_ratelimit_redis_errors_total{kind}). */
  readonly kind: 'timeout' | 'error';
  /** Failed Redis calls per filter before it decides without Redis (TIMEOUTS_TO_TRIP for timeouts, 1 for errors). */
  readonly failedCalls: number;
  /** Of those, how many still ran in Redis (a reply that came too late was still counted there). */
  readonly countedInRedis: number;
  /** Each failed call waited redis-timeout-ms (a slow Redis), rather than failing at once. */
  readonly waits: boolean;
  /** "toxic removed" */
  readonly undoText: string;
  /** Breaks the proxy between Sentinel and Redis; resolves with the function that mends it. */
  inject(proxy: Proxy): Promise<() => Promise<unknown>>;
}

/** After recovery, requests each of /open and /closed may still make in the window (Redis holds 1 from before, plus the failed calls it counted). */
const leftAfter = (f: RedisFault): number => Math.max(0, MAX_REQUESTS - 1 - f.countedInRedis);

export function faultExpectation(f: RedisFault): string {
  const waited = f.waits ? `, the first ${f.failedCalls} of each waiting redis-timeout-ms (none before 0.9 × ${REDIS_TIMEOUT_MS} ms)` : '';
  const left = leftAfter(f);
  return (
    `before: /local the first ${MAX_REQUESTS} 200, then 429 (sliding-log ${MAX_REQUESTS} per ${WINDOW_SECS} s, source="redis"); ` +
    `during the fault, ${FAULT_REQUESTS} requests per filter${waited}: fallback-to-local the first ${MAX_REQUESTS} 200 then 429 (a fresh local bucket: the limit per instance), ` +
    `open all 200, closed all 503 RATE_LIMITER_UNAVAILABLE with Retry-After; every request within ${REQUEST_BOUND_TEXT}; per filter ` +
    `sentinel_ratelimit_decisions_total{source="fallback-…"} +${FAULT_REQUESTS} and {source="redis"} +0, sentinel_ratelimit_redis_errors_total{kind="${f.kind}"} +${f.failedCalls} ` +
    `(then no call to Redis until it is back), sentinel_ratelimit_fallback_active 1; ${f.undoText} → every filter on Redis again (fallback_active 0) within ${REDIS_RECOVERY_TEXT}; ` +
    `then global again: /local 429 (Redis kept the window's count), /open and /closed ${left > 0 ? `the first ${left} 200, then 429` : '429'} ` +
    `(Redis holds 1 from before${f.countedInRedis > 0 ? ` + ${f.countedInRedis} calls that timed out but ran` : ''}), all source="redis"`
  );
}

/** One Sentinel on Redis through a Toxiproxy proxy; healthy → fault → fallback per filter → fault removed → global again. */
export async function runRedisFaultDrill(d: Drill, f: RedisFault): Promise<void> {
  const redis = await d.redis();
  const proxy = await d.faultProxy(redis.address);
  const [s] = (await startLimited(d, proxy.listen)) as [DrillSentinel];

  d.progress('healthy: the limit is kept in Redis');
  const m0 = await s.metrics();
  expectLimit(d, `before: ${LOCAL.path}`, await sendAcross([s], LOCAL.path, MAX_REQUESTS + 1), MAX_REQUESTS);
  const others = [await send(s.port, OPEN.path), await send(s.port, CLOSED.path)];
  d.expectOutcomes(`before: ${OPEN.path}, ${CLOSED.path}`, 'all 200', others, is200);
  const m1 = await s.metrics();
  d.expectDelta(m0, m1, 'sentinel_ratelimit_decisions_total', { filter: LOCAL.filter, source: 'redis' }, MAX_REQUESTS + 1);

  d.progress('injecting the fault');
  const undo = await f.inject(proxy);
  const [local, open, closed] = (await Promise.all(LIMITED.map((l) => sendAcross([s], l.path, FAULT_REQUESTS)))) as [Outcome[], Outcome[], Outcome[]];
  const m2 = await s.metrics();
  expectLimit(d, `during: ${LOCAL.path}`, local, MAX_REQUESTS);
  d.expectOutcomes(`during: ${OPEN.path}`, 'all 200', open, is200);
  d.expectOutcomes(`during: ${CLOSED.path}`, 'all 503 RATE_LIMITER_UNAVAILABLE with Retry-After', closed, is503);
  expectWithinBound(d, [...local, ...open, ...closed]);
  if (f.waits) {
    const firsts = [local, open, closed].flatMap((o) => o.slice(0, f.failedCalls));
    d.expectAtLeast(`fastest of the first ${f.failedCalls} per filter (waited for Redis)`, Math.min(...firsts.map((o) => o.ms)), REDIS_TIMEOUT_MS * 0.9);
  }
  for (const l of LIMITED) {
    d.expectDelta(m1, m2, 'sentinel_ratelimit_decisions_total', { filter: l.filter, source: l.fallbackSource }, FAULT_REQUESTS);
    d.expectDelta(m1, m2, 'sentinel_ratelimit_decisions_total', { filter: l.filter, source: 'redis' }, 0);
    d.expectDelta(m1, m2, 'sentinel_ratelimit_redis_errors_total', { filter: l.filter, kind: f.kind }, f.failedCalls);
    d.expectValue(m2, 'sentinel_ratelimit_fallback_active', { filter: l.filter }, 1);
  }

  d.progress(`${f.undoText}: waiting for every filter to use Redis again`);
  await undo();
  d.expectRecovery(await timeToGlobal(d, [s]), REDIS_RECOVERY_MS, 'fallback_active 0 on every filter');

  const m3 = await s.metrics();
  expectLimit(d, `after: ${LOCAL.path}`, await sendAcross([s], LOCAL.path, 1), 0);
  const left = leftAfter(f);
  expectLimit(d, `after: ${OPEN.path}`, await sendAcross([s], OPEN.path, left + 1), left);
  expectLimit(d, `after: ${CLOSED.path}`, await sendAcross([s], CLOSED.path, left + 1), left);
  const m4 = await s.metrics();
  d.expectDelta(m3, m4, 'sentinel_ratelimit_decisions_total', { source: 'redis' }, 1 + 2 * (left + 1));
}
