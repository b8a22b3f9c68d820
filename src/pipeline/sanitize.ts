// The sanitize phase: checks on the request head that node:http's parser does not make, before
// routing. Malformed heads that the parser itself rejects never reach here (node:http answers
// 400 and closes; see conformance/http). Every rejection here is audited (`parser`/`limits`).
//
// Order: HTTP version → request-target length → target form → Host (duplicates, syntax) →
// Transfer-Encoding → path normalisation → method rules (TRACE, OPTIONS and Max-Forwards).
// Upgrade requests reach this pipeline only where no route takes them (WebSocket upgrades leave
// through the listener's 'upgrade' event): `Upgrade` is hop-by-hop, so they are served as plain
// HTTP and nothing is tunnelled (RFC 9110 §7.8 lets a server ignore Upgrade).
import type { CompiledListener } from '../compile/snapshot.ts';
import { normalizePath } from '../core/path.ts';
import { pushOps } from './header-ops.ts';
import { isHttp2Request } from './exchange.ts';
import type { Exchange } from './exchange.ts';

/**
 * RFC 3986 authority without userinfo: reg-name or IPv4, or an IPv6 literal in brackets, and an
 * optional port. Used for the Host header and absolute-form targets; anything else is a 400.
 */
const AUTHORITY_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]{1,5})?$/;

/** The methods a proxy route can carry; the Allow of a server-wide OPTIONS answer. */
export const PROXY_METHODS = 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH';

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
    if (rest.charCodeAt(0) !== 47 && rest.charCodeAt(0) !== 63 /* ? */) return null;
    if (rest.charCodeAt(0) === 63) rest = `/${rest}`;
  }
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: null, authority } : { path: rest.slice(0, q), query: rest.slice(q + 1), authority };
}

/**
 * One pass over the raw header list for what Node's parser lets through: a repeated Host (Node
 * keeps the first and drops the others from `req.headers`, so a backend that takes the last would
 * route differently) and repeated Transfer-Encoding lines. Returns a reason, or null.
 */
function headerFramingProblem(raw: readonly string[]): string | null {
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && (name === 'Host' || name.toLowerCase() === 'host') && ++hosts > 1) return 'duplicate Host header';
  }
  return null;
}

/**
 * Transfer-Encoding must be exactly `chunked` (RFC 9112 §6.1): Sentinel decodes no other transfer
 * coding, and a coding applied before chunked (`gzip, chunked`, or `x` and `chunked` on two lines)
 * would reach the upstream undecoded and unannounced once chunked is removed. HTTP/1.0 has no
 * transfer codings: such a message has faulty framing (RFC 9112 §6.1).
 */
function transferEncodingProblem(ex: Exchange): string | null {
  const te = ex.req.headers['transfer-encoding'];
  if (te === undefined) return null;
  if (ex.req.httpVersionMinor === 0) return 'Transfer-Encoding in an HTTP/1.0 request';
  if (te.trim().toLowerCase() !== 'chunked') return 'Transfer-Encoding other than a single chunked';
  return null;
}

/**
 * `Max-Forwards` on OPTIONS (RFC 9110 §7.6.2): 0 means "answer here", so Sentinel answers as the
 * final recipient; otherwise it is decremented on the way upstream. TRACE is refused everywhere
 * (it would echo credentials back to a script, cross-site tracing), so Max-Forwards never needs
 * handling for it. Returns false when the exchange was ended.
 */
function checkMethod(ex: Exchange): boolean {
  const method = ex.req.method;
  if (method === 'TRACE') {
    ex.reject('METHOD_NOT_IMPLEMENTED', 'TRACE is disabled');
    return false;
  }
  if (method !== 'OPTIONS') return true;
  const mf = ex.req.headers['max-forwards'];
  if (mf === undefined) return true;
  if (typeof mf !== 'string' || !/^[0-9]{1,10}$/.test(mf)) {
    ex.reject('BAD_REQUEST', 'invalid Max-Forwards');
    return false;
  }
  const n = Number(mf);
  if (n === 0) {
    ex.reply(200, ['allow', PROXY_METHODS], null);
    return false;
  }
  ex.requestHeaderOps = pushOps(ex.requestHeaderOps, [{ op: 'set', name: 'max-forwards', value: String(n - 1) }]);
  return true;
}

/** Validates the head and fills `ex.path`, `ex.query` and `ex.host`. False: the exchange was ended. */
export function sanitize(ex: Exchange, listener: CompiledListener | undefined): boolean {
  const req = ex.req;
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor > 1) {
    // HTTP/0.9 has no head at all, and "HTTP/2.0" or "HTTP/1.2" on a text request line is not a
    // protocol this parser speaks. Real HTTP/2 arrives through node:http2, not here.
    if (!(req.httpVersionMajor === 2 && isHttp2Request(req))) {
      ex.res.shouldKeepAlive = false;
      ex.reject('HTTP_VERSION_NOT_SUPPORTED', `HTTP/${req.httpVersion} request line`);
      return false;
    }
  }
  const url = req.url ?? '';
  if (listener !== undefined && url.length > listener.config.maxUriBytes) {
    ex.limitExceeded('uri_bytes', 'URI_TOO_LONG');
    return false;
  }
  if (url === '*') {
    // Asterisk-form (RFC 9112 §3.2.4) asks about the server itself: only OPTIONS, answered here.
    if (req.method === 'OPTIONS') {
      ex.reply(200, ['allow', PROXY_METHODS], null);
    } else {
      ex.reject('BAD_REQUEST', 'asterisk-form target outside OPTIONS');
    }
    return false;
  }
  const target = splitTarget(url);
  if (target === null) {
    ex.reject('BAD_REQUEST', 'unusable request-target');
    return false;
  }
  const framing = headerFramingProblem(req.rawHeaders) ?? transferEncodingProblem(ex);
  if (framing !== null) {
    // Where this message ends is in doubt: close the connection after the answer (RFC 9112 §6.1).
    ex.res.shouldKeepAlive = false;
    ex.reject('BAD_REQUEST', framing);
    return false;
  }
  const hostHeader = req.headers.host;
  ex.host = target.authority ?? (typeof hostHeader === 'string' ? hostHeader : '');
  if (ex.host !== '' && !isValidAuthority(ex.host)) {
    ex.reject('BAD_REQUEST', 'invalid Host or absolute-form authority');
    return false;
  }
  const path = normalizePath(target.path);
  if (typeof path !== 'string') {
    ex.path = target.path;
    ex.reject('BAD_REQUEST', `path rejected: ${path.rejected}`);
    return false;
  }
  if (target.query !== null && target.query.includes('#')) {
    ex.path = path;
    ex.reject('BAD_REQUEST', 'path rejected: fragment');
    return false;
  }
  ex.path = path;
  ex.query = target.query;
  // The upstream gets what was routed: the normalised path, in origin-form (absolute-form is
  // rewritten, RFC 9112 §3.2.2), with the query exactly as received.
  if (target.authority !== null || path !== target.path) {
    req.url = target.query === null ? path : `${path}?${target.query}`;
  }
  return checkMethod(ex);
}
