// Algorithm names, validation, and the request-key helpers of the hash selectors.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createSelector, makeEndpoints, parseAlgorithm, validateSelector } from '../../../src/upstream/select/create-selector.ts';
import { findQueryParam, parseHashKey, requestKey, scanCookieHeader } from '../../../src/upstream/select/hash.ts';
import { ALGORITHMS } from '../../../src/upstream/select/types.ts';
import type { Algorithm } from '../../../src/upstream/select/types.ts';

describe('parseAlgorithm', () => {
  it('accepts canonical names, case and hyphen variants, and aliases', () => {
    for (const a of ALGORITHMS) {
      expect(parseAlgorithm(a)).toBe(a);
      expect(parseAlgorithm(a.toUpperCase().replaceAll('_', '-'))).toBe(a);
    }
    expect(parseAlgorithm('roundrobin')).toBe('round_robin');
    expect(parseAlgorithm('weighted_round_robin')).toBe('weighted');
    expect(parseAlgorithm('wlc')).toBe('weighted_least_connections');
    expect(parseAlgorithm('power_of_two_choices')).toBe('p2c');
    expect(parseAlgorithm('ewma')).toBe('peak_ewma');
    expect(parseAlgorithm('sticky_session')).toBe('sticky');
  });

  it('returns null for unknown names: never a silent fallback', () => {
    for (const bad of ['', 'round robin', 'fastest', 'locality_aware', 'constructor', '__proto__', 'toString']) expect(parseAlgorithm(bad)).toBeNull();
  });
});

describe('validateSelector / createSelector', () => {
  const eps = makeEndpoints([{ host: '10.0.0.1', port: 80 }, { host: '::1', port: 81, weight: 2 }]);

  it('builds every algorithm for a valid set', () => {
    for (const a of ALGORITHMS) expect(createSelector(a, eps).algorithm).toBe(a);
    expect(eps[1]!.id).toBe('[::1]:81');
  });

  it('reports bad weights, indexes, duplicates, keys and table sizes', () => {
    const bad = [
      { ...eps[0]!, weight: -1 },
      { ...eps[1]!, index: 5 },
      { ...eps[0]!, index: 2, weight: Number.NaN },
    ];
    const errors = validateSelector('maglev', bad, { hashKey: 'header:', maglevTableSize: 100 });
    expect(errors.join('\n')).toMatch(/weight must be/);
    expect(errors.join('\n')).toMatch(/has index 5/);
    expect(errors.join('\n')).toMatch(/duplicate endpoint id/);
    expect(errors.join('\n')).toMatch(/invalid hash key/);
    expect(errors.join('\n')).toMatch(/prime/);
    expect(() => createSelector('maglev', bad)).toThrow(RangeError);
    expect(() => createSelector('nope' as Algorithm, eps)).toThrow(/unknown load-balancing algorithm/);
    expect(validateSelector('consistent_hash', eps, { ringPointsPerWeight: 2 })).toHaveLength(1);
    expect(validateSelector('peak_ewma', eps, { ewmaDecayMs: 0 })).toHaveLength(1);
  });

  it('an empty endpoint set always yields -1', () => {
    for (const a of ALGORITHMS) {
      const sel = createSelector(a, []);
      expect(sel.select({ clientIp: '1.2.3.4', path: '/', headers: {}, query: null }, { available: () => true, inFlight: () => 0 })).toBe(-1);
    }
  });
});

describe('hash keys', () => {
  it('parses the documented key forms', () => {
    expect(parseHashKey('client-ip')).toEqual({ kind: 'client-ip', name: '' });
    expect(parseHashKey('path')).toEqual({ kind: 'path', name: '' });
    expect(parseHashKey('header:X-User')).toEqual({ kind: 'header', name: 'x-user' });
    expect(parseHashKey('cookie:sid')).toEqual({ kind: 'cookie', name: 'sid' });
    expect(parseHashKey('query:u')).toEqual({ kind: 'query', name: 'u' });
    for (const bad of ['', 'ip', 'header:', ':x', 'header:a b', 'body:x', 'cookie:a;b']) expect(parseHashKey(bad)).toBeNull();
  });

  it('extracts header (first value), cookie and query values, else the client IP', () => {
    const ctx = { clientIp: '203.0.113.9', path: '/p', headers: { 'x-user': ['u1', 'u2'], cookie: 'a=1; sid="abc"' }, query: '?x=1&u=42&y' };
    expect(requestKey(parseHashKey('header:x-user')!, ctx)).toBe('u1');
    expect(requestKey(parseHashKey('cookie:sid')!, ctx)).toBe('abc');
    expect(requestKey(parseHashKey('query:u')!, ctx)).toBe('42');
    expect(requestKey(parseHashKey('query:y')!, ctx)).toBe('');
    expect(requestKey(parseHashKey('path')!, ctx)).toBe('/p');
    expect(requestKey(parseHashKey('header:x-missing')!, ctx)).toBe('203.0.113.9');
    expect(requestKey(parseHashKey('cookie:missing')!, ctx)).toBe('203.0.113.9');
    expect(requestKey(parseHashKey('query:missing')!, { ...ctx, query: null })).toBe('203.0.113.9');
  });

  it('cookie scanning agrees with a split-based reference', () => {
    const name = fc.constantFrom('a', 'sid', 'SERVERID');
    const pair = fc.tuple(name, fc.stringMatching(/^[A-Za-z0-9_-]{0,8}$/));
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 5 }), name, (pairs, wanted) => {
        const header = pairs.map(([k, v]) => `${k}=${v}`).join('; ');
        const ref = pairs.find(([k]) => k === wanted)?.[1];
        expect(scanCookieHeader(header, wanted)).toBe(ref);
      }),
    );
  });

  it('query scanning agrees with a split-based reference', () => {
    const name = fc.constantFrom('u', 'user', 'x');
    const pair = fc.tuple(name, fc.option(fc.stringMatching(/^[A-Za-z0-9%+]{0,6}$/), { nil: undefined }));
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 5 }), name, (pairs, wanted) => {
        const q = pairs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join('&');
        const hit = pairs.find(([k]) => k === wanted);
        expect(findQueryParam(q, wanted)).toBe(hit === undefined ? undefined : (hit[1] ?? ''));
      }),
    );
  });
});
