// Load-independent and load-aware selectors that need no request key: round_robin, weighted
// (smooth weighted round-robin), least_connections, weighted_least_connections, random, p2c.
// Every scan visits each endpoint at most a fixed number of times.

import { eligible } from './hash.ts';
import type { Algorithm, Endpoint, EndpointState, SelectContext, Selector } from './types.ts';

export class RoundRobinSelector implements Selector {
  readonly algorithm: Algorithm = 'round_robin';
  private readonly n: number;
  private cursor = 0;

  constructor(endpoints: readonly Endpoint[]) {
    this.n = endpoints.length;
  }

  select(_ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const n = this.n;
    let i = this.cursor;
    for (let k = 0; k < n; k++) {
      if (i >= n) i = 0;
      if (eligible(state, exclude, i)) {
        this.cursor = i + 1;
        return i;
      }
      i++;
    }
    return -1;
  }
}

/**
 * nginx smooth weighted round-robin: each pick adds every eligible endpoint's weight to its
 * current weight, takes the largest and subtracts the total. Weight-0 endpoints are backups.
 */
export class WeightedSelector implements Selector {
  readonly algorithm: Algorithm = 'weighted';
  private readonly weights: Float64Array;
  private readonly current: Float64Array;
  private readonly backup: RoundRobinSelector;

  constructor(endpoints: readonly Endpoint[]) {
    this.weights = Float64Array.from(endpoints, (e) => e.weight);
    this.current = new Float64Array(endpoints.length);
    this.backup = new RoundRobinSelector(endpoints);
  }

  select(ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const w = this.weights;
    const cw = this.current;
    let total = 0;
    let best = -1;
    let bestCw = -Infinity;
    for (let i = 0; i < w.length; i++) {
      const wi = w[i]!;
      if (wi <= 0 || !eligible(state, exclude, i)) continue;
      const c = cw[i]! + wi;
      cw[i] = c;
      total += wi;
      if (c > bestCw) {
        bestCw = c;
        best = i;
      }
    }
    if (best === -1) return this.backup.select(ctx, state, exclude);
    cw[best] = bestCw - total;
    return best;
  }
}

/** Fewest in-flight requests; ties broken round-robin by a rotating start. */
export class LeastConnectionsSelector implements Selector {
  readonly algorithm: Algorithm = 'least_connections';
  private readonly n: number;
  private start = 0;

  constructor(endpoints: readonly Endpoint[]) {
    this.n = endpoints.length;
  }

  select(_ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const n = this.n;
    if (n === 0) return -1;
    let best = -1;
    let bestLoad = Infinity;
    let i = this.start;
    for (let k = 0; k < n; k++) {
      if (i >= n) i = 0;
      if (eligible(state, exclude, i)) {
        const load = state.inFlight(i);
        if (load < bestLoad || best === -1) {
          bestLoad = load;
          best = i;
        }
      }
      i++;
    }
    this.start = this.start + 1 >= n ? 0 : this.start + 1;
    return best;
  }
}

/**
 * Smallest (inFlight + 1) / weight; ties broken by rotating start. Weight-0 endpoints only when no
 * positive-weight endpoint is eligible.
 */
export class WeightedLeastConnectionsSelector implements Selector {
  readonly algorithm: Algorithm = 'weighted_least_connections';
  private readonly weights: Float64Array;
  private start = 0;

  constructor(endpoints: readonly Endpoint[]) {
    this.weights = Float64Array.from(endpoints, (e) => e.weight);
  }

  select(_ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const w = this.weights;
    const n = w.length;
    if (n === 0) return -1;
    let best = -1;
    let bestCost = Infinity;
    let bestIsBackup = true;
    let i = this.start;
    for (let k = 0; k < n; k++) {
      if (i >= n) i = 0;
      if (eligible(state, exclude, i)) {
        const wi = w[i]!;
        const backup = wi <= 0;
        const cost = backup ? state.inFlight(i) : (state.inFlight(i) + 1) / wi;
        if (best === -1 || (bestIsBackup && !backup) || (backup === bestIsBackup && cost < bestCost)) {
          best = i;
          bestCost = cost;
          bestIsBackup = backup;
        }
      }
      i++;
    }
    this.start = this.start + 1 >= n ? 0 : this.start + 1;
    return best;
  }
}

/** Index in [0, n) from a uniform [0, 1) source, robust to a source that returns 1 or garbage. */
export function randomIndex(rng: () => number, n: number): number {
  const r = Math.floor(rng() * n);
  return r >= 0 && r < n ? r : 0;
}

/** First eligible endpoint scanning forward from `from` (wrapping), skipping `skip`; -1 if none. */
export function scanFrom(
  state: EndpointState,
  exclude: ReadonlySet<number> | undefined,
  n: number,
  from: number,
  skip: number,
): number {
  let i = from;
  for (let k = 0; k < n; k++) {
    if (i >= n) i = 0;
    if (i !== skip && eligible(state, exclude, i)) return i;
    i++;
  }
  return -1;
}

/** Uniform random among eligible endpoints when the first probe hits; else the next eligible one. */
export class RandomSelector implements Selector {
  readonly algorithm: Algorithm = 'random';
  private readonly n: number;
  private readonly rng: () => number;

  constructor(endpoints: readonly Endpoint[], rng: () => number) {
    this.n = endpoints.length;
    this.rng = rng;
  }

  select(_ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const n = this.n;
    if (n === 0) return -1;
    // A second random probe before the scan keeps the distribution near-uniform when few are down.
    const a = randomIndex(this.rng, n);
    if (eligible(state, exclude, a)) return a;
    const b = randomIndex(this.rng, n);
    return scanFrom(state, exclude, n, b, -1);
  }
}

/** Power of two choices: two distinct random eligible endpoints, the less loaded wins. */
export class P2cSelector implements Selector {
  readonly algorithm: Algorithm = 'p2c';
  private readonly n: number;
  private readonly rng: () => number;

  constructor(endpoints: readonly Endpoint[], rng: () => number) {
    this.n = endpoints.length;
    this.rng = rng;
  }

  select(_ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const n = this.n;
    if (n === 0) return -1;
    const a = scanFrom(state, exclude, n, randomIndex(this.rng, n), -1);
    if (a === -1) return -1;
    const b = scanFrom(state, exclude, n, randomIndex(this.rng, n), a);
    if (b === -1) return a;
    return state.inFlight(b) < state.inFlight(a) ? b : a;
  }
}
