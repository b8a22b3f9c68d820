// Passive outlier detection against a model with a fake clock (fast-check model-based testing).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createManualClock } from '../../../src/upstream/health/clock.ts';
import type { ManualClock } from '../../../src/upstream/health/clock.ts';
import { createOutlierDetector, maxEjectable, validateOutlierOptions } from '../../../src/upstream/health/outlier.ts';
import type { OutlierDetector, OutlierResult } from '../../../src/upstream/health/outlier.ts';

interface Opts {
  consecutive5xx: number;
  consecutiveLocalFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionPercent: number;
  multiplierDecayMs: number;
}

/** Straightforward reference: explicit per-endpoint records, no laziness tricks. */
interface Model {
  size: number;
  opts: Opts;
  now: number;
  c5xx: number[];
  cLocal: number[];
  multiplier: number[];
  until: number[]; // 0 = not ejected
  decayFrom: number[];
  enforced: number;
  refused: number;
}

interface Real {
  det: OutlierDetector;
  clock: ManualClock;
  events: { i: number; ejected: boolean; at: number; until: number }[];
}

function expire(m: Model): void {
  for (let i = 0; i < m.size; i++) {
    if (m.until[i] !== 0 && m.now >= m.until[i]!) {
      m.until[i] = 0;
      m.c5xx[i] = 0;
      m.cLocal[i] = 0;
      m.decayFrom[i] = m.now;
    }
  }
}

function modelDetect(m: Model, i: number): number {
  expire(m);
  if (m.until[i] !== 0) return 0;
  const ejectedNow = m.until.filter((u) => u !== 0).length;
  if (ejectedNow >= maxEjectable(m.size, m.opts.maxEjectionPercent)) {
    m.refused++;
    return 0;
  }
  if (m.multiplier[i]! > 0) {
    const steps = Math.floor((m.now - m.decayFrom[i]!) / m.opts.multiplierDecayMs);
    const dec = Math.min(Math.max(steps, 0), m.multiplier[i]!);
    m.multiplier[i] = m.multiplier[i]! - dec;
    m.decayFrom[i] = m.decayFrom[i]! + dec * m.opts.multiplierDecayMs;
  }
  m.multiplier[i] = m.multiplier[i]! + 1;
  const duration = Math.min(m.opts.baseEjectionMs * m.multiplier[i]!, m.opts.maxEjectionMs);
  m.until[i] = m.now + duration;
  m.c5xx[i] = 0;
  m.cLocal[i] = 0;
  m.enforced++;
  return duration;
}

class ReportCmd implements fc.Command<Model, Real> {
  readonly i: number;
  readonly result: OutlierResult;
  constructor(i: number, result: OutlierResult) {
    this.i = i;
    this.result = result;
  }
  check = (m: Readonly<Model>): boolean => this.i < m.size;
  run(m: Model, r: Real): void {
    const i = this.i;
    let ejectionMs = 0; // model (fake-clock) ejection length, not a wall-clock measurement
    const before = r.events.length;
    if (this.result === 'success') {
      m.c5xx[i] = 0;
      m.cLocal[i] = 0;
    } else if (this.result === '5xx') {
      m.cLocal[i] = 0;
      if (++m.c5xx[i]! >= m.opts.consecutive5xx) ejectionMs = modelDetect(m, i);
    } else if (++m.cLocal[i]! >= m.opts.consecutiveLocalFailures) ejectionMs = modelDetect(m, i);
    r.det.report(i, this.result);
    if (ejectionMs > 0) {
      const ev = r.events.slice(before).find((e) => e.ejected);
      expect(ev).toEqual({ i, ejected: true, at: m.now, until: m.now + ejectionMs });
      // ejection length grows with the multiplier and is capped
      expect(ejectionMs).toBeLessThanOrEqual(m.opts.maxEjectionMs);
      expect(ejectionMs).toBe(Math.min(m.opts.baseEjectionMs * m.multiplier[i]!, m.opts.maxEjectionMs));
    } else {
      expect(r.events.slice(before).some((e) => e.ejected)).toBe(false);
    }
    checkAll(m, r);
  }
  toString = (): string => `report(${this.i}, ${this.result})`;
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
    expire(m);
    checkAll(m, r);
  }
  toString = (): string => `advance(${this.ms})`;
}

function checkAll(m: Model, r: Real): void {
  const cap = maxEjectable(m.size, m.opts.maxEjectionPercent);
  let ejected = 0;
  for (let i = 0; i < m.size; i++) {
    const e = r.det.isEjected(i);
    expect(e).toBe(m.until[i] !== 0);
    if (e) ejected++;
  }
  expect(r.det.ejected()).toBe(ejected);
  expect(ejected).toBeLessThanOrEqual(cap); // never beyond maxEjectionPercent
  if (m.size > 0) expect(ejected).toBeLessThan(m.size); // never the whole pool
  expect(r.det.stats.enforced).toBe(m.enforced);
  expect(r.det.stats.refusedByCap).toBe(m.refused);
}

const optsArb: fc.Arbitrary<Opts> = fc
  .record({
    consecutive5xx: fc.integer({ min: 1, max: 4 }),
    consecutiveLocalFailures: fc.integer({ min: 1, max: 4 }),
    baseEjectionMs: fc.integer({ min: 1, max: 1_000 }),
    maxFactor: fc.integer({ min: 1, max: 6 }),
    maxEjectionPercent: fc.integer({ min: 0, max: 100 }),
    multiplierDecayMs: fc.integer({ min: 1, max: 5_000 }),
  })
  .map(({ maxFactor, ...o }) => ({ ...o, maxEjectionMs: o.baseEjectionMs * maxFactor + (maxFactor > 3 ? 7 : 0) }));

const resultArb = fc.constantFrom<OutlierResult>('success', '5xx', '5xx', 'connect_failure', 'timeout');

describe('outlier detector (model-based)', () => {
  it('matches the model; never ejects beyond the cap; durations grow and are capped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), optsArb, fc.commands([
        fc.tuple(fc.nat(7), resultArb).map(([i, r]) => new ReportCmd(i, r)),
        fc.integer({ min: 0, max: 3_000 }).map((ms) => new AdvanceCmd(ms)),
      ], { maxCommands: 120, size: 'max' }), (size, opts, cmds) => {
        const clock = createManualClock(0);
        const events: Real['events'] = [];
        const det = createOutlierDetector(size, opts, clock, (i, ejected, at, until) => events.push({ i, ejected, at, until }));
        const model: Model = {
          size,
          opts,
          now: 0,
          c5xx: new Array<number>(size).fill(0),
          cLocal: new Array<number>(size).fill(0),
          multiplier: new Array<number>(size).fill(0),
          until: new Array<number>(size).fill(0),
          decayFrom: new Array<number>(size).fill(0),
          enforced: 0,
          refused: 0,
        };
        fc.modelRun(() => ({ model, real: { det, clock, events } }), cmds);
      }),
      { numRuns: 300 },
    );
  });
});

describe('outlier detector (examples)', () => {
  const opts = { consecutive5xx: 3, consecutiveLocalFailures: 2, baseEjectionMs: 1_000, maxEjectionMs: 2_500, maxEjectionPercent: 50, multiplierDecayMs: 10_000 };

  it('ejects after consecutive 5xx; a success in between resets the count', () => {
    const clock = createManualClock(0);
    const d = createOutlierDetector(4, opts, clock);
    d.report(0, '5xx');
    d.report(0, '5xx');
    d.report(0, 'success');
    d.report(0, '5xx');
    d.report(0, '5xx');
    expect(d.isEjected(0)).toBe(false);
    d.report(0, '5xx');
    expect(d.isEjected(0)).toBe(true);
    expect(d.ejectedUntilMs(0)).toBe(1_000);
  });

  it('local-origin failures count apart; a 5xx response resets them (the connection works)', () => {
    const d = createOutlierDetector(4, opts, createManualClock(0));
    d.report(1, 'connect_failure');
    d.report(1, '5xx');
    d.report(1, 'timeout');
    expect(d.isEjected(1)).toBe(false);
    d.report(1, 'connect_failure');
    expect(d.isEjected(1)).toBe(true);
  });

  it('ejection time grows base × n and is capped at maxEjectionMs; un-ejects lazily', () => {
    const clock = createManualClock(0);
    const d = createOutlierDetector(2, opts, clock);
    const durations: number[] = [];
    for (let round = 0; round < 4; round++) {
      d.report(0, 'timeout');
      d.report(0, 'timeout');
      expect(d.isEjected(0)).toBe(true);
      durations.push(d.ejectedUntilMs(0) - clock.now());
      clock.advance(d.ejectedUntilMs(0) - clock.now() - 1);
      expect(d.isEjected(0)).toBe(true);
      clock.advance(1);
      expect(d.isEjected(0)).toBe(false);
    }
    expect(durations).toEqual([1_000, 2_000, 2_500, 2_500]);
    expect(d.ejectionMultiplier(0)).toBe(4);
    clock.advance(20_000); // two decay periods forgive two ejections
    expect(d.ejectionMultiplier(0)).toBe(2);
  });

  it('never ejects the whole pool: the cap refuses and counts', () => {
    const d = createOutlierDetector(3, { ...opts, maxEjectionPercent: 100 }, createManualClock(0));
    for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) d.report(i, '5xx');
    expect(d.ejected()).toBe(2);
    expect(d.isEjected(2)).toBe(false);
    expect(d.stats).toEqual({ detected: 3, enforced: 2, refusedByCap: 1 });
    expect(maxEjectable(3, 10)).toBe(0);
    expect(maxEjectable(1, 100)).toBe(0);
    expect(maxEjectable(10, 35)).toBe(3);
  });

  it('validates its options', () => {
    expect(validateOutlierOptions({ consecutive5xx: 0, baseEjectionMs: 10, maxEjectionMs: 5, maxEjectionPercent: 101 })).toHaveLength(3);
    expect(() => createOutlierDetector(-1, {}, createManualClock())).toThrow(RangeError);
  });
});
