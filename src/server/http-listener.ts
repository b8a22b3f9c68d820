// One client-facing listener, whatever its protocol:
// - `http`: node:http (HTTP/1.1);
// - `https`: node:https with ALPN `h2` and `http/1.1`; a TLS socket that chose `h2` is handed to a
//   node:http2 server, any other to the HTTP/1.1 server, so both share the port, the caps and the
//   certificates;
// - `h2c`: node:http2 in cleartext (prior knowledge only).
// Every request, HTTP/1.1 or HTTP/2, runs through the same pipeline (src/pipeline/handle.ts).
//
// Limits enforced here: connection caps with idle eviction (connection-gate.ts), header count
// (431), head size (node:http `maxHeaderSize`: 431 from the parser), the slow-client timeouts of
// node:http, the TLS handshake timeout, and the HTTP/2 session limits (http2.ts). Each counts in
// `sentinel_limits_triggered_total{listener,limit}` when it triggers, and goes to the audit log.
import cluster from 'node:cluster';
import { ServerResponse, createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, Http2Session } from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { ListenerConfig } from '../config/types.ts';
import { errorBody } from '../core/errors.ts';
import { newRequestId } from '../core/ids.ts';
import type { LimitName } from '../observability/catalogue/server.ts';
import { handleRequest, installExpectationHandlers } from '../pipeline/handle.ts';
import { Exchange } from '../pipeline/exchange.ts';
import { kTlsInfo } from '../pipeline/context.ts';
import type { ListenerContext, TlsInfo } from '../pipeline/context.ts';
import { isWebSocketUpgrade, kUpgrade } from '../pipeline/websocket.ts';
import type { UpgradeRequest } from '../pipeline/websocket.ts';
import { ConnectionGate, admit, kConnectionOwner, release } from './connection-gate.ts';
import type { TrackedSocket } from './connection-gate.ts';
import { adaptRequest, armBodyTimeout, createH2Server, drainSession, updateH2Server } from './http2.ts';
import type { H2Settings } from './http2.ts';
import { CLIENT_CERT_HEADERS, HANDSHAKE_ERROR_REASONS, handshakeErrorReason, sniCallback, tlsInfoOf } from './tls.ts';
import type { TlsContexts, TlsSwitch } from './tls.ts';

export { ConnectionGate } from './connection-gate.ts';

const kRequests = Symbol('sentinel.requestsOnConnection');

/** A bound (or about to be bound) listener, as the proxy composition sees it. */
export interface ListenerHandle {
  /** The server that is bound to the address. */
  readonly server: NetServer;
  readonly ctx: ListenerContext;
  /** Connections of this listener (its own cap, 0 = none). */
  readonly gate: ConnectionGate;
  /** Applies reloadable settings: timeouts, limits, and TLS contexts built in the reload preflight. */
  apply(config: ListenerConfig, tls: TlsContexts | null): void;
  /**
   * Graceful stop: no new connections, idle HTTP/1.1 connections closed, HTTP/2 sessions get
   * GOAWAY; resolves once every connection (WebSocket tunnels included) has closed.
   */
  close(): Promise<void>;
  /** Closes every connection of this listener now (shutdown timeout). */
  closeAll(): void;
}

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


/** Mutable per-listener settings read on the request path (updated in place on reload). */
interface State {
  config: ListenerConfig;
  /** `rawHeaders.length` above which a request has too many fields. */
  maxRawHeaders: number;
  /** Client certificates are asked for: identity headers are set (and spoofed ones removed). */
  mtls: boolean;
  readonly h2: H2Settings;
}

/** The parser's field cap: twice `max-header-count` (our own 431 covers what lies between). */
function h1HeaderCap(config: ListenerConfig): number {
  return config.maxHeaderCount * 2;
}

function checkInterval(config: ListenerConfig): number {
  // Node checks headers/request timeouts on an interval; keep it well under the smallest timeout
  // so they fire close to their configured value.
  return Math.max(50, Math.min(1000, Math.floor(Math.min(config.headersTimeoutMs, config.requestTimeoutMs) / 4)));
}

/** Header-safe identity values: the subject's lines become `,`, anything outside printable ASCII is %-encoded. */
function headerValue(s: string): string {
  return s.replace(/\n/g, ',').replace(/[^\x20-\x7e]|%/g, (c) => encodeURIComponent(c));
}

/** The identity fields an mTLS listener sets on every request (`CLIENT_CERT_HEADERS`). */
export function identityFields(info: TlsInfo | undefined): string[] {
  const c = info?.client;
  if (c === undefined || c === null) return [];
  return [CLIENT_CERT_HEADERS[0], headerValue(c.subject), CLIENT_CERT_HEADERS[1], headerValue(c.san), CLIENT_CERT_HEADERS[2], c.fingerprint256];
}

/** HTTP/1.1 on an mTLS listener: client-sent identity fields are removed, the verified ones added. */
function applyIdentityH1(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  const headers = req.headers as Record<string, string | string[] | undefined>;
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase();
    if ((CLIENT_CERT_HEADERS as readonly string[]).includes(lower)) continue;
    kept.push(raw[i] as string, raw[i + 1] as string);
  }
  for (const h of CLIENT_CERT_HEADERS) delete headers[h];
  const fields = identityFields((req.socket as TLSSocket & { [kTlsInfo]?: TlsInfo })[kTlsInfo]);
  for (let i = 0; i < fields.length; i += 2) {
    kept.push(fields[i] as string, fields[i + 1] as string);
    headers[fields[i] as string] = fields[i + 1] as string;
  }
  raw.length = 0;
  for (const v of kept) raw.push(v);
}

/** Ends a request that broke a head limit with 431, counted and audited; the connection closes. */
function refuseHead(ctx: ListenerContext, req: IncomingMessage, res: ServerResponse, limit: LimitName, reason: string): void {
  ctx.metrics.limitTriggered(ctx.listenerId, limit);
  ctx.metrics.activeRequests++;
  const ex = new Exchange(ctx, ctx.state.current, req, res);
  ex.audit('limits', 'reject', reason, { status: 431 });
  if (!ex.h2) res.shouldKeepAlive = false;
  ex.fail('REQUEST_HEADERS_TOO_LARGE');
}

function limitsOf(config: ListenerConfig): Pick<State, 'maxRawHeaders'> & Pick<H2Settings, 'maxConcurrentStreams' | 'maxHeaderBytes' | 'maxHeaderCount' | 'maxResetsPer10s' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepaliveTimeoutMs'> {
  return {
    maxRawHeaders: config.maxHeaderCount * 2,
    maxConcurrentStreams: config.maxConcurrentStreams,
    maxHeaderBytes: config.maxHeaderBytes,
    maxHeaderCount: config.maxHeaderCount,
    maxResetsPer10s: config.maxStreamResetsPer10s,
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    keepaliveTimeoutMs: config.keepaliveTimeoutMs,
  };
}

export function createListener(config: ListenerConfig, ctx: ListenerContext, global: ConnectionGate, tls: TlsContexts | null): ListenerHandle {
  const id = config.id;
  const metrics = ctx.metrics;
  const limit = (name: LimitName): void => metrics.limitTriggered(id, name);
  const { maxRawHeaders, ...h2Limits } = limitsOf(config);
  const st: State = {
    config,
    maxRawHeaders,
    mtls: tls?.requestCert ?? false,
    h2: {
      listenerId: id,
      ...h2Limits,
      limit,
      reset: () => metrics.server.http2Resets.get(id).inc(),
      auditRapidReset: (session: Http2Session) => ctx.audit.record({
        component: 'limits', action: 'close', reason: 'HTTP/2 rapid reset: max-stream-resets-per-10s exceeded', listener: id,
        client_ip: session.socket?.remoteAddress ?? '',
      }),
    },
  };
  const gate = new ConnectionGate(config.maxConnections);
  const gates = [gate, global];
  const sessions = new Set<Http2Session>();
  metrics.initLimits(id);

  // ---- requests --------------------------------------------------------------------------

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.rawHeaders.length > st.maxRawHeaders) {
      refuseHead(ctx, req, res, 'header_count', 'max-header-count exceeded');
      return;
    }
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
    if (st.mtls) applyIdentityH1(req);
    handleRequest(ctx, req, res);
  };

  const onH2Request = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    const fields = st.mtls ? identityFields((req.socket as unknown as { [kTlsInfo]?: TlsInfo })[kTlsInfo]) : null;
    const { count, bytes } = adaptRequest(req, CLIENT_CERT_HEADERS, fields);
    const r = req as unknown as IncomingMessage;
    const s = res as unknown as ServerResponse;
    if (count > st.h2.maxHeaderCount) { refuseHead(ctx, r, s, 'header_count', 'max-header-count exceeded'); return; }
    if (bytes > st.h2.maxHeaderBytes) { refuseHead(ctx, r, s, 'header_bytes', 'max-header-bytes exceeded'); return; }
    armBodyTimeout(req, st.h2);
    handleRequest(ctx, r, s);
  };

  // ---- connections -----------------------------------------------------------------------

  const openGauge = metrics.activeConnections.labels(id);
  const rejected = metrics.connectionsRejected.labels(id);
  rejected.inc(0); // a series from the start: dashboards read 0 rather than no data
  const onEvict = (): void => {
    openGauge.dec();
    limit('connection_evicted');
  };
  const onClose = function (this: TrackedSocket): void {
    if (release(this)) openGauge.dec();
  };
  const onConnection = (socket: Socket): void => {
    const r = admit(socket, gates, onEvict);
    if (r === 'refused') {
      rejected.inc();
      limit(global.full() ? 'max_connections' : 'listener_max_connections');
      socket.destroy();
      return;
    }
    openGauge.inc();
    socket.once('close', onClose);
  };

  const h2 = config.protocol === 'h2c' || (config.protocol === 'https' && config.tls?.http2 !== false)
    ? createH2Server(st.h2, onH2Request)
    : null;
  if (h2 !== null) {
    installExpectationHandlers(h2 as unknown as Parameters<typeof installExpectationHandlers>[0]);
    h2.on('session', (session: Http2Session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
      const raw = (config.protocol === 'https' ? (session.socket as TLSSocket & { _parent?: Socket })._parent : session.socket) as TrackedSocket | undefined;
      if (raw !== undefined) raw[kConnectionOwner] = session;
      if (ctx.draining) drainSession(session);
    });
  }

  let server: NetServer;
  let h1: HttpServer | HttpsServer | null = null;
  let tlsSwitch: TlsSwitch | null = null;

  if (config.protocol === 'h2c') {
    server = h2 as Http2Server;
    server.on('connection', (socket: Socket) => {
      onConnection(socket);
      metrics.server.connections.get(id, 'h2c').inc();
    });
  } else {
    const h1Options = {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      keepAliveTimeout: config.keepaliveTimeoutMs,
      connectionsCheckingInterval: checkInterval(config),
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      noDelay: true,
      maxHeaderSize: config.maxHeaderBytes,
      // Upgrade requests reach the 'upgrade' event only where a route may take them: a WebSocket
      // handshake on a listener with a WebSocket route. Everywhere else they are plain requests
      // and the Upgrade field is dropped like every hop-by-hop field.
      shouldUpgradeCallback: (req: IncomingMessage): boolean =>
        ctx.state.current.listeners.get(id)?.websocket === true && isWebSocketUpgrade(req.method, req.headers),
    };
    if (config.protocol === 'https') {
      const t = tls as TlsContexts;
      const sw: TlsSwitch = { contexts: t };
      tlsSwitch = sw;
      const https = createHttpsServer({
        ...h1Options,
        ...t.defaultOptions,
        SNICallback: sniCallback(sw),
        requestCert: t.requestCert,
        rejectUnauthorized: t.rejectUnauthorized,
        ALPNProtocols: h2 !== null ? ['h2', 'http/1.1'] : ['http/1.1'],
        handshakeTimeout: t.handshakeTimeoutMs,
      }, onRequest);
      // Route each TLS connection by what ALPN chose: h2 to the HTTP/2 server, the rest to
      // node:https's own HTTP/1.1 handling (the listener it registered).
      const http1Listeners = https.listeners('secureConnection') as Array<(s: TLSSocket) => void>;
      https.removeAllListeners('secureConnection');
      https.on('secureConnection', (socket: TLSSocket) => {
        const sw2 = tlsSwitch as TlsSwitch;
        const info = tlsInfoOf(socket, sw2.contexts.requestCert);
        (socket as TLSSocket & { [kTlsInfo]?: TlsInfo })[kTlsInfo] = info;
        const raw = (socket as TLSSocket & { _parent?: TrackedSocket })._parent;
        if (raw !== undefined) raw[kConnectionOwner] = socket;
        metrics.server.tlsHandshakes.get(id, info.version, info.client !== null ? 'verified' : info.clientError !== null ? 'unverified' : 'none').inc();
        if (info.clientError !== null) {
          ctx.audit.record({ component: 'tls', action: 'log-only', reason: `client certificate not verified: ${info.clientError}`, listener: id, client_ip: socket.remoteAddress ?? '' });
        }
        if (h2 !== null && socket.alpnProtocol === 'h2') {
          metrics.server.connections.get(id, 'h2').inc();
          h2.emit('connection', socket);
        } else {
          metrics.server.connections.get(id, 'http1').inc();
          for (const l of http1Listeners) l.call(https, socket);
        }
      });
      for (const reason of HANDSHAKE_ERROR_REASONS) metrics.server.tlsHandshakeErrors.get(id, reason).inc(0);
      https.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        const reason = handshakeErrorReason(err);
        metrics.server.tlsHandshakeErrors.get(id, reason).inc();
        metrics.server.connections.get(id, 'tls_failed').inc();
        if (reason === 'client_certificate' || reason === 'protocol_version' || reason === 'no_shared_cipher') {
          ctx.audit.record({ component: 'tls', action: 'reject', reason: `TLS handshake refused: ${reason}`, listener: id, client_ip: socket.remoteAddress ?? '' });
        }
        if (reason === 'timeout') limit('client_timeout');
        socket.destroy();
      });
      h1 = https;
    } else {
      h1 = createHttpServer(h1Options, onRequest);
    }
    const httpServer = h1;
    // node:http's parser refuses more fields than maxHeadersCount with the same error as an
    // oversized head (HPE_HEADER_OVERFLOW, a bare 431). It is the hard cap at twice the limit;
    // between the two, Sentinel answers its own counted 431 (onRequest).
    httpServer.maxHeadersCount = h1HeaderCap(config);
    httpServer.on('connection', (socket: Socket) => {
      onConnection(socket);
      if (config.protocol === 'http') metrics.server.connections.get(id, 'http1').inc();
    });
    httpServer.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // Limits that the parser enforces are counted here; the answer and the audit record are
      // onClientError's.
      if (err.code === 'HPE_HEADER_OVERFLOW') limit('header_bytes');
      else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') limit('client_timeout');
      onClientError(ctx, err, socket as Socket);
    });
    installExpectationHandlers(httpServer);
    httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(ctx, req, socket, head));
    server = httpServer;
  }

  const apply = (l: ListenerConfig, t: TlsContexts | null): void => {
    st.config = l;
    const { maxRawHeaders: mr, ...h2l } = limitsOf(l);
    st.maxRawHeaders = mr;
    Object.assign(st.h2, h2l);
    ctx.keepaliveMaxRequests = l.keepaliveMaxRequests;
    gate.max = l.maxConnections;
    if (h1 !== null) {
      h1.headersTimeout = l.headersTimeoutMs;
      h1.requestTimeout = l.requestTimeoutMs;
      h1.keepAliveTimeout = l.keepaliveTimeoutMs;
      h1.maxHeadersCount = h1HeaderCap(l);
      (h1 as HttpServer & { maxHeaderSize?: number }).maxHeaderSize = l.maxHeaderBytes;
    }
    if (h2 !== null) updateH2Server(h2, st.h2);
    if (t !== null && tlsSwitch !== null && h1 !== null) {
      const https = h1 as HttpsServer;
      // New handshakes get the new certificates; established connections keep theirs.
      https.setSecureContext({ ...t.defaultOptions, requestCert: t.requestCert, rejectUnauthorized: t.rejectUnauthorized } as Parameters<HttpsServer['setSecureContext']>[0]);
      const tlsServer = https as HttpsServer & { requestCert: boolean; rejectUnauthorized: boolean; handshakeTimeout: number };
      tlsServer.requestCert = t.requestCert;
      tlsServer.rejectUnauthorized = t.rejectUnauthorized;
      tlsServer.handshakeTimeout = t.handshakeTimeoutMs;
      tlsSwitch.contexts = t;
      st.mtls = t.requestCert;
    }
  };

  const close = (): Promise<void> => {
    ctx.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    if (h1 !== null) h1.closeIdleConnections();
    for (const s of sessions) drainSession(s);
    return closed;
  };

  const closeAll = (): void => {
    if (h1 !== null) h1.closeAllConnections();
    for (const s of sessions) s.destroy();
    for (const s of [...gate.conns]) s.destroy();
  };

  return { server, ctx, gate, apply, close, closeAll };
}

function noop(): void { /* errors on a socket being upgraded end it; nothing to report */ }

function onUpgradeFinish(this: ServerResponse): void {
  const socket = this.socket;
  if (socket !== null) {
    this.detachSocket(socket);
    socket.end();
  }
}

/**
 * A WebSocket handshake on a listener with a WebSocket route. node:http has handed over the
 * socket; the request still runs through the whole pipeline with a response bound to that
 * socket, so local answers (404, 403, 429, errors) and non-WebSocket routes work as usual, and the
 * connection closes after them. A WebSocket route opens a tunnel (src/pipeline/websocket.ts).
 */
function onUpgrade(ctx: ListenerContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  // node:http removed its listeners: errors would be unhandled, and unread bytes would be lost.
  socket.on('error', noop);
  socket.pause();
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.once('finish', onUpgradeFinish);
  const upgrade: UpgradeRequest = { socket, head };
  (req as IncomingMessage & { [kUpgrade]?: UpgradeRequest })[kUpgrade] = upgrade;
  handleRequest(ctx, req, res);
}

/**
 * How a listening socket is bound: `own` (a single process), `primary` (a cluster worker: the
 * primary holds the socket and hands accepted connections to workers in turn), `reuse-port` (a
 * cluster worker binds its own socket with SO_REUSEPORT and the kernel spreads connections).
 */
export type ListenSharing = 'own' | 'primary' | 'reuse-port';

/** Binds `server`; resolves with the bound port or rejects with a message naming the listener. */
export function listen(server: NetServer, id: string, host: string, port: number, sharing: ListenSharing = cluster.isWorker ? 'primary' : 'own'): Promise<number> {
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
    server.listen(sharing === 'reuse-port'
      ? { host, port, backlog: 4096, exclusive: true, reusePort: true }
      : { host, port, backlog: 4096, exclusive: sharing === 'own' });
  });
}
