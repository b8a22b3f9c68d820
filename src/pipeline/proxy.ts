// The request pipeline for HTTP/1.1: sanitize → route → forward → respond → finalize.
//
// Hot-path rules (see docs/design.md): one `Exchange` object per request is the undici dispatch
// handler, the per-request state and the timer argument at once, so no closure is created per
// request; headers are filtered in one pass over `rawHeaders`; metric children are pre-bound.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { ERROR_TABLE, ProxyError, errorBody } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import { appendListValue, filterHeaders } from '../core/headers.ts';
import type { HeaderCollector } from '../core/headers.ts';
import { isAcceptableRequestId, newRequestId, newTraceparent, parseTraceparent } from '../core/ids.ts';
import type { CompiledRoute, Snapshot } from '../compile/snapshot.ts';
import type { RuntimeState } from '../runtime/state.ts';
import type { Metrics, RouteMetrics } from '../observability/metrics.ts';
import type { AccessLog } from '../observability/log.ts';
import type { TargetRuntime, UpstreamRuntime } from '../upstream/upstream.ts';

export interface ListenerContext {
  readonly listenerId: string;
  /** `http` or `https`, for X-Forwarded-Proto. */
  readonly scheme: string;
  readonly state: RuntimeState;
  readonly metrics: Metrics;
  readonly accessLog: AccessLog | null;
  readonly version: string;
  readonly startedAtMs: number;
  /** Set while the process drains: new requests get 503 SHUTTING_DOWN with Connection: close. */
  draining: boolean;
  /** Requests allowed per keep-alive connection (0 = unlimited); updated in place on reload. */
  keepaliveMaxRequests: number;
}

const VIA_TOKEN = '1.1 sentinel';

/** Request headers the proxy rewrites itself; incoming copies are dropped while filtering. */
const REWRITTEN_REQUEST = new Set([
  'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'via', 'traceparent', 'tracestate',
]);

/** Response headers the proxy rewrites: Via is merged, X-Request-Id is always ours. */
const REWRITTEN_RESPONSE = new Set(['via', 'x-request-id']);

const kExchange = Symbol('sentinel.exchange');

type ResWithExchange = ServerResponse & { [kExchange]?: Exchange };

function hasRequestBody(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = h['content-length'];
  return cl !== undefined && cl !== '0';
}

/** Maps an error from the transport (undici, Node) to one of our codes. */
export function classifyUpstreamError(err: unknown): ErrorCode {
  if (err instanceof ProxyError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT': return 'UPSTREAM_CONNECT_TIMEOUT';
    case 'UND_ERR_HEADERS_TIMEOUT': return 'UPSTREAM_HEADERS_TIMEOUT';
    case 'UND_ERR_BODY_TIMEOUT': return 'UPSTREAM_BODY_TIMEOUT';
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'UPSTREAM_CONNECT_FAILED';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'UPSTREAM_RESET';
    case 'UND_ERR_HEADERS_OVERFLOW':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_INFO':
      return 'UPSTREAM_PROTOCOL_ERROR';
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_INVALID_ARG':
      // undici refused a value that came from the client's request.
      return 'BAD_REQUEST';
  }
  if (typeof code === 'string' && code.startsWith('HPE_')) return 'UPSTREAM_PROTOCOL_ERROR';
  return 'INTERNAL_ERROR';
}

/** Writes a locally generated JSON error. The caller has checked that headers are unsent. */
function sendError(res: ServerResponse, code: ErrorCode, requestId: string, closeConnection: boolean): number {
  const status = ERROR_TABLE[code].status;
  const body = errorBody(code, requestId);
  const headers: string[] = [
    'content-type', 'application/json',
    'content-length', String(Buffer.byteLength(body)),
    'x-request-id', requestId,
    'cache-control', 'no-store',
  ];
  if (closeConnection) headers.push('connection', 'close');
  res.writeHead(status, headers);
  res.end(body);
  return status;
}

function onResponseClose(this: ResWithExchange): void {
  const ex = this[kExchange];
  if (ex !== undefined) ex.onClientClose();
}

function uncorkResponse(res: ServerResponse): void {
  res.uncork();
}

function onTotalTimeout(ex: Exchange): void {
  ex.abort(new ProxyError('REQUEST_TIMEOUT'));
}

function onRequestBodyError(this: IncomingMessage & { [kExchange]?: Exchange }): void {
  const ex = this[kExchange];
  if (ex !== undefined) ex.onClientClose();
}

/** One proxied request: pipeline state and undici dispatch handler in one object. */
export class Exchange implements Dispatcher.DispatchHandler, HeaderCollector {
  readonly ctx: ListenerContext;
  /** The generation this request started under; it keeps it to the end (reload drains by it). */
  readonly snapshot: Snapshot;
  readonly req: IncomingMessage;
  readonly res: ResWithExchange;
  readonly startNs: bigint;
  readonly requestId: string;
  readonly traceId: string;
  /** Captured on arrival: Node detaches `req.socket` once the exchange is over. */
  readonly clientIp: string;
  bytesIn = 0;
  path = '';
  /** Raw query string without '?', or null (SelectContext for hash-based selectors). */
  query: string | null = null;
  host = '';
  /** Set-Cookie value from a sticky selector that set a new affinity for this request. */
  private stickyCookie: string | null = null;
  private began = false;
  route: CompiledRoute | null = null;
  routeMetrics: RouteMetrics;
  upstream: UpstreamRuntime | null = null;
  target: TargetRuntime | null = null;
  status = 0;
  errorCode: ErrorCode | undefined = undefined;
  bytesOut = 0;
  upstreamStartNs = 0n;
  upstreamEndNs = 0n;
  finished = false;
  responseStarted = false;
  private controller: Dispatcher.DispatchController | null = null;
  private abortReason: ProxyError | null = null;
  private timer: NodeJS.Timeout | null = null;
  private drainFn: (() => void) | null = null;

  constructor(ctx: ListenerContext, snapshot: Snapshot, req: IncomingMessage, res: ServerResponse) {
    this.ctx = ctx;
    this.snapshot = snapshot;
    snapshot.usage.inflight++;
    this.req = req;
    this.res = res as ResWithExchange;
    this.startNs = process.hrtime.bigint();
    this.routeMetrics = snapshot.unmatched;
    this.clientIp = req.socket.remoteAddress ?? '';
    const rid = req.headers['x-request-id'];
    this.requestId = typeof rid === 'string' && isAcceptableRequestId(rid) ? rid : newRequestId(snapshot.config.system.traceIdFormat);
    const tp = req.headers.traceparent;
    const parsed = typeof tp === 'string' ? parseTraceparent(tp) : null;
    this.traceparent = parsed !== null ? (tp as string) : newTraceparent();
    this.traceId = this.traceparent.slice(3, 35);
    this.res[kExchange] = this;
    res.on('close', onResponseClose);
  }

  readonly traceparent: string;

  /** SelectContext: the request headers (lower-case names, as Node delivers them). */
  get headers(): IncomingMessage['headers'] {
    return this.req.headers;
  }

  // ---- forward ----------------------------------------------------------------------------

  forward(upstream: UpstreamRuntime): void {
    this.upstream = upstream;
    const target = upstream.pick(this);
    if (target === null) {
      this.fail('UPSTREAM_NO_HEALTHY');
      return;
    }
    this.stickyCookie = upstream.stickyCookie();
    this.target = target;
    upstream.begin(target);
    this.began = true;
    const t = upstream.config.timeouts;
    this.timer = setTimeout(onTotalTimeout, t.requestMs, this);
    const req = this.req;
    const withBody = hasRequestBody(req);
    if (withBody) {
      (req as IncomingMessage & { [kExchange]?: Exchange })[kExchange] = this;
      req.on('error', onRequestBodyError);
    }
    this.upstreamStartNs = process.hrtime.bigint();
    try {
      target.pool.dispatch({
        path: req.url as string,
        method: req.method as Dispatcher.HttpMethod,
        headers: this.buildUpstreamHeaders(upstream, target),
        body: withBody ? req : null,
        headersTimeout: t.headersMs,
        bodyTimeout: t.readMs,
      }, this);
    } catch (err) {
      // undici validates options synchronously (e.g. a header value it refuses).
      this.fail(classifyUpstreamError(err) === 'INTERNAL_ERROR' ? 'BAD_REQUEST' : classifyUpstreamError(err));
    }
  }

  // Fields held back by filterHeaders, merged here and re-emitted once.
  private xff: string | null = null;
  private via: string | null = null;
  private tracestate: string | null = null;

  /** HeaderCollector: receives the request fields in REWRITTEN_REQUEST and the response's Via. */
  collect(lower: string, value: string): void {
    if (lower === 'x-forwarded-for') this.xff = appendListValue(this.xff, value);
    else if (lower === 'via') this.via = appendListValue(this.via, value);
    else if (lower === 'tracestate') this.tracestate = this.tracestate === null ? value : `${this.tracestate},${value}`;
  }

  /** One pass over the client's raw headers: drop hop-by-hop and rewritten fields, add ours. */
  buildUpstreamHeaders(upstream: UpstreamRuntime, target: TargetRuntime): string[] {
    const out = filterHeaders(this.req.rawHeaders, [], REWRITTEN_REQUEST, this);
    const clientIp = this.clientIp;
    const cfg = upstream.config;
    const host = cfg.preserveHost ? this.host : (cfg.hostHeader ?? target.authority);
    out.push(
      'host', host === '' ? target.authority : host,
      'x-forwarded-for', appendListValue(this.xff, clientIp),
      'x-forwarded-proto', this.ctx.scheme,
      'via', appendListValue(this.via, VIA_TOKEN),
      'x-request-id', this.requestId,
      'traceparent', this.traceparent,
    );
    if (this.host !== '') out.push('x-forwarded-host', this.host);
    // tracestate belongs to the incoming trace; it is dropped when we started a new one.
    if (this.tracestate !== null && this.traceparent === this.req.headers.traceparent) out.push('tracestate', this.tracestate);
    this.via = null;
    return out;
  }

  // ---- undici DispatchHandler ---------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController, _context: unknown): void {
    this.controller = controller;
    if (this.abortReason !== null) controller.abort(this.abortReason);
  }

  onBodySent(chunk: Buffer | string): void {
    this.bytesIn += chunk.length;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _headers: unknown, statusMessage?: string): void {
    if (statusCode < 200) return; // 1xx: interim responses are not relayed yet (issue 4 adds 103/100 relay).
    if (this.finished || this.res.destroyed) {
      controller.abort(new ProxyError('CLIENT_CLOSED_REQUEST'));
      return;
    }
    const raw = controller.rawHeaders as Buffer[] | string[] | null;
    let out: string[] = [];
    if (raw !== null && Array.isArray(raw)) {
      const strs: string[] = new Array(raw.length);
      for (let i = 0; i < raw.length; i++) {
        const v = raw[i];
        strs[i] = typeof v === 'string' ? v : (v as Buffer).toString('latin1');
      }
      out = filterHeaders(strs, out, REWRITTEN_RESPONSE, this);
    }
    out.push('via', appendListValue(this.via, VIA_TOKEN));
    out.push('x-request-id', this.requestId);
    if (this.stickyCookie !== null) out.push('set-cookie', this.stickyCookie);
    if (this.ctx.draining) out.push('connection', 'close');
    try {
      if (statusMessage !== undefined && statusMessage !== '') this.res.writeHead(statusCode, statusMessage, out);
      else this.res.writeHead(statusCode, out);
    } catch {
      controller.abort(new ProxyError('UPSTREAM_PROTOCOL_ERROR', 'response head rejected by the HTTP serializer'));
      return;
    }
    this.responseStarted = true;
    this.status = statusCode;
    // undici delivers a small response's head, body and end in one parser pass: corking until the
    // next tick turns what would be separate head and body writes into one writev.
    this.res.cork();
    process.nextTick(uncorkResponse, this.res);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytesOut += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.drainFn ??= () => { this.controller?.resume(); };
      this.res.once('drain', this.drainFn);
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, _trailers: unknown): void {
    this.upstreamEndNs = process.hrtime.bigint();
    if (this.target !== null && this.upstream !== null) this.ctx.metrics.upstreamOutcome(this.upstream.id, this.target.id, 'success');
    this.res.end();
    this.finalize();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.upstreamEndNs = process.hrtime.bigint();
    const code = this.abortReason !== null ? this.abortReason.code : classifyUpstreamError(err);
    if (this.target !== null && this.upstream !== null && code !== 'CLIENT_CLOSED_REQUEST') {
      this.ctx.metrics.upstreamOutcome(this.upstream.id, this.target.id, code);
    }
    if (code === 'INTERNAL_ERROR') {
      process.emitWarning(`sentinel: unclassified upstream error: ${(err as { code?: string }).code ?? ''} ${err.message}`);
    }
    this.fail(code);
  }

  // ---- ending -------------------------------------------------------------------------------

  /** Aborts the exchange (timeout, client gone); the upstream side learns through the controller. */
  abort(reason: ProxyError): void {
    if (this.finished) return;
    if (this.abortReason === null) this.abortReason = reason;
    if (this.controller !== null && !this.controller.aborted) {
      this.controller.abort(reason); // → onResponseError → fail()
    } else if (this.controller === null) {
      // Not dispatched yet (queued in the pool): undici calls onRequestStart later and we abort there.
      // A queued request still must end now: answer and finalize; the late start is aborted.
      this.fail(reason.code);
    }
  }

  onClientClose(): void {
    if (this.finished) return;
    // 'close' after a complete response is normal; before it, the client went away.
    if (!this.res.writableFinished) this.abort(new ProxyError('CLIENT_CLOSED_REQUEST'));
  }

  /** Ends the exchange with an error: a JSON error if nothing was sent, else an aborted response. */
  fail(code: ErrorCode): void {
    if (this.finished) return;
    this.errorCode = code;
    const res = this.res;
    if (code === 'CLIENT_CLOSED_REQUEST') {
      this.status = 499;
      if (!res.destroyed) res.destroy();
    } else if (!res.headersSent && !res.destroyed) {
      this.status = sendError(res, code, this.requestId, this.ctx.draining);
    } else {
      // Headers are out: the only honest signal left is to abort the client connection, so a
      // truncated body can never look complete.
      if (this.status === 0) this.status = ERROR_TABLE[code].status;
      res.destroy();
    }
    this.ctx.metrics.error(code);
    this.finalize();
  }

  finalize(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    const ctx = this.ctx;
    ctx.metrics.activeRequests--;
    const usage = this.snapshot.usage;
    if (--usage.inflight === 0 && usage.onIdle !== null) {
      const idle = usage.onIdle;
      usage.onIdle = null;
      idle();
    }
    const endNs = process.hrtime.bigint();
    const seconds = Number(endNs - this.startNs) / 1e9;
    if (this.began && this.upstream !== null && this.target !== null) {
      // Outcome for load-aware selectors: a 5xx or an upstream error is a failure; a client that
      // went away says nothing about the target.
      const ok = this.errorCode === 'CLIENT_CLOSED_REQUEST' ? null : this.errorCode === undefined && this.status < 500;
      const upstreamMs = Number((this.upstreamEndNs === 0n ? endNs : this.upstreamEndNs) - this.upstreamStartNs) / 1e6;
      this.upstream.end(this.target, upstreamMs, ok);
    }
    this.routeMetrics.done(this.req.method as string, this.status, seconds);
    const log = ctx.accessLog;
    if (log !== null) {
      // finalize never throws: a logging failure must not take the exchange (or the process) down.
      try {
        this.writeAccessLog(log, endNs, seconds);
      } catch (err) {
        process.emitWarning(`sentinel: access log write failed: ${(err as Error).message}`);
      }
    }
  }

  private writeAccessLog(log: AccessLog, endNs: bigint, seconds: number): void {
    const upstreamMs = this.upstreamStartNs === 0n ? 0 : Number((this.upstreamEndNs === 0n ? endNs : this.upstreamEndNs) - this.upstreamStartNs) / 1e6;
    log.write({
      request_id: this.requestId,
      trace_id: this.traceId,
      listener: this.ctx.listenerId,
      client_ip: this.clientIp,
      method: this.req.method as string,
      path: this.path,
      host: this.host,
      route: this.route?.id ?? '-',
      upstream: this.upstream?.id ?? '-',
      target: this.target?.id ?? '-',
      status: this.status,
      error_code: this.errorCode,
      bytes_in: this.bytesIn,
      bytes_out: this.bytesOut,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
      upstream_ms: Math.round(upstreamMs * 1e3) / 1e3,
    });
  }
}

// ---- builtin handlers -------------------------------------------------------------------------

function sendJson(ex: Exchange, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  ex.res.writeHead(status, [
    'content-type', 'application/json',
    'content-length', String(Buffer.byteLength(body)),
    'cache-control', 'no-store',
    'x-request-id', ex.requestId,
  ]);
  ex.res.end(body);
  ex.status = status;
  ex.finalize();
}

function serveBuiltin(ex: Exchange, snapshot: Snapshot, handler: string): void {
  const ctx = ex.ctx;
  switch (handler) {
    case 'health':
      sendJson(ex, 200, { status: 'ok' });
      return;
    case 'status':
      sendJson(ex, 200, {
        name: 'sentinel',
        version: ctx.version,
        uptime_secs: Math.round((Date.now() - ctx.startedAtMs) / 1000),
        generation: snapshot.generation,
        config_hash: snapshot.hash,
        listeners: [...snapshot.listeners.keys()],
        routes: snapshot.config.routes.length,
        upstreams: [...snapshot.upstreams.keys()],
      });
      return;
    case 'metrics':
      ctx.metrics.registry.metrics().then((text) => {
        if (ex.finished || ex.res.destroyed) return;
        ex.res.writeHead(200, ['content-type', ctx.metrics.registry.contentType, 'content-length', String(Buffer.byteLength(text)), 'x-request-id', ex.requestId]);
        ex.res.end(text);
        ex.status = 200;
        ex.finalize();
      }, () => ex.fail('INTERNAL_ERROR'));
      return;
    default:
      ex.fail('ROUTE_NOT_FOUND');
  }
}

// ---- entry --------------------------------------------------------------------------------------

/**
 * RFC 3986 authority without userinfo: reg-name or IPv4, or an IPv6 literal in brackets, and an
 * optional port. Used for the Host header and absolute-form targets; anything else is a 400.
 */
const AUTHORITY_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]{1,5})?$/;

export function isValidAuthority(value: string): boolean {
  return value.length <= 255 && AUTHORITY_RE.test(value);
}

/** Splits a request-target into path and query; absolute-form yields its authority too. */
function splitTarget(url: string): { path: string; query: string | null; authority: string | null } | null {
  let rest = url;
  let authority: string | null = null;
  if (rest.charCodeAt(0) !== 47 /* / */) {
    const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(rest);
    if (m === null) return null;
    authority = m[1] as string;
    rest = (m[2] as string) === '' ? '/' : (m[2] as string);
    if (rest.charCodeAt(0) !== 47) return null;
  }
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: null, authority } : { path: rest.slice(0, q), query: rest.slice(q + 1), authority };
}

export function handleRequest(ctx: ListenerContext, req: IncomingMessage, res: ServerResponse): void {
  const snapshot = ctx.state.current;
  ctx.metrics.activeRequests++;
  const ex = new Exchange(ctx, snapshot, req, res);
  if (ctx.draining) {
    ex.fail('SHUTTING_DOWN');
    return;
  }
  const target = splitTarget(req.url ?? '');
  if (target === null) {
    ex.fail('BAD_REQUEST');
    return;
  }
  ex.path = target.path;
  ex.query = target.query;
  const hostHeader = req.headers.host;
  ex.host = target.authority ?? (typeof hostHeader === 'string' ? hostHeader : '');
  if (ex.host !== '' && !isValidAuthority(ex.host)) {
    ex.fail('BAD_REQUEST');
    return;
  }
  if (target.authority !== null) {
    // Absolute-form: forward origin-form upstream (RFC 9112 §3.2.2), the authority becomes Host.
    req.url = target.query === null ? target.path : `${target.path}?${target.query}`;
  }
  const listener = snapshot.listeners.get(ctx.listenerId);
  const matched = listener === undefined ? null : listener.router.match({
    method: req.method as string,
    host: ex.host,
    path: target.path,
    query: target.query,
    headers: req.headers,
  });
  const route = matched === null ? undefined : snapshot.routes.get(matched);
  if (route === undefined) {
    ex.fail('ROUTE_NOT_FOUND');
    return;
  }
  ex.route = route;
  ex.routeMetrics = route.metrics;
  if (route.upstream !== null) ex.forward(route.upstream);
  else serveBuiltin(ex, snapshot, route.builtin ?? 'not-found');
}
