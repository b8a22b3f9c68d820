// Algorithm-specific behaviour: weight convergence, consistent-hash and maglev disruption and
// balance, ip_hash stability, load awareness of least_connections / p2c / peak_ewma.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createManualClock } from '../../../src/upstream/health/clock.ts';
import { createSelector, makeEndpoints } from '../../../src/upstream/select/create-selector.ts';
import { MAX_RING_POINTS, buildMaglevTable, buildRing } from '../../../src/upstream/select/hashing.ts';
import type { Endpoint, EndpointState, SelectContext } from '../../../src/upstream/select/types.ts';

const ALL: EndpointState = { available: () => true, inFlight: () => 0 };
const ctx = (clientIp = '192.0.2.10', extra: Partial<SelectContext> = {}): SelectContext => ({ clientIp, path: '/', headers: {}, query: null, ...extra });

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function endpointsOf(weights: readonly number[]): Endpoint[] {
  return makeEndpoints(weights.map((weight, i) => ({ host: `10.2.0.${i + 1}`, port: 8000 + i, weight })));
}

/** Removes endpoint `drop` and re-indexes. */
function without(eps: readonly Endpoint[], drop: number): Endpoint[] {
  return eps.filter((e) => e.index !== drop).map((e, index) => ({ ...e, index }));
}

const keyArb = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 24 }), { minLength: 1500, maxLength: 1500 });

describe('weighted (smooth weighted round-robin)', () => {
  it('every window of sum(weights) picks gives each endpoint exactly its weight', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 8 }), (weights) => {
        const sel = createSelector('weighted', endpointsOf(weights));
        const total = weights.reduce((a, b) => a + b, 0);
        for (let round = 0; round < 3; round++) {
          const counts = new Array<number>(weights.length).fill(0);
          for (let k = 0; k < total; k++) counts[sel.select(ctx(), ALL)]!++;
          expect(counts).toEqual(weights);
        }
      }),
    );
  });

  it('spreads picks (5:1:1 is not a burst of five)', () => {
    const sel = createSelector('weighted', endpointsOf([5, 1, 1]));
    const seq = Array.from({ length: 7 }, () => sel.select(ctx(), ALL));
    expect(seq).toEqual([0, 0, 1, 0, 2, 0, 0]);
  });

  it('converges to the weights of the available endpoints only', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 10 }), fc.boolean()), { minLength: 2, maxLength: 8 }).filter((a) => a.some(([, up]) => up)),
        (spec) => {
          const weights = spec.map(([w]) => w);
          const state: EndpointState = { available: (i) => spec[i]![1], inFlight: () => 0 };
          const sel = createSelector('weighted', endpointsOf(weights));
          const upTotal = spec.reduce((a, [w, up]) => a + (up ? w : 0), 0);
          const picks = upTotal * 50;
          const counts = new Array<number>(weights.length).fill(0);
          for (let k = 0; k < picks; k++) counts[sel.select(ctx(), state)]!++;
          spec.forEach(([w, up], i) => {
            if (!up) expect(counts[i]).toBe(0);
            else expect(Math.abs(counts[i]! / picks - w / upTotal)).toBeLessThanOrEqual(1 / picks + 1e-9);
          });
        },
      ),
    );
  });

  it('weight-0 endpoints are backups, used only when no weighted endpoint is eligible', () => {
    const sel = createSelector('weighted', endpointsOf([0, 3, 0]));
    for (let k = 0; k < 20; k++) expect(sel.select(ctx(), ALL)).toBe(1);
    const down1: EndpointState = { available: (i) => i !== 1, inFlight: () => 0 };
    const seen = new Set(Array.from({ length: 6 }, () => sel.select(ctx(), down1)));
    expect(seen).toEqual(new Set([0, 2]));
  });
});

describe('weighted_least_connections', () => {
  it('share of picks converges to the weights under steady concurrency', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 2, maxLength: 5 }), (weights) => {
        const sel = createSelector('weighted_least_connections', endpointsOf(weights));
        const total = weights.reduce((a, b) => a + b, 0);
        const load = new Array<number>(weights.length).fill(0);
        const state: EndpointState = { available: () => true, inFlight: (i) => load[i]! };
        const concurrency = total * 4;
        const queue: number[] = [];
        const counts = new Array<number>(weights.length).fill(0);
        const picks = total * 400;
        for (let k = 0; k < picks; k++) {
          const i = sel.select(ctx(), state);
          counts[i]!++;
          load[i]!++;
          queue.push(i);
          if (queue.length >= concurrency) load[queue.shift()!]!--; // oldest request completes
        }
        weights.forEach((w, i) => expect(Math.abs(counts[i]! / picks - w / total)).toBeLessThan(0.03));
      }),
      { numRuns: 50 },
    );
  });
});

describe('least_connections and p2c prefer the less loaded', () => {
  it('least_connections picks a minimum-load eligible endpoint', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(50), fc.boolean()), { minLength: 1, maxLength: 10 }), (spec) => {
        const sel = createSelector('least_connections', endpointsOf(spec.map(() => 1)));
        const state: EndpointState = { available: (i) => spec[i]![1], inFlight: (i) => spec[i]![0] };
        const pick = sel.select(ctx(), state);
        const eligibleLoads = spec.filter(([, up]) => up).map(([l]) => l);
        if (eligibleLoads.length === 0) expect(pick).toBe(-1);
        else expect(spec[pick]![0]).toBe(Math.min(...eligibleLoads));
      }),
    );
  });

  it('least_connections rotates among equally loaded endpoints', () => {
    const sel = createSelector('least_connections', endpointsOf([1, 1, 1]));
    const seen = new Set(Array.from({ length: 3 }, () => sel.select(ctx(), ALL)));
    expect(seen.size).toBe(3);
  });

  it('p2c never picks the unique most loaded endpoint while two are eligible', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(30), { minLength: 2, maxLength: 10 }), fc.integer(), (loads, seed) => {
        const max = Math.max(...loads);
        fc.pre(loads.filter((l) => l === max).length === 1);
        const worst = loads.indexOf(max);
        const sel = createSelector('p2c', endpointsOf(loads.map(() => 1)), { rng: lcg(seed) });
        const state: EndpointState = { available: () => true, inFlight: (i) => loads[i]! };
        for (let k = 0; k < 50; k++) expect(sel.select(ctx(), state)).not.toBe(worst);
      }),
    );
  });

  it('p2c sends most traffic to the idle endpoint of a busy pool', () => {
    const sel = createSelector('p2c', endpointsOf([1, 1, 1]), { rng: lcg(7) });
    const state: EndpointState = { available: () => true, inFlight: (i) => (i === 1 ? 0 : 9) };
    let idle = 0;
    for (let k = 0; k < 3000; k++) if (sel.select(ctx(), state) === 1) idle++;
    expect(idle / 3000).toBeGreaterThan(0.6); // 2/3 expected: it wins every pair it is in
  });
});

describe('consistent_hash (ketama)', () => {
  it('removing an endpoint moves only its keys, about 1/N of them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 20 }), fc.nat(), keyArb, (n, dropSeed, keys) => {
        const eps = endpointsOf(new Array<number>(n).fill(1));
        const drop = dropSeed % n;
        const a = createSelector('consistent_hash', eps, { hashKey: 'path' });
        const rest = without(eps, drop);
        const b = createSelector('consistent_hash', rest, { hashKey: 'path' });
        let moved = 0;
        for (const k of keys) {
          const before = eps[a.select(ctx('', { path: k }), ALL)]!.id;
          const after = rest[b.select(ctx('', { path: k }), ALL)]!.id;
          if (before !== after) {
            moved++;
            expect(before).toBe(eps[drop]!.id); // only the removed endpoint's keys move
          }
        }
        expect(moved / keys.length).toBeLessThanOrEqual(1.6 / n + 0.03);
      }),
      { numRuns: 30 },
    );
  });

  it('adding an endpoint moves keys only to it, about 1/(N+1) of them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 20 }), keyArb, (n, keys) => {
        const grown = endpointsOf(new Array<number>(n + 1).fill(1));
        const eps = grown.slice(0, n);
        const a = createSelector('consistent_hash', eps, { hashKey: 'header:x-key' });
        const b = createSelector('consistent_hash', grown, { hashKey: 'header:x-key' });
        let moved = 0;
        for (const k of keys) {
          const c = ctx('', { headers: { 'x-key': k } });
          const before = eps[a.select(c, ALL)]!.id;
          const after = grown[b.select(c, ALL)]!.id;
          if (before !== after) {
            moved++;
            expect(after).toBe(grown[n]!.id);
          }
        }
        expect(moved / keys.length).toBeLessThanOrEqual(1.6 / (n + 1) + 0.03);
      }),
      { numRuns: 30 },
    );
  });

  it('an unavailable owner sends its keys elsewhere without moving other keys', () => {
    const eps = endpointsOf([1, 1, 1, 1, 1]);
    const sel = createSelector('consistent_hash', eps, { hashKey: 'cookie:session' });
    const down: EndpointState = { available: (i) => i !== 2, inFlight: () => 0 };
    for (let k = 0; k < 500; k++) {
      const c = ctx('', { headers: { cookie: `session=s${k}` } });
      const normal = sel.select(c, ALL);
      const degraded = sel.select(c, down);
      if (normal !== 2) expect(degraded).toBe(normal);
      else expect(degraded).not.toBe(2);
    }
  });

  it('ring has 160 points per unit weight and shares follow weights', () => {
    const eps = endpointsOf([1, 2, 1]);
    const ring = buildRing(eps);
    expect(ring.hashes.length).toBe(160 * 4);
    const counts = [0, 0, 0];
    for (const o of ring.owners) counts[o]!++;
    expect(counts).toEqual([160, 320, 160]);
    const sel = createSelector('consistent_hash', eps, { hashKey: 'path' });
    const picks = [0, 0, 0];
    for (let k = 0; k < 8000; k++) picks[sel.select(ctx('', { path: `/k/${k}` }), ALL)]!++;
    expect(picks[1]! / 8000).toBeGreaterThan(0.38);
    expect(picks[1]! / 8000).toBeLessThan(0.62);
  });

  it('large weights are scaled to a bounded ring, keeping proportions', () => {
    const ring = buildRing(endpointsOf([1_000, 3_000, 10_000]));
    expect(ring.hashes.length).toBeLessThanOrEqual(MAX_RING_POINTS + 12);
    const counts = [0, 0, 0];
    for (const o of ring.owners) counts[o]!++;
    expect(counts[1]! / counts[0]!).toBeCloseTo(3, 2);
    expect(counts[2]! / counts[0]!).toBeCloseTo(10, 2);
  });

  it('a missing key falls back to the client IP (stable per client)', () => {
    const sel = createSelector('consistent_hash', endpointsOf([1, 1, 1, 1]), { hashKey: 'query:user' });
    for (let k = 0; k < 50; k++) {
      const ip = `203.0.113.${k}`;
      const viaIpKey = createSelector('consistent_hash', endpointsOf([1, 1, 1, 1]), { hashKey: 'client-ip' }).select(ctx(ip), ALL);
      expect(sel.select(ctx(ip, { query: 'other=1' }), ALL)).toBe(viaIpKey);
      expect(sel.select(ctx(ip, { query: null }), ALL)).toBe(viaIpKey);
    }
    // The key decides when present: same user, different IPs, same endpoint.
    const a = sel.select(ctx('198.51.100.1', { query: 'user=alice' }), ALL);
    for (let k = 0; k < 20; k++) expect(sel.select(ctx(`198.51.100.${k}`, { query: 'x=1&user=alice' }), ALL)).toBe(a);
  });
});

describe('maglev', () => {
  it('the 65537-entry table is balanced: equal weights differ by at most one entry', () => {
    for (const n of [1, 2, 3, 7, 10, 100]) {
      const table = buildMaglevTable(endpointsOf(new Array<number>(n).fill(1)));
      expect(table.length).toBe(65_537);
      const counts = new Array<number>(n).fill(0);
      for (const o of table) counts[o]!++;
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(65_537);
    }
  });

  it('weighted table shares are within 1% of the weights', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 8 }), (weights) => {
        const table = buildMaglevTable(endpointsOf(weights));
        const total = weights.reduce((a, b) => a + b, 0);
        const counts = new Array<number>(weights.length).fill(0);
        for (const o of table) counts[o]!++;
        weights.forEach((w, i) => expect(Math.abs(counts[i]! / table.length - w / total)).toBeLessThan(0.01));
      }),
      { numRuns: 20 },
    );
  });

  it('removing a backend disrupts about 1/N of the table (minimal disruption)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 60 }), fc.nat(), (n, dropSeed) => {
        const eps = endpointsOf(new Array<number>(n).fill(1));
        const drop = dropSeed % n;
        const rest = without(eps, drop);
        const a = buildMaglevTable(eps);
        const b = buildMaglevTable(rest);
        let changed = 0;
        for (let k = 0; k < a.length; k++) if (eps[a[k]!]!.id !== rest[b[k]!]!.id) changed++;
        expect(changed / a.length).toBeLessThanOrEqual(1.2 / n + 0.01);
      }),
      { numRuns: 15 },
    );
  });

  it('the table does not depend on the order of the endpoints', () => {
    const eps = endpointsOf([1, 1, 1, 1]);
    const reversed = [...eps].reverse().map((e, index) => ({ ...e, index }));
    const a = buildMaglevTable(eps, 251);
    const b = buildMaglevTable(reversed, 251);
    for (let k = 0; k < a.length; k++) expect(eps[a[k]!]!.id).toBe(reversed[b[k]!]!.id);
  });

  it('lookups are stable per key and an unavailable owner only moves its own keys', () => {
    const eps = endpointsOf([1, 1, 1]);
    const sel = createSelector('maglev', eps, { hashKey: 'header:x-tenant' });
    const down: EndpointState = { available: (i) => i !== 0, inFlight: () => 0 };
    for (let k = 0; k < 300; k++) {
      const c = ctx('', { headers: { 'x-tenant': `t${k}` } });
      const p = sel.select(c, ALL);
      expect(sel.select(c, ALL)).toBe(p);
      const q = sel.select(c, down);
      if (p !== 0) expect(q).toBe(p);
      else expect(q).not.toBe(0);
    }
  });
});

describe('ip_hash', () => {
  it('is stable per client IP and across selector instances', () => {
    fc.assert(
      fc.property(fc.array(fc.ipV4(), { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 12 }), (ips, n) => {
        const eps = endpointsOf(new Array<number>(n).fill(1));
        const a = createSelector('ip_hash', eps);
        const b = createSelector('ip_hash', eps);
        for (const ip of ips) {
          const p = a.select(ctx(ip), ALL);
          expect(a.select(ctx(ip), ALL)).toBe(p);
          expect(b.select(ctx(ip), ALL)).toBe(p);
        }
      }),
    );
  });

  it('an unavailable endpoint moves only its own clients, and spreads them', () => {
    const eps = endpointsOf([1, 1, 1, 1]);
    const sel = createSelector('ip_hash', eps);
    const down: EndpointState = { available: (i) => i !== 3, inFlight: () => 0 };
    const moved = [0, 0, 0, 0];
    for (let k = 0; k < 2000; k++) {
      const ip = `10.${k >> 8}.${k & 255}.1`;
      const p = sel.select(ctx(ip), ALL);
      const q = sel.select(ctx(ip), down);
      if (p !== 3) expect(q).toBe(p);
      else moved[q]!++;
    }
    expect(moved.filter((m) => m > 0).length).toBe(3); // rehashing spreads, not all to a neighbour
  });

  it('spreads distinct clients roughly evenly', () => {
    const sel = createSelector('ip_hash', endpointsOf([1, 1, 1]));
    const counts = [0, 0, 0];
    for (let k = 0; k < 6000; k++) counts[sel.select(ctx(`172.16.${k >> 8}.${k & 255}`), ALL)]!++;
    for (const c of counts) expect(Math.abs(c / 6000 - 1 / 3)).toBeLessThan(0.05);
  });
});

describe('peak_ewma', () => {
  function simulate(algorithm: 'peak_ewma' | 'adaptive', latencyOf: (i: number, t: number) => number, picks: number, seed = 3, countFrom = 0) {
    const clock = createManualClock(0);
    const sel = createSelector(algorithm, endpointsOf([1, 1, 1]), { rng: lcg(seed), clock, ewmaDecayMs: 10_000 });
    const counts = [0, 0, 0];
    for (let k = 0; k < picks; k++) {
      const i = sel.select(ctx(), ALL);
      if (k >= countFrom) counts[i]!++;
      clock.advance(5);
      sel.onResult!(i, latencyOf(i, clock.now()), true);
    }
    return { counts, sel, clock };
  }

  it('avoids a slow endpoint', () => {
    const { counts } = simulate('peak_ewma', (i) => (i === 2 ? 500 : 10), 3000);
    expect(counts[2]! / 3000).toBeLessThan(0.05);
    expect(counts[0]! + counts[1]!).toBeGreaterThan(2850);
  });

  it('adaptive is the same algorithm', () => {
    const { counts } = simulate('adaptive', (i) => (i === 0 ? 800 : 20), 2000, 11);
    expect(counts[0]! / 2000).toBeLessThan(0.05);
  });

  it('probes a recovered endpoint again once its cost decays', () => {
    // Slow (100× the others) for the first 10 s of simulated time, fast afterwards. Its 1000 ms
    // cost decays below the others' 10 ms after ~10 s × ln(100) ≈ 46 s without observations;
    // from then on it is observed fast again. Count the picks from 100 s to 150 s.
    const { counts } = simulate('peak_ewma', (i, t) => (i === 2 && t < 10_000 ? 1000 : 10), 30_000, 3, 20_000);
    expect(counts[2]! / 10_000).toBeGreaterThan(0.2);
  });

  it('prefers fewer in-flight requests at equal latency, and failures count as slow', () => {
    const clock = createManualClock(0);
    const sel = createSelector('peak_ewma', endpointsOf([1, 1]), { rng: lcg(1), clock });
    sel.onResult!(0, 20, true);
    sel.onResult!(1, 20, true);
    const busy0: EndpointState = { available: () => true, inFlight: (i) => (i === 0 ? 5 : 0) };
    for (let k = 0; k < 20; k++) expect(sel.select(ctx(), busy0)).toBe(1);
    sel.onResult!(1, 1, false); // failure: penalised to failurePenaltyMs
    for (let k = 0; k < 20; k++) expect(sel.select(ctx(), ALL)).toBe(0);
  });
});
