import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileKeyExtractor, compileTrustedProxies, MISSING_PART, parseKeySpec, resolveClientIp } from '../../src/ratelimit/key.ts';
import type { KeyInput } from '../../src/ratelimit/key.ts';

function input(over: Partial<KeyInput> = {}): KeyInput {
  return { clientIp: '203.0.113.9', headers: {}, path: '/a', query: null, route: { id: 'r1' }, ...over };
}

describe('parseKeySpec', () => {
  it('accepts the documented parts and combinations', () => {
    expect(parseKeySpec('client-ip').map((p) => p.kind)).toEqual(['client-ip']);
    expect(parseKeySpec('client-ip, path').map((p) => p.kind)).toEqual(['client-ip', 'path']);
    expect(parseKeySpec('header:X-Api-Key')).toEqual([{ kind: 'header', name: 'x-api-key' }]);
    expect(parseKeySpec('query:token')).toEqual([{ kind: 'query', name: 'token' }]);
  });
  it.each(['', 'ip', 'header:', 'header:bad name', 'query:', 'client-ip,,path', 'client-ip-and-path', 'cookie:a', 'path,path', 'header:A,header:a'])('rejects %j', (spec) => {
    expect(() => parseKeySpec(spec)).toThrow(RangeError);
  });
});

describe('client-ip', () => {
  const trusted = compileTrustedProxies(['10.0.0.0/8', '::1', '192.168.1.1']);

  it('uses the peer address when the peer is not trusted, whatever X-Forwarded-For says', () => {
    expect(resolveClientIp('203.0.113.9', '1.1.1.1', trusted)).toBe('203.0.113.9');
    expect(resolveClientIp('203.0.113.9', '1.1.1.1', null)).toBe('203.0.113.9');
  });
  it('takes the right-most untrusted hop behind trusted proxies', () => {
    expect(resolveClientIp('10.0.0.2', '6.6.6.6, 198.51.100.7, 10.1.1.1', trusted)).toBe('198.51.100.7');
    expect(resolveClientIp('::1', '198.51.100.7', trusted)).toBe('198.51.100.7');
    expect(resolveClientIp('10.0.0.2', ['6.6.6.6', '198.51.100.7'], trusted)).toBe('198.51.100.7');
  });
  it('uses the left-most hop when every hop is trusted, the peer when the header is absent', () => {
    expect(resolveClientIp('10.0.0.2', '10.9.9.9, 192.168.1.1', trusted)).toBe('10.9.9.9');
    expect(resolveClientIp('10.0.0.2', undefined, trusted)).toBe('10.0.0.2');
  });
  it('stops at junk and keeps the last trusted hop', () => {
    expect(resolveClientIp('10.0.0.2', 'evil-key, 10.0.0.3', trusted)).toBe('10.0.0.3');
  });
  it('unmaps IPv4-mapped IPv6 peers', () => {
    expect(resolveClientIp('::ffff:10.0.0.2', '198.51.100.7', trusted)).toBe('198.51.100.7');
    expect(resolveClientIp('::ffff:203.0.113.1', undefined, trusted)).toBe('203.0.113.1');
  });
  it('rejects bad trusted entries', () => {
    expect(() => compileTrustedProxies(['10.0.0.0/33'])).toThrow(RangeError);
    expect(() => compileTrustedProxies(['nope'])).toThrow(RangeError);
  });
  it('property: a client behind trusted proxies cannot choose its key by prepending hops', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.ipV4(), fc.string()), { maxLength: 5 }), fc.ipV4(), (forged, real) => {
        fc.pre(!real.startsWith('10.') && real !== '192.168.1.1');
        const header = [...forged, real, '10.0.0.7'].join(', ');
        expect(resolveClientIp('10.0.0.2', header, trusted)).toBe(real);
      }),
    );
  });
});

describe('compileKeyExtractor', () => {
  it('extracts each part kind', () => {
    const headers = { 'x-api-key': 'k1', 'x-forwarded-for': '198.51.100.7' };
    expect(compileKeyExtractor('header:X-Api-Key')(input({ headers }))).toBe('k1');
    expect(compileKeyExtractor('path')(input())).toBe('/a');
    expect(compileKeyExtractor('route')(input())).toBe('r1');
    expect(compileKeyExtractor('query:t')(input({ query: 'a=1&t=x%20y' }))).toBe('x y');
    expect(compileKeyExtractor('client-ip', { trustedProxies: ['203.0.113.0/24'] })(input({ headers }))).toBe('198.51.100.7');
  });
  it('a missing part shares the "-" bucket by default and skips with onMissing "skip"', () => {
    expect(compileKeyExtractor('header:x-api-key')(input())).toBe(MISSING_PART);
    expect(compileKeyExtractor('route')(input({ route: null }))).toBe(MISSING_PART);
    expect(compileKeyExtractor('header:x-api-key', { onMissing: 'skip' })(input())).toBeNull();
    expect(compileKeyExtractor('client-ip,query:t', { onMissing: 'skip' })(input())).toBeNull();
    expect(compileKeyExtractor('client-ip,query:t')(input())).toBe('11:203.0.113.9|1:-');
  });
  it('property: combined keys are injective (no value can forge a separator)', () => {
    const extract = compileKeyExtractor('header:a,header:b');
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (a1, b1, a2, b2) => {
        fc.pre(a1 !== a2 || b1 !== b2);
        const k1 = extract(input({ headers: { a: a1, b: b1 } }));
        const k2 = extract(input({ headers: { a: a2, b: b2 } }));
        expect(k1).not.toBe(k2);
      }),
      { numRuns: 500 },
    );
  });
});
