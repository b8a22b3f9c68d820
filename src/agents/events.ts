// Building protocol events from an exchange. The request-headers event is built once per request
// and shared by every agent of the route that gets the same correlation id.
import type { TLSSocket } from 'node:tls';
import type { HeaderMap, RequestHeadersEvent, RequestMetadata } from '../protocol/types.ts';
import type { Exchange } from '../pipeline/exchange.ts';

let seq = 0;
const prefix = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0')}`;

/** A correlation id unique in this process (agents see the request id separately, in metadata). */
export function newCorrelationId(): string {
  seq = (seq + 1) % Number.MAX_SAFE_INTEGER;
  return `${prefix}-${seq.toString(36)}`;
}

/** A raw header list (`[name, value, …]`) as the protocol's map: lower-case name → values in order. */
export function headerMap(raw: readonly string[]): HeaderMap {
  const out = Object.create(null) as HeaderMap;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const list = out[name];
    if (list === undefined) out[name] = [raw[i + 1] as string];
    else list.push(raw[i + 1] as string);
  }
  return out;
}

/** Wall-clock start of the exchange in RFC 3339 (the exchange keeps a monotonic start only). */
function startTimestamp(ex: Exchange): string {
  const elapsedMs = Number(process.hrtime.bigint() - ex.startNs) / 1e6;
  return new Date(Date.now() - elapsedMs).toISOString();
}

export function requestHeadersEvent(ex: Exchange, correlationId: string): RequestHeadersEvent {
  const req = ex.req;
  const metadata: RequestMetadata = {
    correlation_id: correlationId,
    request_id: ex.requestId,
    client_ip: ex.clientIp,
    client_port: ex.clientPort,
    protocol: req.httpVersion === '2.0' ? 'HTTP/2' : `HTTP/${req.httpVersion}`,
    timestamp: startTimestamp(ex),
    traceparent: ex.traceparent,
  };
  const sock = req.socket as Partial<TLSSocket> | null;
  if (sock?.encrypted === true) {
    // TLS listeners: what the client negotiated (absent on plain HTTP).
    const version = sock.getProtocol?.();
    const cipher = sock.getCipher?.();
    const sni = sock.servername;
    if (typeof version === 'string') metadata.tls_version = version;
    if (cipher !== undefined && typeof cipher.name === 'string') metadata.tls_cipher = cipher.name;
    if (typeof sni === 'string' && sni !== '') metadata.server_name = sni;
  }
  const route = ex.route;
  if (route !== null) {
    metadata.route_id = route.id;
    if (route.upstream !== null) metadata.upstream_id = route.upstream.id;
  }
  return { correlation_id: correlationId, metadata, method: req.method as string, uri: req.url as string, headers: headerMap(req.rawHeaders) };
}
