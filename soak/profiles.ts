// The load profiles: the ONE source of truth for the k6 scripts (via soak/k6/profiles.generated.json,
// produced by soak/gen-k6.ts) and the Node runner (soak/run.ts). Rates are arrivals per second of an
// open model (k6 `ramping-arrival-rate`): a stage ramps linearly from the previous target to its own.
// Rates are modest on purpose: the project's machine is a shared 2-core VM where the load generator,
// the upstream and the proxy compete for the same cores.

export const PROFILE_NAMES = ['smoke', 'load', 'stress', 'spike', 'soak'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface Stage {
  readonly durationMs: number;
  /** Arrival rate (requests/s) reached at the end of the stage. */
  readonly targetRps: number;
  /** Part of the steady phase, over which leaks are judged. */
  readonly steady?: boolean;
}

export interface Thresholds {
  /** `http_req_failed` rate must stay below this (0.01 = 1 %). */
  readonly httpReqFailedRate: number;
  /** `http_req_duration` p(95) must stay below this. */
  readonly p95Ms: number;
  /** `http_req_duration` p(99) must stay below this. */
  readonly p99Ms: number;
}

export interface LeakBounds {
  /** Least-squares slope of the proxy's RSS over the steady phase must stay below this (MB/min, 1 MB = 10^6 B). */
  readonly maxRssSlopeMbPerMin: number;
  /**
   * RSS needs minutes to settle (V8 sizes its heap, the allocator keeps pages): the RSS slope is judged
   * only when the judged window is at least this long, and reported as information otherwise.
   */
  readonly minRssWindowMs: number;
  /**
   * The live heap after a full GC (read through the inspector) at the start of the judged window and
   * at the end of the load may grow by at most this much (MB). Steady as soon as caches are warm, so
   * it judges short runs too. Needs the proxy the runner starts itself.
   */
  readonly maxHeapGrowthAfterGcMb: number;
  /**
   * Open fds once the load has stopped and idle connections have closed, minus the fds before the load.
   * (During the load fds follow the connection high-water mark, so they are reported, not judged.)
   */
  readonly maxFdGrowth: number;
  /** Leading fraction of the steady phase left out of the judgement (heap and pools still warming up). */
  readonly warmupFraction: number;
}

export interface Profile {
  readonly name: ProfileName;
  readonly description: string;
  /** Arrival rate at t = 0 (k6 `startRate`). */
  readonly startRps: number;
  readonly stages: readonly Stage[];
  /** k6 `preAllocatedVUs`; the Node runner opens this many connections up front. */
  readonly preAllocatedVus: number;
  /** k6 `maxVUs`: the cap on requests in flight. An arrival while at the cap is a dropped iteration. */
  readonly maxVus: number;
  readonly thresholds: Thresholds;
  /** Leak judgement; null = RSS/fd trends are reported but do not decide PASS/FAIL. */
  readonly leak: LeakBounds | null;
  /** Request path sent to the target. */
  readonly path: string;
}

const S = 1000;
const MIN = 60 * S;

export const PROFILES: { readonly [K in ProfileName]: Profile } = {
  smoke: {
    name: 'smoke',
    description: 'a trickle to prove the path works end to end',
    startRps: 20,
    stages: [{ durationMs: 30 * S, targetRps: 20, steady: true }],
    preAllocatedVus: 5,
    maxVus: 20,
    thresholds: { httpReqFailedRate: 0.001, p95Ms: 50, p99Ms: 100 },
    leak: null,
    path: '/',
  },
  load: {
    name: 'load',
    description: 'expected production-like load: ramp up, hold, ramp down',
    startRps: 0,
    stages: [
      { durationMs: 1 * MIN, targetRps: 500 },
      { durationMs: 3 * MIN, targetRps: 500, steady: true },
      { durationMs: 1 * MIN, targetRps: 0 },
    ],
    preAllocatedVus: 50,
    maxVus: 200,
    thresholds: { httpReqFailedRate: 0.01, p95Ms: 100, p99Ms: 250 },
    leak: null,
    path: '/',
  },
  stress: {
    name: 'stress',
    description: 'steps up past the expected load to find where latency bends',
    startRps: 0,
    stages: [
      { durationMs: 30 * S, targetRps: 500 },
      { durationMs: 1 * MIN, targetRps: 500 },
      { durationMs: 30 * S, targetRps: 1000 },
      { durationMs: 1 * MIN, targetRps: 1000 },
      { durationMs: 30 * S, targetRps: 1500 },
      { durationMs: 1 * MIN, targetRps: 1500 },
      { durationMs: 30 * S, targetRps: 2000 },
      { durationMs: 1 * MIN, targetRps: 2000 },
      { durationMs: 1 * MIN, targetRps: 0 },
    ],
    preAllocatedVus: 100,
    maxVus: 500,
    thresholds: { httpReqFailedRate: 0.05, p95Ms: 500, p99Ms: 1000 },
    leak: null,
    path: '/',
  },
  spike: {
    name: 'spike',
    description: 'a sudden burst far above the base load, then recovery',
    startRps: 100,
    stages: [
      { durationMs: 30 * S, targetRps: 100 },
      { durationMs: 10 * S, targetRps: 2000 },
      { durationMs: 30 * S, targetRps: 2000 },
      { durationMs: 10 * S, targetRps: 100 },
      { durationMs: 1 * MIN, targetRps: 100 },
    ],
    preAllocatedVus: 100,
    maxVus: 500,
    thresholds: { httpReqFailedRate: 0.05, p95Ms: 1000, p99Ms: 2000 },
    leak: null,
    path: '/',
  },
  soak: {
    name: 'soak',
    description: 'moderate load held for a long time: memory and descriptor leaks',
    startRps: 0,
    stages: [
      { durationMs: 2 * MIN, targetRps: 300 },
      { durationMs: 56 * MIN, targetRps: 300, steady: true },
      { durationMs: 2 * MIN, targetRps: 0 },
    ],
    preAllocatedVus: 30,
    maxVus: 150,
    thresholds: { httpReqFailedRate: 0.001, p95Ms: 100, p99Ms: 250 },
    leak: { maxRssSlopeMbPerMin: 5, minRssWindowMs: 4 * MIN, maxHeapGrowthAfterGcMb: 5, maxFdGrowth: 8, warmupFraction: 0.25 },
    path: '/',
  },
};

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

export function totalDurationMs(profile: Pick<Profile, 'stages'>): number {
  return profile.stages.reduce((sum, s) => sum + s.durationMs, 0);
}

/**
 * The same profile stretched or shrunk to `totalMs`: every stage is scaled by the same factor (rounded to
 * whole ms; the last stage absorbs rounding), so the shape, the rates and the thresholds are unchanged.
 */
export function scaleProfile(profile: Profile, totalMs: number): Profile {
  if (!(totalMs >= profile.stages.length)) throw new RangeError(`duration ${totalMs} ms is too short for ${profile.stages.length} stages`);
  const factor = totalMs / totalDurationMs(profile);
  let used = 0;
  const stages = profile.stages.map((s, i) => {
    const last = i === profile.stages.length - 1;
    const durationMs = last ? totalMs - used : Math.max(1, Math.round(s.durationMs * factor));
    used += durationMs;
    return { ...s, durationMs };
  });
  return { ...profile, stages };
}

/** The [start, end) window in ms of the steady stages (first steady stage to the last one). null when none. */
export function steadyWindowMs(profile: Pick<Profile, 'stages'>): { startMs: number; endMs: number } | null {
  let t = 0;
  let startMs: number | null = null;
  let endMs = 0;
  for (const s of profile.stages) {
    if (s.steady === true) {
      startMs ??= t;
      endMs = t + s.durationMs;
    }
    t += s.durationMs;
  }
  return startMs === null ? null : { startMs, endMs };
}
