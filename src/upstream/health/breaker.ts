// Per-target circuit breaker: closed → open → half-open → closed, driven by an injected clock.
//
// closed     every request is allowed. It opens after `failureThreshold` consecutive failures, or
//            (when `failureRatio` is set) when at least `minRequests` outcomes in the last
//            `windowMs` have a failure share >= failureRatio.
// open       nothing is allowed until `openMs` has passed since it opened; the first `allow()` (or
//            `state` read) after that moves it to half-open.
// half-open  at most `halfOpenMaxProbes` probes in flight. `successThreshold` successes close it;
//            any failure re-opens it (for another `openMs`). A probe whose outcome is never
//            reported (aborted request) is released by `release()`, and in any case forgotten
//            after `probeTimeoutMs`, so the breaker cannot stay wedged: it always recovers.
//
// Outcomes reported while open are ignored (they belong to requests admitted before it opened).
// No timers: every transition is evaluated lazily when the breaker is consulted.

import type { Clock } from './clock.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open a closed breaker (>= 1). */
  readonly failureThreshold: number;
  /** Optional failure share in (0, 1] over `windowMs` that also opens it. */
  readonly failureRatio?: number;
  /** Sliding window of the ratio rule. Default 10_000. */
  readonly windowMs?: number;
  /** Outcomes needed in the window before the ratio rule applies. Default 20. */
  readonly minRequests?: number;
  /** Time open before admitting probes (> 0). */
  readonly openMs: number;
  /** Concurrent probes admitted while half-open (>= 1). */
  readonly halfOpenMaxProbes: number;
  /** Successes while half-open that close it (>= 1). */
  readonly successThreshold: number;
  /** A probe without a reported outcome is forgotten after this long. Default openMs. */
  readonly probeTimeoutMs?: number;
}

export type BreakerTransition = (from: BreakerState, to: BreakerState, atMs: number) => void;

const BUCKETS = 10;

export function validateBreakerOptions(o: BreakerOptions): string[] {
  const errors: string[] = [];
  const posInt = (v: number, name: string): void => {
    if (!Number.isInteger(v) || v < 1) errors.push(`${name} must be an integer >= 1`);
  };
  posInt(o.failureThreshold, 'failureThreshold');
  posInt(o.halfOpenMaxProbes, 'halfOpenMaxProbes');
  posInt(o.successThreshold, 'successThreshold');
  if (!(o.openMs > 0) || !Number.isFinite(o.openMs)) errors.push('openMs must be a finite number > 0');
  if (o.failureRatio !== undefined && !(o.failureRatio > 0 && o.failureRatio <= 1)) errors.push('failureRatio must be in (0, 1]');
  if (o.windowMs !== undefined && !(o.windowMs >= BUCKETS && Number.isFinite(o.windowMs))) errors.push(`windowMs must be a finite number >= ${BUCKETS}`);
  if (o.minRequests !== undefined) posInt(o.minRequests, 'minRequests');
  if (o.probeTimeoutMs !== undefined && !(o.probeTimeoutMs > 0)) errors.push('probeTimeoutMs must be > 0');
  return errors;
}

export class Breaker {
  private readonly clock: Clock;
  private readonly onTransition: BreakerTransition | undefined;
  private readonly failureThreshold: number;
  private readonly failureRatio: number;
  private readonly minRequests: number;
  private readonly openMs: number;
  private readonly maxProbes: number;
  private readonly successThreshold: number;
  private readonly probeTimeoutMs: number;
  private readonly bucketMs: number;
  private readonly fails = new Uint32Array(BUCKETS);
  private readonly total = new Uint32Array(BUCKETS);
  private epoch = 0;

  private current: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private openedAtMs = 0;
  private probes = 0;
  private lastProbeAtMs = 0;
  private halfOpenSuccesses = 0;

  constructor(options: BreakerOptions, clock: Clock, onTransition?: BreakerTransition) {
    const errors = validateBreakerOptions(options);
    if (errors.length > 0) throw new RangeError(errors.join('; '));
    this.clock = clock;
    this.onTransition = onTransition;
    this.failureThreshold = options.failureThreshold;
    this.failureRatio = options.failureRatio ?? 0;
    this.minRequests = options.minRequests ?? 20;
    this.openMs = options.openMs;
    this.maxProbes = options.halfOpenMaxProbes;
    this.successThreshold = options.successThreshold;
    this.probeTimeoutMs = options.probeTimeoutMs ?? options.openMs;
    this.bucketMs = (options.windowMs ?? 10_000) / BUCKETS;
    this.epoch = Math.floor(clock.now() / this.bucketMs);
  }

  /** Current state, after applying any time-driven transition (open → half-open). */
  get state(): BreakerState {
    this.refresh(this.clock.now());
    return this.current;
  }

  /** Probes currently admitted in half-open. */
  get probesInFlight(): number {
    return this.current === 'half-open' ? this.probes : 0;
  }

  /** Non-consuming check: would `allow()` admit a request now? For selection availability. */
  canAllow(): boolean {
    const now = this.clock.now();
    this.refresh(now);
    if (this.current === 'closed') return true;
    if (this.current === 'open') return false;
    return this.probes < this.maxProbes;
  }

  /** Admits a request (consuming a probe slot when half-open) or refuses it. */
  allow(): boolean {
    const now = this.clock.now();
    this.refresh(now);
    if (this.current === 'closed') return true;
    if (this.current === 'open') return false;
    if (this.probes >= this.maxProbes) return false;
    this.probes++;
    this.lastProbeAtMs = now;
    return true;
  }

  onSuccess(): void {
    const now = this.clock.now();
    this.refresh(now);
    if (this.current === 'closed') {
      this.consecutiveFailures = 0;
      if (this.failureRatio > 0) this.record(now, false);
    } else if (this.current === 'half-open') {
      if (this.probes > 0) this.probes--;
      if (++this.halfOpenSuccesses >= this.successThreshold) this.transition('closed', now);
    }
  }

  onFailure(): void {
    const now = this.clock.now();
    this.refresh(now);
    if (this.current === 'closed') {
      this.consecutiveFailures++;
      let trip = this.consecutiveFailures >= this.failureThreshold;
      if (this.failureRatio > 0) {
        this.record(now, true);
        if (!trip) trip = this.ratioExceeded();
      }
      if (trip) this.transition('open', now);
    } else if (this.current === 'half-open') {
      this.transition('open', now);
    }
  }

  /** A probe ended without an outcome (e.g. the client aborted): frees its slot. */
  release(): void {
    if (this.current === 'half-open' && this.probes > 0) this.probes--;
  }

  private refresh(now: number): void {
    if (this.current === 'open') {
      if (now - this.openedAtMs >= this.openMs) this.transition('half-open', now);
    } else if (this.current === 'half-open') {
      if (this.probes > 0 && now - this.lastProbeAtMs >= this.probeTimeoutMs) this.probes = 0;
    }
  }

  private transition(to: BreakerState, now: number): void {
    const from = this.current;
    this.current = to;
    this.consecutiveFailures = 0;
    this.probes = 0;
    this.halfOpenSuccesses = 0;
    if (to === 'open') this.openedAtMs = now;
    if (to === 'closed') {
      this.fails.fill(0);
      this.total.fill(0);
    }
    this.onTransition?.(from, to, now);
  }

  private record(now: number, failed: boolean): void {
    const e = Math.floor(now / this.bucketMs);
    if (e > this.epoch) {
      const steps = e - this.epoch;
      if (steps >= BUCKETS) {
        this.fails.fill(0);
        this.total.fill(0);
      } else {
        for (let k = 1; k <= steps; k++) {
          const b = (this.epoch + k) % BUCKETS;
          this.fails[b] = 0;
          this.total[b] = 0;
        }
      }
      this.epoch = e;
    }
    const b = this.epoch % BUCKETS;
    this.total[b] = this.total[b]! + 1;
    if (failed) this.fails[b] = this.fails[b]! + 1;
  }

  private ratioExceeded(): boolean {
    let f = 0;
    let t = 0;
    for (let b = 0; b < BUCKETS; b++) {
      f += this.fails[b]!;
      t += this.total[b]!;
    }
    return t >= this.minRequests && f >= this.failureRatio * t;
  }
}

export function createBreaker(options: BreakerOptions, clock: Clock, onTransition?: BreakerTransition): Breaker {
  return new Breaker(options, clock, onTransition);
}
