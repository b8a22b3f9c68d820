// Cookie affinity: opaque values, attributes, stickiness, re-pinning when the endpoint is gone.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createSelector, makeEndpoints } from '../../../src/upstream/select/create-selector.ts';
import { stickyCookieValue } from '../../../src/upstream/select/sticky.ts';
import type { EndpointState, SelectContext, StickyOptions } from '../../../src/upstream/select/types.ts';

const ALL: EndpointState = { available: () => true, inFlight: () => 0 };
const eps = makeEndpoints([
  { host: '10.9.0.1', port: 8080 },
  { host: '10.9.0.2', port: 8080 },
  { host: 'backend-three.internal', port: 9443 },
]);
const ctx = (cookie?: string, cookies?: Record<string, string>): SelectContext => ({
  clientIp: '192.0.2.1',
  path: '/',
  headers: cookie === undefined ? {} : { cookie },
  query: null,
  cookies,
});
const sticky = (o: StickyOptions = {}) => createSelector('sticky', eps, { sticky: { secret: 's3cret', ...o } });

/** Cookie value from a Set-Cookie header value. */
const valueOf = (setCookie: string): string => setCookie.split(';')[0]!.split('=')[1]!;

describe('sticky', () => {
  it('sets an opaque affinity cookie on first pick, then sticks to it', () => {
    const sel = sticky();
    const first = sel.select(ctx(), ALL);
    expect(first).toBeGreaterThanOrEqual(0);
    const set = sel.setCookie!;
    expect(set).toMatch(/^SERVERID=[A-Za-z0-9_-]{22}; Path=\/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax$/);
    const v = valueOf(set);
    for (const e of eps) {
      expect(v).not.toContain(e.host);
      expect(v).not.toContain(String(e.port));
      expect(Buffer.from(v, 'base64url').toString('latin1')).not.toContain(e.host);
    }
    for (let k = 0; k < 10; k++) {
      expect(sel.select(ctx(`a=1; SERVERID=${v}; b=2`), ALL)).toBe(first);
      expect(sel.setCookie).toBeNull();
    }
    expect(sel.select(ctx(undefined, { SERVERID: v }), ALL)).toBe(first);
  });

  it('the same secret gives the same values across instances (reload-safe); another secret does not', () => {
    const a = sticky();
    const b = sticky();
    const c = sticky({ secret: 'other' });
    const i = a.select(ctx(), ALL);
    const v = valueOf(a.setCookie!);
    expect(b.select(ctx(`SERVERID=${v}`), ALL)).toBe(i);
    expect(b.setCookie).toBeNull();
    c.select(ctx(`SERVERID=${v}`), ALL);
    expect(c.setCookie).not.toBeNull();
    expect(stickyCookieValue('s3cret', eps[i]!.id)).toBe(v);
  });

  it('re-pins when the affine endpoint is unavailable or excluded (retry)', () => {
    fc.assert(
      fc.property(fc.nat(2), fc.boolean(), (affine, useExclude) => {
        const sel = sticky();
        const v = stickyCookieValue('s3cret', eps[affine]!.id);
        const state: EndpointState = useExclude ? ALL : { available: (i) => i !== affine, inFlight: () => 0 };
        const pick = sel.select(ctx(`SERVERID=${v}`), state, useExclude ? new Set([affine]) : undefined);
        expect(pick).not.toBe(affine);
        expect(pick).toBeGreaterThanOrEqual(0);
        expect(valueOf(sel.setCookie!)).toBe(stickyCookieValue('s3cret', eps[pick]!.id));
      }),
    );
  });

  it('ignores forged or unknown cookie values and uses the fallback', () => {
    fc.assert(
      fc.property(fc.string(), (junk) => {
        const sel = sticky({ fallback: 'ip_hash' });
        const expected = createSelector('ip_hash', eps).select(ctx(), ALL);
        const valid = eps.map((e) => stickyCookieValue('s3cret', e.id));
        fc.pre(!valid.includes(junk.trim()));
        expect(sel.select(ctx(`SERVERID=${junk.replaceAll(';', '')}`), ALL)).toBe(expected);
        expect(sel.setCookie).not.toBeNull();
      }),
    );
  });

  it('emits the configured attributes; session cookie when ttl is 0', () => {
    const sel = sticky({ cookieName: 'lb', ttlMs: 0, path: '/app', secure: true, sameSite: 'None', httpOnly: false });
    sel.select(ctx(), ALL);
    expect(sel.setCookie).toMatch(/^lb=[A-Za-z0-9_-]{22}; Path=\/app; Secure; SameSite=None$/);
    const strict = sticky({ ttlMs: 90_500, secure: false, sameSite: 'Strict' });
    strict.select(ctx(), ALL);
    expect(strict.setCookie).toMatch(/; Max-Age=90; HttpOnly; SameSite=Strict$/);
  });

  it('no endpoint available: -1 and no cookie', () => {
    const sel = sticky();
    expect(sel.select(ctx(), { available: () => false, inFlight: () => 0 })).toBe(-1);
    expect(sel.setCookie).toBeNull();
  });

  it('rejects invalid options', () => {
    expect(() => sticky({ sameSite: 'None', secure: false })).toThrow(/requires secure/);
    expect(() => sticky({ cookieName: 'bad name' })).toThrow(/token/);
    expect(() => sticky({ path: '/a;b' })).toThrow(/path/);
    expect(() => sticky({ ttlMs: -1 })).toThrow(/ttlMs/);
    expect(() => sticky({ fallback: 'sticky' as never })).toThrow(/fallback/);
  });
});
