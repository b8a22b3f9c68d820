// Hashing and request-key helpers shared by the hash-based selectors. Request-time hashing is a
// 32-bit FNV-1a with a murmur3 finaliser (fast, no allocation); build-time hashing (ring points,
// maglev permutations, cookie values) uses node:crypto digests.

import { createHash } from 'node:crypto';
import type { EndpointState, HeaderMap, SelectContext } from './types.ts';

/** 32-bit FNV-1a over UTF-16 code units, then murmur3 fmix32 for avalanche. Unsigned result. */
export function hash32(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** md5 digest as four little-endian unsigned 32-bit words (ketama convention). */
export function md5Words(s: string): [number, number, number, number] {
  const d = createHash('md5').update(s).digest();
  return [d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)];
}

/** Eligible = available and not excluded. */
export function eligible(state: EndpointState, exclude: ReadonlySet<number> | undefined, i: number): boolean {
  return state.available(i) && (exclude === undefined || !exclude.has(i));
}

export function firstHeader(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  return v[0];
}

/** Value of cookie `name` from parsed cookies or the Cookie header(s); undefined when absent. */
export function findCookie(ctx: SelectContext, name: string): string | undefined {
  if (ctx.cookies !== undefined) return Object.hasOwn(ctx.cookies, name) ? ctx.cookies[name] : undefined;
  const raw = ctx.headers['cookie'];
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') return scanCookieHeader(raw, name);
  for (const line of raw) {
    const v = scanCookieHeader(line, name);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** Scans "a=1; b=2" for `name` without splitting the header. */
export function scanCookieHeader(header: string, name: string): string | undefined {
  let pos = 0;
  const len = header.length;
  while (pos < len) {
    while (pos < len && (header.charCodeAt(pos) === 0x20 || header.charCodeAt(pos) === 0x09)) pos++;
    let end = header.indexOf(';', pos);
    if (end === -1) end = len;
    const eq = header.indexOf('=', pos);
    if (eq !== -1 && eq < end && eq - pos === name.length && header.startsWith(name, pos)) {
      let v = header.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.charCodeAt(0) === 0x22 && v.charCodeAt(v.length - 1) === 0x22) v = v.slice(1, -1);
      return v;
    }
    pos = end + 1;
  }
  return undefined;
}

/** Raw (undecoded) value of query parameter `name`; "" for a bare `name`; undefined when absent. */
export function findQueryParam(query: string | null, name: string): string | undefined {
  if (query === null) return undefined;
  let pos = query.length > 0 && query.charCodeAt(0) === 0x3f ? 1 : 0;
  const len = query.length;
  while (pos <= len) {
    let end = query.indexOf('&', pos);
    if (end === -1) end = len;
    if (query.startsWith(name, pos)) {
      const after = pos + name.length;
      if (after === end) return '';
      if (query.charCodeAt(after) === 0x3d) return query.slice(after + 1, end);
    }
    pos = end + 1;
  }
  return undefined;
}

export type HashKeyKind = 'client-ip' | 'path' | 'header' | 'cookie' | 'query';

export interface HashKeySpec {
  readonly kind: HashKeyKind;
  /** Header (lower-cased), cookie or query parameter name; "" for client-ip and path. */
  readonly name: string;
}

/** Parses "client-ip" | "path" | "header:X" | "cookie:NAME" | "query:NAME"; null when invalid. */
export function parseHashKey(spec: string): HashKeySpec | null {
  if (spec === 'client-ip') return { kind: 'client-ip', name: '' };
  if (spec === 'path') return { kind: 'path', name: '' };
  const colon = spec.indexOf(':');
  if (colon <= 0 || colon === spec.length - 1) return null;
  const kind = spec.slice(0, colon);
  const name = spec.slice(colon + 1);
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return null;
  if (kind === 'header') return { kind: 'header', name: name.toLowerCase() };
  if (kind === 'cookie') return { kind: 'cookie', name };
  if (kind === 'query') return { kind: 'query', name };
  return null;
}

/** The string hashed for a request. A missing header/cookie/query key falls back to the client IP. */
export function requestKey(spec: HashKeySpec, ctx: SelectContext): string {
  let v: string | undefined;
  switch (spec.kind) {
    case 'client-ip':
      return ctx.clientIp;
    case 'path':
      return ctx.path;
    case 'header':
      v = firstHeader(ctx.headers, spec.name);
      break;
    case 'cookie':
      v = findCookie(ctx, spec.name);
      break;
    case 'query':
      v = findQueryParam(ctx.query, spec.name);
      break;
  }
  return v === undefined ? ctx.clientIp : v;
}
