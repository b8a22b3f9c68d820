// Stale-while-revalidate cache with an injected clock, as Unkey's pkg/cache does it:
// - age < freshMs: served;
// - freshMs <= age < staleMs: served, and one background refresh is started (never awaited);
// - age >= staleMs: dropped, the caller waits for a load.
// A loader result of `null` (not found) is cached like a value (negative caching, same windows).
// Loader errors are never cached: a failed load rejects its callers, a failed refresh keeps the
// stale entry. At most one load per key runs at a time (callers join it), at most
// maxConcurrentRefreshes background refreshes run at once, and the cache holds at most maxEntries
// (least recently used evicted first). peek() is synchronous so a warm hit allocates no promise.

import type { Clock } from './types.ts';

export interface SwrWindows {
  /** Entries younger than this are served without a refresh. */
  readonly freshMs: number;
  /** Entries are served (stale) until this age, then dropped. Must be >= freshMs. */
  readonly staleMs: number;
  /** LRU bound. */
  readonly maxEntries: number;
}

export interface SwrCacheOptions extends SwrWindows {
  readonly clock: Clock;
  /** Default 10 (Unkey's worker count). A stale hit beyond this is served without a refresh. */
  readonly maxConcurrentRefreshes?: number;
  /** Called when a background refresh fails (the stale value stays). */
  readonly onRefreshError?: (key: string, error: unknown) => void;
}

/** Loads one key; resolves null for not-found. `signal` aborts when the cache is closed. */
export type SwrLoader<V> = (key: string, signal: AbortSignal) => Promise<V | null>;

export interface CacheEntry<V> {
  readonly value: V | null;
  readonly storedAtMs: number;
}

export interface SwrCacheStats {
  freshHits: number;
  staleHits: number;
  misses: number;
  loads: number;
  loadErrors: number;
  refreshes: number;
  refreshErrors: number;
  refreshesSkipped: number;
  evictions: number;
}

export class SwrCache<V> {
  private readonly entries = new Map<string, CacheEntry<V>>();
  private readonly inflight = new Map<string, Promise<V | null>>();
  private readonly loader: SwrLoader<V>;
  private readonly clock: Clock;
  private readonly freshMs: number;
  private readonly staleMs: number;
  private readonly maxEntries: number;
  private readonly maxRefreshes: number;
  private readonly onRefreshError: ((key: string, error: unknown) => void) | undefined;
  private readonly closer = new AbortController();
  private refreshing = 0;
  readonly stats: SwrCacheStats = { freshHits: 0, staleHits: 0, misses: 0, loads: 0, loadErrors: 0, refreshes: 0, refreshErrors: 0, refreshesSkipped: 0, evictions: 0 };

  constructor(options: SwrCacheOptions, loader: SwrLoader<V>) {
    if (!(options.freshMs >= 0) || !(options.staleMs >= options.freshMs)) {
      throw new RangeError(`cache windows need 0 <= freshMs <= staleMs (got ${options.freshMs}, ${options.staleMs})`);
    }
    if (!(Number.isInteger(options.maxEntries) && options.maxEntries >= 1)) throw new RangeError(`maxEntries must be an integer >= 1 (got ${options.maxEntries})`);
    this.loader = loader;
    this.clock = options.clock;
    this.freshMs = options.freshMs;
    this.staleMs = options.staleMs;
    this.maxEntries = options.maxEntries;
    this.maxRefreshes = options.maxConcurrentRefreshes ?? 10;
    this.onRefreshError = options.onRefreshError;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Is a load (foreground or background) for `key` running now? */
  isLoading(key: string): boolean {
    return this.inflight.has(key);
  }

  /**
   * The cached entry if it is fresh or stale (a stale hit starts a background refresh), else
   * undefined (an expired entry is dropped). `entry.value === null` is a cached not-found.
   */
  peek(key: string): CacheEntry<V> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const ageMs = this.clock.now() - entry.storedAtMs;
    if (ageMs >= this.staleMs) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key); // move to the most-recently-used end
    this.entries.set(key, entry);
    if (ageMs < this.freshMs) {
      this.stats.freshHits++;
    } else {
      this.stats.staleHits++;
      this.refresh(key);
    }
    return entry;
  }

  /** Loads `key` (joining a running load) and caches the result; errors are not cached. */
  load(key: string, signal?: AbortSignal): Promise<V | null> {
    this.stats.misses++;
    const running = this.inflight.get(key) ?? this.start(key);
    return signal === undefined ? running : withAbort(running, signal);
  }

  /** peek(), falling back to load() on a miss. */
  async get(key: string, signal?: AbortSignal): Promise<V | null> {
    const entry = this.peek(key);
    return entry !== undefined ? entry.value : this.load(key, signal);
  }

  /** Aborts running loads (their callers reject) and drops every entry. */
  close(): void {
    this.closer.abort(new Error('cache closed'));
    this.entries.clear();
  }

  private refresh(key: string): void {
    if (this.inflight.has(key) || this.closer.signal.aborted) return;
    if (this.refreshing >= this.maxRefreshes) {
      this.stats.refreshesSkipped++;
      return;
    }
    this.refreshing++;
    this.stats.refreshes++;
    this.start(key).then(
      () => {
        this.refreshing--;
      },
      (error: unknown) => {
        this.refreshing--;
        this.stats.refreshErrors++;
        this.onRefreshError?.(key, error);
      },
    );
  }

  private start(key: string): Promise<V | null> {
    this.stats.loads++;
    const promise = (async (): Promise<V | null> => {
      try {
        const value = await this.loader(key, this.closer.signal);
        if (!this.closer.signal.aborted) this.write(key, value);
        return value;
      } catch (error) {
        this.stats.loadErrors++;
        throw error;
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, promise);
    return promise;
  }

  private write(key: string, value: V | null): void {
    this.entries.delete(key);
    this.entries.set(key, { value, storedAtMs: this.clock.now() });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
      this.stats.evictions++;
    }
  }
}

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts. */
function withAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function createSwrCache<V>(options: SwrCacheOptions, loader: SwrLoader<V>): SwrCache<V> {
  return new SwrCache(options, loader);
}
