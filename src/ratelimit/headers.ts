// Response headers for a rate-limit decision: the IETF RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "name";q=<quota>;w=<window s>` and
// `RateLimit: "name";r=<remaining>;t=<reset s>`), `Retry-After` on rejection, and optionally the
// legacy `X-RateLimit-Limit / -Remaining / -Reset` trio (Reset as delta seconds, like GitHub's
// relative form, never an absolute time, so clocks never need to agree).

import type { Decision } from './types.ts';

export interface RateLimitPolicy {
  /** Policy name, a token ([A-Za-z0-9_-]); usually the filter id. */
  readonly name: string;
  /** The quota: burst (token bucket, GCRA) or limit (sliding window). */
  readonly quota: number;
  /** Window in seconds the quota refers to (for a token bucket: burst / maxRps). */
  readonly windowS: number;
  /** Also send X-RateLimit-Limit / -Remaining / -Reset. */
  readonly legacyHeaders: boolean;
}

/** Precomputed once per filter; `policyHeader` is constant. */
export interface CompiledRateLimitHeaders {
  readonly policyHeader: string;
  headers(decision: Decision): Array<[string, string]>;
}

function seconds(ms: number): number {
  return ms <= 0 ? 0 : Math.ceil(ms / 1000);
}

export function compileRateLimitHeaders(policy: RateLimitPolicy): CompiledRateLimitHeaders {
  if (!/^[A-Za-z0-9_-]+$/.test(policy.name)) throw new RangeError(`rate-limit policy name "${policy.name}" must match [A-Za-z0-9_-]+`);
  const windowS = Math.max(1, Math.ceil(policy.windowS));
  const policyHeader = `"${policy.name}";q=${Math.floor(policy.quota)};w=${windowS}`;
  const prefix = `"${policy.name}";r=`;
  return {
    policyHeader,
    headers(decision: Decision): Array<[string, string]> {
      const reset = String(seconds(decision.resetMs));
      const out: Array<[string, string]> = [
        ['ratelimit-policy', policyHeader],
        ['ratelimit', `${prefix}${decision.remaining};t=${reset}`],
      ];
      if (!decision.allowed) out.push(['retry-after', String(Math.max(1, seconds(decision.retryAfterMs)))]);
      if (policy.legacyHeaders) {
        out.push(['x-ratelimit-limit', String(decision.limit)], ['x-ratelimit-remaining', String(decision.remaining)], ['x-ratelimit-reset', reset]);
      }
      return out;
    },
  };
}
