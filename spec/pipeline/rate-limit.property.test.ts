// The `delay` action against its contract, with a fake clock and arbitrary arrivals: every request
// settles; an admitted request waited at most max-delay-ms; at most max-delayed-requests wait at
// once; admissions (immediate and delayed) never exceed burst + rate × t in any interval [a, b];
// nothing is left in the queue. The exchange is a minimal stand-in with the fields the filter
// touches (the running-proxy behaviour is in spec/integration/rate-limit.test.ts).
import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { Metrics } from '../../src/observability/metrics.ts';
import { RateLimitFilter, rateLimitMetrics } from '../../src/pipeline/rate-limit.ts';
import type { Exchange } from '../../src/pipeline/exchange.ts';
import { compileRateLimitHeaders } from '../../src/ratelimit/headers.ts';
import { TokenBucketStore } from '../../src/ratelimit/token-bucket.ts';

afterEach(() => {
  vi.useRealTimers();
});

interface Outcome { arrivedMs: number; settledMs: number | null; admitted: boolean | null; status: number }

function stubExchange(o: Outcome): Exchange {
  const ex = {
    finished: false,
    pending: null,
    responseHeaderOps: null,
    requestId: 'r',
    ctx: { metrics: { error: () => undefined } },
    audit: () => undefined,
    reply(status: number) { o.status = status; ex.finished = true; },
    fail() { o.status = 500; ex.finished = true; },
  };
  return ex as unknown as Exchange;
}

const metrics = new Metrics({ processMetrics: false });

describe('rate-limit filter, on-limit "delay" (fake clock)', () => {
  it('bounded wait, bounded queue, never above the bucket', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 1500 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 60 }),
        async (rate, burst, maxDelayMs, maxDelayed, gaps) => {
          vi.useFakeTimers({ now: 1_000_000 });
          const filter = new RateLimitFilter({
            id: 'p', store: new TokenBucketStore({ maxRps: rate, burst }), synchronous: true, extract: () => 'k',
            onLimit: 'delay', statusCode: 429, message: null, maxDelayMs, maxDelayedRequests: maxDelayed,
            headers: compileRateLimitHeaders({ name: 'p', quota: burst, windowS: burst / rate, legacyHeaders: false }),
            responseHeaders: false, metrics: rateLimitMetrics(metrics).filter('p'), now: () => Date.now(),
          });
          const outcomes: Outcome[] = [];
          for (const gap of gaps) {
            await vi.advanceTimersByTimeAsync(gap);
            const o: Outcome = { arrivedMs: Date.now(), settledMs: null, admitted: null, status: 0 };
            outcomes.push(o);
            const r = filter.onRequest(stubExchange(o));
            if (typeof r === 'boolean') { o.admitted = r; o.settledMs = Date.now(); }
            else void r.then((ok) => { o.admitted = ok; o.settledMs = Date.now(); });
            expect(filter.delayedNow).toBeLessThanOrEqual(maxDelayed);
          }
          await vi.advanceTimersByTimeAsync(maxDelayMs + 10);
          expect(filter.delayedNow).toBe(0);
          const admittedAt: number[] = [];
          for (const o of outcomes) {
            expect(o.admitted).not.toBeNull();
            const waited = (o.settledMs as number) - o.arrivedMs;
            expect(waited).toBeLessThanOrEqual(maxDelayMs);
            if (o.admitted === true) admittedAt.push(o.settledMs as number);
            else expect(o.status).toBe(429);
          }
          admittedAt.sort((a, b) => a - b);
          for (let i = 0; i < admittedAt.length; i++) {
            for (let j = i; j < admittedAt.length; j++) {
              expect(j - i + 1).toBeLessThanOrEqual(burst + (rate * (admittedAt[j]! - admittedAt[i]!)) / 1000 + 1e-9);
            }
          }
          vi.useRealTimers();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('while requests wait, the slot count is exact and a full queue rejects at once', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const filter = new RateLimitFilter({
      id: 'q', store: new TokenBucketStore({ maxRps: 1, burst: 1 }), synchronous: true, extract: () => 'k',
      onLimit: 'delay', statusCode: 429, message: null, maxDelayMs: 10_000, maxDelayedRequests: 2,
      headers: compileRateLimitHeaders({ name: 'q', quota: 1, windowS: 1, legacyHeaders: false }),
      responseHeaders: false, metrics: rateLimitMetrics(metrics).filter('q'), now: () => Date.now(),
    });
    const o = (): Outcome => ({ arrivedMs: Date.now(), settledMs: null, admitted: null, status: 0 });
    expect(filter.onRequest(stubExchange(o()))).toBe(true);
    const waiting = [filter.onRequest(stubExchange(o())), filter.onRequest(stubExchange(o()))];
    expect(waiting.every((r) => r instanceof Promise)).toBe(true);
    expect(filter.delayedNow).toBe(2);
    const full = o();
    expect(filter.onRequest(stubExchange(full))).toBe(false);
    expect(full.status).toBe(429);
    await vi.advanceTimersByTimeAsync(1000);
    expect(filter.delayedNow).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(filter.delayedNow).toBe(0);
    expect(await Promise.all(waiting)).toEqual([true, true]);
  });
});
