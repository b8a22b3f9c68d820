// Rate limiting: decisions, Redis latency and errors, fallbacks, local keys (issue 6).
// Labels: `filter` is a filter id from the config; `outcome` and `source` are fixed sets.
import type { MetricSpec } from './spec.ts';

/** Redis round trips are sub-millisecond on a LAN: finer buckets than request latency. */
export const REDIS_LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] as const;

export const RATELIMIT_METRICS = {
  rateLimitDecisions: {
    name: 'sentinel_ratelimit_decisions_total',
    type: 'counter',
    help: 'Rate-limit decisions, by filter id, outcome (allowed, delayed: admitted after waiting, rejected, log-only: over the limit but let through, skipped: no key) and source (local, redis, fallback-local, fallback-open, fallback-closed; none when skipped).',
    labels: ['filter', 'outcome', 'source'],
    unit: 'decisions',
  },
  rateLimitRedisDuration: {
    name: 'sentinel_ratelimit_redis_duration_seconds',
    type: 'histogram',
    help: 'Time of successful Redis rate-limit decisions (one EVALSHA, or EVALSHA then EVAL after NOSCRIPT), by filter id.',
    labels: ['filter'],
    unit: 'seconds',
    buckets: REDIS_LATENCY_BUCKETS,
  },
  rateLimitRedisErrors: {
    name: 'sentinel_ratelimit_redis_errors_total',
    type: 'counter',
    help: 'Redis rate-limit calls that failed, by filter id and kind (error, timeout: no answer within redis-timeout-ms). Each failure switches the filter to its fallback until a probe succeeds.',
    labels: ['filter', 'kind'],
    unit: 'errors',
  },
  rateLimitScriptReloads: {
    name: 'sentinel_ratelimit_redis_script_reloads_total',
    type: 'counter',
    help: 'NOSCRIPT replies answered by re-sending the script with EVAL (after SCRIPT FLUSH, a restart or a failover), by filter id.',
    labels: ['filter'],
    unit: 'reloads',
  },
  rateLimitFallbackActive: {
    name: 'sentinel_ratelimit_fallback_active',
    type: 'gauge',
    help: 'Warning: 1 while a Redis-backed filter decides without Redis (on-redis-failure: per-instance local limiting, open or closed), by filter id. Summed over workers in multi-worker mode.',
    labels: ['filter'],
    unit: 'boolean',
  },
  rateLimitLocalKeys: {
    name: 'sentinel_ratelimit_local_keys',
    type: 'gauge',
    help: 'Keys held in memory by local token buckets (the local backend, or the Redis fallback), by filter id.',
    labels: ['filter'],
    unit: 'keys',
  },
  rateLimitLocalEvictions: {
    name: 'sentinel_ratelimit_local_evictions_total',
    type: 'counter',
    help: 'Keys evicted from a full local store (max-keys reached; least recently used first), by filter id. An evicted key returns with a full bucket: a steady rate means max-keys is too small.',
    labels: ['filter'],
    unit: 'keys',
  },
  rateLimitDelayed: {
    name: 'sentinel_ratelimit_delayed_requests',
    type: 'gauge',
    help: 'Requests waiting in a delay queue right now (on-limit "delay"), by filter id.',
    labels: ['filter'],
    unit: 'requests',
  },
} as const satisfies Record<string, MetricSpec>;
