// Validators, preconditions, ranges and content negotiation for static files (RFC 9110 §8.8,
// §13, §14, §12.5.3). Pure functions over header values, unit-tested on their own.
import type { ContentCoding } from '../config/types.ts';

/** A strong entity tag from size and modification time (and the coding of a precompressed variant). */
export function makeEtag(size: number, mtimeMs: number, coding: ContentCoding | null): string {
  const base = `${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}`;
  return coding === null ? `"${base}"` : `"${base}-${coding}"`;
}

/** Parses an HTTP-date (RFC 9110 §5.6.7; Date.parse takes the IMF-fixdate and the obsolete forms) to seconds, or NaN. */
export function parseHttpDateSecs(value: string | undefined): number {
  if (value === undefined) return Number.NaN;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? Number.NaN : Math.floor(ms / 1000);
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * Whether an If-Match / If-None-Match list matches `etag`. Weak comparison (If-None-Match)
 * ignores `W/`; strong comparison (If-Match) requires both tags strong.
 */
export function etagListMatches(header: string, etag: string, weak: boolean): boolean {
  const h = header.trim();
  if (h === '*') return true;
  for (const raw of h.split(',')) {
    const t = raw.trim();
    if (t === '') continue;
    if (weak) {
      if (opaque(t) === opaque(etag)) return true;
    } else if (!t.startsWith('W/') && t === etag) {
      return true;
    }
  }
  return false;
}

export type Precondition = 'ok' | 'not-modified' | 'failed';

export interface ConditionalHeaders {
  readonly ifMatch: string | undefined;
  readonly ifNoneMatch: string | undefined;
  readonly ifModifiedSince: string | undefined;
  readonly ifUnmodifiedSince: string | undefined;
}

/** RFC 9110 §13.2.2, for GET and HEAD: 412, 304 or go on. */
export function evaluatePreconditions(h: ConditionalHeaders, etag: string, lastModifiedSecs: number): Precondition {
  if (h.ifMatch !== undefined) {
    if (!etagListMatches(h.ifMatch, etag, false)) return 'failed';
  } else {
    const ius = parseHttpDateSecs(h.ifUnmodifiedSince);
    if (!Number.isNaN(ius) && lastModifiedSecs > ius) return 'failed';
  }
  if (h.ifNoneMatch !== undefined) {
    if (etagListMatches(h.ifNoneMatch, etag, true)) return 'not-modified';
  } else {
    const ims = parseHttpDateSecs(h.ifModifiedSince);
    if (!Number.isNaN(ims) && lastModifiedSecs <= ims) return 'not-modified';
  }
  return 'ok';
}

/** The byte range to send: inclusive `start`..`end`. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Parses a Range header for a representation of `size` bytes (RFC 9110 §14.1.2):
 * - `null`: no usable range (absent, another unit, malformed, or several ranges, which Sentinel
 *   answers with the whole representation rather than multipart/byteranges; the RFC lets a server
 *   ignore Range);
 * - `'unsatisfiable'`: a well-formed single range that selects nothing (416);
 * - the one range to send (206).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (m === null) return null;
  const a = m[1] as string;
  const b = m[2] as string;
  if (a === '' && b === '') return null;
  if (a.length > 15 || b.length > 15) return a === '' ? null : 'unsatisfiable';
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * Whether a Range request may be honoured given If-Range (RFC 9110 §13.1.5): absent, or it
 * matches the current representation (an entity tag strongly, or a date exactly).
 */
export function ifRangeAllows(ifRange: string | undefined, etag: string, lastModifiedSecs: number): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return !v.startsWith('W/') && v === etag;
  const d = parseHttpDateSecs(v);
  return !Number.isNaN(d) && d === lastModifiedSecs;
}

/**
 * The codings of `offered` (in the route's preference order) that the client accepts
 * (RFC 9110 §12.5.3): listed with q > 0, or covered by `*` with q > 0 and not listed with q = 0.
 */
export function acceptedCodings(acceptEncoding: string | undefined, offered: readonly ContentCoding[]): ContentCoding[] {
  if (acceptEncoding === undefined || offered.length === 0) return [];
  const q = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().split(';');
    const coding = (name as string).trim().toLowerCase();
    if (coding === '') continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m !== null) weight = Number(m[1]);
    }
    q.set(coding === 'x-gzip' ? 'gzip' : coding, Number.isFinite(weight) ? weight : 0);
  }
  const star = q.get('*');
  return offered.filter((c) => {
    const w = q.get(c) ?? star;
    return w !== undefined && w > 0;
  });
}
