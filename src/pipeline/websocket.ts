// WebSocket proxying (RFC 6455) for routes with `websocket #true`.
//
// The server hands an HTTP/1.1 `GET` with `Upgrade: websocket` to the pipeline like any request
// (sanitize, routing, filters run as usual), with the client socket attached (`kUpgrade`). On a
// WebSocket route the upgrade goes to the upstream as a fresh request head through the target's
// pool (`upgrade: 'websocket'`: undici sends `Connection: upgrade`). If the upstream answers 101
// the exchange ends there (access log, metrics: status 101) and a tunnel relays bytes both ways
// with backpressure (`pipe`). Any other answer is relayed as a normal response and the connection
// closes. Frames are not parsed: there is no message-size limit, and `websocket-inspection` is not
// implemented.
//
// A tunnel ends when either side closes (a clean end is passed on as a clean end, an error or reset
// as a reset), or after `websocket-idle-timeout-secs` without a byte in either direction.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { filterHeaders } from '../core/headers.ts';
import type { UpstreamRuntime } from '../upstream/upstream.ts';
import type { Exchange, RouteHandler } from './exchange.ts';
import { Attempt, REWRITTEN_RESPONSE, forward, rawResponseHeaders } from './forward.ts';
import type { ProxyHandler } from './forward.ts';

/** On the request of an upgrade: the client's socket and the bytes that followed its head. */
export const kUpgrade = Symbol('sentinel.upgrade');
/** Set on a client socket that carries a tunnel (the connection caps never evict it). */
export const kTunnel = Symbol('sentinel.tunnel');

export interface UpgradeRequest {
  readonly socket: Duplex;
  readonly head: Buffer;
}

type ReqWithUpgrade = Exchange['req'] & { [kUpgrade]?: UpgradeRequest };
type TunnelSocket = Duplex & { [kTunnel]?: boolean; setTimeout?: (ms: number, cb?: () => void) => unknown };

/** True for an HTTP/1.1 WebSocket opening handshake (RFC 6455 §4.1): GET, Upgrade: websocket, no body. */
export function isWebSocketUpgrade(method: string | undefined, headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const upgrade = headers.upgrade;
  return method === 'GET' && typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket'
    && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined;
}

/** One upstream try of a WebSocket upgrade: a normal Attempt that also takes the 101. */
class WebSocketAttempt extends Attempt {
  constructor(...args: ConstructorParameters<typeof Attempt>) {
    super(...args);
    this.upgrade = 'websocket';
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, _headers: unknown, upstream: Duplex): void {
    const ex = this.ex;
    ex.pending = null;
    ex.upstreamEndNs = process.hrtime.bigint();
    const up = (ex.req as ReqWithUpgrade)[kUpgrade];
    if (up === undefined || ex.finished || up.socket.destroyed) {
      upstream.destroy();
      this.settle(null, 'CLIENT_CLOSED_REQUEST');
      ex.fail('CLIENT_CLOSED_REQUEST');
      return;
    }
    this.settle('success');
    ex.ctx.metrics.upstreamOutcome(this.upstream.id, this.target.id, 'success');
    const out = filterHeaders(rawResponseHeaders(controller.rawHeaders), [], REWRITTEN_RESPONSE, ex);
    ex.finishResponseHead(out, true);
    out.push('connection', 'Upgrade', 'upgrade', 'websocket');
    let head = `HTTP/1.1 ${statusCode} Switching Protocols\r\n`;
    for (let i = 0; i < out.length; i += 2) head += `${out[i] as string}: ${out[i + 1] as string}\r\n`;
    head += '\r\n';
    // The exchange is over: the head is the response. The socket now belongs to the tunnel.
    const res = ex.res;
    res.detachSocket(up.socket as never);
    ex.status = statusCode;
    const route = ex.route;
    const routeId = route?.id ?? '-';
    ex.ctx.metrics.server.websocketUpgrades.get(routeId, 'upgraded').inc();
    ex.finalize();
    up.socket.write(head);
    openTunnel(ex, routeId, up, upstream, route?.config.websocket?.idleTimeoutMs ?? 300_000);
  }

  override onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: unknown, statusMessage?: string): void {
    // The upstream refused the upgrade: its answer is relayed as a normal response.
    if (statusCode >= 200) this.ex.ctx.metrics.server.websocketUpgrades.get(this.ex.route?.id ?? '-', 'refused').inc();
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  override onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    if (this.ex.status === 0) this.ex.ctx.metrics.server.websocketUpgrades.get(this.ex.route?.id ?? '-', 'failed').inc();
    super.onResponseError(controller, err);
  }
}

/** Relays bytes between the client and the upstream until one side closes or the tunnel idles. */
function openTunnel(ex: Exchange, routeId: string, up: UpgradeRequest, upstream: Duplex, idleTimeoutMs: number): void {
  const client = up.socket as TunnelSocket;
  const m = ex.ctx.metrics;
  const listener = ex.ctx.listenerId;
  const active = m.server.websocketActive.get(routeId);
  const toUpstream = m.server.websocketBytes.get(routeId, 'upstream');
  const toClient = m.server.websocketBytes.get(routeId, 'downstream');
  client[kTunnel] = true;
  active.inc();
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    active.dec();
  };
  client.on('data', (c: Buffer) => toUpstream.inc(c.length));
  upstream.on('data', (c: Buffer) => toClient.inc(c.length));
  // A clean end on one side ends the other after its buffered bytes; an error or reset resets it.
  client.on('error', () => { upstream.destroy(); });
  upstream.on('error', () => { client.destroy(); });
  client.on('close', () => { close(); if (!upstream.destroyed) upstream.destroy(); });
  upstream.on('close', () => { close(); if (!client.destroyed) client.end(); });
  if (client.setTimeout !== undefined) {
    // Socket activity in either direction (reads from the client, writes to it) resets the timer.
    client.setTimeout(idleTimeoutMs, () => {
      m.limitTriggered(listener, 'websocket_idle');
      client.destroy();
      upstream.destroy();
    });
  }
  if (up.head.length > 0) {
    toUpstream.inc(up.head.length);
    upstream.write(up.head);
  }
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
}

/**
 * The handler of a route with `websocket #true`: a WebSocket upgrade opens a tunnel; any other
 * request is proxied as usual (`proxy`).
 */
export class WebSocketRouteHandler implements RouteHandler {
  readonly kind = 'upstream';
  readonly upstream: UpstreamRuntime;
  private readonly proxy: ProxyHandler;

  constructor(proxy: ProxyHandler) {
    this.proxy = proxy;
    this.upstream = proxy.upstream;
  }

  handle(ex: Exchange): void {
    if ((ex.req as ReqWithUpgrade)[kUpgrade] === undefined) {
      this.proxy.handle(ex);
      return;
    }
    forward(ex, this.upstream, WebSocketAttempt);
  }
}
