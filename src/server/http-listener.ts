// One HTTP/1.1 listener: node:http with the listener's timeouts, a global connection cap shared
// by all listeners, and the request pipeline as its handler.
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../config/types.ts';
import { handleRequest } from '../pipeline/handle.ts';
import type { ListenerContext } from '../pipeline/context.ts';

const kRequests = Symbol('sentinel.requestsOnConnection');

/** Counts open client connections across every listener and enforces system max-connections. */
export class ConnectionGate {
  open = 0;
  max: number;
  constructor(max: number) { this.max = max; }
}

export function createHttpListener(config: ListenerConfig, ctx: ListenerContext, gate: ConnectionGate): Server {
  // Node checks headers/request timeouts on an interval; keep it well under the smallest timeout
  // so they fire close to their configured value.
  const smallest = Math.min(config.headersTimeoutMs, config.requestTimeoutMs);
  const server = createServer({
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepaliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(smallest / 4))),
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    noDelay: true,
  }, (req, res) => {
    // keepalive-max-requests, counted here rather than with Node's maxRequestsPerSocket: Node's
    // version announces "Connection: close" on the last response but keeps the socket open and
    // answers further requests with 503. Marking the response not-keep-alive makes Node close it.
    const max = ctx.keepaliveMaxRequests;
    if (max > 0) {
      const socket = req.socket as Socket & { [kRequests]?: number };
      const n = (socket[kRequests] ?? 0) + 1;
      socket[kRequests] = n;
      if (n >= max) res.shouldKeepAlive = false;
    }
    handleRequest(ctx, req, res);
  });
  const openGauge = ctx.metrics.activeConnections.labels(config.id);
  const rejected = ctx.metrics.connectionsRejected.labels(config.id);
  rejected.inc(0); // a series from the start: dashboards read 0 rather than no data
  server.on('connection', (socket: Socket) => {
    if (gate.open >= gate.max) {
      rejected.inc();
      socket.destroy();
      return;
    }
    gate.open++;
    openGauge.inc();
    socket.once('close', () => { gate.open--; openGauge.dec(); });
  });
  return server;
}

/** Binds `server`; resolves with the bound port or rejects with a message naming the listener. */
export function listen(server: Server, id: string, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why = err.code === 'EADDRINUSE' ? 'address already in use'
        : err.code === 'EACCES' ? 'permission denied'
        : err.code === 'EADDRNOTAVAIL' ? 'address not available on this host'
        : err.message;
      reject(new Error(`cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port} (listener "${id}"): ${why}`));
    };
    const onListening = () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // In a cluster worker the listening socket is shared through the primary (exclusive: false);
    // a single process binds its own.
    server.listen({ host, port, backlog: 4096, exclusive: !cluster.isWorker });
  });
}
