// Everything Sentinel knows about the health of one target of one upstream: the active-check
// verdict, the circuit breaker, the passive outlier state and the requests in flight. It is
// long-lived state: the compile step takes it from the registry (`health|<upstream>|<target>|…`),
// so it survives a reload that keeps the target and its health settings, and is dropped when the
// target goes away. Pure: time comes from the injected clock, no timers, no I/O.
//
//   available = active healthy ∧ ¬ejected ∧ breaker admits
//
// Per attempt: `begin()` (false = the breaker refused: pick another), then exactly one of
// `end(result, group)` or `abort()`.

import { createBreaker } from './breaker.ts';
import type { Breaker, BreakerOptions, BreakerState } from './breaker.ts';
import type { Clock } from './clock.ts';
import { OutlierTarget } from './outlier.ts';
import type { Detection, EjectionGroup, OutlierPolicy, OutlierResult } from './outlier.ts';

/** Verdict of the active checks. `unknown`: configured to wait for the first check. */
export type ActiveHealth = 'healthy' | 'unhealthy' | 'unknown';

/** Where a target reports its changes (metrics, logs). Every method is optional. */
export interface TargetObserver {
  breaker?(from: BreakerState, to: BreakerState): void;
  /** An ejection was enforced (until `untilMs`, clock ms), ended (`ejected` false), or refused by the cap. */
  ejection?(event: 'ejected' | 'returned' | 'refused'): void;
  /** A change of the active verdict. */
  health?(from: ActiveHealth, to: ActiveHealth): void;
  /** The resource was released (no generation uses it any more). */
  closed?(): void;
}

export interface TargetHealthOptions {
  readonly breaker?: BreakerOptions;
  readonly outlier?: OutlierPolicy;
  /** Do 5xx responses count as breaker failures? Default false: connect failures and timeouts. */
  readonly breakerOn5xx?: boolean;
  /** Initial active verdict. Default healthy. */
  readonly initial?: ActiveHealth;
  /** Consecutive check results that flip the verdict (default 1 and 1). */
  readonly healthyThreshold?: number;
  readonly unhealthyThreshold?: number;
}

export class TargetHealth {
  /** `host:port`. */
  readonly id: string;
  readonly breaker: Breaker | null;
  readonly outlier: OutlierTarget | null;
  /** Requests in flight to this target (all generations). */
  inflight = 0;
  /** Connections of the target's pool; the queue depth is what is in flight beyond them. */
  maxConnections = Infinity;
  /** Ejections enforced since the state was created. */
  ejections = 0;
  private active: ActiveHealth;
  private okRun = 0;
  private failRun = 0;
  private readonly breakerOn5xx: boolean;
  private readonly healthyThreshold: number;
  private readonly unhealthyThreshold: number;
  private readonly observer: TargetObserver | undefined;

  constructor(id: string, options: TargetHealthOptions, clock: Clock, observer?: TargetObserver) {
    this.id = id;
    this.observer = observer;
    this.active = options.initial ?? 'healthy';
    this.breakerOn5xx = options.breakerOn5xx ?? false;
    this.healthyThreshold = options.healthyThreshold ?? 1;
    this.unhealthyThreshold = options.unhealthyThreshold ?? 1;
    const b = options.breaker;
    this.breaker = b === undefined ? null : createBreaker(b, clock, observer?.breaker === undefined ? undefined : (from, to) => observer.breaker?.(from, to));
    const o = options.outlier;
    this.outlier = o === undefined ? null : new OutlierTarget(o, clock, (ejected) => {
      if (ejected) this.ejections++;
      observer?.ejection?.(ejected ? 'ejected' : 'returned');
    });
  }

  /** May a selector pick it now? */
  available(): boolean {
    if (this.active !== 'healthy') return false;
    if (this.outlier !== null && this.outlier.isEjected()) return false;
    return this.breaker === null || this.breaker.canAllow();
  }

  /** The active verdict. */
  get health(): ActiveHealth {
    return this.active;
  }

  isEjected(): boolean {
    return this.outlier !== null && this.outlier.isEjected();
  }

  /** Starts an attempt: consumes a breaker probe slot when half-open. False = refused. */
  begin(): boolean {
    if (this.breaker !== null && !this.breaker.allow()) return false;
    this.inflight++;
    return true;
  }

  /** The attempt produced an outcome (a response, or a local-origin failure). */
  end(result: OutlierResult, group: EjectionGroup): Detection {
    if (this.inflight > 0) this.inflight--;
    if (this.breaker !== null) {
      const failed = result === 'connect_failure' || result === 'timeout' || (result === '5xx' && this.breakerOn5xx);
      if (failed) this.breaker.onFailure();
      else this.breaker.onSuccess();
    }
    if (this.outlier === null) return 'none';
    const d = this.outlier.report(result, group);
    if (d === 'refused') this.observer?.ejection?.('refused');
    return d;
  }

  /** The attempt ended without an outcome (the client went away): frees the slot, judges nothing. */
  abort(): void {
    if (this.inflight > 0) this.inflight--;
    this.breaker?.release();
  }

  /** One active check result; the verdict flips after the configured consecutive runs. */
  checked(ok: boolean): void {
    if (ok) {
      this.failRun = 0;
      this.okRun++;
      if (this.active === 'unknown' || (this.active === 'unhealthy' && this.okRun >= this.healthyThreshold)) this.setActive('healthy');
    } else {
      this.okRun = 0;
      this.failRun++;
      if (this.active === 'unknown' || (this.active === 'healthy' && this.failRun >= this.unhealthyThreshold)) this.setActive('unhealthy');
    }
  }

  /** Sets the verdict directly (tests, simulations). */
  setActive(to: ActiveHealth): void {
    const from = this.active;
    if (from === to) return;
    this.active = to;
    this.okRun = 0;
    this.failRun = 0;
    this.observer?.health?.(from, to);
  }

  /** Requests waiting for a connection of the target's pool. */
  queued(): number {
    const q = this.inflight - this.maxConnections;
    return q > 0 ? q : 0;
  }

  /** Registry resource: nothing to release but the observer's series. */
  close(): Promise<void> {
    this.observer?.closed?.();
    return Promise.resolve();
  }
}
