// Passive outlier detection, Envoy style, for one endpoint set (indexes 0..size-1).
//
// Two consecutive-failure counters per endpoint, kept apart as Envoy does:
//   - external origin: a 5xx response (`'5xx'`); reset by any non-5xx response;
//   - local origin: connect failure or timeout (`'connect_failure'`, `'timeout'`); reset by any
//     response (a 5xx proves the connection works).
// Reaching `consecutive5xx` or `consecutiveLocalFailures` ejects the endpoint for
// min(baseEjectionMs × n, maxEjectionMs), n = how many times it has been ejected (the multiplier),
// unless that would eject more than min(size − 1, floor(size × maxEjectionPercent / 100))
// endpoints: passive checks alone never eject the whole pool. A refused ejection is counted as
// detected-but-not-enforced and retried on the next failure.
// The multiplier decreases by one for every `multiplierDecayMs` spent not ejected.
// Un-ejection is lazy (on access, from the injected clock): no timers per endpoint.
//
// The state of one endpoint is an `OutlierTarget`, so that it can live as long as the target does
// (across config reloads and discovery changes); the cap is a property of the set it is in
// (`EjectionGroup`). `OutlierDetector` is a fixed set of them.

import type { Clock } from './clock.ts';

export type OutlierResult = 'success' | '5xx' | 'connect_failure' | 'timeout';

export interface OutlierOptions {
  /** Consecutive 5xx responses that eject (>= 1). Default 5. */
  readonly consecutive5xx?: number;
  /** Consecutive connect failures / timeouts that eject (>= 1). Default 5. */
  readonly consecutiveLocalFailures?: number;
  /** Default 30_000. */
  readonly baseEjectionMs?: number;
  /** Default 300_000. */
  readonly maxEjectionMs?: number;
  /** Share of the pool passive checks may eject at once, 0..100. Default 50. */
  readonly maxEjectionPercent?: number;
  /** Time not ejected that forgives one past ejection. Default 60_000. */
  readonly multiplierDecayMs?: number;
}

export type EjectionListener = (index: number, ejected: boolean, atMs: number, untilMs: number) => void;

export interface OutlierStats {
  /** Thresholds reached. */
  detected: number;
  /** Ejections actually applied. */
  enforced: number;
  /** Ejections refused by maxEjectionPercent. */
  refusedByCap: number;
}

export function validateOutlierOptions(o: OutlierOptions): string[] {
  const errors: string[] = [];
  const posInt = (v: number | undefined, name: string): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) errors.push(`${name} must be an integer >= 1`);
  };
  posInt(o.consecutive5xx, 'consecutive5xx');
  posInt(o.consecutiveLocalFailures, 'consecutiveLocalFailures');
  if (o.baseEjectionMs !== undefined && !(o.baseEjectionMs > 0 && Number.isFinite(o.baseEjectionMs))) errors.push('baseEjectionMs must be > 0');
  if (o.maxEjectionMs !== undefined && !(o.maxEjectionMs > 0 && Number.isFinite(o.maxEjectionMs))) errors.push('maxEjectionMs must be > 0');
  if ((o.maxEjectionMs ?? 300_000) < (o.baseEjectionMs ?? 30_000)) errors.push('maxEjectionMs must be >= baseEjectionMs');
  if (o.maxEjectionPercent !== undefined && !(o.maxEjectionPercent >= 0 && o.maxEjectionPercent <= 100)) errors.push('maxEjectionPercent must be in 0..100');
  if (o.multiplierDecayMs !== undefined && !(o.multiplierDecayMs > 0)) errors.push('multiplierDecayMs must be > 0');
  return errors;
}

/** Most endpoints passive detection may hold ejected at once in a pool of `size`. */
export function maxEjectable(size: number, maxEjectionPercent: number): number {
  return Math.max(0, Math.min(size - 1, Math.floor((size * maxEjectionPercent) / 100)));
}

/** Options with their defaults applied. */
export interface OutlierPolicy {
  readonly threshold5xx: number;
  readonly thresholdLocal: number;
  readonly baseMs: number;
  readonly maxMs: number;
  readonly maxEjectionPercent: number;
  readonly decayMs: number;
}

export function resolveOutlierOptions(options: OutlierOptions): OutlierPolicy {
  const errors = validateOutlierOptions(options);
  if (errors.length > 0) throw new RangeError(errors.join('; '));
  return {
    threshold5xx: options.consecutive5xx ?? 5,
    thresholdLocal: options.consecutiveLocalFailures ?? 5,
    baseMs: options.baseEjectionMs ?? 30_000,
    maxMs: options.maxEjectionMs ?? 300_000,
    maxEjectionPercent: options.maxEjectionPercent ?? 50,
    decayMs: options.multiplierDecayMs ?? 60_000,
  };
}

/** The set an endpoint belongs to: it decides whether one more ejection stays within the cap. */
export interface EjectionGroup {
  mayEject(): boolean;
}

/** What a report led to: nothing, an ejection, or an ejection the group's cap refused. */
export type Detection = 'none' | 'enforced' | 'refused';

/** Listener of one endpoint: ejected (until `untilMs`) or back (`untilMs` = 0). */
export type TargetEjectionListener = (ejected: boolean, atMs: number, untilMs: number) => void;

/** Passive-detection state of one endpoint. */
export class OutlierTarget {
  private readonly policy: OutlierPolicy;
  private readonly clock: Clock;
  private readonly listener: TargetEjectionListener | undefined;
  private c5xx = 0;
  private cLocal = 0;
  private multiplier = 0;
  /** 0 when not ejected. */
  private until = 0;
  /** When the multiplier last changed or the endpoint was last un-ejected (decay reference). */
  private decayFrom = 0;

  constructor(policy: OutlierPolicy, clock: Clock, listener?: TargetEjectionListener) {
    this.policy = policy;
    this.clock = clock;
    this.listener = listener;
  }

  /** Ejected now? Un-ejects lazily when its time has passed. */
  isEjected(): boolean {
    const until = this.until;
    if (until === 0) return false;
    const now = this.clock.now();
    if (now < until) return true;
    this.unEject(now);
    return false;
  }

  /** End of the current ejection (clock ms), 0 when not ejected. */
  ejectedUntilMs(): number {
    return this.isEjected() ? this.until : 0;
  }

  /** Past ejections net of decay: the next one lasts base × (this + 1). */
  ejectionMultiplier(): number {
    this.decay(this.clock.now());
    return this.multiplier;
  }

  report(result: OutlierResult, group: EjectionGroup): Detection {
    switch (result) {
      case 'success':
        this.c5xx = 0;
        this.cLocal = 0;
        return 'none';
      case '5xx':
        this.cLocal = 0;
        return ++this.c5xx >= this.policy.threshold5xx ? this.detect(group) : 'none';
      case 'connect_failure':
      case 'timeout':
        return ++this.cLocal >= this.policy.thresholdLocal ? this.detect(group) : 'none';
    }
  }

  private detect(group: EjectionGroup): Detection {
    if (this.isEjected()) return 'none'; // late outcomes of requests sent before the ejection
    if (!group.mayEject()) return 'refused';
    const now = this.clock.now();
    this.decay(now);
    const n = ++this.multiplier;
    const duration = Math.min(this.policy.baseMs * n, this.policy.maxMs);
    this.until = now + duration;
    this.c5xx = 0;
    this.cLocal = 0;
    this.listener?.(true, now, now + duration);
    return 'enforced';
  }

  private unEject(now: number): void {
    this.until = 0;
    this.c5xx = 0;
    this.cLocal = 0;
    this.decayFrom = now;
    this.listener?.(false, now, 0);
  }

  /** Forgives one ejection per full `decayMs` spent not ejected since the reference time. */
  private decay(now: number): void {
    if (this.until !== 0) return;
    const m = this.multiplier;
    if (m === 0) return;
    const steps = Math.floor((now - this.decayFrom) / this.policy.decayMs);
    if (steps <= 0) return;
    const dec = steps < m ? steps : m;
    this.multiplier = m - dec;
    this.decayFrom += dec * this.policy.decayMs;
  }
}

/** Counts the ejected endpoints of `targets` (un-ejecting expired ones on the way). */
export function countEjected(targets: readonly { isEjected(): boolean }[]): number {
  let n = 0;
  for (const t of targets) if (t.isEjected()) n++;
  return n;
}

/** A fixed set of endpoints (indexes 0..size-1) with its own cap. */
export class OutlierDetector implements EjectionGroup {
  readonly size: number;
  readonly stats: OutlierStats = { detected: 0, enforced: 0, refusedByCap: 0 };
  readonly targets: readonly OutlierTarget[];
  private readonly cap: number;

  constructor(size: number, options: OutlierOptions, clock: Clock, listener?: EjectionListener) {
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError([...validateOutlierOptions(options), 'size must be an integer >= 0'].join('; '));
    }
    const policy = resolveOutlierOptions(options);
    this.size = size;
    this.cap = maxEjectable(size, policy.maxEjectionPercent);
    this.targets = Array.from({ length: size }, (_, i) => new OutlierTarget(policy, clock, listener === undefined ? undefined : (e, at, until) => listener(i, e, at, until)));
  }

  /** The most endpoints that may be ejected at once. */
  get maxEjected(): number {
    return this.cap;
  }

  mayEject(): boolean {
    return countEjected(this.targets) < this.cap;
  }

  /** Is endpoint i ejected now? Un-ejects lazily when its time has passed. */
  isEjected(i: number): boolean {
    return this.targets[i]?.isEjected() ?? false;
  }

  /** Endpoints ejected now (sweeps expired ejections). */
  ejected(): number {
    return countEjected(this.targets);
  }

  /** Times endpoint i has been ejected, net of decay: the next ejection lasts base × (this + 1). */
  ejectionMultiplier(i: number): number {
    return this.targets[i]?.ejectionMultiplier() ?? 0;
  }

  /** Remaining ejection end time (clock ms) of endpoint i, 0 when not ejected. */
  ejectedUntilMs(i: number): number {
    return this.targets[i]?.ejectedUntilMs() ?? 0;
  }

  report(i: number, result: OutlierResult): void {
    const t = this.targets[i];
    if (t === undefined) return;
    recordDetection(this.stats, t.report(result, this));
  }
}

/** Adds a report's outcome to the counters. */
export function recordDetection(stats: OutlierStats, d: Detection): void {
  if (d === 'none') return;
  stats.detected++;
  if (d === 'enforced') stats.enforced++;
  else stats.refusedByCap++;
}

export function createOutlierDetector(size: number, options: OutlierOptions, clock: Clock, listener?: EjectionListener): OutlierDetector {
  return new OutlierDetector(size, options, clock, listener);
}
