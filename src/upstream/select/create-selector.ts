// The one entry point: validate options, build the selector for an algorithm. Building may cost
// (ring points, maglev table, HMACs): do it at config compile time, never per request.

import { monotonicClock } from '../health/clock.ts';
import {
  LeastConnectionsSelector,
  P2cSelector,
  RandomSelector,
  RoundRobinSelector,
  WeightedLeastConnectionsSelector,
  WeightedSelector,
} from './basic.ts';
import { parseHashKey } from './hash.ts';
import { ConsistentHashSelector, IpHashSelector, MaglevSelector, isPrime } from './hashing.ts';
import { PeakEwmaSelector } from './peak-ewma.ts';
import { StickySelector, resolveSticky, validateSticky } from './sticky.ts';
import { ALGORITHMS } from './types.ts';
import type { Algorithm, Endpoint, Selector, SelectorOptions } from './types.ts';

export { parseAlgorithm } from '../../core/load-balancing.ts';

/** Every problem with an endpoint set and options for `algorithm`; empty when valid. */
export function validateSelector(algorithm: Algorithm, endpoints: readonly Endpoint[], options: SelectorOptions = {}): string[] {
  const errors: string[] = [];
  if (!(ALGORITHMS as readonly string[]).includes(algorithm)) errors.push(`unknown load-balancing algorithm ${JSON.stringify(algorithm)}`);
  const ids = new Set<string>();
  endpoints.forEach((e, i) => {
    if (e.index !== i) errors.push(`endpoint ${e.id} has index ${e.index}, expected ${i}`);
    if (!Number.isFinite(e.weight) || e.weight < 0) errors.push(`endpoint ${e.id} weight must be a finite number >= 0`);
    if (ids.has(e.id)) errors.push(`duplicate endpoint id ${e.id}`);
    ids.add(e.id);
  });
  if (options.hashKey !== undefined && parseHashKey(options.hashKey) === null) {
    errors.push(`invalid hash key ${JSON.stringify(options.hashKey)}: expected client-ip, path, header:NAME, cookie:NAME or query:NAME`);
  }
  const size = options.maglevTableSize ?? 65_537;
  if (algorithm === 'maglev' && (!isPrime(size) || size <= endpoints.length)) {
    errors.push(`maglev table size ${size} must be a prime larger than the endpoint count`);
  }
  if (options.ewmaDecayMs !== undefined && !(options.ewmaDecayMs > 0)) errors.push('ewmaDecayMs must be > 0');
  if (options.failurePenaltyMs !== undefined && !(options.failurePenaltyMs >= 0)) errors.push('failurePenaltyMs must be >= 0');
  if (options.ringPointsPerWeight !== undefined && !(Number.isInteger(options.ringPointsPerWeight) && options.ringPointsPerWeight >= 4)) {
    errors.push('ringPointsPerWeight must be an integer >= 4');
  }
  if (algorithm === 'sticky') errors.push(...validateSticky(resolveSticky(options.sticky)));
  return errors;
}

/** Builds a selector; throws a RangeError listing every problem when the input is invalid. */
export function createSelector(algorithm: Algorithm, endpoints: readonly Endpoint[], options: SelectorOptions = {}): Selector {
  const errors = validateSelector(algorithm, endpoints, options);
  if (errors.length > 0) throw new RangeError(errors.join('; '));
  const rng = options.rng ?? Math.random;
  const key = parseHashKey(options.hashKey ?? 'client-ip')!;
  switch (algorithm) {
    case 'round_robin':
      return new RoundRobinSelector(endpoints);
    case 'weighted':
      return new WeightedSelector(endpoints);
    case 'least_connections':
      return new LeastConnectionsSelector(endpoints);
    case 'weighted_least_connections':
      return new WeightedLeastConnectionsSelector(endpoints);
    case 'random':
      return new RandomSelector(endpoints, rng);
    case 'p2c':
      return new P2cSelector(endpoints, rng);
    case 'ip_hash':
      return new IpHashSelector(endpoints);
    case 'consistent_hash':
      return new ConsistentHashSelector(endpoints, key, options.ringPointsPerWeight ?? 160);
    case 'maglev':
      return new MaglevSelector(endpoints, key, options.maglevTableSize ?? 65_537);
    case 'peak_ewma':
    case 'adaptive':
      return new PeakEwmaSelector(
        endpoints,
        rng,
        options.clock ?? monotonicClock,
        options.ewmaDecayMs ?? 10_000,
        options.failurePenaltyMs ?? 1_000,
        algorithm,
      );
    case 'sticky': {
      const sticky = resolveSticky(options.sticky);
      return new StickySelector(endpoints, sticky, createSelector(sticky.fallback, endpoints, options));
    }
  }
}

/** Endpoints from "host:port" + weight pairs, with ids and indexes filled in. */
export function makeEndpoints(targets: readonly { host: string; port: number; weight?: number }[]): Endpoint[] {
  return targets.map((t, index) => ({
    id: t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`,
    host: t.host,
    port: t.port,
    weight: t.weight ?? 1,
    index,
  }));
}
