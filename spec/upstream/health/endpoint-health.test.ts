// EndpointHealthSet: bookkeeping properties, and a simulated pool (selector + retry policy +
// budget + breaker + outlier detection, fake clock) where a target dies and comes back.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createManualClock } from '../../../src/upstream/health/clock.ts';
import { createEndpointHealthSet } from '../../../src/upstream/health/endpoint-health.ts';
import type { OutlierResult } from '../../../src/upstream/health/outlier.ts';
import { createRetryBudget, shouldRetry } from '../../../src/upstream/retry.ts';
import type { RetryPolicy } from '../../../src/upstream/retry.ts';
import { createSelector, makeEndpoints } from '../../../src/upstream/select/create-selector.ts';
import type { Algorithm, SelectContext } from '../../../src/upstream/select/types.ts';

type Op =
  | { kind: 'health'; i: number; up: boolean }
  | { kind: 'begin'; i: number }
  | { kind: 'end'; result: OutlierResult }
  | { kind: 'abort' }
  | { kind: 'advance'; ms: number };

const opArb = (n: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({ kind: fc.constant('health' as const), i: fc.nat(n - 1), up: fc.boolean() }),
    fc.record({ kind: fc.constant('begin' as const), i: fc.nat(n - 1) }),
    fc.record({ kind: fc.constant('end' as const), result: fc.constantFrom<OutlierResult>('success', '5xx', 'connect_failure', 'timeout') }),
    fc.record({ kind: fc.constant('abort' as const) }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
  );

describe('EndpointHealthSet', () => {
  it('availability = healthy ∧ ¬ejected ∧ breaker allows; in-flight counts balance; pool never fully ejected', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(fc.constant(n), fc.array(opArb(n), { minLength: 1, maxLength: 150, size: 'max' }))),
        ([n, ops]) => {
          const clock = createManualClock(0);
          const set = createEndpointHealthSet(
            n,
            {
              breaker: { failureThreshold: 2, openMs: 1_000, halfOpenMaxProbes: 1, successThreshold: 1 },
              outlier: { consecutive5xx: 2, consecutiveLocalFailures: 2, baseEjectionMs: 500, maxEjectionMs: 2_000, maxEjectionPercent: 100 },
            },
            clock,
          );
          const running: number[] = []; // endpoint of each attempt in flight
          const expectedInFlight = new Array<number>(n).fill(0);
          const healthy = new Array<boolean>(n).fill(true);
          for (const op of ops) {
            if (op.kind === 'health') {
              set.setHealthy(op.i, op.up);
              healthy[op.i] = op.up;
            } else if (op.kind === 'begin') {
              if (set.begin(op.i)) {
                running.push(op.i);
                expectedInFlight[op.i]!++;
              }
            } else if (op.kind === 'end' || op.kind === 'abort') {
              const i = running.shift();
              if (i === undefined) continue;
              expectedInFlight[i]!--;
              if (op.kind === 'end') set.end(i, op.result);
              else set.abort(i);
            } else clock.advance(op.ms);
            let ejected = 0;
            for (let i = 0; i < n; i++) {
              expect(set.inFlight(i)).toBe(expectedInFlight[i]);
              const isEjected = set.outlier!.isEjected(i);
              if (isEjected) ejected++;
              expect(set.available(i)).toBe(healthy[i]! && !isEjected && set.breaker(i)!.canAllow());
            }
            expect(ejected).toBeLessThan(n);
          }
        },
      ),
    );
  });

  it('an aborted half-open probe frees its slot at once', () => {
    const clock = createManualClock(0);
    const set = createEndpointHealthSet(1, { breaker: { failureThreshold: 1, openMs: 100, halfOpenMaxProbes: 1, successThreshold: 1, probeTimeoutMs: 60_000 } }, clock);
    expect(set.begin(0)).toBe(true);
    set.end(0, 'timeout');
    expect(set.available(0)).toBe(false);
    clock.advance(100);
    expect(set.available(0)).toBe(true);
    expect(set.begin(0)).toBe(true); // the probe
    expect(set.available(0)).toBe(false);
    expect(set.begin(0)).toBe(false);
    set.abort(0);
    expect(set.inFlight(0)).toBe(0);
    expect(set.available(0)).toBe(true);
  });

  it('5xx responses feed outlier detection but not the breaker unless breakerOn5xx', () => {
    const opts = { breaker: { failureThreshold: 2, openMs: 100, halfOpenMaxProbes: 1, successThreshold: 1 }, outlier: { consecutive5xx: 50 } };
    const a = createEndpointHealthSet(2, opts, createManualClock());
    const b = createEndpointHealthSet(2, { ...opts, breakerOn5xx: true }, createManualClock());
    for (const set of [a, b]) for (let k = 0; k < 2; k++) if (set.begin(0)) set.end(0, '5xx');
    expect(a.breaker(0)!.state).toBe('closed');
    expect(b.breaker(0)!.state).toBe('open');
  });

  it('startHealthy=false keeps endpoints out until an active check passes', () => {
    const set = createEndpointHealthSet(2, { startHealthy: false }, createManualClock());
    expect(set.availableCount()).toBe(0);
    set.setHealthy(1, true);
    expect(set.available(1)).toBe(true);
    expect(set.available(0)).toBe(false);
  });
});

describe('simulated pool: a target dies and comes back', () => {
  const policy: RetryPolicy = { maxAttempts: 3, retryOnStatuses: [502, 503, 504], baseBackoffMs: 10, maxBackoffMs: 100 };

  for (const algorithm of ['round_robin', 'least_connections', 'p2c', 'peak_ewma', 'consistent_hash', 'maglev'] as Algorithm[]) {
    it(`${algorithm}: no failed client request, the dead target stops receiving traffic, then recovers`, () => {
      const clock = createManualClock(0);
      const eps = makeEndpoints([{ host: '127.0.0.1', port: 9001 }, { host: '127.0.0.1', port: 9002 }, { host: '127.0.0.1', port: 9003 }]);
      let seed = 1;
      const rng = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0), seed / 2 ** 32);
      const selector = createSelector(algorithm, eps, { rng, clock, maglevTableSize: 251 });
      const set = createEndpointHealthSet(
        3,
        {
          breaker: { failureThreshold: 3, openMs: 5_000, halfOpenMaxProbes: 1, successThreshold: 2 },
          outlier: { consecutiveLocalFailures: 3, baseEjectionMs: 10_000, maxEjectionMs: 60_000 },
        },
        clock,
      );
      const budget = createRetryBudget({ ratio: 0.2, minRetriesPerSecond: 5 }, clock);
      let dead = true;
      const hits = [0, 0, 0];
      let deadAttempts = 0;
      const serve = (k: number): boolean => {
        const ctx: SelectContext = { clientIp: `192.0.2.${k % 250}`, path: `/r/${k}`, headers: {}, query: null };
        budget.onRequest();
        const tried = new Set<number>();
        for (let attempt = 1; ; attempt++) {
          const i = selector.select(ctx, set, tried);
          if (i < 0 || !set.begin(i)) return false;
          tried.add(i);
          clock.advance(1);
          if (i === 1 && dead) {
            deadAttempts++;
            set.end(i, 'connect_failure');
            selector.onResult?.(i, 1, false);
            const verdict = shouldRetry(policy, { attempt, failure: { kind: 'error', code: 'UPSTREAM_CONNECT_FAILED' }, method: 'POST', bodyReplayable: true, bytesSent: 0, budgetRemainingMs: 10_000 });
            if (verdict !== 'retry' || !budget.tryAcquire()) return false;
            continue;
          }
          hits[i]!++;
          set.end(i, 'success');
          selector.onResult?.(i, 5, true);
          return true;
        }
      };
      // Phase 1: target 1 is dead. Every client request still succeeds (one retry at most), and
      // after the first few failures it is (nearly) no longer tried: ejected / breaker open, or
      // for peak_ewma priced out by the failure penalty.
      for (let k = 0; k < 300; k++) {
        expect(serve(k)).toBe(true);
        clock.advance(10);
      }
      deadAttempts = 0;
      for (let k = 300; k < 600; k++) {
        expect(serve(k)).toBe(true);
        clock.advance(10);
      }
      expect(deadAttempts).toBeLessThanOrEqual(3); // at most a breaker probe or an EWMA re-probe
      if (algorithm !== 'peak_ewma') expect(set.available(1)).toBe(false);
      // Phase 2: it comes back. After the ejection and the breaker's open time (peak_ewma: once
      // the failure penalty has decayed, ~10 s × ln(1000 / 5) ≈ 53 s), it serves again.
      // 8,000 requests ≈ 88 s of simulated time.
      dead = false;
      hits.fill(0);
      for (let k = 0; k < 8_000; k++) {
        expect(serve(k)).toBe(true);
        clock.advance(10);
      }
      expect(set.breaker(1)!.state).toBe('closed');
      expect(set.available(1)).toBe(true);
      expect(hits[1]).toBeGreaterThan(0);
      if (algorithm === 'round_robin') expect(hits[1]! / 8_000).toBeGreaterThan(0.2);
    });
  }
});
