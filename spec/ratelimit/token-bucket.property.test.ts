import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TokenBucketStore } from '../../src/ratelimit/token-bucket.ts';
import { arrivalTimes, tokenBucketModel } from './models.ts';

const rateArb = fc.integer({ min: 1, max: 50 });
const burstArb = fc.integer({ min: 1, max: 20 });
const gapsArb = fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 200 });
// Gaps clustered on token boundaries (period - 1, period, period + 1, bursts of 0) are where an
// off-by-a-little refill shows; rates that divide 1000 make the period an exact integer.
const exactRateArb = fc.constantFrom(1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 125, 200, 250, 500, 1000);
const boundaryCase = fc.tuple(exactRateArb, burstArb).chain(([rate, burst]) => {
  const period = 1000 / rate;
  const gap = fc.oneof(fc.constant(0), fc.constant(period), fc.constant(period - 1), fc.constant(period + 1), fc.integer({ min: 0, max: 3 * period }));
  return fc.tuple(fc.constant(rate), fc.constant(burst), fc.array(gap, { minLength: 1, maxLength: 400 }));
});

function run(rate: number, burst: number, times: readonly number[]): boolean[] {
  const store = new TokenBucketStore({ maxRps: rate, burst });
  return times.map((t) => store.consume('k', t).allowed);
}

describe('TokenBucketStore against an exact model (fake clock)', () => {
  it('decides exactly like the integer-arithmetic reference model', () => {
    fc.assert(
      fc.property(rateArb, burstArb, gapsArb, (rate, burst, gaps) => {
        const times = arrivalTimes(gaps, 1_000_000);
        expect(run(rate, burst, times)).toEqual(tokenBucketModel(rate, burst, times));
      }),
      { numRuns: 300 },
    );
  });

  it('decides exactly like the model on token boundaries', () => {
    fc.assert(
      fc.property(boundaryCase, ([rate, burst, gaps]) => {
        const times = arrivalTimes(gaps, 1_000_000);
        expect(run(rate, burst, times)).toEqual(tokenBucketModel(rate, burst, times));
      }),
      { numRuns: 300 },
    );
  });

  it('never admits more than burst + rate × t in any interval [a, b] (boundary-heavy arrivals)', () => {
    fc.assert(
      fc.property(boundaryCase, ([rate, burst, gaps]) => {
        const times = arrivalTimes(gaps, 5_000);
        const allowed = run(rate, burst, times);
        for (let i = 0; i < times.length; i++) {
          let count = 0;
          for (let j = i; j < times.length; j++) {
            if (allowed[j]) count++;
            expect(count).toBeLessThanOrEqual(burst + (rate * (times[j]! - times[i]!)) / 1000 + 1e-9);
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('never admits more than burst + rate × t in any interval [a, b]', () => {
    fc.assert(
      fc.property(rateArb, burstArb, gapsArb, (rate, burst, gaps) => {
        const times = arrivalTimes(gaps, 5_000);
        const allowed = run(rate, burst, times);
        for (let i = 0; i < times.length; i++) {
          let count = 0;
          for (let j = i; j < times.length; j++) {
            if (allowed[j]) count++;
            const span = times[j]! - times[i]!;
            expect(count).toBeLessThanOrEqual(burst + (rate * span) / 1000 + 1e-9);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('never rejects while arrivals stay under the rate', () => {
    fc.assert(
      fc.property(
        rateArb,
        burstArb,
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 200 }),
        (rate, burst, extra) => {
          // every gap is at least one token's worth of time
          const minGap = Math.ceil(1000 / rate);
          const times = arrivalTimes(extra.map((e) => minGap + e));
          expect(run(rate, burst, times).every(Boolean)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports limit, remaining and retry-after within their ranges', () => {
    fc.assert(
      fc.property(rateArb, burstArb, gapsArb, (rate, burst, gaps) => {
        const store = new TokenBucketStore({ maxRps: rate, burst });
        for (const t of arrivalTimes(gaps)) {
          const d = store.consume('k', t);
          expect(d.limit).toBe(burst);
          expect(d.remaining).toBeGreaterThanOrEqual(0);
          expect(d.remaining).toBeLessThanOrEqual(burst);
          if (d.allowed) expect(d.retryAfterMs).toBe(0);
          else {
            expect(d.retryAfterMs).toBeGreaterThan(0);
            expect(d.remaining).toBe(0);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a rejected caller that waits retryAfterMs is admitted', () => {
    fc.assert(
      fc.property(rateArb, burstArb, (rate, burst) => {
        const store = new TokenBucketStore({ maxRps: rate, burst });
        let t = 0;
        let d = store.consume('k', t);
        while (d.allowed) d = store.consume('k', t);
        t += d.retryAfterMs;
        expect(store.consume('k', t).allowed).toBe(true);
      }),
    );
  });
});

describe('TokenBucketStore LRU bound', () => {
  it('never holds more than maxKeys, evicts the least recently used, counts evictions', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 300 }), (maxKeys, keys) => {
        const store = new TokenBucketStore({ maxRps: 1, burst: 1, maxKeys });
        const lru: number[] = []; // reference: most recent last
        let evictions = 0;
        let t = 0;
        for (const k of keys) {
          const wasHeld = lru.includes(k);
          const d = store.consume(String(k), t);
          // burst 1, 1 rps, time moves 1 ms per request: a held key was just drained, a new one is full
          if (wasHeld) lru.splice(lru.indexOf(k), 1);
          else if (lru.length >= maxKeys) {
            lru.shift();
            evictions++;
          }
          lru.push(k);
          expect(d.allowed).toBe(!wasHeld);
          expect(store.size).toBe(lru.length);
          expect(store.size).toBeLessThanOrEqual(maxKeys);
          expect(store.evictions).toBe(evictions);
          t += 1;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('TokenBucketStore fixed cases', () => {
  it('a clock stepping backwards refills nothing', () => {
    const store = new TokenBucketStore({ maxRps: 10, burst: 2 });
    expect(store.consume('k', 10_000).allowed).toBe(true);
    expect(store.consume('k', 10_000).allowed).toBe(true);
    expect(store.consume('k', 5_000).allowed).toBe(false);
    expect(store.consume('k', 10_099).allowed).toBe(false);
    expect(store.consume('k', 10_100).allowed).toBe(true);
  });

  it('a cost above the burst is never admitted and does not drain the bucket', () => {
    const store = new TokenBucketStore({ maxRps: 1, burst: 3 });
    const d = store.consume('k', 0, 4);
    expect(d.allowed).toBe(false);
    expect(d.remaining).toBe(3);
    expect(store.consume('k', 0, 3).allowed).toBe(true);
  });

  it('fractional rates refill proportionally', () => {
    const store = new TokenBucketStore({ maxRps: 0.5, burst: 1 });
    expect(store.consume('k', 0).allowed).toBe(true);
    expect(store.consume('k', 1999).allowed).toBe(false);
    expect(store.consume('k', 2000).allowed).toBe(true);
  });

  it('rejects invalid options', () => {
    expect(() => new TokenBucketStore({ maxRps: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new TokenBucketStore({ maxRps: 1, burst: 0.5 })).toThrow(RangeError);
    expect(() => new TokenBucketStore({ maxRps: 1, burst: 1, maxKeys: 0 })).toThrow(RangeError);
  });
});
