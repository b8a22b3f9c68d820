// Runs the shared selector conformance suite against every algorithm and a few key/fallback variants.

import { createSelector } from '../../../src/upstream/select/create-selector.ts';
import { buildRing } from '../../../src/upstream/select/hashing.ts';
import { stickyCookieValue } from '../../../src/upstream/select/sticky.ts';
import { ALGORITHMS } from '../../../src/upstream/select/types.ts';
import type { Algorithm, Endpoint, SelectorOptions } from '../../../src/upstream/select/types.ts';
import { runSelectorConformance } from './conformance.ts';

const SECRET = 'conformance-secret';
const linear = (e: readonly Endpoint[]): number => 3 * e.length + 2;
/** Quick walk + eligibility check + one lap of the table + backup scan. */
const table = (size: (e: readonly Endpoint[]) => number) => (e: readonly Endpoint[]): number => 64 + 3 * e.length + size(e) + 2;
const ringSize = (e: readonly Endpoint[]): number => buildRing(e).hashes.length;

function probesFor(algorithm: Algorithm, options: SelectorOptions): (e: readonly Endpoint[]) => number {
  if (algorithm === 'consistent_hash') return table(ringSize);
  if (algorithm === 'maglev') return table(() => options.maglevTableSize ?? 65_537);
  if (algorithm === 'sticky') {
    const inner = probesFor(options.sticky?.fallback ?? 'round_robin', options);
    return (e) => inner(e) + 1;
  }
  return linear;
}

function target(algorithm: Algorithm, options: SelectorOptions = {}, label = ''): void {
  runSelectorConformance({
    name: `${algorithm}${label}`,
    build: (endpoints, { rng, clock }) => createSelector(algorithm, endpoints, { ...options, rng, clock, sticky: { ...options.sticky, secret: SECRET } }),
    maxProbes: probesFor(algorithm, options),
    cookies: (endpoints) => endpoints.map((e) => stickyCookieValue(SECRET, e.id)),
  });
}

for (const algorithm of ALGORITHMS) target(algorithm, algorithm === 'maglev' ? { maglevTableSize: 251 } : {});
target('consistent_hash', { hashKey: 'header:x-user' }, ' (header:x-user)');
target('consistent_hash', { hashKey: 'query:user', ringPointsPerWeight: 8 }, ' (query:user, 8 points)');
target('maglev', { hashKey: 'cookie:SERVERID' }, ' (cookie key, 65537 table)');
target('maglev', { hashKey: 'path', maglevTableSize: 13 }, ' (path, table 13)');
target('sticky', { sticky: { fallback: 'p2c' } }, ' (fallback p2c)');
target('sticky', { sticky: { fallback: 'consistent_hash' }, hashKey: 'header:x-user' }, ' (fallback consistent_hash)');
target('sticky', { sticky: { fallback: 'maglev' }, maglevTableSize: 251 }, ' (fallback maglev)');
