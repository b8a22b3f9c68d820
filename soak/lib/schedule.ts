// Open-model arrival schedule, k6 `ramping-arrival-rate` style: the rate starts at `startRps` and ramps
// linearly within each stage to the stage's target. Pure functions of the stages; no clock.
//
// With N(t) the expected arrivals in [0, t) (the integral of the rate), arrival k (k = 0, 1, 2, …) is
// at the time t where N(t) = k. A stage [a, b) therefore holds exactly ceil(N(b)) − ceil(N(a)) arrivals:
// 10 s at a constant 100/s is 1000 arrivals, a 10 s ramp 0 → 100/s is 500.

export interface RateStage {
  readonly durationMs: number;
  readonly targetRps: number;
}

export interface RateSchedule {
  readonly startRps: number;
  readonly stages: readonly RateStage[];
}

/** Snaps values within 1e-9 of an integer onto it, so float error never moves an arrival across a stage edge. */
function snap(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) < 1e-9 ? r : x;
}

export function validateSchedule(s: RateSchedule): void {
  if (!(Number.isFinite(s.startRps) && s.startRps >= 0)) throw new RangeError(`startRps must be >= 0, got ${s.startRps}`);
  for (const st of s.stages) {
    if (!(Number.isFinite(st.durationMs) && st.durationMs > 0)) throw new RangeError(`stage duration must be > 0 ms, got ${st.durationMs}`);
    if (!(Number.isFinite(st.targetRps) && st.targetRps >= 0)) throw new RangeError(`stage target must be >= 0/s, got ${st.targetRps}`);
  }
}

export function scheduleDurationMs(s: RateSchedule): number {
  return s.stages.reduce((sum, st) => sum + st.durationMs, 0);
}

/** Index of the stage running at `tMs` (the last stage for t at or past the end; -1 for no stages). */
export function stageIndexAt(s: RateSchedule, tMs: number): number {
  let end = 0;
  for (let i = 0; i < s.stages.length; i++) {
    end += (s.stages[i] as RateStage).durationMs;
    if (tMs < end) return i;
  }
  return s.stages.length - 1;
}

/** Arrival rate (per second) at `tMs`, interpolated linearly within its stage; 0 after the end. */
export function rateAt(s: RateSchedule, tMs: number): number {
  let from = s.startRps;
  let start = 0;
  for (const st of s.stages) {
    if (tMs < start + st.durationMs) return from + ((st.targetRps - from) * (tMs - start)) / st.durationMs;
    from = st.targetRps;
    start += st.durationMs;
  }
  return 0;
}

/** N(t): expected arrivals in [0, tMs), the exact integral of the rate (snapped to integers within 1e-9). */
export function expectedArrivals(s: RateSchedule, tMs: number): number {
  let from = s.startRps;
  let start = 0;
  let n = 0;
  for (const st of s.stages) {
    const span = Math.min(st.durationMs, Math.max(0, tMs - start));
    if (span <= 0) break;
    const rateEnd = from + ((st.targetRps - from) * span) / st.durationMs;
    n += ((from + rateEnd) / 2) * (span / 1000);
    from = st.targetRps;
    start += st.durationMs;
  }
  return snap(n);
}

/** Arrival counts per stage: ceil(N(end)) − ceil(N(start)) for each stage. */
export function arrivalsPerStage(s: RateSchedule): number[] {
  const out: number[] = [];
  let t = 0;
  let before = Math.ceil(expectedArrivals(s, 0));
  for (const st of s.stages) {
    t += st.durationMs;
    const after = Math.ceil(expectedArrivals(s, t));
    out.push(after - before);
    before = after;
  }
  return out;
}

/** Arrival times in ms from the start, ascending, lazily (a long soak has hundreds of thousands). */
export function* arrivalTimesMs(s: RateSchedule): Generator<number, void, undefined> {
  validateSchedule(s);
  let from = s.startRps;
  let start = 0;
  let n0 = 0;
  for (const st of s.stages) {
    const d = st.durationMs;
    const r0 = from / 1000; // arrivals per ms
    const r1 = st.targetRps / 1000;
    const n1 = snap(n0 + ((r0 + r1) / 2) * d);
    const a = (r1 - r0) / (2 * d); // N(start + tau) = n0 + r0 tau + a tau^2
    for (let k = Math.ceil(n0); k < n1; k++) {
      const need = k - n0;
      // The root of a tau^2 + r0 tau - need = 0 in [0, d), in the cancellation-free form.
      const tau = need <= 0 ? 0 : a === 0 ? need / r0 : (2 * need) / (r0 + Math.sqrt(Math.max(0, r0 * r0 + 4 * a * need)));
      yield start + Math.min(Math.max(0, tau), d);
    }
    n0 = n1;
    from = st.targetRps;
    start += d;
  }
}
