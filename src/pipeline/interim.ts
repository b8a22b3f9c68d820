// What the forward phase relays around the final response head: interim (1xx) responses before
// it and trailer fields after the body (RFC 9110 §15.2, §6.5). Kept apart from forward.ts so the
// upstream attempt only calls in.
import { filterHeaders } from '../core/headers.ts';
import { isHttp2Request } from './exchange.ts';
import type { Exchange } from './exchange.ts';

/**
 * A flat `[name, value, …]` list from what undici hands over: a raw list (HTTP/1.1 upstreams,
 * Buffers or strings) or a header object (HTTP/2 upstreams; pseudo-headers skipped).
 */
function toList(raw: unknown): string[] {
  if (Array.isArray(raw)) {
    const out: string[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const v: unknown = raw[i];
      out[i] = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('latin1') : String(v);
    }
    return out;
  }
  const out: string[] = [];
  if (raw === null || typeof raw !== 'object') return out;
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name.startsWith(':') || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, String(v));
    else out.push(name, String(value));
  }
  return out;
}

/**
 * Relays an interim response from the upstream: 103 Early Hints (with its fields, minus hop-by-hop
 * ones) and 102 Processing. 100 Continue is Sentinel's own (it answers `Expect` itself and never
 * forwards it, so a target has no reason to send one), 101 belongs to upgrades, and other 1xx
 * codes are unassigned: those are dropped. Nothing is sent to an HTTP/1.0 client, which cannot
 * receive 1xx (RFC 9110 §15.2).
 */
export function relayInterim(ex: Exchange, statusCode: number, rawHeaders: unknown): void {
  const res = ex.res;
  const req = ex.req;
  if (ex.finished || res.headersSent || res.destroyed || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)) return;
  if (statusCode === 102) {
    // HTTP/2 has no 102 in Node's compatibility API (and RFC 9110 dropped 102 from its registry).
    if (!isHttp2Request(req)) res.writeProcessing();
    return;
  }
  if (statusCode !== 103) return;
  const fields = filterHeaders(toList(rawHeaders), [], null);
  const hints: Record<string, string | string[]> = {};
  for (let i = 0; i < fields.length; i += 2) {
    const name = (fields[i] as string).toLowerCase();
    const value = fields[i + 1] as string;
    const prev = hints[name];
    hints[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  // Node sends 103 only with a Link field (the point of Early Hints) and validates it.
  try { res.writeEarlyHints(hints); } catch { /* an invalid Link: the hint is dropped, the final response is unaffected */ }
}

/**
 * Fields never relayed as trailers: they frame or route the message, or describe its content,
 * and so only mean something in the head (RFC 9110 §6.5.1).
 */
const NOT_TRAILERS: ReadonlySet<string> = new Set([
  'content-length', 'content-encoding', 'content-type', 'content-range', 'host', 'authorization', 'set-cookie',
  'cache-control', 'expect', 'max-forwards', 'pragma', 'range', 'age', 'expires', 'date', 'location', 'retry-after', 'vary', 'warning',
]);

/**
 * Relays the upstream's trailer fields to the client when the response can carry them: chunked
 * HTTP/1.1 (no Content-Length) or HTTP/2 (a trailing HEADERS frame). Otherwise there is nowhere to
 * put them and they are dropped, as a recipient that removes the chunked coding may (RFC 9112 §7.1.2).
 */
export function relayTrailers(ex: Exchange, rawTrailers: unknown): void {
  if (rawTrailers === null || rawTrailers === undefined) return;
  const res = ex.res as typeof ex.res & { chunkedEncoding?: boolean };
  if ((res.chunkedEncoding !== true && !isHttp2Request(ex.req)) || res.destroyed) return;
  // filterHeaders drops the hop-by-hop fields too.
  const fields = filterHeaders(toList(rawTrailers), [], NOT_TRAILERS);
  if (fields.length === 0) return;
  const pairs: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) pairs.push([fields[i] as string, fields[i + 1] as string]);
  try { res.addTrailers(pairs); } catch { /* an invalid field is dropped with the rest; the body is complete */ }
}
