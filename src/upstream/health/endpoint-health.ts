// A set of targets as the selectors see it: the `EndpointState` view (availability, in-flight
// counts) over the targets' long-lived `TargetHealth`, plus the group rule of passive detection
// (at most `maxEjectionPercent` of the set ejected at once, never all of it). Still pure: no I/O,
// no timers.
//
//   available(i) = healthy(i) ∧ ¬ejected(i) ∧ breaker(i) admits ∧ inFlight(i) < capacity
//
// Request lifecycle per attempt: `begin(i)` (false = the breaker refused at the last moment: pick
// again with i excluded), then exactly one of `end(i, result)` or `abort(i)`.

import type { Breaker, BreakerOptions } from './breaker.ts';
import type { Clock } from './clock.ts';
import { countEjected, maxEjectable, recordDetection, resolveOutlierOptions } from './outlier.ts';
import type { EjectionGroup, OutlierOptions, OutlierResult, OutlierStats } from './outlier.ts';
import { TargetHealth } from './target-health.ts';
import type { EndpointState } from '../select/types.ts';

export interface EndpointHealthOptions {
  /** Per-endpoint breaker; none when absent. */
  readonly breaker?: BreakerOptions;
  /** Passive outlier detection; none when absent. */
  readonly outlier?: OutlierOptions;
  /** Do 5xx responses count as breaker failures? Default false: only connect failures and timeouts. */
  readonly breakerOn5xx?: boolean;
  /** Initial active-health state. Default true (healthy until an active check says otherwise). */
  readonly startHealthy?: boolean;
}

export class EndpointHealthSet implements EndpointState, EjectionGroup {
  readonly size: number;
  readonly targets: readonly TargetHealth[];
  /** Passive-detection counters of reports made through this set. */
  readonly stats: OutlierStats = { detected: 0, enforced: 0, refusedByCap: 0 };
  /** Index view of the outlier state (null when no target has passive detection). */
  readonly outlier: { isEjected(i: number): boolean; ejected(): number } | null;
  private readonly cap: number;
  private readonly capacity: number;

  /**
   * `maxEjectionPercent`: share of this set passive detection may eject at once. `capacity`: the
   * most requests in flight per target (connections plus queue); a full target is not available.
   */
  constructor(targets: readonly TargetHealth[], maxEjectionPercent: number, capacity = Infinity) {
    this.size = targets.length;
    this.targets = targets;
    this.cap = maxEjectable(targets.length, maxEjectionPercent);
    this.capacity = capacity;
    this.outlier = targets.some((t) => t.outlier !== null)
      ? { isEjected: (i) => targets[i]?.isEjected() ?? false, ejected: () => countEjected(targets) }
      : null;
  }

  available(i: number): boolean {
    const t = this.targets[i];
    return t !== undefined && t.inflight < this.capacity && t.available();
  }

  /** Available apart from its capacity: healthy, not ejected, breaker admits. */
  usable(i: number): boolean {
    return this.targets[i]?.available() ?? false;
  }

  inFlight(i: number): number {
    return this.targets[i]?.inflight ?? 0;
  }

  /** Active health check verdict. */
  setHealthy(i: number, healthy: boolean): void {
    this.targets[i]?.setActive(healthy ? 'healthy' : 'unhealthy');
  }

  isHealthy(i: number): boolean {
    return this.targets[i]?.health === 'healthy';
  }

  breaker(i: number): Breaker | null {
    return this.targets[i]?.breaker ?? null;
  }

  mayEject(): boolean {
    return countEjected(this.targets) < this.cap;
  }

  /** Starts an attempt on i: consumes a breaker probe slot if half-open. False = refused. */
  begin(i: number): boolean {
    const t = this.targets[i];
    return t !== undefined && t.begin();
  }

  /** The attempt on i produced an outcome (a response, or a local-origin failure). */
  end(i: number, result: OutlierResult): void {
    const t = this.targets[i];
    if (t !== undefined) recordDetection(this.stats, t.end(result, this));
  }

  /** The attempt on i ended without an outcome (client went away): frees the slot, judges nothing. */
  abort(i: number): void {
    this.targets[i]?.abort();
  }

  /** Endpoints a selector may pick now. */
  availableCount(): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (this.available(i)) n++;
    return n;
  }
}

/** A set of `size` fresh targets sharing one set of options (simulations and tests). */
export function createEndpointHealthSet(size: number, options: EndpointHealthOptions, clock: Clock): EndpointHealthSet {
  if (!Number.isInteger(size) || size < 0) throw new RangeError('size must be an integer >= 0');
  const outlier = options.outlier === undefined ? undefined : resolveOutlierOptions(options.outlier);
  const targets = Array.from({ length: size }, (_, i) => new TargetHealth(`endpoint-${i}`, {
    ...(options.breaker !== undefined ? { breaker: options.breaker } : {}),
    ...(outlier !== undefined ? { outlier } : {}),
    breakerOn5xx: options.breakerOn5xx ?? false,
    initial: options.startHealthy === false ? 'unhealthy' : 'healthy',
  }, clock));
  return new EndpointHealthSet(targets, outlier?.maxEjectionPercent ?? 50, Infinity);
}
