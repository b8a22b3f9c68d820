// The stale-while-revalidate cache on a fake clock: fresh hits, stale served with one background
// refresh, expiry, negative caching, errors never cached, LRU bound, single-flight, abort, and a
// fast-check model of the windows.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SwrCache } from '../../src/deployments/cache.ts';

function fakeClock(start = 1_000): { now(): number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
const WINDOWS = { freshMs: 10, staleMs: 60, maxEntries: 100 };

describe('SwrCache', () => {
  it('fresh hit: served from cache without calling the loader', async () => {
    const clock = fakeClock();
    let calls = 0;
    const cache = new SwrCache<string>({ ...WINDOWS, clock }, async (k) => `${k}:${++calls}`);
    expect(await cache.get('a')).toBe('a:1');
    clock.advance(9);
    expect(cache.peek('a')?.value).toBe('a:1');
    expect(await cache.get('a')).toBe('a:1');
    expect(calls).toBe(1);
    expect(cache.stats.freshHits).toBe(2);
  });

  it('stale: the old value is served at once and exactly one background refresh runs', async () => {
    const clock = fakeClock();
    const loads: Deferred<string>[] = [];
    const cache = new SwrCache<string>({ ...WINDOWS, clock }, () => {
      const d = deferred<string>();
      loads.push(d);
      return d.promise;
    });
    const first = cache.get('a');
    loads[0]?.resolve('v1');
    expect(await first).toBe('v1');
    clock.advance(10); // now stale
    for (let i = 0; i < 5; i++) expect(cache.peek('a')?.value).toBe('v1'); // served synchronously, never blocked
    expect(loads).toHaveLength(2); // one refresh, not five
    expect(cache.isLoading('a')).toBe(true);
    loads[1]?.resolve('v2');
    await flush();
    expect(cache.peek('a')?.value).toBe('v2');
    expect(cache.stats.staleHits).toBe(5);
    expect(cache.stats.refreshes).toBe(1);
  });

  it('past the stale window the entry is dropped and the caller waits for a load', async () => {
    const clock = fakeClock();
    let calls = 0;
    const cache = new SwrCache<string>({ ...WINDOWS, clock }, async () => `v${++calls}`);
    await cache.get('a');
    clock.advance(60);
    expect(cache.peek('a')).toBeUndefined();
    expect(await cache.get('a')).toBe('v2');
  });

  it('negative caching: a not-found (null) is cached for the same windows', async () => {
    const clock = fakeClock();
    let calls = 0;
    let exists = false;
    const cache = new SwrCache<string>({ ...WINDOWS, clock }, async () => {
      calls++;
      return exists ? 'found' : null;
    });
    expect(await cache.get('d3')).toBeNull();
    exists = true;
    clock.advance(9);
    expect(cache.peek('d3')).toEqual({ value: null, storedAtMs: 1_000 });
    expect(calls).toBe(1);
    clock.advance(1); // stale: null served once more, refresh finds it
    expect(cache.peek('d3')?.value).toBeNull();
    await flush();
    expect(cache.peek('d3')?.value).toBe('found');
    expect(calls).toBe(2);
  });

  it('errors are never cached: a failed load rejects, the next call loads again', async () => {
    const clock = fakeClock();
    let fail = true;
    let calls = 0;
    const cache = new SwrCache<string>({ ...WINDOWS, clock }, async () => {
      calls++;
      if (fail) throw new Error('db down');
      return 'ok';
    });
    await expect(cache.get('a')).rejects.toThrow('db down');
    expect(cache.peek('a')).toBeUndefined();
    fail = false;
    expect(await cache.get('a')).toBe('ok');
    expect(calls).toBe(2);
  });

  it('a failed background refresh keeps serving the stale value until the stale window ends', async () => {
    const clock = fakeClock();
    let fail = false;
    const refreshErrors: string[] = [];
    const cache = new SwrCache<string>({ ...WINDOWS, clock, onRefreshError: (k, e) => refreshErrors.push(`${k}:${(e as Error).message}`) }, async () => {
      if (fail) throw new Error('db down');
      return 'v1';
    });
    await cache.get('a');
    fail = true;
    for (let t = 10; t < 60; t += 10) {
      clock.advance(10);
      expect(cache.peek('a')?.value).toBe('v1');
      await flush();
    }
    expect(refreshErrors.length).toBe(5);
    expect(refreshErrors[0]).toBe('a:db down');
    clock.advance(10); // 60: expired
    expect(cache.peek('a')).toBeUndefined();
    await expect(cache.get('a')).rejects.toThrow('db down');
  });

  it('LRU bound: the least recently used entry is evicted first', async () => {
    const clock = fakeClock();
    const cache = new SwrCache<string>({ ...WINDOWS, maxEntries: 3, clock }, async (k) => k);
    for (const k of ['a', 'b', 'c']) await cache.get(k);
    cache.peek('a'); // a is now most recently used
    await cache.get('d');
    expect(cache.size).toBe(3);
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('a')?.value).toBe('a');
    expect(cache.stats.evictions).toBe(1);
  });

  it('single-flight: concurrent misses for one key share one load', async () => {
    const clock = fakeClock();
    const d = deferred<string>();
    let calls = 0;
    const cache = new SwrCache<string>({ ...WINDOWS, clock }, () => {
      calls++;
      return d.promise;
    });
    const waiters = Array.from({ length: 20 }, () => cache.get('a'));
    const other = cache.get('b');
    expect(calls).toBe(2);
    d.resolve('v');
    expect(await Promise.all(waiters)).toEqual(Array(20).fill('v'));
    expect(await other).toBe('v');
  });

  it('a caller that aborts stops waiting; the shared load still completes and is cached', async () => {
    const clock = fakeClock();
    const d = deferred<string>();
    const cache = new SwrCache<string>({ ...WINDOWS, clock }, () => d.promise);
    const controller = new AbortController();
    const waiting = cache.load('a', controller.signal);
    const reason = new Error('client gone');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    d.resolve('v');
    await flush();
    expect(cache.peek('a')?.value).toBe('v');
  });

  it('bounds concurrent background refreshes', async () => {
    const clock = fakeClock();
    const pending: Deferred<string>[] = [];
    let initial = true;
    const cache = new SwrCache<string>({ ...WINDOWS, clock, maxConcurrentRefreshes: 2 }, async (k) => {
      if (initial) return k;
      const d = deferred<string>();
      pending.push(d);
      return d.promise;
    });
    for (const k of ['a', 'b', 'c']) await cache.get(k);
    initial = false;
    clock.advance(10);
    for (const k of ['a', 'b', 'c']) expect(cache.peek(k)?.value).toBe(k);
    expect(pending).toHaveLength(2);
    expect(cache.stats.refreshesSkipped).toBe(1);
    for (const d of pending) d.resolve('new');
    await flush();
    cache.peek('c'); // capacity is back: c refreshes now
    expect(pending).toHaveLength(3);
  });

  it('close() aborts the loader signal and empties the cache', async () => {
    const clock = fakeClock();
    let seen: AbortSignal | undefined;
    const cache = new SwrCache<string>({ ...WINDOWS, clock }, (_k, signal) => {
      seen = signal;
      return new Promise((_res, rej) => signal.addEventListener('abort', () => rej(signal.reason)));
    });
    const p = cache.get('a');
    cache.close();
    await expect(p).rejects.toThrow('cache closed');
    expect(seen?.aborted).toBe(true);
    expect(cache.size).toBe(0);
  });

  it('rejects inconsistent windows', () => {
    const clock = fakeClock();
    expect(() => new SwrCache({ freshMs: 10, staleMs: 5, maxEntries: 1, clock }, async () => null)).toThrow(RangeError);
    expect(() => new SwrCache({ freshMs: 1, staleMs: 5, maxEntries: 0, clock }, async () => null)).toThrow(RangeError);
  });

  it('property: against a model of the windows, every read is served as the model predicts', async () => {
    const op = fc.record({ advanceMs: fc.integer({ min: 0, max: 40 }), key: fc.constantFrom('a', 'b', 'c', 'd'), exists: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 3 }), fc.array(op, { maxLength: 40 }), async (freshMs, extraMs, maxEntries, ops) => {
        const staleMs = freshMs + extraMs;
        const clock = fakeClock(0);
        let version = 0;
        let exists = true;
        let calls = 0;
        const cache = new SwrCache<string>({ freshMs, staleMs, maxEntries, clock }, async (k) => {
          calls++;
          return exists ? `${k}:${++version}` : null;
        });
        // model: key -> { value, storedAt }, in LRU order
        const model = new Map<string, { value: string | null; at: number }>();
        let modelCalls = 0;
        const writeModel = (k: string, value: string | null): void => {
          model.delete(k);
          model.set(k, { value, at: clock.now() });
          while (model.size > maxEntries) model.delete(model.keys().next().value as string);
        };
        for (const { advanceMs, key, exists: e } of ops) {
          clock.advance(advanceMs);
          exists = e;
          const entry = model.get(key);
          const age = entry === undefined ? Infinity : clock.now() - entry.at;
          const got = await cache.get(key);
          const loaded = exists ? `${key}:${version}` : null;
          if (entry === undefined || age >= staleMs) {
            modelCalls++;
            expect(got).toBe(loaded);
            writeModel(key, loaded);
          } else if (age < freshMs) {
            expect(got).toBe(entry.value);
            model.delete(key);
            model.set(key, entry);
          } else {
            expect(got).toBe(entry.value); // stale value served
            model.delete(key);
            model.set(key, entry);
            modelCalls++;
            await flush(); // the one background refresh lands
            writeModel(key, exists ? `${key}:${version}` : null);
          }
          expect(calls).toBe(modelCalls);
          expect(cache.size).toBe(model.size);
        }
      }),
      { numRuns: 150 },
    );
  });
});
