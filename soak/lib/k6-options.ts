// Profile → k6 `options` (one `ramping-arrival-rate` scenario + thresholds). Pure; also type-checked
// against @types/k6's `Options` by soak/k6/options-check.js (see soak/k6/tsconfig.json).
import type { Profile, ProfileName } from '../profiles.ts';
import { PROFILE_NAMES, PROFILES } from '../profiles.ts';

export interface K6Stage {
  readonly duration: string;
  readonly target: number;
}

export interface K6RampingArrivalRateScenario {
  readonly executor: 'ramping-arrival-rate';
  readonly startRate: number;
  readonly timeUnit: string;
  readonly preAllocatedVUs: number;
  readonly maxVUs: number;
  readonly stages: K6Stage[];
  readonly gracefulStop: string;
}

export interface K6Options {
  readonly scenarios: Record<string, K6RampingArrivalRateScenario>;
  readonly thresholds: Record<string, string[]>;
  readonly summaryTrendStats: string[];
  readonly discardResponseBodies: boolean;
}

/** How long in-flight requests may finish after the last stage (k6 `gracefulStop`). */
export const GRACEFUL_STOP_MS = 30_000;

/** Milliseconds as a k6 duration string: `2m`, `30s` or `1500ms`. */
export function formatK6Duration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`duration must be a whole number of ms, got ${ms}`);
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** k6 threshold expressions, one list per metric. The Node runner evaluates these very strings. */
export function k6Thresholds(profile: Profile): Record<string, string[]> {
  const t = profile.thresholds;
  return {
    http_req_failed: [`rate<${t.httpReqFailedRate}`],
    http_req_duration: [`p(95)<${t.p95Ms}`, `p(99)<${t.p99Ms}`],
  };
}

export function toK6Options(profile: Profile): K6Options {
  return {
    scenarios: {
      [profile.name]: {
        executor: 'ramping-arrival-rate',
        startRate: profile.startRps,
        timeUnit: '1s',
        preAllocatedVUs: profile.preAllocatedVus,
        maxVUs: profile.maxVus,
        stages: profile.stages.map((s) => ({ duration: formatK6Duration(s.durationMs), target: s.targetRps })),
        gracefulStop: formatK6Duration(GRACEFUL_STOP_MS),
      },
    },
    thresholds: k6Thresholds(profile),
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
    discardResponseBodies: true,
  };
}

export interface GeneratedK6Profile {
  readonly description: string;
  readonly path: string;
  readonly options: K6Options;
}

/** The content of soak/k6/profiles.generated.json. */
export function generatedK6Profiles(): Record<ProfileName, GeneratedK6Profile> {
  const out = {} as Record<ProfileName, GeneratedK6Profile>;
  for (const name of PROFILE_NAMES) {
    const p = PROFILES[name];
    out[name] = { description: p.description, path: p.path, options: toK6Options(p) };
  }
  return out;
}

/** Serialised exactly as written to disk (2-space JSON, trailing newline), so a test can compare bytes. */
export function renderGeneratedK6Profiles(): string {
  return `${JSON.stringify({ $comment: 'GENERATED from soak/profiles.ts by `node soak/gen-k6.ts`; do not edit.', profiles: generatedK6Profiles() }, null, 2)}\n`;
}
