// One HTTP/1.1 listener: node:http with the listener's timeouts, a global connection cap shared
// by all listeners, and the request pipeline as its handler.
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../config/types.ts';
import { errorBody } from '../core/errors.ts';
import { newRequestId } from '../core/ids.ts';
import { handleRequest, installExpectationHandlers } from '../pipeline/handle.ts';
import type { ListenerContext } from '../pipeline/context.ts';

const kRequests = Symbol('sentinel.requestsOnConnection');

/**
 * Parser errors about how the request is framed or how its header fields are written: the
 * constructs that two HTTP implementations may read differently, which is what request
 * smuggling exploits (CL.TE, duplicate Content-Length, obs-fold, bare CR, bad chunk sizes, …).
 */
const FRAMING_ERRORS: ReadonlySet<string> = new Set([
  'HPE_INVALID_TRANSFER_ENCODING', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'HPE_INVALID_CONTENT_LENGTH',
  'HPE_INVALID_CHUNK_SIZE', 'HPE_INVALID_HEADER_TOKEN', 'HPE_LF_EXPECTED', 'HPE_CR_EXPECTED',
  'HPE_STRICT', 'HPE_UNEXPECTED_SPACE', 'HPE_INVALID_EOF_STATE',
]);

export interface ClientErrorVerdict {
  readonly status: number;
  readonly statusText: string;
  /** Audit fields; null for a transport error (reset, broken pipe), which is not a decision. */
  readonly audit: { readonly component: string; readonly reason: string } | null;
}

/** What a `clientError` from node:http means: the status Node would send, and the audit record. */
export function classifyClientError(code: string | undefined): ClientErrorVerdict {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, statusText: 'Request Header Fields Too Large', audit: { component: 'parser', reason: 'header block too large' } };
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return { status: 413, statusText: 'Payload Too Large', audit: { component: 'parser', reason: 'chunk extensions too large' } };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, statusText: 'Request Timeout', audit: { component: 'limits', reason: 'request not received within headers-timeout or request-timeout' } };
  if (code !== undefined && FRAMING_ERRORS.has(code)) return { status: 400, statusText: 'Bad Request', audit: { component: 'parser', reason: 'smuggling rejected' } };
  if (code !== undefined && code.startsWith('HPE_')) return { status: 400, statusText: 'Bad Request', audit: { component: 'parser', reason: 'malformed request' } };
  return { status: 400, statusText: 'Bad Request', audit: null };
}

/**
 * node:http's `clientError`: the request head (or a chunked body) could not be parsed, or did
 * not arrive in time. Answers as Node would (400, 413, 431 or 408, then close), with a JSON body
 * and a request id, and records the refusal in the audit log.
 */
function onClientError(ctx: ListenerContext, err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Socket): void {
  const verdict = classifyClientError(err.code);
  const requestId = newRequestId(ctx.state.current.config.system.traceIdFormat);
  // As node:http: answer only if nothing of a response went out on this connection (a body
  // error can come after a response to the same request was sent).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  const answer = verdict.audit !== null && socket.writable && (inFlight === undefined || inFlight === null || inFlight.headersSent !== true);
  if (verdict.audit !== null) {
    ctx.audit.record({
      component: verdict.audit.component,
      action: 'reject',
      reason: verdict.audit.reason,
      request_id: requestId,
      listener: ctx.listenerId,
      client_ip: socket.remoteAddress ?? '',
      // The status sent, or none when a response had already begun (the connection is closed).
      ...(answer ? { status: verdict.status } : {}),
      parser_error: err.code,
      detail: err.message.slice(0, 200),
    });
  }
  if (answer) {
    // 400 carries the usual JSON error; 408, 413 and 431 stay as node:http words them (no body).
    const body = verdict.status === 400 ? errorBody('BAD_REQUEST', requestId) : '';
    socket.write(`HTTP/1.1 ${verdict.status} ${verdict.statusText}\r\n${body === '' ? '' : 'content-type: application/json\r\n'}content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

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
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(ctx, err, socket));
  installExpectationHandlers(server);
  const openGauge = ctx.metrics.activeConnections.labels(config.id);
  const rejected = ctx.metrics.connectionsRejected.labels(config.id);
  rejected.inc(0); // a series from the start: dashboards read 0 rather than no data
  ctx.metrics.initLimits(config.id);
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
