// Request path normalisation: the one policy applied before routing, and the path sent upstream
// (docs/design.md, "Request-target handling"). Pure; property-tested for idempotence.
//
// Policy, in one pass over the path (never the query):
//   - percent-encoded unreserved characters (RFC 3986 §2.3: A-Z a-z 0-9 - . _ ~) are decoded, other
//     percent-encodings are kept with upper-case hex (§6.2.2.1, §6.2.2.2);
//   - `.` and `..` segments are removed (§5.2.4), also when encoded (`%2e%2e`); `..` above the root
//     is rejected rather than clamped;
//   - empty segments (`//`) are merged;
//   - rejected: a malformed percent-encoding, an encoded `/` or `\` (`%2F`, `%5C`: backends that
//     decode them see different segments than the router did), an encoded NUL, a raw `\`, a `#`,
//     and a dot-segment carrying path parameters (`..;x`, the Tomcat traversal).

export type PathRejection =
  | 'invalid-percent-encoding'
  | 'encoded-slash'
  | 'encoded-nul'
  | 'backslash'
  | 'fragment'
  | 'traversal-above-root'
  | 'dot-segment-parameter';

/** A rejection, distinguishable from a path with `typeof result !== 'string'`. */
export interface PathRejected {
  readonly rejected: PathRejection;
}

const REJECTED: Readonly<Record<PathRejection, PathRejected>> = {
  'invalid-percent-encoding': { rejected: 'invalid-percent-encoding' },
  'encoded-slash': { rejected: 'encoded-slash' },
  'encoded-nul': { rejected: 'encoded-nul' },
  backslash: { rejected: 'backslash' },
  fragment: { rejected: 'fragment' },
  'traversal-above-root': { rejected: 'traversal-above-root' },
  'dot-segment-parameter': { rejected: 'dot-segment-parameter' },
};

const HEX_UPPER = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function isUnreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
}

/** One segment with its percent-encodings normalised, or a rejection. */
function decodeSegment(p: string, from: number, to: number): string | PathRejected {
  let out = '';
  let copied = from;
  for (let i = from; i < to; i++) {
    const c = p.charCodeAt(i);
    if (c === 92 /* \ */) return REJECTED.backslash;
    if (c === 35 /* # */) return REJECTED.fragment;
    if (c !== 37 /* % */) continue;
    const hi = i + 2 < to ? hexValue(p.charCodeAt(i + 1)) : -1;
    const lo = hi >= 0 ? hexValue(p.charCodeAt(i + 2)) : -1;
    if (lo < 0) return REJECTED['invalid-percent-encoding'];
    const v = hi * 16 + lo;
    if (v === 0x2f || v === 0x5c) return REJECTED['encoded-slash'];
    if (v === 0) return REJECTED['encoded-nul'];
    out += p.slice(copied, i);
    out += isUnreserved(v) ? String.fromCharCode(v) : `%${HEX_UPPER[hi] as string}${HEX_UPPER[lo] as string}`;
    i += 2;
    copied = i + 1;
  }
  return copied === from ? p.slice(from, to) : out + p.slice(copied, to);
}

function normalizeSlow(p: string): string | PathRejected {
  const segments: string[] = [];
  let trailingSlash = false;
  let start = 1;
  for (let j = 1; j <= p.length; j++) {
    if (j < p.length && p.charCodeAt(j) !== 47) continue;
    const last = j === p.length;
    const seg = decodeSegment(p, start, j);
    if (typeof seg !== 'string') return seg;
    start = j + 1;
    if (seg === '' || seg === '.') {
      if (last) trailingSlash = true;
    } else if (seg === '..') {
      if (segments.length === 0) return REJECTED['traversal-above-root'];
      segments.pop();
      if (last) trailingSlash = true;
    } else {
      if (seg.charCodeAt(0) === 46 && (seg.startsWith('.;') || seg.startsWith('..;'))) return REJECTED['dot-segment-parameter'];
      segments.push(seg);
      if (last) trailingSlash = false;
    }
  }
  if (segments.length === 0) return '/';
  const joined = `/${segments.join('/')}`;
  return trailingSlash ? `${joined}/` : joined;
}

/**
 * The normalised form of an origin-form path (it starts with `/`, no query), or a rejection.
 * Returns the argument itself, without allocating, when it is already normal (the common case).
 */
export function normalizePath(p: string): string | PathRejected {
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 37 || c === 92 || c === 35) return normalizeSlow(p);
    if (c === 47) {
      const n = p.charCodeAt(i + 1);
      if (n === 47 || n === 46) return normalizeSlow(p);
    }
  }
  return p;
}

/**
 * Fully percent-decodes a normalised path into the segments of a file path (static files), or
 * null when a segment decodes to something a file name cannot be (NUL, `/`, `\`, `.`, `..`).
 */
export function decodePathSegments(normalised: string): string[] | null {
  const out: string[] = [];
  for (const raw of normalised.split('/')) {
    if (raw === '') continue;
    let seg: string;
    try {
      seg = raw.includes('%') ? decodeURIComponent(raw) : raw;
    } catch {
      return null;
    }
    if (seg === '.' || seg === '..' || /[/\\\0]/.test(seg)) return null;
    out.push(seg);
  }
  return out;
}
