// Load-balancing algorithm names: the one table that config validation and the selectors share
// (config may not import upstream/, both may import core).

export const ALGORITHMS = [
  'round_robin',
  'weighted',
  'least_connections',
  'weighted_least_connections',
  'random',
  'p2c',
  'ip_hash',
  'consistent_hash',
  'maglev',
  'peak_ewma',
  'adaptive',
  'sticky',
] as const;

export type Algorithm = (typeof ALGORITHMS)[number];

/** Zentinel's alternative spellings, after normalisation (lower case, '-' read as '_'). */
export const ALGORITHM_ALIASES: Readonly<Record<string, Algorithm>> = {
  roundrobin: 'round_robin',
  weighted_round_robin: 'weighted',
  leastconnections: 'least_connections',
  least_conn: 'least_connections',
  weighted_least_conn: 'weighted_least_connections',
  wlc: 'weighted_least_connections',
  power_of_two_choices: 'p2c',
  iphash: 'ip_hash',
  consistenthash: 'consistent_hash',
  peakewma: 'peak_ewma',
  ewma: 'peak_ewma',
  sticky_session: 'sticky',
  stickysession: 'sticky',
};

export function normalizeAlgorithmName(name: string): string {
  return name.trim().toLowerCase().replaceAll('-', '_');
}

/**
 * Canonical algorithm for a configured name (case-insensitive, '-' read as '_', known aliases), or
 * null: an unknown name is a config error, never a silent fallback.
 */
export function parseAlgorithm(name: string): Algorithm | null {
  const n = normalizeAlgorithmName(name);
  if ((ALGORITHMS as readonly string[]).includes(n)) return n as Algorithm;
  return Object.hasOwn(ALGORITHM_ALIASES, n) ? (ALGORITHM_ALIASES[n] ?? null) : null;
}
