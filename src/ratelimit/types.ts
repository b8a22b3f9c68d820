// The limiter contract shared by the local and the Redis stores. The pipeline asks one question per
// request ("may this key spend `cost` now?") and gets a plain Decision back; the local store answers
// synchronously so the hot path never allocates a promise, the Redis store answers with a promise.

/** Where a decision came from; the pipeline labels its metrics with it. */
export type DecisionSource =
  | 'local' // the in-process token bucket (backend "local")
  | 'redis' // the shared Redis state (global across instances)
  | 'fallback-local' // Redis failed: per-instance token bucket
  | 'fallback-open' // Redis failed: allowed without counting
  | 'fallback-closed'; // Redis failed: rejected

export interface Decision {
  readonly allowed: boolean;
  /** The quota the decision is about: `burst` for token buckets and GCRA, `limit` for windows. */
  readonly limit: number;
  /** Requests (of cost 1) still admissible right now after this decision; never negative. */
  readonly remaining: number;
  /** Milliseconds until the quota is fully restored if no more requests arrive. */
  readonly resetMs: number;
  /** 0 when allowed; otherwise milliseconds until a retry of the same cost can succeed. */
  readonly retryAfterMs: number;
  readonly source: DecisionSource;
}

/** Milliseconds on any monotonic or wall-clock scale; injected so tests can use a fake clock. */
export type Clock = () => number;

/**
 * A limiter store. `now` is the caller's clock in ms (the local store uses it; the Redis store uses
 * it only with `timeSource: 'caller'`, otherwise it takes the Redis server's clock so that instances
 * with skewed clocks share one timeline). `cost` defaults to 1.
 */
export interface LimiterStore {
  consume(key: string, now: number, cost?: number): Promise<Decision> | Decision;
  close(): Promise<void>;
}

/** The synchronous specialisation the local store satisfies. */
export interface SyncLimiterStore extends LimiterStore {
  consume(key: string, now: number, cost?: number): Decision;
}

/** What a Redis store does when Redis errors or does not answer within `redisTimeoutMs`. */
export type RedisFailureMode = 'fallback-to-local' | 'open' | 'closed';
