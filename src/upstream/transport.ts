// Upstream transport: one undici Pool per target, bounded, keep-alive. Pools are long-lived state
// owned by the registry (src/runtime/registry.ts), keyed by their identity, so a reload that keeps
// a target keeps its warm connections.
import { Pool } from 'undici';
import type { ConnectionPoolConfig, UpstreamTimeouts } from '../config/types.ts';

export interface PoolOptions {
  readonly host: string;
  readonly port: number;
  readonly pool: ConnectionPoolConfig;
  readonly timeouts: UpstreamTimeouts;
  /** HTTP/2 over cleartext with prior knowledge (deployments with upstream_protocol h2c). */
  readonly h2c?: boolean;
  /** Largest response head accepted (upstream `max-response-header-bytes`; default 64 KiB). */
  readonly maxHeaderBytes?: number;
}

/** Identity of a pool: two configs with the same key share one pool. */
export function poolKey(o: PoolOptions): string {
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return `http://${host}:${o.port}|c=${o.pool.maxConnections}|i=${o.pool.idleTimeoutMs}|t=${o.timeouts.connectMs}|r=${o.pool.maxRequestsPerConnection}|h=${o.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES}${o.h2c === true ? '|h2c' : ''}`;
}

/**
 * Prior-knowledge HTTP/2 over cleartext. undici 8's Pool reads `useH2c` at the top level (its
 * probe for h2 sessions), Client reads `h2Options.useH2c`; the typings only know the latter.
 */
const H2C_OPTIONS: Pool.Options = { allowH2: true, h2Options: { useH2c: true }, ...{ useH2c: true } };

/** The response head limit of pools whose owner sets none (deployment instances): 64 KiB. */
export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;

export function createPool(o: PoolOptions): Pool {
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return new Pool(`http://${host}:${o.port}`, {
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
    ...(o.h2c === true ? H2C_OPTIONS : {}),
  });
}
