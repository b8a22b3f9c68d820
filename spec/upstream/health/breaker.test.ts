// Circuit breaker against a model, with a fake clock (fast-check model-based testing).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createBreaker, validateBreakerOptions } from '../../../src/upstream/health/breaker.ts';
import type { Breaker, BreakerOptions, BreakerState } from '../../../src/upstream/health/breaker.ts';
import { createManualClock } from '../../../src/upstream/health/clock.ts';
import type { ManualClock } from '../../../src/upstream/health/clock.ts';

interface Model {
  opts: Required<Omit<BreakerOptions, 'failureRatio' | 'windowMs' | 'minRequests'>>;
  state: BreakerState;
  now: number;
  consecutive: number;
  openedAt: number;
  probes: number;
  lastProbeAt: number;
  successes: number;
  /** Requests admitted and not yet completed (any state). */
  outstanding: number;
  transitions: string[];
}

interface Real {
  breaker: Breaker;
  clock: ManualClock;
  transitions: string[];
}

function modelRefresh(m: Model): void {
  if (m.state === 'open' && m.now - m.openedAt >= m.opts.openMs) go(m, 'half-open');
  else if (m.state === 'half-open' && m.probes > 0 && m.now - m.lastProbeAt >= m.opts.probeTimeoutMs) m.probes = 0;
}

function go(m: Model, to: BreakerState): void {
  m.transitions.push(`${m.state}->${to}`);
  m.state = to;
  m.consecutive = 0;
  m.probes = 0;
  m.successes = 0;
  if (to === 'open') m.openedAt = m.now;
}

class AllowCmd implements fc.Command<Model, Real> {
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const openedRecently = m.state === 'open' && m.now - m.openedAt < m.opts.openMs;
    modelRefresh(m);
    let expected: boolean;
    if (m.state === 'closed') expected = true;
    else if (m.state === 'open') expected = false;
    else if (m.probes < m.opts.halfOpenMaxProbes) {
      m.probes++;
      m.lastProbeAt = m.now;
      expected = true;
    } else expected = false;
    expect(r.breaker.canAllow()).toBe(expected);
    const got = r.breaker.allow();
    expect(got).toBe(expected);
    if (openedRecently) expect(got).toBe(false); // open never admits before openMs
    if (got) m.outstanding++;
    expect(r.breaker.probesInFlight).toBeLessThanOrEqual(m.opts.halfOpenMaxProbes);
    expect(r.breaker.state).toBe(m.state);
  }
  toString = (): string => 'allow';
}

class OutcomeCmd implements fc.Command<Model, Real> {
  readonly ok: boolean;
  constructor(ok: boolean) {
    this.ok = ok;
  }
  check = (m: Readonly<Model>): boolean => m.outstanding > 0;
  run(m: Model, r: Real): void {
    m.outstanding--;
    modelRefresh(m);
    if (this.ok) {
      if (m.state === 'closed') m.consecutive = 0;
      else if (m.state === 'half-open') {
        if (m.probes > 0) m.probes--;
        if (++m.successes >= m.opts.successThreshold) go(m, 'closed');
      }
      r.breaker.onSuccess();
    } else {
      if (m.state === 'closed') {
        if (++m.consecutive >= m.opts.failureThreshold) go(m, 'open');
      } else if (m.state === 'half-open') go(m, 'open');
      r.breaker.onFailure();
    }
    expect(r.breaker.state).toBe(m.state);
    expect(r.transitions).toEqual(m.transitions);
  }
  toString = (): string => (this.ok ? 'success' : 'failure');
}

class ReleaseCmd implements fc.Command<Model, Real> {
  check = (m: Readonly<Model>): boolean => m.outstanding > 0;
  run(m: Model, r: Real): void {
    m.outstanding--;
    if (m.state === 'half-open' && m.probes > 0) m.probes--;
    r.breaker.release();
    expect(r.breaker.probesInFlight).toBe(m.state === 'half-open' ? m.probes : 0);
  }
  toString = (): string => 'release';
}

class AdvanceCmd implements fc.Command<Model, Real> {
  readonly ms: number;
  constructor(ms: number) {
    this.ms = ms;
  }
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    m.now += this.ms;
    r.clock.advance(this.ms);
    modelRefresh(m);
    expect(r.breaker.state).toBe(m.state);
    expect(r.transitions).toEqual(m.transitions);
  }
  toString = (): string => `advance(${this.ms})`;
}

const optsArb = fc.record({
  failureThreshold: fc.integer({ min: 1, max: 5 }),
  openMs: fc.integer({ min: 1, max: 5_000 }),
  halfOpenMaxProbes: fc.integer({ min: 1, max: 3 }),
  successThreshold: fc.integer({ min: 1, max: 4 }),
  probeTimeoutMs: fc.integer({ min: 1, max: 10_000 }),
});

const commands = fc.commands(
  [
    fc.constant(new AllowCmd()),
    fc.boolean().map((ok) => new OutcomeCmd(ok)),
    fc.constant(new ReleaseCmd()),
    fc.integer({ min: 0, max: 6_000 }).map((ms) => new AdvanceCmd(ms)),
  ],
  { maxCommands: 80, size: 'max' },
);

function setup(opts: BreakerOptions & { probeTimeoutMs: number }): { model: Model; real: Real } {
  const clock = createManualClock(0);
  const transitions: string[] = [];
  const breaker = createBreaker(opts, clock, (from, to) => transitions.push(`${from}->${to}`));
  const model: Model = {
    opts: { ...opts },
    state: 'closed',
    now: 0,
    consecutive: 0,
    openedAt: 0,
    probes: 0,
    lastProbeAt: 0,
    successes: 0,
    outstanding: 0,
    transitions: [],
  };
  return { model, real: { breaker, clock, transitions } };
}

describe('circuit breaker (model-based)', () => {
  it('matches the model over arbitrary allow / outcome / release / time sequences', () => {
    fc.assert(
      fc.property(optsArb, commands, (opts, cmds) => {
        const { model, real } = setup(opts);
        fc.modelRun(() => ({ model, real }), cmds);
      }),
      { numRuns: 300 },
    );
  });

  it('always recovers: after any history, time plus successful probes close it', () => {
    fc.assert(
      fc.property(optsArb, commands, (opts, cmds) => {
        const { model, real } = setup(opts);
        fc.modelRun(() => ({ model, real }), cmds);
        // Outcomes of earlier requests may be lost forever; recovery must not depend on them.
        real.clock.advance(opts.openMs + opts.probeTimeoutMs);
        for (let k = 0; k < opts.successThreshold && real.breaker.state !== 'closed'; k++) {
          expect(real.breaker.state).toBe('half-open');
          expect(real.breaker.allow()).toBe(true);
          real.breaker.onSuccess();
        }
        expect(real.breaker.state).toBe('closed');
        expect(real.breaker.allow()).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('circuit breaker (examples)', () => {
  it('opens after N consecutive failures, half-opens after openMs, closes after M successes', () => {
    const clock = createManualClock(1_000);
    const seen: string[] = [];
    const b = createBreaker({ failureThreshold: 3, openMs: 500, halfOpenMaxProbes: 1, successThreshold: 2 }, clock, (f, t, at) => seen.push(`${f}->${t}@${at}`));
    b.onFailure();
    b.onFailure();
    b.onSuccess(); // resets the consecutive count
    b.onFailure();
    b.onFailure();
    expect(b.state).toBe('closed');
    b.onFailure();
    expect(b.state).toBe('open');
    clock.advance(499);
    expect(b.allow()).toBe(false);
    clock.advance(1);
    expect(b.allow()).toBe(true); // the single probe
    expect(b.allow()).toBe(false);
    b.onSuccess();
    expect(b.allow()).toBe(true);
    b.onSuccess();
    expect(b.state).toBe('closed');
    expect(seen).toEqual(['closed->open@1000', 'open->half-open@1500', 'half-open->closed@1500']);
  });

  it('a failed probe re-opens for another openMs', () => {
    const clock = createManualClock(0);
    const b = createBreaker({ failureThreshold: 1, openMs: 100, halfOpenMaxProbes: 2, successThreshold: 1 }, clock);
    b.onFailure();
    clock.advance(100);
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false);
    b.onFailure();
    expect(b.state).toBe('open');
    clock.advance(99);
    expect(b.allow()).toBe(false);
    clock.advance(1);
    expect(b.state).toBe('half-open');
  });

  it('opens on a failure ratio over the window once minRequests is reached', () => {
    const clock = createManualClock(0);
    const b = createBreaker({ failureThreshold: 100, failureRatio: 0.5, windowMs: 1_000, minRequests: 10, openMs: 100, halfOpenMaxProbes: 1, successThreshold: 1 }, clock);
    for (let k = 0; k < 4; k++) {
      b.onSuccess();
      b.onFailure();
      clock.advance(10);
    }
    expect(b.state).toBe('closed'); // 8 outcomes < minRequests
    b.onSuccess();
    b.onFailure(); // 5/10 failed
    expect(b.state).toBe('open');
  });

  it('forgets outcomes older than the window', () => {
    const clock = createManualClock(0);
    const b = createBreaker({ failureThreshold: 100, failureRatio: 0.5, windowMs: 1_000, minRequests: 10, openMs: 100, halfOpenMaxProbes: 1, successThreshold: 1 }, clock);
    for (let k = 0; k < 9; k++) b.onFailure();
    clock.advance(1_500);
    for (let k = 0; k < 9; k++) b.onSuccess();
    b.onFailure(); // 1/10 in the window
    expect(b.state).toBe('closed');
  });

  it('a probe whose outcome is lost is forgotten after probeTimeoutMs (no wedged half-open)', () => {
    const clock = createManualClock(0);
    const b = createBreaker({ failureThreshold: 1, openMs: 10, halfOpenMaxProbes: 1, successThreshold: 1, probeTimeoutMs: 50 }, clock);
    b.onFailure();
    clock.advance(10);
    expect(b.allow()).toBe(true); // the probe's outcome never comes back
    clock.advance(49);
    expect(b.allow()).toBe(false);
    clock.advance(1);
    expect(b.allow()).toBe(true);
    b.onSuccess();
    expect(b.state).toBe('closed');
  });

  it('validates its options', () => {
    expect(validateBreakerOptions({ failureThreshold: 0, openMs: 0, halfOpenMaxProbes: 1.5, successThreshold: 1, failureRatio: 2 })).toHaveLength(4);
    expect(() => createBreaker({ failureThreshold: 0, openMs: 1, halfOpenMaxProbes: 1, successThreshold: 1 }, createManualClock())).toThrow(RangeError);
  });
});
