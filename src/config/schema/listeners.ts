// `listeners { listener "id" { } }`: the client-facing sockets.
import type { ListenerConfig, ListenerProtocol } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { error, locOf, nodePath, q, readAddress, readEnum, readId, readInt, readSecsAsMs, readString, walkBlock } from './reader.ts';
import type { Ctx, HostPort } from './reader.ts';

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
  let protocol: ListenerProtocol = 'http';
  let headersTimeoutMs = 10_000;
  let requestTimeoutMs = 60_000;
  let keepaliveTimeoutMs = 75_000;
  let keepaliveMaxRequests = 0;
  let maxUriBytes = DEFAULT_MAX_URI_BYTES;
  let defaultRoute: string | null = null;
  let sawAddress = false;
  walkBlock(ctx, node, path, {
    label,
    keys: {
      address: (n, p) => {
        sawAddress = true;
        addr = readAddress(ctx, n, p, 0);
      },
      protocol: (n, p) => {
        const v = readEnum<'http'>(ctx, n, p, ['http'], ['https', 'h2', 'h3']);
        if (v !== undefined) protocol = v;
      },
      'headers-timeout-secs': (n, p) => {
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
    },
    notImplemented: ['tls', 'max-concurrent-streams', 'namespace'],
  });
  if (!sawAddress) {
    error(ctx, node, node.pos, 'missing-key', `${label} has no "address"`, path, 'e.g. address "127.0.0.1:8080"');
  }
  if (id === undefined || addr === undefined) return undefined;
  return {
    node,
    config: {
      id,
      host: addr.host,
      port: addr.port,
      protocol,
      headersTimeoutMs,
      requestTimeoutMs,
      keepaliveTimeoutMs,
      keepaliveMaxRequests,
      maxUriBytes,
      defaultRoute,
      loc: locOf(node),
    },
  };
}
