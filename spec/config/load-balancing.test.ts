// `load-balancing "<name>" { options }`: every algorithm of upstream/select, its options, and the
// errors (never a silent fallback). Algorithm names come from one table in src/core; the hash-key
// check in config is pinned to upstream/select's `parseHashKey` by these tests.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { loadConfigText } from '../../src/config/load.ts';
import { formatDiagnostics } from '../../src/config/format.ts';
import { LB_ALGORITHMS, parseHashKeyConfig, parseLoadBalancingName } from '../../src/config/validate.ts';
import type { Diagnostic, LoadBalancing } from '../../src/config/types.ts';
import { parseAlgorithm } from '../../src/upstream/select/create-selector.ts';
import { parseHashKey } from '../../src/upstream/select/hash.ts';
import { ALGORITHMS } from '../../src/upstream/select/types.ts';

const HEAD = `listeners { listener "http" { address "127.0.0.1:0" } }
routes { route "r" { matches { path-prefix "/" }; upstream "u" } }
`;

/** Loads an upstream with the given `load-balancing` line (on line 3). */
function lb(line: string): { value: LoadBalancing | undefined; diagnostics: readonly Diagnostic[] } {
  const r = loadConfigText(`${HEAD}upstreams { upstream "u" { target "127.0.0.1:1"; target "127.0.0.1:2"; ${line} } }`, 'lb.kdl');
  return { value: r.config?.upstreams[0]?.loadBalancing, diagnostics: r.diagnostics };
}

function ok(line: string): LoadBalancing {
  const r = lb(line);
  expect(r.diagnostics, formatDiagnostics(r.diagnostics)).toEqual([]);
  if (r.value === undefined) throw new Error('no config');
  return r.value;
}

/** `code@column: message` of every diagnostic (all on line 3). */
function errs(line: string): string[] {
  const r = lb(line);
  expect(r.value).toBeUndefined();
  return r.diagnostics.map((d) => `${d.code}@${d.line}:${d.column}: ${d.message}${d.hint !== undefined ? ` (${d.hint})` : ''}`);
}

const ALIASES = [
  'roundrobin', 'weighted_round_robin', 'weighted-round-robin', 'leastconnections', 'least_conn', 'least-conn', 'weighted_least_conn', 'wlc',
  'power_of_two_choices', 'iphash', 'consistenthash', 'peakewma', 'ewma', 'sticky_session', 'stickysession', 'Round-Robin', 'P2C', ' maglev ',
];

describe('algorithm names agree with parseAlgorithm', () => {
  it('the canonical lists are the same', () => {
    expect([...LB_ALGORITHMS].sort()).toEqual([...ALGORITHMS].sort());
  });

  it('every canonical name and alias', () => {
    for (const name of [...ALGORITHMS, ...ALIASES]) {
      expect(parseLoadBalancingName(name), name).toBe(parseAlgorithm(name));
      expect(parseAlgorithm(name), name).not.toBeNull();
    }
  });

  it('arbitrary strings', () => {
    const near = fc.constantFrom(...ALGORITHMS, ...ALIASES, 'locality_aware', 'least_tokens', 'x').chain((s) =>
      fc.tuple(fc.constant(s), fc.nat(s.length), fc.string({ maxLength: 2 })).map(([t, at, ins]) => t.slice(0, at) + ins + t.slice(at)));
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 30 }), near), (s) => {
      expect(parseLoadBalancingName(s)).toBe(parseAlgorithm(s));
    }), { numRuns: 2000 });
  });

  it('the loader stores the canonical name', () => {
    for (const name of [...ALGORITHMS, ...ALIASES]) {
      expect(ok(`load-balancing "${name}"`).algorithm, name).toBe(parseAlgorithm(name));
    }
  });
});

describe('hash keys agree with parseHashKey', () => {
  it('accepts exactly what parseHashKey accepts, and stores a key that parses to the same spec', () => {
    const structured = fc.tuple(fc.constantFrom('header', 'cookie', 'query', 'Header', 'headers', 'x', ''), fc.constantFrom(':', '', '::'), fc.string({ maxLength: 8 }))
      .map(([k, c, n]) => `${k}${c}${n}`);
    fc.assert(fc.property(fc.oneof(structured, fc.string({ maxLength: 12 }), fc.constantFrom('client-ip', 'path', 'header:X-User', 'cookie:sid', 'query:q')), (s) => {
      const mine = parseHashKeyConfig(s);
      const theirs = parseHashKey(s);
      expect('key' in mine, s).toBe(theirs !== null);
      if ('key' in mine) expect(parseHashKey(mine.key)).toEqual(theirs);
    }), { numRuns: 2000 });
  });
});

describe('load-balancing options', () => {
  it('defaults: round_robin; hash key client-ip; decay 10 s; sticky defaults', () => {
    const r = loadConfigText(`${HEAD}upstreams { upstream "u" { target "127.0.0.1:1" } }`, 'lb.kdl');
    expect(r.config?.upstreams[0]?.loadBalancing).toEqual({ algorithm: 'round_robin' });
    expect(ok('load-balancing "consistent_hash"')).toEqual({ algorithm: 'consistent_hash', hashKey: 'client-ip' });
    expect(ok('load-balancing "maglev" { }')).toEqual({ algorithm: 'maglev', hashKey: 'client-ip' });
    expect(ok('load-balancing "peak_ewma"')).toEqual({ algorithm: 'peak_ewma', decayMs: 10_000 });
    expect(ok('load-balancing "adaptive"')).toEqual({ algorithm: 'adaptive', decayMs: 10_000 });
    expect(ok('load-balancing "sticky"')).toEqual({
      algorithm: 'sticky', cookieName: 'SERVERID', ttlMs: 3_600_000, cookiePath: '/', secure: true, httpOnly: true,
      sameSite: 'Lax', secret: null, fallback: { algorithm: 'round_robin' },
    });
  });

  it('hash-key forms (header names lower-cased)', () => {
    for (const [key, stored] of [['client-ip', 'client-ip'], ['path', 'path'], ['header:X-User', 'header:x-user'], ['cookie:Sid', 'cookie:Sid'], ['query:q', 'query:q']]) {
      expect(ok(`load-balancing "consistent_hash" { hash-key "${key}" }`)).toEqual({ algorithm: 'consistent_hash', hashKey: stored });
      expect(ok(`load-balancing "maglev" { hash-key "${key}" }`)).toEqual({ algorithm: 'maglev', hashKey: stored });
    }
  });

  it('decay-secs', () => {
    expect(ok('load-balancing "peak_ewma" { decay-secs 2.5 }')).toEqual({ algorithm: 'peak_ewma', decayMs: 2500 });
    expect(ok('load-balancing "ewma" { decay-secs 30 }')).toEqual({ algorithm: 'peak_ewma', decayMs: 30_000 });
  });

  it('every sticky key', () => {
    expect(ok(`load-balancing "sticky" { cookie-name "SRV"; cookie-ttl-secs 0; cookie-path "/app"; cookie-secure #false; cookie-http-only #false; cookie-same-site "STRICT"; fallback "least_connections"; secret "0123456789abcdef" }`)).toEqual({
      algorithm: 'sticky', cookieName: 'SRV', ttlMs: 0, cookiePath: '/app', secure: false, httpOnly: false, sameSite: 'Strict',
      secret: '0123456789abcdef', fallback: { algorithm: 'least_connections' },
    });
    expect(ok('load-balancing "sticky" { cookie-ttl-secs 86400; cookie-same-site "none" }')).toMatchObject({ ttlMs: 86_400_000, sameSite: 'None', secure: true });
    expect(ok('load-balancing "sticky" { fallback "consistent_hash" { hash-key "header:X-User" } }')).toMatchObject({ fallback: { algorithm: 'consistent_hash', hashKey: 'header:x-user' } });
    expect(ok('load-balancing "sticky" { fallback "peak_ewma" { decay-secs 1 } }')).toMatchObject({ fallback: { algorithm: 'peak_ewma', decayMs: 1000 } });
  });
});

describe('load-balancing errors', () => {
  it('unknown names are errors with did-you-mean; never a silent fallback', () => {
    expect(errs('load-balancing "round_robbin"')).toEqual(['invalid-value@3:87: unknown load-balancing algorithm "round_robbin" (did you mean "round_robin"?)']);
    // A near miss of an alias suggests the canonical name.
    expect(errs('load-balancing "leastconn"')).toEqual(['invalid-value@3:87: unknown load-balancing algorithm "leastconn" (did you mean "least_connections"?)']);
    expect(errs('load-balancing "bogus"')[0]).toMatch(/^invalid-value@3:87: unknown load-balancing algorithm "bogus" \(valid values: "round_robin", /);
  });

  it('locality_aware, deterministic_subset and least_tokens_queued (and aliases) are not-implemented', () => {
    for (const [name, canonical] of [['locality_aware', 'locality_aware'], ['locality', 'locality_aware'], ['Deterministic-Subset', 'deterministic_subset'], ['subsetting', 'deterministic_subset'], ['least_tokens', 'least_tokens_queued']]) {
      const e = errs(`load-balancing "${name}"`);
      expect(e).toHaveLength(1);
      expect(e[0]).toMatch(new RegExp(`^not-implemented@3:87: load-balancing "${canonical}" is not implemented yet`));
    }
  });

  it('argument shape', () => {
    expect(errs('load-balancing')).toEqual(['missing-argument@3:72: "load-balancing" needs an algorithm name (e.g. load-balancing "round_robin")']);
    expect(errs('load-balancing 1')).toEqual(['invalid-type@3:87: expected a string, got integer']);
    expect(errs('load-balancing "p2c" "random"')[0]).toMatch(/^extra-argument@3:93: /);
    expect(errs('load-balancing "p2c" key="x"')[0]).toMatch(/^unknown-property@3:93: /);
  });

  it('options that belong to another algorithm, unknown and duplicate keys', () => {
    expect(errs('load-balancing "round_robin" { hash-key "path" }')).toEqual(['unknown-key@3:103: "hash-key" does not apply to load-balancing "round_robin" of upstream "u" ("hash-key" applies to load-balancing consistent_hash, maglev)']);
    expect(errs('load-balancing "maglev" { decay-secs 1 }')[0]).toMatch(/^unknown-key@3:98: "decay-secs" does not apply to load-balancing "maglev"/);
    expect(errs('load-balancing "p2c" { secret "0123456789abcdef" }')[0]).toMatch(/"secret" applies to load-balancing sticky/);
    expect(errs('load-balancing "consistent_hash" { hashkey "path" }')).toEqual(['unknown-key@3:107: unknown key "hashkey" in load-balancing "consistent_hash" of upstream "u" (did you mean "hash-key"?)']);
    expect(errs('load-balancing "consistent_hash" { hash-key "path"; hash-key "client-ip" }')[0]).toMatch(/^duplicate-key@3:124: /);
    expect(errs('load-balancing "sticky" { cookie-ttl "1h" }')[0]).toMatch(/^unknown-key@3:98: unknown key "cookie-ttl"/);
  });

  it('invalid option values', () => {
    expect(errs('load-balancing "consistent_hash" { hash-key "headers:X" }')).toEqual(['invalid-value@3:116: invalid hash-key "headers:X": unknown source "headers" (did you mean "header:X"?)']);
    expect(errs('load-balancing "consistent_hash" { hash-key "client_ip" }')).toEqual(['invalid-value@3:116: invalid hash-key "client_ip" (did you mean "client-ip"?)']);
    expect(errs('load-balancing "consistent_hash" { hash-key "header:X User" }')[0]).toMatch(/is not a valid header name/);
    expect(errs('load-balancing "consistent_hash" { hash-key "cookie:" }')[0]).toMatch(/^invalid-value/);
    expect(errs('load-balancing "peak_ewma" { decay-secs 0 }')[0]).toMatch(/^invalid-value@3:112: "decay-secs" must be greater than 0/);
    expect(errs('load-balancing "sticky" { cookie-name "a b" }')[0]).toMatch(/^invalid-value@3:110: cookie-name "a b" is not a valid cookie name/);
    expect(errs('load-balancing "sticky" { cookie-ttl-secs -1 }')[0]).toMatch(/^invalid-value@3:114: "cookie-ttl-secs" must be between 0 and 34560000/);
    expect(errs('load-balancing "sticky" { cookie-ttl-secs 1.5 }')[0]).toMatch(/^invalid-type@3:114: expected an integer/);
    expect(errs('load-balancing "sticky" { cookie-path "app" }')[0]).toMatch(/^invalid-value@3:110: cookie-path "app" must start with "\/"/);
    expect(errs('load-balancing "sticky" { cookie-path "/a;b" }')[0]).toMatch(/^invalid-value/);
    expect(errs('load-balancing "sticky" { cookie-secure "yes" }')[0]).toMatch(/^invalid-type/);
    expect(errs('load-balancing "sticky" { cookie-same-site "loose" }')).toEqual(['invalid-value@3:115: invalid cookie-same-site "loose" (valid values: "strict", "lax", "none")']);
    expect(errs('load-balancing "sticky" { secret "short" }')[0]).toMatch(/^invalid-value@3:105: sticky secret is too short \(5 characters, at least 16\)/);
    expect(errs('load-balancing "sticky" { fallback "sticky" }')[0]).toMatch(/^invalid-value@3:107: the sticky fallback cannot itself be "sticky"/);
    expect(errs('load-balancing "sticky" { fallback "rando" }')[0]).toMatch(/^invalid-value@3:107: unknown load-balancing algorithm "rando" \(did you mean "random"\?\)/);
    expect(errs('load-balancing "sticky" { fallback "maglev" { hash-key "nope" } }')[0]).toMatch(/^invalid-value@3:127: invalid hash-key "nope"/);
  });

  it('SameSite=None needs Secure', () => {
    expect(errs('load-balancing "sticky" { cookie-secure #false; cookie-same-site "none" }')).toEqual([
      'conflict@3:120: cookie-same-site "none" requires cookie-secure #true (browsers reject SameSite=None cookies without Secure)',
    ]);
  });
});
