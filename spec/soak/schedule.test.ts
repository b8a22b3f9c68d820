import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { arrivalTimesMs, arrivalsPerStage, expectedArrivals, rateAt, stageIndexAt } from '../../soak/lib/schedule.ts';
import type { RateSchedule } from '../../soak/lib/schedule.ts';
import { PROFILES, PROFILE_NAMES, scaleProfile, steadyWindowMs, totalDurationMs } from '../../soak/profiles.ts';

/** Arrivals of `times` falling in each stage's [start, end). */
function countByStage(s: RateSchedule, times: readonly number[]): number[] {
  const counts = s.stages.map(() => 0);
  let start = 0;
  s.stages.forEach((st, i) => {
    const end = start + st.durationMs;
    counts[i] = times.filter((t) => t >= start && t < end).length;
    start = end;
  });
  return counts;
}

describe('arrival schedule (k6 ramping-arrival-rate)', () => {
  it('holds exactly rate × duration arrivals per constant stage, evenly spaced', () => {
    const s: RateSchedule = { startRps: 100, stages: [{ durationMs: 10_000, targetRps: 100 }, { durationMs: 5_000, targetRps: 100 }] };
    const times = [...arrivalTimesMs(s)];
    expect(times).toHaveLength(1500);
    expect(countByStage(s, times)).toEqual([1000, 500]);
    expect(arrivalsPerStage(s)).toEqual([1000, 500]);
    expect(times[0]).toBe(0);
    expect(times[1]).toBeCloseTo(10, 9);
    expect(times[1499]).toBeCloseTo(14_990, 6);
  });

  it('ramps linearly: 0 → 100/s over 10 s is 500 arrivals at t_k = sqrt(k / 5) s, 125 in the first half', () => {
    const s: RateSchedule = { startRps: 0, stages: [{ durationMs: 10_000, targetRps: 100 }] };
    const times = [...arrivalTimesMs(s)];
    expect(times).toHaveLength(500);
    for (const k of [0, 1, 5, 20, 125, 499]) expect(times[k]).toBeCloseTo(Math.sqrt(k / 5) * 1000, 6);
    expect(times.filter((t) => t < 5000)).toHaveLength(125);
    expect(rateAt(s, 2500)).toBe(25);
    expect(expectedArrivals(s, 5000)).toBe(125);
  });

  it('ramp up, hold, ramp down: exact counts per stage', () => {
    const s: RateSchedule = {
      startRps: 0,
      stages: [{ durationMs: 10_000, targetRps: 100 }, { durationMs: 10_000, targetRps: 100 }, { durationMs: 5_000, targetRps: 0 }],
    };
    const times = [...arrivalTimesMs(s)];
    expect(countByStage(s, times)).toEqual([500, 1000, 250]);
    expect(arrivalsPerStage(s)).toEqual([500, 1000, 250]);
    // The ramp down gets sparser: the last gap is the widest.
    const last = times.slice(-3);
    expect((last[2] as number) - (last[1] as number)).toBeGreaterThan((last[1] as number) - (last[0] as number));
    expect(stageIndexAt(s, 0)).toBe(0);
    expect(stageIndexAt(s, 10_000)).toBe(1);
    expect(stageIndexAt(s, 24_999)).toBe(2);
    expect(rateAt(s, 22_500)).toBe(50);
    expect(rateAt(s, 25_000)).toBe(0);
  });

  it('a stage at rate 0 has no arrivals; a spike from the base rate is interpolated', () => {
    const s: RateSchedule = { startRps: 0, stages: [{ durationMs: 3000, targetRps: 0 }, { durationMs: 2000, targetRps: 40 }, { durationMs: 1000, targetRps: 40 }] };
    expect(arrivalsPerStage(s)).toEqual([0, 40, 40]);
    expect(countByStage(s, [...arrivalTimesMs(s)])).toEqual([0, 40, 40]);
  });

  it('property: counts per stage equal ceil(N(end)) − ceil(N(start)); times ascend within [0, total)', () => {
    const stage = fc.record({ durationMs: fc.integer({ min: 1, max: 2000 }), targetRps: fc.integer({ min: 0, max: 300 }) });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.array(stage, { minLength: 1, maxLength: 4 }), (startRps, stages) => {
        const s: RateSchedule = { startRps, stages };
        const times = [...arrivalTimesMs(s)];
        const total = stages.reduce((a, st) => a + st.durationMs, 0);
        for (let i = 1; i < times.length; i++) if ((times[i] as number) < (times[i - 1] as number)) expect.fail(`not ascending at ${i}`);
        for (const t of times) if (!(t >= 0 && t <= total)) expect.fail(`arrival ${t} outside [0, ${total}]`);
        const perStage = arrivalsPerStage(s);
        expect(perStage.reduce((a, b) => a + b, 0)).toBe(times.length);
        expect(times.length).toBe(Math.ceil(expectedArrivals(s, total)));
        // Stage edges: an arrival landing exactly on an edge belongs to the later stage, as counted here.
        let start = 0;
        stages.forEach((st, i) => {
          const end = start + st.durationMs;
          const inStage = times.filter((t) => t >= start && (t < end || (i === stages.length - 1 && t <= end))).length;
          expect(Math.abs(inStage - (perStage[i] as number))).toBeLessThanOrEqual(1);
          start = end;
        });
      }),
      { numRuns: 150 },
    );
  });

  it('rejects negative rates and empty stages', () => {
    expect(() => [...arrivalTimesMs({ startRps: -1, stages: [{ durationMs: 1000, targetRps: 1 }] })]).toThrow(RangeError);
    expect(() => [...arrivalTimesMs({ startRps: 1, stages: [{ durationMs: 0, targetRps: 1 }] })]).toThrow(RangeError);
  });
});

describe('profiles', () => {
  it('every profile is well formed and modest for a 2-core VM', () => {
    for (const name of PROFILE_NAMES) {
      const p = PROFILES[name];
      expect(p.name).toBe(name);
      expect(p.stages.length).toBeGreaterThan(0);
      expect(p.maxVus).toBeGreaterThanOrEqual(p.preAllocatedVus);
      for (const st of p.stages) expect(st.targetRps).toBeLessThanOrEqual(3000);
      expect(p.thresholds.p95Ms).toBeLessThan(p.thresholds.p99Ms);
    }
    expect(PROFILES.soak.leak).not.toBeNull();
    expect(steadyWindowMs(PROFILES.soak)).toEqual({ startMs: 120_000, endMs: 58 * 60_000 });
  });

  it('scaling keeps the shape and hits the wanted total exactly', () => {
    const p = scaleProfile(PROFILES.soak, 60_000);
    expect(totalDurationMs(p)).toBe(60_000);
    expect(p.stages.map((s) => s.durationMs)).toEqual([2000, 56_000, 2000]);
    expect(p.stages.map((s) => s.targetRps)).toEqual(PROFILES.soak.stages.map((s) => s.targetRps));
    expect(p.thresholds).toEqual(PROFILES.soak.thresholds);
    fc.assert(fc.property(fc.constantFrom(...PROFILE_NAMES), fc.integer({ min: 1000, max: 7_200_000 }), (name, ms) => {
      expect(totalDurationMs(scaleProfile(PROFILES[name], ms))).toBe(ms);
    }));
  });
});
