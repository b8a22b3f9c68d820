// The path normalisation policy (src/core/path.ts) against its properties and a reference: the
// result is idempotent, has no dot-segments or empty segments, never leaves the root, keeps only
// upper-case percent-encodings of reserved or non-ASCII bytes, and means the same resource as the
// input (a reference decoder resolves both to the same segments).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodePathSegments, normalizePath } from '../../src/core/path.ts';

const piece = fc.constantFrom(
  'a', 'b', 'api', '.', '..', '', '%2e', '%2E', '%2e%2e', '.%2e', '%41', '%7e', '%7E', '%c3%a9', '%25', '%3a', '%3B',
  ';x', '..;', '.;', '%2F', '%5c', '%00', '%zz', '%', '\\', '#', 'x.y', '.well-known', '-_~',
);
const path = fc.array(piece, { maxLength: 8 }).map((parts) => `/${parts.join('/')}`);

/** RFC 3986 §5.2.4 over fully decoded segments (the meaning of a path), null above the root. */
function reference(p: string): string[] | null {
  const out: string[] = [];
  for (const raw of p.split('/').slice(1)) {
    const seg = decodeURIComponent(raw);
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(seg);
  }
  return out;
}

describe('normalizePath', () => {
  it('is idempotent', () => {
    fc.assert(fc.property(path, (p) => {
      const once = normalizePath(p);
      if (typeof once !== 'string') return;
      expect(normalizePath(once)).toBe(once);
    }), { numRuns: 5000 });
  });

  it('leaves no dot-segment, no empty segment but a trailing slash, and only upper-case escapes of non-unreserved bytes', () => {
    fc.assert(fc.property(path, (p) => {
      const n = normalizePath(p);
      if (typeof n !== 'string') return;
      expect(n.startsWith('/')).toBe(true);
      const segs = n.split('/').slice(1);
      segs.forEach((s, i) => {
        expect(s === '.' || s === '..').toBe(false);
        if (i < segs.length - 1) expect(s).not.toBe('');
      });
      for (const m of n.matchAll(/%([0-9A-Fa-f]{2})/g)) {
        const hex = m[1] as string;
        expect(hex).toBe(hex.toUpperCase());
        expect(/[A-Za-z0-9\-._~]/.test(String.fromCharCode(parseInt(hex, 16)))).toBe(false);
      }
    }), { numRuns: 5000 });
  });

  it('means what the input means: the same decoded segments as RFC 3986 dot-segment removal', () => {
    fc.assert(fc.property(path, (p) => {
      const n = normalizePath(p);
      if (typeof n !== 'string') return;
      expect(reference(n)).toEqual(reference(p));
      expect(reference(n)).not.toBeNull();
    }), { numRuns: 5000 });
  });

  it('rejects exactly the forbidden forms', () => {
    const cases: [string, string][] = [
      ['/../a', 'traversal-above-root'], ['/a/../../b', 'traversal-above-root'], ['/%2e%2e/a', 'traversal-above-root'],
      ['/a%2Fb', 'encoded-slash'], ['/a%2fb', 'encoded-slash'], ['/a%5Cb', 'encoded-slash'], ['/a%00', 'encoded-nul'],
      ['/a%2', 'invalid-percent-encoding'], ['/a%g0', 'invalid-percent-encoding'], ['/a\\b', 'backslash'], ['/a#b', 'fragment'],
      ['/x/..;/admin', 'dot-segment-parameter'], ['/x/.;/a', 'dot-segment-parameter'],
    ];
    for (const [input, reason] of cases) expect(normalizePath(input), input).toEqual({ rejected: reason });
  });

  it('returns the same string, unallocated, for a path that is already normal', () => {
    const p = '/api/v1/users/42';
    expect(normalizePath(p)).toBe(p);
    expect(normalizePath('/')).toBe('/');
    expect(normalizePath('/a/b/')).toBe('/a/b/');
  });

  it('fixed cases', () => {
    expect(normalizePath('/a/./b/../c//d/')).toBe('/a/c/d/');
    expect(normalizePath('/a/..')).toBe('/');
    expect(normalizePath('//')).toBe('/');
    expect(normalizePath('/%7Euser/%c3%a9')).toBe('/~user/%C3%A9');
  });
});

describe('decodePathSegments', () => {
  it('decodes fully and refuses what cannot be a file name', () => {
    expect(decodePathSegments('/a/caf%C3%A9/x%20y')).toEqual(['a', 'café', 'x y']);
    expect(decodePathSegments('/')).toEqual([]);
    expect(decodePathSegments('/%FF')).toBeNull();
  });
});
