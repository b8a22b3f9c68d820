// Local token bucket: `burst` tokens of capacity, refilled at `maxRps` tokens per second, one bucket
// per key, at most `maxKeys` buckets with least-recently-used eviction. A Map keeps insertion order,
// so "touch" is delete + set and "evict the LRU" is the first key: both O(1).
//
// Buckets start full. An evicted key comes back with a full bucket, so `maxKeys` must be sized above
// the number of keys active within one refill period (`burst / maxRps` seconds) or eviction weakens
// the limit; the eviction counter is exported as a metric for that reason.

import type { Decision, SyncLimiterStore } from './types.ts';

export interface TokenBucketOptions {
  /** Refill rate in tokens per second; > 0. */
  readonly maxRps: number;
  /** Capacity: the largest burst admitted at once; >= 1. */
  readonly burst: number;
  /** Most keys kept; the least recently used is evicted beyond it. Default 100 000. */
  readonly maxKeys?: number;
  /** Called once per evicted key (feeds the evictions counter). */
  readonly onEvict?: () => void;
}

interface Bucket {
  tokens: number;
  lastMs: number;
}

// Floating-point refills (elapsed * rate / 1000) can land a hair below an exact integer; a token
// count within EPSILON of the cost is treated as enough. With integer rates and millisecond clocks
// the exact token count is a multiple of 1/1000, so this never admits what exact arithmetic refuses.
const EPSILON = 1e-9;

export class TokenBucketStore implements SyncLimiterStore {
  readonly maxRps: number;
  readonly burst: number;
  readonly maxKeys: number;
  #buckets = new Map<string, Bucket>();
  #evictions = 0;
  #msPerToken: number;
  #onEvict: (() => void) | null;

  constructor(options: TokenBucketOptions) {
    if (!(options.maxRps > 0) || !Number.isFinite(options.maxRps)) throw new RangeError('maxRps must be a finite number > 0');
    if (!(options.burst >= 1) || !Number.isFinite(options.burst)) throw new RangeError('burst must be a finite number >= 1');
    const maxKeys = options.maxKeys ?? 100_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be an integer >= 1');
    this.maxRps = options.maxRps;
    this.burst = options.burst;
    this.maxKeys = maxKeys;
    this.#msPerToken = 1000 / options.maxRps;
    this.#onEvict = options.onEvict ?? null;
  }

  consume(key: string, now: number, cost = 1): Decision {
    if (!(cost > 0)) throw new RangeError('cost must be > 0');
    const buckets = this.#buckets;
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      if (buckets.size >= this.maxKeys) {
        const oldest = buckets.keys().next();
        if (oldest.done !== true) {
          buckets.delete(oldest.value);
          this.#evictions++;
          if (this.#onEvict !== null) this.#onEvict();
        }
      }
      bucket = { tokens: this.burst, lastMs: now };
    } else {
      buckets.delete(key);
      // A clock that steps backwards refills nothing (never a negative refill either).
      const elapsedMs = now - bucket.lastMs;
      if (elapsedMs > 0) {
        const refilled = bucket.tokens + (elapsedMs * this.maxRps) / 1000;
        bucket.tokens = refilled < this.burst ? refilled : this.burst;
        bucket.lastMs = now;
      }
    }
    buckets.set(key, bucket);

    if (bucket.tokens + EPSILON >= cost) {
      bucket.tokens -= cost;
      if (bucket.tokens < 0) bucket.tokens = 0;
      return {
        allowed: true,
        limit: this.burst,
        remaining: Math.floor(bucket.tokens + EPSILON),
        resetMs: Math.ceil((this.burst - bucket.tokens) * this.#msPerToken),
        retryAfterMs: 0,
        source: 'local',
      };
    }
    return {
      allowed: false,
      limit: this.burst,
      remaining: Math.floor(bucket.tokens + EPSILON),
      resetMs: Math.ceil((this.burst - bucket.tokens) * this.#msPerToken),
      // A cost above the capacity can never be met: report the time to a full bucket.
      retryAfterMs: Math.max(1, Math.ceil((Math.min(cost, this.burst) - bucket.tokens) * this.#msPerToken)),
      source: 'local',
    };
  }

  /** Keys currently held (for the `local keys` gauge). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Buckets evicted since creation (for the evictions counter). */
  get evictions(): number {
    return this.#evictions;
  }

  async close(): Promise<void> {
    this.#buckets.clear();
  }
}

export function createTokenBucketStore(options: TokenBucketOptions): TokenBucketStore {
  return new TokenBucketStore(options);
}
