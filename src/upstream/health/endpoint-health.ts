// Glue for the forward phase: per-endpoint health, breaker, outlier ejection and in-flight count
// behind the `EndpointState` view the selectors read. Still pure: no I/O, no timers.
//
//   available(i) = healthy(i) && !outlier.isEjected(i) && breaker(i).canAllow()
//
// Request lifecycle per attempt: `begin(i)` (false = the breaker refused at the last moment: pick
// again with i excluded), then exactly one of `end(i, result)` or `abort(i)`.

import { createBreaker } from './breaker.ts';
import type { Breaker, BreakerOptions, BreakerTransition } from './breaker.ts';
import type { Clock } from './clock.ts';
import { createOutlierDetector } from './outlier.ts';
import type { EjectionListener, OutlierDetector, OutlierOptions, OutlierResult } from './outlier.ts';
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

export interface EndpointHealthListeners {
  readonly onBreakerTransition?: (index: number, ...t: Parameters<BreakerTransition>) => void;
  readonly onEjection?: EjectionListener;
}

export class EndpointHealthSet implements EndpointState {
  readonly size: number;
  readonly outlier: OutlierDetector | null;
  private readonly breakers: readonly Breaker[] | null;
  private readonly healthy: Uint8Array;
  private readonly inflight: Uint32Array;
  private readonly breakerOn5xx: boolean;

  constructor(size: number, options: EndpointHealthOptions, clock: Clock, listeners: EndpointHealthListeners = {}) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError('size must be an integer >= 0');
    this.size = size;
    this.healthy = new Uint8Array(size).fill(options.startHealthy === false ? 0 : 1);
    this.inflight = new Uint32Array(size);
    this.breakerOn5xx = options.breakerOn5xx ?? false;
    const b = options.breaker;
    const onT = listeners.onBreakerTransition;
    this.breakers = b === undefined ? null : Array.from({ length: size }, (_, i) => createBreaker(b, clock, onT === undefined ? undefined : (from, to, at) => onT(i, from, to, at)));
    this.outlier = options.outlier === undefined ? null : createOutlierDetector(size, options.outlier, clock, listeners.onEjection);
  }

  available(i: number): boolean {
    if (this.healthy[i] !== 1) return false;
    if (this.outlier !== null && this.outlier.isEjected(i)) return false;
    return this.breakers === null || this.breakers[i]!.canAllow();
  }

  inFlight(i: number): number {
    return this.inflight[i] ?? 0;
  }

  /** Active health check verdict. */
  setHealthy(i: number, healthy: boolean): void {
    if (i >= 0 && i < this.size) this.healthy[i] = healthy ? 1 : 0;
  }

  isHealthy(i: number): boolean {
    return this.healthy[i] === 1;
  }

  breaker(i: number): Breaker | null {
    return this.breakers === null ? null : (this.breakers[i] ?? null);
  }

  /** Starts an attempt on i: consumes a breaker probe slot if half-open. False = refused. */
  begin(i: number): boolean {
    if (!(i >= 0 && i < this.size)) return false;
    if (this.breakers !== null && !this.breakers[i]!.allow()) return false;
    this.inflight[i] = this.inflight[i]! + 1;
    return true;
  }

  /** The attempt on i produced an outcome (a response, or a local-origin failure). */
  end(i: number, result: OutlierResult): void {
    if (!(i >= 0 && i < this.size)) return;
    if (this.inflight[i]! > 0) this.inflight[i] = this.inflight[i]! - 1;
    if (this.breakers !== null) {
      const failed = result === 'connect_failure' || result === 'timeout' || (result === '5xx' && this.breakerOn5xx);
      if (failed) this.breakers[i]!.onFailure();
      else this.breakers[i]!.onSuccess();
    }
    this.outlier?.report(i, result);
  }

  /** The attempt on i ended without an outcome (client went away): frees the slot, judges nothing. */
  abort(i: number): void {
    if (!(i >= 0 && i < this.size)) return;
    if (this.inflight[i]! > 0) this.inflight[i] = this.inflight[i]! - 1;
    this.breakers?.[i]!.release();
  }

  /** Endpoints a selector may pick now. */
  availableCount(): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (this.available(i)) n++;
    return n;
  }
}

export function createEndpointHealthSet(
  size: number,
  options: EndpointHealthOptions,
  clock: Clock,
  listeners?: EndpointHealthListeners,
): EndpointHealthSet {
  return new EndpointHealthSet(size, options, clock, listeners);
}
