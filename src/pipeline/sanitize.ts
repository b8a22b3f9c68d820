// The sanitize phase: checks on the request head that node:http's parser does not make, before
// routing. Malformed heads that the parser itself rejects never reach here (node:http answers
// 400 and closes; see conformance/http).
import type { Exchange } from './exchange.ts';

/**
 * RFC 3986 authority without userinfo: reg-name or IPv4, or an IPv6 literal in brackets, and an
 * optional port. Used for the Host header and absolute-form targets; anything else is a 400.
 */
const AUTHORITY_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]{1,5})?$/;

export function isValidAuthority(value: string): boolean {
  return value.length <= 255 && AUTHORITY_RE.test(value);
}

export interface RequestTarget {
  readonly path: string;
  readonly query: string | null;
  /** The authority of an absolute-form target, else null. */
  readonly authority: string | null;
}

/** Splits a request-target into path and query; absolute-form yields its authority too. */
export function splitTarget(url: string): RequestTarget | null {
  let rest = url;
  let authority: string | null = null;
  if (rest.charCodeAt(0) !== 47 /* / */) {
    const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(rest);
    if (m === null) return null;
    authority = m[1] as string;
    rest = (m[2] as string) === '' ? '/' : (m[2] as string);
    if (rest.charCodeAt(0) !== 47) return null;
  }
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: null, authority } : { path: rest.slice(0, q), query: rest.slice(q + 1), authority };
}

/** Validates the head and fills `ex.path`, `ex.query` and `ex.host`. False: the exchange was ended. */
export function sanitize(ex: Exchange): boolean {
  const req = ex.req;
  const target = splitTarget(req.url ?? '');
  if (target === null) {
    ex.fail('BAD_REQUEST');
    return false;
  }
  ex.path = target.path;
  ex.query = target.query;
  const hostHeader = req.headers.host;
  ex.host = target.authority ?? (typeof hostHeader === 'string' ? hostHeader : '');
  if (ex.host !== '' && !isValidAuthority(ex.host)) {
    ex.fail('BAD_REQUEST');
    return false;
  }
  if (target.authority !== null) {
    // Absolute-form: forward origin-form upstream (RFC 9112 §3.2.2), the authority becomes Host.
    req.url = target.query === null ? target.path : `${target.path}?${target.query}`;
  }
  return true;
}
