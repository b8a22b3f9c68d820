// Latency-aware selection, Finagle style (PeakEwma + power of two choices): each endpoint keeps an
// exponentially weighted moving average of observed latency that jumps to any higher sample
// ("peak") and decays towards newer samples with time constant `decayMs`. When an endpoint is not
// observed its cost decays towards 0 as time passes, so a once-slow endpoint is probed again
// eventually. Score = cost × (inFlight + 1); of two distinct random eligible endpoints the lower
// score wins. Time comes from the injected clock.

import { randomIndex, scanFrom } from './basic.ts';
import type { Clock } from '../health/clock.ts';
import type { Algorithm, Endpoint, EndpointState, SelectContext, Selector } from './types.ts';

const UNKNOWN_PENALTY = 1e12;

export class PeakEwmaSelector implements Selector {
  readonly algorithm: Algorithm;
  private readonly n: number;
  private readonly rng: () => number;
  private readonly clock: Clock;
  private readonly decayMs: number;
  private readonly failurePenaltyMs: number;
  /** Cost (ms) at `stamp`. */
  private readonly cost: Float64Array;
  private readonly stamp: Float64Array;

  constructor(
    endpoints: readonly Endpoint[],
    rng: () => number,
    clock: Clock,
    decayMs: number,
    failurePenaltyMs: number,
    algorithm: Algorithm,
  ) {
    this.algorithm = algorithm;
    this.n = endpoints.length;
    this.rng = rng;
    this.clock = clock;
    this.decayMs = decayMs;
    this.failurePenaltyMs = failurePenaltyMs;
    this.cost = new Float64Array(this.n);
    this.stamp = new Float64Array(this.n).fill(clock.now());
  }

  /** Current cost of endpoint i: its EWMA decayed for the time since the last observation. */
  costMs(i: number, now = this.clock.now()): number {
    const dt = now - this.stamp[i]!;
    const c = this.cost[i]!;
    return dt > 0 ? c * Math.exp(-dt / this.decayMs) : c;
  }

  private score(state: EndpointState, i: number, now: number): number {
    const c = state.latencyEwmaMs !== undefined ? state.latencyEwmaMs(i) : this.costMs(i, now);
    const pending = state.inFlight(i);
    // No latency known yet but requests pending: do not pile onto it (Finagle's penalty).
    if (c === 0 && pending > 0) return UNKNOWN_PENALTY + pending;
    return c * (pending + 1);
  }

  select(_ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const n = this.n;
    if (n === 0) return -1;
    const a = scanFrom(state, exclude, n, randomIndex(this.rng, n), -1);
    if (a === -1) return -1;
    const b = scanFrom(state, exclude, n, randomIndex(this.rng, n), a);
    if (b === -1) return a;
    const now = this.clock.now();
    return this.score(state, b, now) < this.score(state, a, now) ? b : a;
  }

  onResult(i: number, latencyMs: number, ok: boolean): void {
    if (!(i >= 0 && i < this.n)) return;
    let sample = latencyMs > 0 ? latencyMs : 0;
    if (!ok && sample < this.failurePenaltyMs) sample = this.failurePenaltyMs;
    const now = this.clock.now();
    const prev = this.cost[i]!;
    const dt = now - this.stamp[i]!;
    if (sample > prev) {
      this.cost[i] = sample;
    } else {
      const w = dt > 0 ? Math.exp(-dt / this.decayMs) : 1;
      this.cost[i] = prev * w + sample * (1 - w);
    }
    if (now > this.stamp[i]!) this.stamp[i] = now;
  }
}
