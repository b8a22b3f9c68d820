// Retry policy as pure decisions, plus the per-upstream retry budget.
//
// A failed attempt may be retried only when ALL hold:
//   - attempts made < maxAttempts (maxAttempts counts the first attempt);
//   - the failure is retryable: an error whose code the error table marks retryable
//     (connect failure, connect timeout, reset before the response) or a response status listed in
//     `retryOnStatuses`;
//   - the method is idempotent, or nothing of the request reached the upstream (bytesSent === 0).
//     A non-idempotent request that was (even partly) sent is not retried (it may have had
//     effects) unless the policy says `retryNonIdempotent`;
//   - the body can be replayed (buffered, or no body);
//   - the request's remaining time budget exceeds `minAttemptBudgetMs`;
//   - the upstream's retry budget grants a token (checked last, by the caller, so that refused
//     retries do not spend tokens: see `RetryBudget.tryAcquire`).
// Backoff: "full jitter" (AWS architecture blog): delay = rng() × min(maxBackoffMs, baseBackoffMs × 2^(attempt−1)).

import { ERROR_TABLE } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { Clock } from './health/clock.ts';

export interface RetryPolicy {
  /** Total attempts including the first (>= 1). */
  readonly maxAttempts: number;
  /** Response statuses that may be retried, e.g. [502, 503, 504]. */
  readonly retryOnStatuses: readonly number[];
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
  /** A retry needs at least this much of the request's time budget left. Default 1. */
  readonly minAttemptBudgetMs?: number;
  /**
   * Retry non-idempotent methods even after (part of) the request reached the upstream. Default
   * false; only for upstreams whose non-idempotent endpoints are safe to repeat.
   */
  readonly retryNonIdempotent?: boolean;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 3,
  retryOnStatuses: [],
  baseBackoffMs: 25,
  maxBackoffMs: 1_000,
  minAttemptBudgetMs: 1,
};

export type AttemptFailure =
  | { readonly kind: 'error'; readonly code: ErrorCode }
  | { readonly kind: 'status'; readonly status: number };

export interface RetryInput {
  /** Attempts made so far, including the one that just failed (>= 1). */
  readonly attempt: number;
  readonly failure: AttemptFailure;
  readonly method: string;
  /** True when the request body is buffered in full (or there is none). */
  readonly bodyReplayable: boolean;
  /** Request bytes (head or body) written to the upstream by the failed attempt. */
  readonly bytesSent: number;
  readonly budgetRemainingMs: number;
}

export type RetryVerdict =
  | 'retry'
  | 'attempts_exhausted'
  | 'not_retryable'
  | 'non_idempotent_sent'
  | 'body_not_replayable'
  | 'deadline';

/** RFC 9110 §9.2.2 idempotent methods. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET, and is treated as unsafe. */
export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

export function validateRetryPolicy(p: RetryPolicy): string[] {
  const errors: string[] = [];
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) errors.push('maxAttempts must be an integer >= 1');
  if (!(p.baseBackoffMs >= 0)) errors.push('baseBackoffMs must be >= 0');
  if (!(p.maxBackoffMs >= p.baseBackoffMs)) errors.push('maxBackoffMs must be >= baseBackoffMs');
  for (const s of p.retryOnStatuses) if (!Number.isInteger(s) || s < 500 || s > 599) errors.push(`retry status ${s} must be a 5xx`);
  return errors;
}

/** Why (not) to retry; 'retry' means: ask the budget, then back off and pick another endpoint. */
export function shouldRetry(policy: RetryPolicy, input: RetryInput): RetryVerdict {
  if (input.attempt >= policy.maxAttempts) return 'attempts_exhausted';
  const f = input.failure;
  const retryable = f.kind === 'error' ? ERROR_TABLE[f.code].retryable : policy.retryOnStatuses.includes(f.status);
  if (!retryable) return 'not_retryable';
  if (input.bytesSent > 0 && policy.retryNonIdempotent !== true && !isIdempotent(input.method)) return 'non_idempotent_sent';
  if (!input.bodyReplayable) return 'body_not_replayable';
  if (!(input.budgetRemainingMs > (policy.minAttemptBudgetMs ?? 1))) return 'deadline';
  return 'retry';
}

/**
 * Full-jitter backoff before retry number `attempt` (1 = first retry): uniform in
 * [0, min(maxBackoffMs, baseBackoffMs × 2^(attempt−1))). `rng` returns [0, 1).
 */
export function backoffMs(policy: RetryPolicy, attempt: number, rng: () => number): number {
  const exp = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** exp);
  const r = rng();
  return (r >= 0 && r < 1 ? r : 0) * ceiling;
}

export interface RetryBudgetOptions {
  /** Retries earned per request, e.g. 0.2 = at most 20% extra load. In [0, 1000]. */
  readonly ratio: number;
  /** Retries always allowed per second regardless of traffic (low-traffic floor). Default 10. */
  readonly minRetriesPerSecond?: number;
  /** Tokens that can accumulate (burst). Default max(10, 10 × minRetriesPerSecond). */
  readonly maxTokens?: number;
}

export function validateRetryBudget(o: RetryBudgetOptions): string[] {
  const errors: string[] = [];
  if (!(o.ratio >= 0 && o.ratio <= 1000)) errors.push('retry budget ratio must be in [0, 1000]');
  if (o.minRetriesPerSecond !== undefined && !(o.minRetriesPerSecond >= 0 && Number.isFinite(o.minRetriesPerSecond))) errors.push('minRetriesPerSecond must be >= 0');
  if (o.maxTokens !== undefined && !(o.maxTokens >= 1 && Number.isFinite(o.maxTokens))) errors.push('maxTokens must be >= 1');
  return errors;
}

/** Fixed-point scale: tokens are counted in thousandths so ratio deposits are exact integers. */
const MILLI = 1000;

/**
 * Token bucket per upstream: each original request deposits `ratio` tokens, time deposits
 * `minRetriesPerSecond` tokens per second, the balance is capped at `maxTokens` and starts full;
 * a retry costs one token. Hence over any run:
 *   retries granted <= maxTokens + ratio × requests + minRetriesPerSecond × elapsedSeconds.
 */
export class RetryBudget {
  private readonly clock: Clock;
  private readonly depositMilli: number;
  /** Milli-tokens per ms = tokens per second. */
  private readonly refillPerMs: number;
  private readonly capMilli: number;
  private balanceMilli: number;
  private lastMs: number;
  granted = 0;
  refused = 0;

  constructor(options: RetryBudgetOptions, clock: Clock) {
    const errors = validateRetryBudget(options);
    if (errors.length > 0) throw new RangeError(errors.join('; '));
    const perSecond = options.minRetriesPerSecond ?? 10;
    this.clock = clock;
    this.depositMilli = Math.round(options.ratio * MILLI);
    this.refillPerMs = perSecond;
    this.capMilli = Math.round((options.maxTokens ?? Math.max(10, 10 * perSecond)) * MILLI);
    this.balanceMilli = this.capMilli;
    this.lastMs = clock.now();
  }

  /** Tokens available now. */
  get tokens(): number {
    this.refill();
    return this.balanceMilli / MILLI;
  }

  /** Call once per original (non-retry) request. */
  onRequest(): void {
    this.refill();
    const b = this.balanceMilli + this.depositMilli;
    this.balanceMilli = b > this.capMilli ? this.capMilli : b;
  }

  /** Spends one token for a retry; false (and counted) when the budget is exhausted. */
  tryAcquire(): boolean {
    this.refill();
    if (this.balanceMilli >= MILLI) {
      this.balanceMilli -= MILLI;
      this.granted++;
      return true;
    }
    this.refused++;
    return false;
  }

  private refill(): void {
    const now = this.clock.now();
    const dt = now - this.lastMs;
    if (dt <= 0) return;
    this.lastMs = now;
    if (this.refillPerMs === 0) return;
    // Fractional milli-tokens are kept: frequent tiny time steps must still add up.
    const b = this.balanceMilli + dt * this.refillPerMs;
    this.balanceMilli = b > this.capMilli ? this.capMilli : b;
  }
}

export function createRetryBudget(options: RetryBudgetOptions, clock: Clock): RetryBudget {
  return new RetryBudget(options, clock);
}
