// `type "rate-limit"` filter config → a RateLimitFilter. The limiter store (and its Redis
// connections) lives in the registry under `limiter|<identity>`: a reload that leaves a filter's
// limit, backend and connection settings unchanged keeps its counters and its connections; any
// change to them starts a fresh store (the old one closes when its generation has drained).
import { createHash } from 'node:crypto';
import type { RateLimitFilterConfig, RateLimitRedisConfig } from '../config/types.ts';
import { compileRateLimitHeaders } from '../ratelimit/headers.ts';
import { compileKeyExtractor } from '../ratelimit/key.ts';
import { RedisLimiterStore } from '../ratelimit/redis-store.ts';
import type { RedisConnection, RedisLimit } from '../ratelimit/redis-store.ts';
import { TokenBucketStore } from '../ratelimit/token-bucket.ts';
import type { LimiterStore } from '../ratelimit/types.ts';
import { RateLimitFilter, rateLimitMetrics } from '../pipeline/rate-limit.ts';
import type { FilterMetrics, LimiterGaugeSource, RateLimitMetrics } from '../pipeline/rate-limit.ts';
import type { Resource } from '../runtime/registry.ts';
import type { Logger } from '../observability/log.ts';
import type { CompileContext } from './context.ts';

/** A limiter store as a registry resource: it reports its gauges while alive. */
class LimiterResource implements Resource, LimiterGaugeSource {
  readonly filterId: string;
  readonly store: LimiterStore;
  readonly #local: TokenBucketStore | null;
  readonly #redis: RedisLimiterStore | null;
  readonly #metrics: RateLimitMetrics;

  constructor(filterId: string, store: TokenBucketStore | RedisLimiterStore, metrics: RateLimitMetrics) {
    this.filterId = filterId;
    this.store = store;
    this.#local = store instanceof TokenBucketStore ? store : null;
    this.#redis = store instanceof RedisLimiterStore ? store : null;
    this.#metrics = metrics;
    metrics.limiters.add(this);
    // Connect and load the script now; the proxy waits (bounded) for it before serving.
    if (this.#redis !== null) void this.#redis.start();
  }

  localKeys(): number {
    return this.#local !== null ? this.#local.size : (this.#redis?.fallbackKeys ?? 0);
  }

  fallbackActive(): number | null {
    if (this.#redis === null) return null;
    return this.#redis.healthy ? 0 : 1;
  }

  /** Resolves when a Redis store is connected with its script loaded, or has fallen back (bounded). */
  async whenReady(): Promise<void> {
    if (this.#redis !== null) await this.#redis.start();
  }

  async close(): Promise<void> {
    this.#metrics.limiters.delete(this);
    await this.store.close();
  }
}

function redisConnection(r: RateLimitRedisConfig): RedisConnection {
  const auth = { ...(r.username !== null ? { username: r.username } : {}), ...(r.password !== null ? { password: r.password } : {}), tls: r.tls };
  return r.mode === 'cluster' ? { clusterNodes: r.nodes, ...auth } : { node: r.nodes[0], db: r.db, ...auth };
}

function redisLimit(f: RateLimitFilterConfig): RedisLimit {
  const l = f.limit;
  return l.algorithm === 'token-bucket' ? { algorithm: 'gcra', maxRps: l.maxRps, burst: l.burst } : { algorithm: 'sliding-log', limit: l.maxRequests, windowMs: l.windowMs };
}

/** Registry identity: every setting that defines the store's state or connection (hashed: URLs may carry passwords). */
function identity(f: RateLimitFilterConfig): string {
  const defining = { id: f.id, backend: f.backend, limit: f.limit, maxKeys: f.maxKeys, redis: f.redis };
  return `limiter|${f.backend}|${createHash('sha256').update(JSON.stringify(defining)).digest('hex')}`;
}

function createStore(f: RateLimitFilterConfig, fm: FilterMetrics, logger: Logger | null): TokenBucketStore | RedisLimiterStore {
  const onEvict = (): void => fm.eviction.inc();
  if (f.backend === 'local') {
    if (f.limit.algorithm !== 'token-bucket') throw new Error(`filter "${f.id}": sliding-log needs backend redis (the config loader should have rejected it)`);
    return new TokenBucketStore({ maxRps: f.limit.maxRps, burst: f.limit.burst, maxKeys: f.maxKeys, onEvict });
  }
  const r = f.redis;
  if (r === null) throw new Error(`filter "${f.id}": backend redis without redis settings`);
  return new RedisLimiterStore({
    filterId: f.id,
    prefix: r.prefix,
    limit: redisLimit(f),
    connection: redisConnection(r),
    redisTimeoutMs: r.timeoutMs,
    onRedisFailure: r.onFailure,
    probeIntervalMs: r.probeIntervalMs,
    fallbackMaxKeys: f.maxKeys,
    poolSize: r.poolSize,
    observeLatencyMs: (ms) => fm.redisDuration.observe(ms / 1000),
    onRedisError: (kind) => (kind === 'timeout' ? fm.redisTimeout : fm.redisError).inc(),
    onScriptReload: () => fm.scriptReload.inc(),
    onFallbackEvict: onEvict,
    // One line per switch, never per request: the operator sees when limiting stopped being global.
    onHealthChange: logger === null ? undefined : (healthy, error) => {
      if (healthy) logger.info({ filter: f.id }, 'rate-limit: Redis is back, limits are global again');
      else logger.warn({ filter: f.id, on_redis_failure: r.onFailure, error: error?.message }, 'rate-limit: Redis unavailable, deciding without it');
    },
  });
}

/** `RateLimit-Policy` names are tokens: the filter id with anything else replaced by `_`. */
function policyName(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_');
}

export function compileRateLimitFilter(f: RateLimitFilterConfig, cc: CompileContext): RateLimitFilter {
  const fm = rateLimitMetrics(cc.metrics).filter(f.id);
  const resource = cc.acquire(identity(f), () => new LimiterResource(f.id, createStore(f, fm, cc.logger), rateLimitMetrics(cc.metrics)));
  const l = f.limit;
  const headers = compileRateLimitHeaders({
    name: policyName(f.id),
    quota: l.algorithm === 'token-bucket' ? l.burst : l.maxRequests,
    windowS: l.algorithm === 'token-bucket' ? l.burst / l.maxRps : l.windowMs / 1000,
    legacyHeaders: f.legacyHeaders,
  });
  return new RateLimitFilter({
    id: f.id,
    store: resource.store,
    synchronous: f.backend === 'local',
    extract: compileKeyExtractor(f.key, { trustedProxies: f.trustedProxies, onMissing: f.onMissingKey }),
    onLimit: f.onLimit,
    statusCode: f.statusCode,
    message: f.message,
    maxDelayMs: f.maxDelayMs,
    maxDelayedRequests: f.maxDelayedRequests,
    headers,
    responseHeaders: f.responseHeaders,
    metrics: fm,
    now: () => performance.now(),
  });
}
