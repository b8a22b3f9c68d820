// Upstream transport: one undici Pool per target, bounded, keep-alive. Pools are long-lived state
// owned by the registry (src/runtime/registry.ts), keyed by their identity, so a reload that keeps
// a target keeps its warm connections.
//
// TLS to a target (`tls { }` on the upstream) verifies its certificate by default, against
// `ca-file` or Node's bundled roots, for the `sni` name (else the target host); `client-cert` and
// `client-key` give mTLS. HTTP/2 (`http-version { max-version 2 }`) is offered with ALPN over TLS,
// or spoken with prior knowledge in cleartext (h2c, min-version 2); otherwise HTTP/1.1 only.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Pool, buildConnector } from 'undici';
import type { ConnectionPoolConfig, PemFileRef, UpstreamHttp2Config, UpstreamTimeouts, UpstreamTlsConfig } from '../config/types.ts';

export interface PoolOptions {
  readonly host: string;
  readonly port: number;
  readonly pool: ConnectionPoolConfig;
  readonly timeouts: UpstreamTimeouts;
  readonly tls?: UpstreamTlsConfig | undefined;
  readonly http2?: UpstreamHttp2Config | undefined;
  /** HTTP/2 over cleartext with prior knowledge (deployments with upstream_protocol h2c); the same as `http2: { mode: 'h2c' }`. */
  readonly h2c?: boolean;
  /** Largest response head accepted (upstream `max-response-header-bytes`; default 64 KiB). */
  readonly maxHeaderBytes?: number;
}

/** The response head limit of pools whose owner sets none (deployment instances): 64 KiB. */
export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;

/** The HTTP/2 mode of a pool: its `http2` config, or `h2c` from the deployments shorthand. */
function http2Of(o: PoolOptions): UpstreamHttp2Config | undefined {
  return o.http2 ?? (o.h2c === true ? { mode: 'h2c', maxStreams: 100 } : undefined);
}

/** Identity of a pool: two configs with the same key share one pool. File contents count by digest. */
export function poolKey(o: PoolOptions): string {
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  let key = `${o.tls !== undefined ? 'https' : 'http'}://${host}:${o.port}|c=${o.pool.maxConnections}|i=${o.pool.idleTimeoutMs}|t=${o.timeouts.connectMs}|r=${o.pool.maxRequestsPerConnection}|h=${o.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES}`;
  const t = o.tls;
  if (t !== undefined) {
    key += `|sni=${t.sni ?? ''}|ca=${t.ca?.sha256 ?? 'system'}|cc=${t.client?.cert.sha256 ?? ''}:${t.client?.key.sha256 ?? ''}|v=${t.insecureSkipVerify ? 'off' : 'on'}`;
  }
  const h2 = http2Of(o);
  if (h2 !== undefined) key += `|h2=${h2.mode}:${h2.maxStreams}`;
  return key;
}

function readPem(ref: PemFileRef, what: string): Buffer {
  try {
    return readFileSync(ref.path);
  } catch (err) {
    throw new Error(`cannot read upstream ${what} ${JSON.stringify(ref.path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/**
 * The TLS server name of a target: `sni`, else the target's host when it is a DNS name; none for an
 * IP address (its certificate must then carry that IP). Never the client's Host: undici would
 * otherwise derive it from each request's Host header.
 */
export function upstreamServername(t: UpstreamTlsConfig, host: string): string | undefined {
  return t.sni ?? (isIP(host) === 0 ? host : undefined);
}

/** Node `tls.connect` options for a TLS upstream (throws naming a file that cannot be read). */
export function tlsConnectOptions(t: UpstreamTlsConfig): Record<string, unknown> {
  const o: Record<string, unknown> = { rejectUnauthorized: !t.insecureSkipVerify };
  if (t.ca !== null) o.ca = readPem(t.ca, 'CA bundle');
  if (t.client !== null) {
    o.cert = readPem(t.client.cert, 'client certificate');
    o.key = readPem(t.client.key, 'client key');
  }
  return o;
}

export function createPool(o: PoolOptions): Pool {
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  const h2 = http2Of(o);
  const allowH2 = h2 !== undefined;
  const useH2c = h2?.mode === 'h2c';
  // Our own connector: it fixes the TLS server name (see upstreamServername) and is the only way
  // to get h2c from a Pool (undici's Pool ignores h2Options.useH2c in the connector it builds).
  const connector = buildConnector({
    ...(o.tls !== undefined ? tlsConnectOptions(o.tls) : {}),
    allowH2,
    useH2c,
    timeout: o.timeouts.connectMs,
  } as buildConnector.BuildOptions);
  const servername = o.tls !== undefined ? upstreamServername(o.tls, o.host) : undefined;
  return new Pool(`${o.tls !== undefined ? 'https' : 'http'}://${host}:${o.port}`, {
    connections: o.pool.maxConnections,
    pipelining: 1,
    keepAliveTimeout: o.pool.idleTimeoutMs,
    keepAliveMaxTimeout: o.pool.idleTimeoutMs,
    // 0 = unlimited (undici's null).
    ...(o.pool.maxRequestsPerConnection > 0 ? { maxRequestsPerClient: o.pool.maxRequestsPerConnection } : {}),
    connectTimeout: o.timeouts.connectMs,
    // Per-request values are passed at dispatch; these are only fall-backs.
    headersTimeout: o.timeouts.headersMs,
    bodyTimeout: o.timeouts.readMs,
    // Response heads larger than this are refused (502 UPSTREAM_HEADERS_TOO_LARGE), never buffered without bound.
    maxHeaderSize: o.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    strictContentLength: true,
    // undici offers h2 by default; Sentinel only where the upstream asks for it. undici 8's Pool
    // reads `useH2c` at the top level (its probe for h2 sessions); the connector above speaks it.
    allowH2,
    useH2c,
    ...(h2 !== undefined ? { h2Options: { maxConcurrentStreams: h2.maxStreams } } : {}),
    connect: (opts, cb) => connector({ ...opts, servername }, cb),
  } as Pool.Options);
}
