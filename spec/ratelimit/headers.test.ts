import { describe, expect, it } from 'vitest';
import { compileRateLimitHeaders } from '../../src/ratelimit/headers.ts';

describe('compileRateLimitHeaders', () => {
  it('emits the IETF fields, Retry-After on rejection, and the legacy trio when asked', () => {
    const h = compileRateLimitHeaders({ name: 'api', quota: 100, windowS: 60, legacyHeaders: true });
    expect(h.policyHeader).toBe('"api";q=100;w=60');
    expect(h.headers({ allowed: true, limit: 100, remaining: 42, resetMs: 1500, retryAfterMs: 0, source: 'redis' })).toEqual([
      ['ratelimit-policy', '"api";q=100;w=60'],
      ['ratelimit', '"api";r=42;t=2'],
      ['x-ratelimit-limit', '100'],
      ['x-ratelimit-remaining', '42'],
      ['x-ratelimit-reset', '2'],
    ]);
    const rejected = compileRateLimitHeaders({ name: 'api', quota: 100, windowS: 0.2, legacyHeaders: false }).headers({ allowed: false, limit: 100, remaining: 0, resetMs: 0, retryAfterMs: 10, source: 'local' });
    expect(rejected).toEqual([
      ['ratelimit-policy', '"api";q=100;w=1'],
      ['ratelimit', '"api";r=0;t=0'],
      ['retry-after', '1'],
    ]);
  });
  it('rejects policy names that would break the structured field', () => {
    expect(() => compileRateLimitHeaders({ name: 'a"b', quota: 1, windowS: 1, legacyHeaders: false })).toThrow(RangeError);
  });
});
