// The runtime form of one configured upstream: its targets (each with a pooled transport) and
// the balancer that picks one per request.
import type { Pool } from 'undici';
import type { LoadBalancing, UpstreamConfig } from '../config/types.ts';

export interface TargetRuntime {
  /** `host:port`, used in metrics and logs. */
  readonly id: string;
  readonly pool: Pool;
  readonly poolKey: string;
  readonly weight: number;
  /** The Host header to send when the upstream does not preserve the client's. */
  readonly authority: string;
}

export interface Balancer {
  /** Index of the next target, or -1 when there is none. Never loops. */
  next(): number;
}

/** Plain round-robin over the targets. */
export function roundRobin(count: number): Balancer {
  let i = -1;
  return {
    next() {
      if (count === 0) return -1;
      i = i + 1 >= count ? 0 : i + 1;
      return i;
    },
  };
}

/**
 * Smooth weighted round-robin (nginx): each pick adds every weight to its current value, takes the
 * largest, and subtracts the total from it. Spreads a 5:1:1 pool as a,a,b,a,c,a,a rather than in bursts.
 */
export function smoothWeighted(weights: readonly number[]): Balancer {
  const current = new Float64Array(weights.length);
  let total = 0;
  for (const w of weights) total += w;
  return {
    next() {
      let best = -1;
      let bestValue = -Infinity;
      for (let i = 0; i < weights.length; i++) {
        const v = (current[i] as number) + (weights[i] as number);
        current[i] = v;
        if (v > bestValue) { bestValue = v; best = i; }
      }
      if (best >= 0) current[best] = (current[best] as number) - total;
      return best;
    },
  };
}

export function createBalancer(algorithm: LoadBalancing, weights: readonly number[]): Balancer {
  switch (algorithm) {
    case 'round_robin': return roundRobin(weights.length);
    case 'weighted': return smoothWeighted(weights);
  }
}

export class UpstreamRuntime {
  readonly id: string;
  readonly config: UpstreamConfig;
  readonly targets: readonly TargetRuntime[];
  private readonly balancer: Balancer;

  constructor(config: UpstreamConfig, targets: readonly TargetRuntime[]) {
    this.id = config.id;
    this.config = config;
    this.targets = targets;
    this.balancer = createBalancer(config.loadBalancing, targets.map((t) => t.weight));
  }

  pick(): TargetRuntime | null {
    const i = this.balancer.next();
    return i < 0 ? null : (this.targets[i] ?? null);
  }
}
