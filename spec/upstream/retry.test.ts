// Retry policy (pure decisions), full-jitter backoff, and the per-upstream retry budget.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ERROR_CODES, ERROR_TABLE } from '../../src/core/errors.ts';
import { createManualClock } from '../../src/upstream/health/clock.ts';
import { backoffMs, createRetryBudget, isIdempotent, shouldRetry, validateRetryBudget, validateRetryPolicy } from '../../src/upstream/retry.ts';
import type { AttemptFailure, RetryInput, RetryPolicy } from '../../src/upstream/retry.ts';

const policy: RetryPolicy = { maxAttempts: 3, retryOnStatuses: [502, 503, 504], baseBackoffMs: 50, maxBackoffMs: 800 };

const failureArb: fc.Arbitrary<AttemptFailure> = fc.oneof(
  fc.constantFrom(...ERROR_CODES).map((code) => ({ kind: 'error' as const, code })),
  fc.integer({ min: 100, max: 599 }).map((status) => ({ kind: 'status' as const, status })),
);
const methodArb = fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE', 'POST', 'PATCH', 'CONNECT', 'get', 'post', 'PROPFIND');
const inputArb: fc.Arbitrary<RetryInput> = fc.record({
  attempt: fc.integer({ min: 1, max: 6 }),
  failure: failureArb,
  method: methodArb,
  bodyReplayable: fc.boolean(),
  bytesSent: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1 << 20 })),
  budgetRemainingMs: fc.integer({ min: -100, max: 10_000 }),
});
const policyArb: fc.Arbitrary<RetryPolicy> = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 5 }),
  retryOnStatuses: fc.uniqueArray(fc.integer({ min: 500, max: 599 }), { maxLength: 4 }),
  baseBackoffMs: fc.integer({ min: 0, max: 200 }),
  maxBackoffMs: fc.integer({ min: 200, max: 5_000 }),
});

describe('shouldRetry', () => {
  it('never retries a non-idempotent method once bytes were sent', () => {
    fc.assert(
      fc.property(policyArb, inputArb, (p, input) => {
        fc.pre(!isIdempotent(input.method) && input.bytesSent > 0);
        expect(shouldRetry(p, input)).not.toBe('retry');
      }),
    );
  });

  it("'retry' implies every condition holds", () => {
    fc.assert(
      fc.property(policyArb, inputArb, (p, input) => {
        if (shouldRetry(p, input) !== 'retry') return;
        expect(input.attempt).toBeLessThan(p.maxAttempts);
        expect(input.bodyReplayable).toBe(true);
        expect(input.budgetRemainingMs).toBeGreaterThan(0);
        expect(isIdempotent(input.method) || input.bytesSent === 0).toBe(true);
        const f = input.failure;
        if (f.kind === 'error') expect(ERROR_TABLE[f.code].retryable).toBe(true);
        else expect(p.retryOnStatuses).toContain(f.status);
      }),
    );
  });

  it('retries connect failures for any method (nothing was sent) and reports why not otherwise', () => {
    const base = { attempt: 1, bodyReplayable: true, bytesSent: 0, budgetRemainingMs: 1_000 } as const;
    expect(shouldRetry(policy, { ...base, method: 'POST', failure: { kind: 'error', code: 'UPSTREAM_CONNECT_FAILED' } })).toBe('retry');
    expect(shouldRetry(policy, { ...base, method: 'POST', failure: { kind: 'error', code: 'UPSTREAM_RESET' }, bytesSent: 120 })).toBe('non_idempotent_sent');
    expect(shouldRetry(policy, { ...base, method: 'GET', failure: { kind: 'error', code: 'UPSTREAM_RESET' }, bytesSent: 120 })).toBe('retry');
    expect(shouldRetry(policy, { ...base, method: 'GET', failure: { kind: 'status', status: 503 }, bytesSent: 80 })).toBe('retry');
    expect(shouldRetry(policy, { ...base, method: 'GET', failure: { kind: 'status', status: 500 } })).toBe('not_retryable');
    expect(shouldRetry(policy, { ...base, method: 'GET', failure: { kind: 'error', code: 'UPSTREAM_HEADERS_TIMEOUT' } })).toBe('not_retryable');
    expect(shouldRetry(policy, { ...base, method: 'GET', attempt: 3, failure: { kind: 'status', status: 503 } })).toBe('attempts_exhausted');
    expect(shouldRetry(policy, { ...base, method: 'PUT', bodyReplayable: false, failure: { kind: 'status', status: 503 } })).toBe('body_not_replayable');
    expect(shouldRetry(policy, { ...base, method: 'GET', budgetRemainingMs: 0, failure: { kind: 'status', status: 503 } })).toBe('deadline');
  });

  it('validates policies', () => {
    expect(validateRetryPolicy({ maxAttempts: 0, retryOnStatuses: [404], baseBackoffMs: 10, maxBackoffMs: 5 })).toHaveLength(3);
    expect(validateRetryPolicy(policy)).toEqual([]);
  });
});

describe('backoffMs (full jitter)', () => {
  it('stays in [0, min(cap, base × 2^(n−1))) for any rng output, including bad ones', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 1, max: 100 }), fc.oneof(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.constantFrom(1, -0.5, Number.NaN, 7)), (p, attempt, r) => {
        const d = backoffMs(p, attempt, () => r);
        const ceiling = Math.min(p.maxBackoffMs, p.baseBackoffMs * 2 ** Math.min(attempt - 1, 30));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d <= ceiling).toBe(true);
        if (ceiling > 0) expect(d).toBeLessThan(ceiling);
      }),
    );
  });

  it('the ceiling doubles, then caps', () => {
    const max = (n: number): number => backoffMs(policy, n, () => 0.999999);
    expect(max(1)).toBeCloseTo(50, 2);
    expect(max(2)).toBeCloseTo(100, 2);
    expect(max(4)).toBeCloseTo(400, 1);
    expect(max(5)).toBeCloseTo(800, 1);
    expect(max(60)).toBeCloseTo(800, 1);
  });
});

type Event = { kind: 'request' } | { kind: 'retry' } | { kind: 'advance'; ms: number };

describe('retry budget', () => {
  const eventArb: fc.Arbitrary<Event> = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ kind: 'request' as const }) },
    { weight: 4, arbitrary: fc.constant({ kind: 'retry' as const }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 2_000 }).map((ms) => ({ kind: 'advance' as const, ms })) },
  );

  it('caps retries at maxTokens + ratio × requests + minRetriesPerSecond × elapsed over arbitrary traffic', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(eventArb, { maxLength: 400, size: 'max' }),
        (ratio, perSecond, maxTokens, events) => {
          const clock = createManualClock(0);
          const budget = createRetryBudget({ ratio, minRetriesPerSecond: perSecond, maxTokens }, clock);
          let requests = 0;
          let granted = 0;
          for (const e of events) {
            if (e.kind === 'request') {
              budget.onRequest();
              requests++;
            } else if (e.kind === 'retry') {
              if (budget.tryAcquire()) granted++;
            } else clock.advance(e.ms);
            const bound = maxTokens + Math.round(ratio * 1000) / 1000 * requests + (perSecond * clock.now()) / 1000;
            expect(granted).toBeLessThanOrEqual(bound + 1e-9);
          }
          expect(budget.granted).toBe(granted);
        },
      ),
    );
  });

  it('a retry storm is held to the ratio (and the budget is not stingier than it)', () => {
    const clock = createManualClock(0);
    const budget = createRetryBudget({ ratio: 0.2, minRetriesPerSecond: 0, maxTokens: 1 }, clock);
    let granted = 0;
    for (let k = 0; k < 10_000; k++) {
      budget.onRequest();
      // every request fails and wants up to two retries
      if (budget.tryAcquire()) granted++;
      if (budget.tryAcquire()) granted++;
      clock.advance(1);
    }
    expect(granted).toBeLessThanOrEqual(0.2 * 10_000 + 1);
    expect(granted).toBeGreaterThanOrEqual(0.2 * 10_000 - 1);
    expect(budget.refused).toBe(20_000 - granted);
  });

  it('the per-second floor lets a quiet upstream retry, and refills with time', () => {
    const clock = createManualClock(0);
    const budget = createRetryBudget({ ratio: 0, minRetriesPerSecond: 2, maxTokens: 2 }, clock);
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
    clock.advance(499);
    expect(budget.tryAcquire()).toBe(false);
    clock.advance(1);
    expect(budget.tryAcquire()).toBe(true);
    clock.advance(60_000);
    expect(budget.tokens).toBe(2); // capped
  });

  it('refills under frequent sub-millisecond time steps (no rounding loss)', () => {
    const clock = createManualClock(0);
    const budget = createRetryBudget({ ratio: 0, minRetriesPerSecond: 1, maxTokens: 1 }, clock);
    expect(budget.tryAcquire()).toBe(true);
    for (let k = 0; k < 4_000; k++) {
      clock.advance(0.25);
      budget.onRequest();
    }
    expect(budget.tryAcquire()).toBe(true); // 1 s elapsed in 0.25 ms steps: one token back
    expect(budget.tryAcquire()).toBe(false);
  });

  it('treats methods case-sensitively: only exact idempotent tokens are idempotent', () => {
    expect(isIdempotent('GET')).toBe(true);
    expect(isIdempotent('get')).toBe(false);
    expect(isIdempotent('POST')).toBe(false);
  });

  it('validates options', () => {
    expect(validateRetryBudget({ ratio: -1, minRetriesPerSecond: -1, maxTokens: 0 })).toHaveLength(3);
    expect(() => createRetryBudget({ ratio: Number.NaN }, createManualClock())).toThrow(RangeError);
  });
});

describe('retryNonIdempotent', () => {
  it('lets a policy retry a sent non-idempotent request; everything else still applies', () => {
    const p = { maxAttempts: 3, retryOnStatuses: [503], baseBackoffMs: 0, maxBackoffMs: 0, retryNonIdempotent: true };
    const input = { attempt: 1, failure: { kind: 'status', status: 503 } as const, method: 'POST', bodyReplayable: true, bytesSent: 10, budgetRemainingMs: 1_000 };
    expect(shouldRetry(p, input)).toBe('retry');
    expect(shouldRetry({ ...p, retryNonIdempotent: false }, input)).toBe('non_idempotent_sent');
    expect(shouldRetry(p, { ...input, bodyReplayable: false })).toBe('body_not_replayable');
    expect(shouldRetry(p, { ...input, attempt: 3 })).toBe('attempts_exhausted');
  });
});
