// Key-affine selectors: ip_hash, consistent_hash (ketama ring) and maglev. The ring and the maglev
// table are built once from endpoint ids (sorted, so the endpoint order does not matter) and are
// independent of availability; at pick time an unavailable owner makes the lookup walk forward to
// the next eligible entry, with a bounded walk.

import { scanFrom } from './basic.ts';
import { eligible, hash32, md5Words, requestKey } from './hash.ts';
import type { HashKeySpec } from './hash.ts';
import type { Algorithm, Endpoint, EndpointState, SelectContext, Selector } from './types.ts';

/** Walk this many entries before checking (O(N)) whether any table owner is eligible at all. */
const QUICK_WALK = 64;
/** ip_hash rehash attempts before a linear scan (nginx uses 20). */
const IP_HASH_TRIES = 20;

/** Hash of the client IP modulo N; an unavailable pick rehashes (bounded), then scans. */
export class IpHashSelector implements Selector {
  readonly algorithm: Algorithm = 'ip_hash';
  private readonly n: number;

  constructor(endpoints: readonly Endpoint[]) {
    this.n = endpoints.length;
  }

  select(ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const n = this.n;
    if (n === 0) return -1;
    const tries = n < IP_HASH_TRIES ? n : IP_HASH_TRIES;
    for (let k = 0; k < tries; k++) {
      const i = hash32(ctx.clientIp, k) % n;
      if (eligible(state, exclude, i)) return i;
    }
    return scanFrom(state, exclude, n, hash32(ctx.clientIp) % n, -1);
  }
}

export interface Ring {
  /** Point hashes, ascending. */
  readonly hashes: Uint32Array;
  /** Endpoint index owning each point. */
  readonly owners: Int32Array;
}

/** Ring size limit; larger weight sums are scaled down proportionally to fit. */
export const MAX_RING_POINTS = 1 << 18;

/**
 * Ketama ring: for each endpoint with weight > 0, round(pointsPerWeight × weight / 4) md5 digests
 * of "id-k", four 32-bit points per digest (160 points per unit weight by default). When
 * pointsPerWeight × Σweight exceeds MAX_RING_POINTS, every endpoint's share is scaled by the same
 * factor (at least one digest each), which keeps the proportions and bounds memory.
 */
export function buildRing(endpoints: readonly Endpoint[], pointsPerWeight = 160): Ring {
  const points: { h: number; owner: number; id: string }[] = [];
  let weightSum = 0;
  for (const e of endpoints) if (e.weight > 0) weightSum += e.weight;
  const scale = Math.min(1, MAX_RING_POINTS / (pointsPerWeight * weightSum));
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i]!;
    if (!(e.weight > 0)) continue;
    const digests = Math.max(1, Math.round((pointsPerWeight * e.weight * scale) / 4));
    for (let k = 0; k < digests; k++) {
      for (const h of md5Words(`${e.id}-${k}`)) points.push({ h, owner: i, id: e.id });
    }
  }
  points.sort((a, b) => a.h - b.h || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    hashes: Uint32Array.from(points, (p) => p.h),
    owners: Int32Array.from(points, (p) => p.owner),
  };
}

/** Index of the first point with hash >= h, wrapping to 0. Ring must be non-empty. */
export function ringSearch(hashes: Uint32Array, h: number): number {
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hashes[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === hashes.length ? 0 : lo;
}

/** Any eligible endpoint with weight > 0 (i.e. present in the ring or table)? */
function anyEligibleWeighted(
  weights: Float64Array,
  state: EndpointState,
  exclude: ReadonlySet<number> | undefined,
): boolean {
  for (let i = 0; i < weights.length; i++) if (weights[i]! > 0 && eligible(state, exclude, i)) return true;
  return false;
}

/**
 * Walks `owners` from `pos` to the first eligible owner. Bounded: QUICK_WALK steps, then one O(N)
 * check, then at most one full lap (which must succeed if the check did). Falls back to a linear
 * scan for weight-0 (backup) endpoints.
 */
function walkTable(
  owners: Int32Array,
  pos: number,
  weights: Float64Array,
  state: EndpointState,
  exclude: ReadonlySet<number> | undefined,
): number {
  const len = owners.length;
  let p = pos;
  const quick = len < QUICK_WALK ? len : QUICK_WALK;
  for (let k = 0; k < quick; k++) {
    const o = owners[p]!;
    if (eligible(state, exclude, o)) return o;
    if (++p === len) p = 0;
  }
  if (quick < len && anyEligibleWeighted(weights, state, exclude)) {
    for (let k = quick; k < len; k++) {
      const o = owners[p]!;
      if (eligible(state, exclude, o)) return o;
      if (++p === len) p = 0;
    }
  }
  return scanFrom(state, exclude, weights.length, pos % weights.length, -1);
}

export class ConsistentHashSelector implements Selector {
  readonly algorithm: Algorithm = 'consistent_hash';
  private readonly ring: Ring;
  private readonly weights: Float64Array;
  private readonly key: HashKeySpec;

  constructor(endpoints: readonly Endpoint[], key: HashKeySpec, pointsPerWeight: number) {
    this.ring = buildRing(endpoints, pointsPerWeight);
    this.weights = Float64Array.from(endpoints, (e) => e.weight);
    this.key = key;
  }

  select(ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const n = this.weights.length;
    if (n === 0) return -1;
    const h = hash32(requestKey(this.key, ctx));
    if (this.ring.hashes.length === 0) return scanFrom(state, exclude, n, h % n, -1);
    return walkTable(this.ring.owners, ringSearch(this.ring.hashes, h), this.weights, state, exclude);
  }
}

/** True when n is prime (trial division; table sizes are small). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev lookup table (Eisenbud et al., NSDI 2016, §3.4): each backend's preference list is the
 * permutation (offset + j × skip) mod M with offset = h1(id) mod M, skip = h2(id) mod (M − 1) + 1.
 * Backends take turns claiming their next preferred free slot until the table is full. Weighted
 * variant: per round a backend gets weight / maxWeight turns (accumulated credit), which is the
 * paper's algorithm when weights are equal. Backends are visited in id order, so the table does
 * not depend on the order of `endpoints`. Entries are endpoint indexes; weight-0 endpoints get none.
 */
export function buildMaglevTable(endpoints: readonly Endpoint[], size = 65_537): Int32Array {
  const table = new Int32Array(size).fill(-1);
  const members = endpoints.filter((e) => e.weight > 0).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const m = members.length;
  if (m === 0) return table;
  const offset = new Float64Array(m);
  const skip = new Float64Array(m);
  const next = new Float64Array(m);
  const credit = new Float64Array(m);
  let maxW = 0;
  for (const e of members) if (e.weight > maxW) maxW = e.weight;
  for (let b = 0; b < m; b++) {
    const [w0, w1] = md5Words(members[b]!.id);
    offset[b] = w0 % size;
    skip[b] = (w1 % (size - 1)) + 1;
  }
  let filled = 0;
  while (true) {
    for (let b = 0; b < m; b++) {
      credit[b] = credit[b]! + members[b]!.weight / maxW;
      while (credit[b]! >= 1) {
        credit[b] = credit[b]! - 1;
        let c = (offset[b]! + next[b]! * skip[b]!) % size;
        while (table[c]! >= 0) {
          next[b] = next[b]! + 1;
          c = (offset[b]! + next[b]! * skip[b]!) % size;
        }
        table[c] = members[b]!.index;
        next[b] = next[b]! + 1;
        if (++filled === size) return table;
      }
    }
  }
}

export class MaglevSelector implements Selector {
  readonly algorithm: Algorithm = 'maglev';
  private readonly table: Int32Array;
  private readonly weights: Float64Array;
  private readonly key: HashKeySpec;
  private readonly hasTable: boolean;

  constructor(endpoints: readonly Endpoint[], key: HashKeySpec, size: number) {
    this.table = buildMaglevTable(endpoints, size);
    this.weights = Float64Array.from(endpoints, (e) => e.weight);
    this.key = key;
    this.hasTable = endpoints.some((e) => e.weight > 0);
  }

  select(ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const n = this.weights.length;
    if (n === 0) return -1;
    const h = hash32(requestKey(this.key, ctx));
    if (!this.hasTable) return scanFrom(state, exclude, n, h % n, -1);
    return walkTable(this.table, h % this.table.length, this.weights, state, exclude);
  }
}
