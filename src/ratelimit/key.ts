// Rate-limit key extractors, compiled once from a spec string such as "client-ip", "header:X-Api-Key",
// "path", "route", "query:token" or a comma-separated combination ("client-ip,path").
//
// Missing values: a part whose value is absent (no such header, no such query parameter, no route)
// contributes the placeholder "-" by default, so every request lacking it shares ONE bucket. That is
// the safe default for a security proxy: omitting a header must not be a way around the limit. With
// `onMissing: 'skip'` the extractor returns null instead and the caller does not limit the request.
//
// client-ip: the socket peer address, unless that peer is a trusted proxy; then X-Forwarded-For is
// read right to left, skipping trusted addresses, and the first untrusted address is the client. If
// every hop is trusted the left-most one is used. A hop that is not a valid IP stops the walk and
// the last trusted address seen (the proxy that reported the garbage) is used, so a client cannot
// pick its own key by writing junk into the header. IPv4-mapped IPv6 addresses are unmapped.

import { isIP } from 'node:net';
import type { BlockList } from 'node:net';
import { compileTrustedProxies, parseKeySpec } from '../core/request-key.ts';

/**
 * What a key is read from. The pipeline's `Exchange` has this shape, so the filter passes the
 * exchange itself and nothing is allocated per request.
 */
export interface KeyInput {
  /** Socket peer address as Node reports it (may be IPv4-mapped IPv6); '' when unknown. */
  readonly clientIp: string;
  /** Lower-case header names, Node's IncomingHttpHeaders shape. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Path without the query string. */
  readonly path: string;
  /** Raw query string without the leading '?', or null when none. */
  readonly query: string | null;
  /** The matched route, or null before routing (a listener's global limit). */
  readonly route: { readonly id: string } | null;
}

export type KeyExtractor = (input: KeyInput) => string | null;

export interface KeyOptions {
  /** Addresses or CIDRs ("10.0.0.0/8", "::1", "fd00::/8") whose X-Forwarded-For is believed. */
  readonly trustedProxies?: readonly string[];
  /** What a missing part does: 'shared' (default) uses "-", 'skip' returns null. */
  readonly onMissing?: 'shared' | 'skip';
}

export const MISSING_PART = '-';

export { compileTrustedProxies, parseKeySpec };

function unmap(address: string): string {
  // ::ffff:1.2.3.4 → 1.2.3.4 (what a dual-stack socket reports for IPv4 peers)
  return address.length > 7 && address.charCodeAt(0) === 58 && address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function isTrusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Resolve the client address; exported for the sanitize phase and for tests. */
export function resolveClientIp(remoteAddress: string | undefined, forwardedFor: string | readonly string[] | undefined, trusted: BlockList | null): string | null {
  if (remoteAddress === undefined || remoteAddress === '') return null;
  let current = unmap(remoteAddress);
  if (trusted === null || forwardedFor === undefined || !isTrusted(trusted, current)) return current;
  const joined = typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',');
  const hops = joined.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = (hops[i] ?? '').trim();
    if (hop === '') continue;
    const address = unmap(hop);
    if (isIP(address) === 0) return current; // junk: keep the last trusted hop
    current = address;
    if (!isTrusted(trusted, address)) return address;
  }
  return current; // every hop trusted: the left-most one
}

function queryValue(query: string | null, name: string): string | null {
  if (query === null || query === '') return null;
  const value = new URLSearchParams(query).get(name);
  return value;
}

function headerValue(headers: KeyInput['headers'], name: string): string | null {
  const value = headers[name];
  if (value === undefined) return null;
  if (typeof value === 'string') return value;
  return value.length === 0 ? null : value.join(',');
}

/**
 * Compile a key spec into an extractor. Single-part keys are the raw value; combined keys encode
 * each part as `<length>:<value>` so no value can forge a separator and collide with another key.
 */
export function compileKeyExtractor(spec: string, options: KeyOptions = {}): KeyExtractor {
  const parts = parseKeySpec(spec);
  const trusted = options.trustedProxies !== undefined && options.trustedProxies.length > 0 ? compileTrustedProxies(options.trustedProxies) : null;
  const skip = options.onMissing === 'skip';

  const readers = parts.map((part): ((input: KeyInput) => string | null) => {
    switch (part.kind) {
      case 'client-ip':
        return (input) => resolveClientIp(input.clientIp, input.headers['x-forwarded-for'], trusted);
      case 'path':
        return (input) => input.path;
      case 'route':
        return (input) => (input.route === null ? null : input.route.id);
      case 'header': {
        const name = part.name;
        return (input) => headerValue(input.headers, name);
      }
      case 'query': {
        const name = part.name;
        return (input) => queryValue(input.query, name);
      }
    }
  });

  if (readers.length === 1) {
    const read = readers[0]!;
    return (input) => {
      const value = read(input);
      if (value === null) return skip ? null : MISSING_PART;
      return value;
    };
  }
  return (input) => {
    let key = '';
    for (let i = 0; i < readers.length; i++) {
      let value = readers[i]!(input);
      if (value === null) {
        if (skip) return null;
        value = MISSING_PART;
      }
      key += (i === 0 ? '' : '|') + value.length + ':' + value;
    }
    return key;
  };
}
