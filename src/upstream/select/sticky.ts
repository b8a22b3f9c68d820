// Cookie session affinity. The cookie value is an opaque HMAC-SHA256 of the endpoint id (base64url,
// 128 bits), so it never reveals a backend address; values and the full Set-Cookie strings are
// precomputed per endpoint, so a pick allocates nothing beyond reading the cookie. A request with
// a valid cookie whose endpoint is eligible goes there; otherwise the fallback selector picks and
// `setCookie` carries the new affinity.

import { createHmac, randomBytes } from 'node:crypto';
import { findCookie } from './hash.ts';
import type { Algorithm, Endpoint, EndpointState, SameSite, SelectContext, Selector, StickyOptions } from './types.ts';

export interface ResolvedSticky {
  readonly cookieName: string;
  readonly ttlMs: number;
  readonly path: string;
  readonly secure: boolean;
  readonly sameSite: SameSite;
  readonly httpOnly: boolean;
  readonly fallback: Exclude<Algorithm, 'sticky'>;
  readonly secret: string | Uint8Array;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Cookie path: printable ASCII without ';' (RFC 6265 path-value).
const PATH = /^\/[\x20-\x3a\x3c-\x7e]*$/;

export function resolveSticky(o: StickyOptions | undefined): ResolvedSticky {
  return {
    cookieName: o?.cookieName ?? 'SERVERID',
    ttlMs: o?.ttlMs ?? 3_600_000,
    path: o?.path ?? '/',
    secure: o?.secure ?? true,
    sameSite: o?.sameSite ?? 'Lax',
    httpOnly: o?.httpOnly ?? true,
    fallback: o?.fallback ?? 'round_robin',
    secret: o?.secret ?? randomBytes(32),
  };
}

/** Problems with sticky options, empty when valid. */
export function validateSticky(s: ResolvedSticky): string[] {
  const errors: string[] = [];
  if (!TOKEN.test(s.cookieName)) errors.push(`sticky cookie name ${JSON.stringify(s.cookieName)} is not a valid token`);
  if (!Number.isFinite(s.ttlMs) || s.ttlMs < 0) errors.push('sticky ttlMs must be a finite number >= 0');
  if (!PATH.test(s.path)) errors.push(`sticky cookie path ${JSON.stringify(s.path)} must start with "/" and contain no ";" or control characters`);
  if (s.sameSite !== 'Strict' && s.sameSite !== 'Lax' && s.sameSite !== 'None') errors.push('sticky sameSite must be Strict, Lax or None');
  if (s.sameSite === 'None' && !s.secure) errors.push('sticky sameSite=None requires secure');
  if ((s.fallback as string) === 'sticky') errors.push('sticky fallback cannot be sticky');
  if (s.secret.length === 0) errors.push('sticky secret must not be empty');
  return errors;
}

/** Opaque, stable cookie value for an endpoint id under a secret. */
export function stickyCookieValue(secret: string | Uint8Array, endpointId: string): string {
  return createHmac('sha256', secret).update(endpointId).digest('base64url').slice(0, 22);
}

export function buildSetCookie(s: ResolvedSticky, value: string): string {
  let c = `${s.cookieName}=${value}; Path=${s.path}`;
  if (s.ttlMs > 0) c += `; Max-Age=${Math.floor(s.ttlMs / 1000)}`;
  if (s.httpOnly) c += '; HttpOnly';
  if (s.secure) c += '; Secure';
  c += `; SameSite=${s.sameSite}`;
  return c;
}

export class StickySelector implements Selector {
  readonly algorithm: Algorithm = 'sticky';
  setCookie: string | null = null;
  private readonly cookieName: string;
  private readonly byValue: Map<string, number>;
  private readonly setCookies: string[];
  private readonly fallback: Selector;

  constructor(endpoints: readonly Endpoint[], sticky: ResolvedSticky, fallback: Selector) {
    this.cookieName = sticky.cookieName;
    this.fallback = fallback;
    this.byValue = new Map();
    this.setCookies = [];
    for (let i = 0; i < endpoints.length; i++) {
      const v = stickyCookieValue(sticky.secret, endpoints[i]!.id);
      if (this.byValue.has(v)) throw new Error('sticky cookie value collision');
      this.byValue.set(v, i);
      this.setCookies.push(buildSetCookie(sticky, v));
    }
  }

  /** Endpoint index the request's affinity cookie designates, or -1. */
  affinity(ctx: SelectContext): number {
    const v = findCookie(ctx, this.cookieName);
    if (v === undefined) return -1;
    const i = this.byValue.get(v);
    return i === undefined ? -1 : i;
  }

  select(ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number {
    const a = this.affinity(ctx);
    if (a >= 0 && state.available(a) && (exclude === undefined || !exclude.has(a))) {
      this.setCookie = null;
      return a;
    }
    const i = this.fallback.select(ctx, state, exclude);
    this.setCookie = i >= 0 ? this.setCookies[i]! : null;
    return i;
  }

  onResult(i: number, latencyMs: number, ok: boolean): void {
    this.fallback.onResult?.(i, latencyMs, ok);
  }
}
