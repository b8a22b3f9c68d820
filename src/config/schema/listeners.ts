// `listeners { listener "id" { } }`: the client-facing sockets.
import type { ListenerConfig, ListenerProtocol, ListenerTlsConfig } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { error, locOf, nodePath, q, readAddress, readId, readInt, readManyStrings, readSecsAsMs, readString, walkBlock } from './reader.ts';
import type { Ctx, HostPort } from './reader.ts';
import { readListenerTls } from './tls.ts';

const PROTOCOLS: readonly ListenerProtocol[] = ['http', 'https', 'h2c'];

/** Defaults of the listener limits (docs/config.md). */
export const LISTENER_DEFAULTS = {
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxConcurrentStreams: 100,
  maxStreamResetsPer10s: 200,
} as const;

/** Longest request-target accepted by default (nginx's large_client_header_buffers is 8k too). */
export const DEFAULT_MAX_URI_BYTES = 8192;

export interface ListenerAcc {
  readonly config: ListenerConfig;
  readonly node: LNode;
}

export function readListener(ctx: Ctx, node: LNode, parentPath: string): ListenerAcc | undefined {
  const id = readId(ctx, node, `${parentPath}/listener`, 'listener');
  const path = nodePath(parentPath, node, id);
  const label = `listener ${id !== undefined ? q(id) : ''}`.trim();
  let addr: HostPort | undefined;
  let protocol = 'http' as ListenerProtocol;
  let protocolNode: LNode | undefined;
  let tls = null as ListenerTlsConfig | null;
  let tlsNode: LNode | undefined;
  let tlsOk = true;
  let maxConnections = 0;
  let maxHeaderBytes: number = LISTENER_DEFAULTS.maxHeaderBytes;
  let maxHeaderCount: number = LISTENER_DEFAULTS.maxHeaderCount;
  let maxConcurrentStreams: number = LISTENER_DEFAULTS.maxConcurrentStreams;
  let maxStreamResetsPer10s: number = LISTENER_DEFAULTS.maxStreamResetsPer10s;
  let h2Node: LNode | undefined;
  let headersTimeoutMs = 10_000;
  let requestTimeoutMs = 60_000;
  let keepaliveTimeoutMs = 75_000;
  let keepaliveMaxRequests = 0;
  let maxUriBytes = DEFAULT_MAX_URI_BYTES;
  let defaultRoute: string | null = null;
  const rateLimit: string[] = [];
  let sawAddress = false;
  let headersTimeoutNode: LNode | undefined;
  walkBlock(ctx, node, path, {
    label,
    keys: {
      address: (n, p) => {
        sawAddress = true;
        addr = readAddress(ctx, n, p, 0);
      },
      protocol: (n, p) => {
        protocolNode = n;
        const v = readString(ctx, n, p);
        if (v === undefined) return;
        const pos = n.args[0]?.pos ?? n.pos;
        if ((PROTOCOLS as readonly string[]).includes(v)) protocol = v as ListenerProtocol;
        else if (v === 'h3') error(ctx, n, pos, 'not-implemented', 'protocol "h3" (HTTP/3 over QUIC) is not implemented', p, 'use "https": it serves HTTP/2 and HTTP/1.1 over TLS');
        else if (v === 'h2') error(ctx, n, pos, 'invalid-value', 'protocol "h2" is ambiguous', p, 'use "https" for HTTP/2 over TLS (ALPN, with HTTP/1.1 fallback) or "h2c" for cleartext HTTP/2 with prior knowledge');
        else error(ctx, n, pos, 'invalid-value', `invalid protocol ${q(v)}`, p, `valid values: ${PROTOCOLS.map(q).join(', ')}`);
      },
      tls: (n, p) => {
        tlsNode = n;
        const t = readListenerTls(ctx, n, p, label);
        if (t === undefined) tlsOk = false;
        else tls = t;
      },
      'max-connections': (n, p) => {
        maxConnections = readInt(ctx, n, p, 0, 10_000_000) ?? maxConnections;
      },
      'max-header-bytes': (n, p) => {
        maxHeaderBytes = readInt(ctx, n, p, 1024, 1024 * 1024) ?? maxHeaderBytes;
      },
      'max-header-count': (n, p) => {
        maxHeaderCount = readInt(ctx, n, p, 1, 10_000) ?? maxHeaderCount;
      },
      'max-concurrent-streams': (n, p) => {
        h2Node = n;
        maxConcurrentStreams = readInt(ctx, n, p, 1, 10_000) ?? maxConcurrentStreams;
      },
      'max-stream-resets-per-10s': (n, p) => {
        h2Node = n;
        maxStreamResetsPer10s = readInt(ctx, n, p, 1, 1_000_000) ?? maxStreamResetsPer10s;
      },
      'headers-timeout-secs': (n, p) => {
        headersTimeoutNode = n;
        headersTimeoutMs = readSecsAsMs(ctx, n, p) ?? headersTimeoutMs;
      },
      'request-timeout-secs': (n, p) => {
        requestTimeoutMs = readSecsAsMs(ctx, n, p) ?? requestTimeoutMs;
      },
      'keepalive-timeout-secs': (n, p) => {
        keepaliveTimeoutMs = readSecsAsMs(ctx, n, p) ?? keepaliveTimeoutMs;
      },
      'keepalive-max-requests': (n, p) => {
        keepaliveMaxRequests = readInt(ctx, n, p, 0, 2 ** 31 - 1) ?? keepaliveMaxRequests;
      },
      'max-uri-bytes': (n, p) => {
        maxUriBytes = readInt(ctx, n, p, 64, 1024 * 1024) ?? maxUriBytes;
      },
      'default-route': (n, p) => {
        const v = readString(ctx, n, p);
        if (v !== undefined) {
          defaultRoute = v;
          ctx.refs.push({ kind: 'route', via: 'default-route', from: label, name: v, node: n, path: p });
        }
      },
      // The listener's global limit: rate-limit filters applied to every request before routing.
      'rate-limit': (n, p) => {
        const vals = readManyStrings(ctx, n, p);
        if (vals === undefined) return;
        for (const { value, pos } of vals) {
          if (rateLimit.includes(value)) {
            error(ctx, n, pos, 'duplicate-value', `filter ${q(value)} is listed twice in ${label} rate-limit`, p, 'each filter runs once per request');
            continue;
          }
          rateLimit.push(value);
          ctx.refs.push({ kind: 'filter', via: 'rate-limit', from: label, name: value, node: n, path: p });
        }
      },
    },
    notImplemented: ['namespace'],
  });
  if (!sawAddress) {
    error(ctx, node, node.pos, 'missing-key', `${label} has no "address"`, path, 'e.g. address "127.0.0.1:8080"');
  }
  if (headersTimeoutMs > requestTimeoutMs) {
    const n = headersTimeoutNode ?? node;
    error(ctx, n, n.args[0]?.pos ?? n.pos, 'conflict', `headers-timeout-secs (${headersTimeoutMs / 1000}) is longer than request-timeout-secs (${requestTimeoutMs / 1000})`, `${path}/headers-timeout-secs`,
      'the head is part of the request: raise request-timeout-secs, or lower headers-timeout-secs');
  }
  if (protocol === 'https' && tlsNode === undefined) {
    const n = protocolNode ?? node;
    error(ctx, n, n.pos, 'missing-key', `${label} has protocol "https" but no "tls" block`, path, 'e.g. tls { cert-file "server.pem"; key-file "server.key" }');
    return undefined;
  }
  if (protocol !== 'https' && tlsNode !== undefined) {
    error(ctx, tlsNode, tlsNode.pos, 'conflict', `${label} has a "tls" block but protocol ${q(protocol)}`, `${path}/tls`, 'set protocol "https" to serve TLS, or remove the tls block');
    return undefined;
  }
  const h2Possible = protocol === 'h2c' || (protocol === 'https' && tls?.http2 !== false);
  if (h2Node !== undefined && !h2Possible && tlsOk) {
    error(ctx, h2Node, h2Node.pos, 'conflict', `${q(h2Node.name)} applies to HTTP/2, which ${label} does not serve`, `${path}/${h2Node.name}`, 'HTTP/2 is served by protocol "https" (unless tls { http2 #false }) and "h2c"');
  }
  if (id === undefined || addr === undefined || !tlsOk) return undefined;
  return {
    node,
    config: {
      id,
      host: addr.host,
      port: addr.port,
      protocol,
      tls,
      headersTimeoutMs,
      requestTimeoutMs,
      keepaliveTimeoutMs,
      keepaliveMaxRequests,
      maxUriBytes,
      maxConnections,
      maxHeaderBytes,
      maxHeaderCount,
      maxConcurrentStreams,
      maxStreamResetsPer10s,
      defaultRoute,
      rateLimit,
      loc: locOf(node),
    },
  };
}
