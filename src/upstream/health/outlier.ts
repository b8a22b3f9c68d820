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

export class OutlierDetector {
  readonly size: number;
  readonly stats: OutlierStats = { detected: 0, enforced: 0, refusedByCap: 0 };
  private readonly clock: Clock;
  private readonly listener: EjectionListener | undefined;
  private readonly threshold5xx: number;
  private readonly thresholdLocal: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly cap: number;
  private readonly decayMs: number;
  private readonly c5xx: Uint32Array;
  private readonly cLocal: Uint32Array;
  private readonly multiplier: Uint32Array;
  /** 0 when not ejected. */
  private readonly ejectedUntil: Float64Array;
  /** When the multiplier last changed or the endpoint was last un-ejected (decay reference). */
  private readonly decayFrom: Float64Array;
  private ejectedCount = 0;

  constructor(size: number, options: OutlierOptions, clock: Clock, listener?: EjectionListener) {
    const errors = validateOutlierOptions(options);
    if (!Number.isInteger(size) || size < 0) errors.push('size must be an integer >= 0');
    if (errors.length > 0) throw new RangeError(errors.join('; '));
    this.size = size;
    this.clock = clock;
    this.listener = listener;
    this.threshold5xx = options.consecutive5xx ?? 5;
    this.thresholdLocal = options.consecutiveLocalFailures ?? 5;
    this.baseMs = options.baseEjectionMs ?? 30_000;
    this.maxMs = options.maxEjectionMs ?? 300_000;
    this.cap = maxEjectable(size, options.maxEjectionPercent ?? 50);
    this.decayMs = options.multiplierDecayMs ?? 60_000;
    this.c5xx = new Uint32Array(size);
    this.cLocal = new Uint32Array(size);
    this.multiplier = new Uint32Array(size);
    this.ejectedUntil = new Float64Array(size);
    this.decayFrom = new Float64Array(size);
  }

  /** The most endpoints that may be ejected at once. */
  get maxEjected(): number {
    return this.cap;
  }

  /** Is endpoint i ejected now? Un-ejects lazily when its time has passed. */
  isEjected(i: number): boolean {
    const until = this.ejectedUntil[i];
    if (until === undefined || until === 0) return false;
    const now = this.clock.now();
    if (now < until) return true;
    this.unEject(i, now);
    return false;
  }

  /** Endpoints ejected now (sweeps expired ejections). */
  ejected(): number {
    this.sweep(this.clock.now());
    return this.ejectedCount;
  }

  /** Times endpoint i has been ejected, net of decay: the next ejection lasts base × (this + 1). */
  ejectionMultiplier(i: number): number {
    this.decay(i, this.clock.now());
    return this.multiplier[i] ?? 0;
  }

  /** Remaining ejection end time (clock ms) of endpoint i, 0 when not ejected. */
  ejectedUntilMs(i: number): number {
    return this.isEjected(i) ? this.ejectedUntil[i]! : 0;
  }

  report(i: number, result: OutlierResult): void {
    if (!(i >= 0 && i < this.size)) return;
    switch (result) {
      case 'success':
        this.c5xx[i] = 0;
        this.cLocal[i] = 0;
        return;
      case '5xx':
        this.cLocal[i] = 0;
        this.c5xx[i] = this.c5xx[i]! + 1;
        if (this.c5xx[i]! >= this.threshold5xx) this.detect(i);
        return;
      case 'connect_failure':
      case 'timeout':
        this.cLocal[i] = this.cLocal[i]! + 1;
        if (this.cLocal[i]! >= this.thresholdLocal) this.detect(i);
        return;
    }
  }

  private detect(i: number): void {
    const now = this.clock.now();
    if (this.isEjected(i)) return; // late outcomes of requests sent before the ejection
    this.stats.detected++;
    this.sweep(now);
    if (this.ejectedCount >= this.cap) {
      this.stats.refusedByCap++;
      return;
    }
    this.decay(i, now);
    const n = this.multiplier[i]! + 1;
    this.multiplier[i] = n;
    const duration = Math.min(this.baseMs * n, this.maxMs);
    this.ejectedUntil[i] = now + duration;
    this.ejectedCount++;
    this.stats.enforced++;
    this.c5xx[i] = 0;
    this.cLocal[i] = 0;
    this.listener?.(i, true, now, now + duration);
  }

  private unEject(i: number, now: number): void {
    this.ejectedUntil[i] = 0;
    this.ejectedCount--;
    this.c5xx[i] = 0;
    this.cLocal[i] = 0;
    this.decayFrom[i] = now;
    this.listener?.(i, false, now, 0);
  }

  private sweep(now: number): void {
    if (this.ejectedCount === 0) return;
    for (let i = 0; i < this.size; i++) {
      const until = this.ejectedUntil[i]!;
      if (until !== 0 && now >= until) this.unEject(i, now);
    }
  }

  /** Forgives one ejection per full `decayMs` spent not ejected since the reference time. */
  private decay(i: number, now: number): void {
    if (this.ejectedUntil[i] !== 0) return;
    const m = this.multiplier[i]!;
    if (m === 0) return;
    const steps = Math.floor((now - this.decayFrom[i]!) / this.decayMs);
    if (steps <= 0) return;
    const dec = steps < m ? steps : m;
    this.multiplier[i] = m - dec;
    this.decayFrom[i] = this.decayFrom[i]! + dec * this.decayMs;
  }
}

export function createOutlierDetector(size: number, options: OutlierOptions, clock: Clock, listener?: EjectionListener): OutlierDetector {
  return new OutlierDetector(size, options, clock, listener);
}
