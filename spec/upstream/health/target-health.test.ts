// TargetHealth: the active verdict against a model (consecutive thresholds, an `unknown` start),
// the observer events, and state shared by several sets (generations) of the same target.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createManualClock } from '../../../src/upstream/health/clock.ts';
import { TargetHealth } from '../../../src/upstream/health/target-health.ts';
import type { ActiveHealth } from '../../../src/upstream/health/target-health.ts';
import { EndpointHealthSet } from '../../../src/upstream/health/endpoint-health.ts';
import { resolveOutlierOptions } from '../../../src/upstream/health/outlier.ts';

describe('active verdict', () => {
  it('matches a model: flips after healthy-threshold successes / unhealthy-threshold failures in a row; unknown takes the first result', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom<ActiveHealth>('healthy', 'unknown'), fc.array(fc.boolean(), { maxLength: 60 }),
      (up, down, initial, results) => {
        const changes: string[] = [];
        const h = new TargetHealth('t', { initial, healthyThreshold: up, unhealthyThreshold: down }, createManualClock(), {
          health: (from, to) => changes.push(`${from}>${to}`),
        });
        let model: ActiveHealth = initial;
        let ok = 0;
        let fail = 0;
        const expectedChanges: string[] = [];
        for (const r of results) {
          const before = model;
          if (r) {
            fail = 0;
            ok++;
            if (model === 'unknown' || (model === 'unhealthy' && ok >= up)) model = 'healthy';
          } else {
            ok = 0;
            fail++;
            if (model === 'unknown' || (model === 'healthy' && fail >= down)) model = 'unhealthy';
          }
          if (model !== before) { expectedChanges.push(`${before}>${model}`); ok = 0; fail = 0; }
          h.checked(r);
          expect(h.health).toBe(model);
          expect(h.available()).toBe(model === 'healthy');
        }
        expect(changes).toEqual(expectedChanges);
      },
    ));
  });
});

describe('shared state', () => {
  it('two sets (an old and a new generation) over the same targets see one ejection, one breaker, one in-flight count', () => {
    const clock = createManualClock(0);
    const opts = { breaker: { failureThreshold: 2, openMs: 1_000, halfOpenMaxProbes: 1, successThreshold: 1 }, outlier: resolveOutlierOptions({ consecutiveLocalFailures: 2, baseEjectionMs: 5_000, maxEjectionPercent: 50 }) };
    const targets = [0, 1, 2].map((i) => new TargetHealth(`t${i}`, opts, clock));
    const old = new EndpointHealthSet(targets, 50);
    const next = new EndpointHealthSet(targets, 50);
    expect(old.begin(1)).toBe(true);
    expect(next.inFlight(1)).toBe(1);
    old.end(1, 'connect_failure');
    expect(next.begin(1)).toBe(true);
    next.end(1, 'connect_failure');
    expect(old.available(1)).toBe(false);
    expect(next.available(1)).toBe(false);
    expect(next.outlier?.isEjected(1)).toBe(true);
    expect(targets[1]!.breaker?.state).toBe('open');
    expect(targets[1]!.ejections).toBe(1);
    // The cap counts the set's own targets: a second target of a 3-target set is refused.
    const refused: string[] = [];
    const observed = [0, 1, 2].map((i) => new TargetHealth(`o${i}`, { outlier: opts.outlier }, clock, { ejection: (e) => refused.push(`${i}:${e}`) }));
    const set = new EndpointHealthSet(observed, 50);
    for (const i of [0, 0, 2, 2]) { set.begin(i); set.end(i, 'timeout'); }
    expect(refused).toEqual(['0:ejected', '2:refused']);
    expect(set.stats).toEqual({ detected: 2, enforced: 1, refusedByCap: 1 });
  });

  it('capacity: a target with connections plus queue in flight is not available, but still usable', () => {
    const t = new TargetHealth('t', {}, createManualClock());
    const set = new EndpointHealthSet([t], 50, 2);
    expect(set.begin(0) && set.begin(0)).toBe(true);
    expect(set.available(0)).toBe(false);
    expect(set.usable(0)).toBe(true);
    t.maxConnections = 1;
    expect(t.queued()).toBe(1);
    set.abort(0);
    expect(set.available(0)).toBe(true);
    expect(t.queued()).toBe(0);
  });
});
