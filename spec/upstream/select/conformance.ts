// Shared conformance suite run against every Selector implementation (see conformance.test.ts).
// Over arbitrary endpoint sets, weights, availability, in-flight counts, exclusions and request
// contexts: the pick is an eligible index or -1, -1 only when nothing is eligible, and the work per
// pick (calls to `available`) is bounded.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createManualClock } from '../../../src/upstream/health/clock.ts';
import type { ManualClock } from '../../../src/upstream/health/clock.ts';
import type { Endpoint, EndpointState, SelectContext, Selector } from '../../../src/upstream/select/types.ts';

export interface ConformanceTarget {
  readonly name: string;
  /** Builds the selector under test; `rng` and `clock` are deterministic fakes from the run. */
  build(endpoints: readonly Endpoint[], deps: { rng: () => number; clock: ManualClock }): Selector;
  /** Upper bound on `available()` calls per pick for this endpoint set. */
  maxProbes(endpoints: readonly Endpoint[]): number;
  /** Cookie header values worth sending (e.g. valid sticky values), by endpoint list. */
  cookies?(endpoints: readonly Endpoint[]): string[];
}

const endpointsArb = fc
  .array(fc.record({ port: fc.integer({ min: 1, max: 65535 }), weight: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 8 }), fc.double({ min: 0.1, max: 5, noNaN: true })) }), {
    minLength: 0,
    maxLength: 12,
    size: 'max',
  })
  .map((ts) => {
    const seen = new Set<number>();
    const out: Endpoint[] = [];
    for (const t of ts) {
      if (seen.has(t.port)) continue;
      seen.add(t.port);
      out.push({ id: `10.0.0.${out.length}:${t.port}`, host: `10.0.0.${out.length}`, port: t.port, weight: t.weight, index: out.length });
    }
    return out;
  });

const ctxArb = (cookieValues: string[]): fc.Arbitrary<SelectContext> =>
  fc.record({
    clientIp: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('')),
    path: fc.oneof(fc.constant('/'), fc.webPath()),
    query: fc.oneof(fc.constant(null), fc.string(), fc.constant('user=42&x=1')),
    headers: fc.record(
      {
        'x-user': fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 })),
        cookie: fc.oneof(fc.string(), fc.constantFrom(...cookieValues.map((v) => `SERVERID=${v}`), 'SERVERID=bogus', 'a=b; SERVERID=x')),
      },
      { requiredKeys: [] },
    ),
  });

interface Step {
  available: boolean[];
  inFlight: number[];
  exclude: number[];
  ctx: SelectContext;
  /** Report an outcome for the pick: latency, ok. */
  latencyMs: number;
  ok: boolean;
  advanceMs: number;
}

/** Counts `available()` calls so the test can bound the work per pick. */
class CountingState implements EndpointState {
  calls = 0;
  avail: boolean[] = [];
  load: number[] = [];
  available(i: number): boolean {
    this.calls++;
    if (!Number.isInteger(i) || i < 0 || i >= this.avail.length) throw new Error(`available(${i}) out of range`);
    return this.avail[i]!;
  }
  inFlight(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.load.length) throw new Error(`inFlight(${i}) out of range`);
    return this.load[i]!;
  }
}

export function runSelectorConformance(target: ConformanceTarget): void {
  describe(`selector conformance: ${target.name}`, () => {
    it('picks an eligible endpoint, or -1 only when none is eligible, with bounded work', () => {
      fc.assert(
        fc.property(
          endpointsArb.chain((endpoints) => {
            const n = endpoints.length;
            const cookies = target.cookies?.(endpoints) ?? [];
            const step: fc.Arbitrary<Step> = fc.record({
              available: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
              inFlight: fc.array(fc.nat(20), { minLength: n, maxLength: n }),
              exclude: n === 0 ? fc.constant([]) : fc.array(fc.nat(n - 1), { maxLength: n }),
              ctx: ctxArb(cookies.length > 0 ? cookies : ['none']),
              latencyMs: fc.nat(2000),
              ok: fc.boolean(),
              advanceMs: fc.nat(5000),
            });
            return fc.tuple(fc.constant(endpoints), fc.array(step, { minLength: 1, maxLength: 25, size: 'max' }), fc.integer());
          }),
          ([endpoints, steps, seed]) => {
            const clock = createManualClock(1_000);
            let s = seed >>> 0;
            const rng = (): number => {
              s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
              return s / 2 ** 32;
            };
            const selector = target.build(endpoints, { rng, clock });
            const state = new CountingState();
            const n = endpoints.length;
            const probeBound = target.maxProbes(endpoints);
            for (const st of steps) {
              state.avail = st.available;
              state.load = st.inFlight;
              state.calls = 0;
              const exclude = new Set(st.exclude);
              const pick = selector.select(st.ctx, state, exclude.size > 0 ? exclude : undefined);
              const anyEligible = st.available.some((a, i) => a && !exclude.has(i));
              expect(Number.isInteger(pick)).toBe(true);
              if (pick === -1) {
                expect(anyEligible).toBe(false);
              } else {
                expect(pick).toBeGreaterThanOrEqual(0);
                expect(pick).toBeLessThan(n);
                expect(st.available[pick]).toBe(true);
                expect(exclude.has(pick)).toBe(false);
              }
              expect(state.calls).toBeLessThanOrEqual(probeBound);
              if (pick >= 0) selector.onResult?.(pick, st.latencyMs, st.ok);
              clock.advance(st.advanceMs);
            }
          },
        ),
        { numRuns: 150 },
      );
    });

    it('without exclusions and with everything available, never returns -1 for a non-empty set', () => {
      fc.assert(
        fc.property(endpointsArb.filter((e) => e.length > 0), fc.integer(), (endpoints, seed) => {
          let s = seed >>> 0;
          const rng = (): number => {
            s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
            return s / 2 ** 32;
          };
          const selector = target.build(endpoints, { rng, clock: createManualClock(0) });
          const state: EndpointState = { available: () => true, inFlight: () => 0 };
          const ctx: SelectContext = { clientIp: '192.0.2.1', path: '/', headers: {}, query: null };
          for (let k = 0; k < 3 * endpoints.length; k++) {
            const p = selector.select(ctx, state);
            expect(p).toBeGreaterThanOrEqual(0);
            expect(p).toBeLessThan(endpoints.length);
          }
        }),
        { numRuns: 100 },
      );
    });

    it('excluding all but one eligible endpoint yields that endpoint (a retry finds the survivor)', () => {
      fc.assert(
        fc.property(
          endpointsArb.filter((e) => e.length > 0).chain((e) => fc.tuple(fc.constant(e), fc.nat(e.length - 1))),
          ([endpoints, survivor]) => {
            const selector = target.build(endpoints, { rng: () => 0.5, clock: createManualClock(0) });
            const state: EndpointState = { available: () => true, inFlight: () => 0 };
            const exclude = new Set(endpoints.map((e) => e.index).filter((i) => i !== survivor));
            const ctx: SelectContext = { clientIp: '198.51.100.7', path: '/a', headers: {}, query: null };
            expect(selector.select(ctx, state, exclude)).toBe(survivor);
          },
        ),
        { numRuns: 100 },
      );
    });
  });
}
