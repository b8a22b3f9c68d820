// One request from arrival to finalize: the request context every phase reads and writes.
//
// Hot-path rules (see docs/design.md): one `Exchange` per request holds the pipeline state and is
// the argument of its timers and listeners, so no closure is created per request; metric children
// are pre-bound; `finalize` runs exactly once and never throws.
//
// Phases (src/pipeline/handle.ts runs them): sanitize → route → filters (admit) → route handler
// (forward to an upstream, builtin, …) → respond → finalize. Each phase either continues or ends
// the exchange with a local reply (`reply`, `fail`).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { AgentExchange } from '../agents/exchange.ts';
import { ERROR_TABLE, ProxyError, errorBody } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import { appendListValue } from '../core/headers.ts';
import type { HeaderCollector } from '../core/headers.ts';
import { isAcceptableRequestId, newRequestId, newTraceparent, parseTraceparent } from '../core/ids.ts';
import type { CompiledRoute, Snapshot } from '../compile/snapshot.ts';
import type { RouteMetrics } from '../observability/metrics.ts';
import type { AccessLog, ErrorLog } from '../observability/log.ts';
import type { RequestSpan } from '../observability/tracing.ts';
import type { AuditEvent } from '../observability/audit.ts';
import type { LimitName } from '../observability/catalogue/server.ts';
import type { TargetRuntime, UpstreamRuntime } from '../upstream/upstream.ts';
import { kTlsInfo } from './context.ts';
import type { ListenerContext, TlsInfo } from './context.ts';
import { applyHeaderOps } from './header-ops.ts';
import type { HeaderOp } from './header-ops.ts';
import type { ResponseInterceptor } from './response-hook.ts';

export const VIA_TOKEN = '1.1 sentinel';

/** Destroying an HTTP/2 stream with an error sends RST_STREAM INTERNAL_ERROR. */
const H2_ABORTED = new Error('response aborted by the proxy');

/** Something in progress for a request that can be cancelled: an upstream attempt, an agent call. */
export interface Pending {
  /**
   * Stops it. The implementation ends the exchange (`ex.fail(reason.code)`), at once or when its
   * own callbacks unwind; it must not leave the exchange unfinished.
   */
  cancel(reason: ProxyError): void;
}

/** A local error response in a route handler's own contract (see `RouteHandler.errorResponse`). */
export interface LocalErrorResponse {
  readonly status: number;
  /** Flat `[name, value, …]` without Content-Length; copied before use. */
  readonly headers: readonly string[];
  readonly body: Buffer;
}

/** What serves a matched route: the upstream proxy, a builtin handler, static files, … */
export interface RouteHandler {
  readonly kind: string;
  /** Serves the request and ends the exchange exactly once (now or later). */
  handle(ex: Exchange): void;
  /**
   * Optional: the response for a local error on this route (deployments answer in Unkey's
   * contract), or null for the default JSON error body. The code still goes to metrics and logs.
   */
  errorResponse?(code: ErrorCode): LocalErrorResponse | null;
  /** Optional: runs once in finalize, before the route metrics and the access log. Must not throw. */
  complete?(ex: Exchange, seconds: number): void;
}

const kExchange = Symbol('sentinel.exchange');

type ResWithExchange = ServerResponse & { [kExchange]?: Exchange };
type ReqWithExchange = IncomingMessage & { [kExchange]?: Exchange };

function onResponseClose(this: ResWithExchange): void {
  const ex = this[kExchange];
  if (ex !== undefined) ex.onClientClose();
}

function onRequestBodyError(this: ReqWithExchange): void {
  const ex = this[kExchange];
  if (ex !== undefined) ex.onClientClose();
}

function onTotalTimeout(ex: Exchange): void {
  ex.abort(new ProxyError('REQUEST_TIMEOUT'));
}

function uncorkResponse(res: ServerResponse): void {
  res.uncork();
}

/**
 * After a local reply, at most this much of a request body that nobody read is read and thrown
 * away so that the connection can be kept; a longer body closes the connection.
 */
export const DISCARD_BODY_MAX_BYTES = 1024 * 1024;

/**
 * Called when a local reply goes out while the client is still sending a body nobody will read.
 * The rest is read and dropped so that the next request on the connection can be parsed, at most
 * DISCARD_BODY_MAX_BYTES of it (the listener's request timeout bounds how long); past that the
 * connection is closed. Reading here, not leaving it to Node's own dump after the response, is
 * what makes the bound possible: Node drops dumped bytes without telling anyone.
 */
function discardUnreadBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  let dropped = 0;
  const onData = (chunk: Buffer): void => {
    dropped += chunk.length;
    if (dropped > DISCARD_BODY_MAX_BYTES) {
      req.off('data', onData);
      req.socket?.destroy();
    }
  };
  req.on('data', onData);
  req.once('end', () => req.off('data', onData));
  req.resume();
}

/**
 * True for a request from node:http2's compatibility API (Http2ServerRequest carries its stream;
 * IncomingMessage does not). HTTP/2 has no Connection header, no 102, and its own flow control.
 */
export function isHttp2Request(req: IncomingMessage): boolean {
  return (req as { stream?: unknown }).stream !== undefined;
}

/** What a route allows at once and how many it is handling (long-lived: survives reloads). */
export interface ConcurrencyGate {
  active: number;
  max: number;
}

export class Exchange implements HeaderCollector {
  readonly ctx: ListenerContext;
  /** The generation this request started under; it keeps it to the end (reload drains by it). */
  readonly snapshot: Snapshot;
  readonly req: IncomingMessage;
  readonly res: ResWithExchange;
  readonly startNs: bigint;
  readonly requestId: string;
  /**
   * The W3C traceparent this proxy passes on (agents; upstream attempts send their own span's
   * when tracing is on): with tracing, the request span's context; without, the caller's
   * traceparent unchanged, or a new one.
   */
  readonly traceparent: string;
  readonly traceId: string;
  /** True when the caller's traceparent was valid and this request continues its trace (its tracestate goes on too). */
  readonly traceContinued: boolean;
  /** The request's server span, or null when tracing is off. */
  readonly span: RequestSpan | null;
  /** Captured on arrival: Node detaches `req.socket` once the exchange is over. */
  readonly clientIp: string;
  readonly clientPort: number;
  /** HTTP/2 (node:http2 compatibility objects in `req`/`res`): no corking, no Connection header. */
  readonly h2: boolean;
  /** What the TLS connection negotiated, and the verified client certificate; null in cleartext. */
  readonly tls: TlsInfo | null;
  /** Request path as routed (sanitize may normalise it), without the query. */
  path = '';
  /** Raw query string without '?', or null. */
  query: string | null = null;
  /** Authority the client asked for (Host, or the absolute-form target's authority). */
  host = '';
  route: CompiledRoute | null = null;
  routeMetrics: RouteMetrics;
  status = 0;
  errorCode: ErrorCode | undefined = undefined;
  bytesIn = 0;
  bytesOut = 0;
  finished = false;
  /**
   * The whole request body when a phase buffered it (a filter that inspects it, or a retry policy
   * that must replay it); null = the body streams from `req` (or there is none).
   */
  body: Buffer | null = null;

  // ---- upstream side (set by the forward phase) ----
  upstream: UpstreamRuntime | null = null;
  target: TargetRuntime | null = null;
  /** Upstream attempts made (the first one and retries). */
  attempts = 0;
  /** Targets earlier attempts used (set on the first retry); a retry prefers another one. */
  tried: TargetRuntime[] | null = null;
  upstreamStartNs = 0n;
  upstreamEndNs = 0n;
  /** Milliseconds spent waiting for external agents (the agents phase adds to it); in the access log. */
  agentsMs = 0;

  // ---- mutations asked for by filters (agents, rate limits) and route rules ----
  /** Applied to the upstream request head, after the proxy's own rewriting. */
  requestHeaderOps: HeaderOp[] | null = null;
  /** Applied to the response head, relayed or local. */
  responseHeaderOps: HeaderOp[] | null = null;

  /** What is in progress and must be cancelled when the client goes away or the budget ends. */
  pending: Pending | null = null;

  /** Fields a route handler adds to this request's access-log record (null: none, the common case). */
  logFields: Record<string, string | number> | null = null;
  /** The client sent `Expect: 100-continue`; `sendContinue` answers it before the body is read. */
  expectContinue = false;
  continueSent = false;
  /** The route's concurrency gate while this exchange holds a place in it. */
  concurrency: ConcurrencyGate | null = null;
  // ---- agents (src/agents): null on routes without agent filters ----
  /** Per-request state of the route's agent filters: correlation ids, connections, verdicts. */
  agents: AgentExchange | null = null;
  /**
   * The request body to send upstream instead of `req`, when a filter streams it through an
   * inspection (agent body stream mode) or must replay bytes it already read. null = `req`.
   */
  requestBodyStream: Readable | null = null;
  /** Sees the upstream response before the client does (src/pipeline/response-hook.ts); null = relay as is. */
  responseInterceptor: ResponseInterceptor | null = null;

  private timer: NodeJS.Timeout | null = null;

  constructor(ctx: ListenerContext, snapshot: Snapshot, req: IncomingMessage, res: ServerResponse) {
    this.ctx = ctx;
    this.snapshot = snapshot;
    snapshot.usage.inflight++;
    this.req = req;
    this.res = res as ResWithExchange;
    this.startNs = process.hrtime.bigint();
    this.routeMetrics = snapshot.unmatched;
    const socket = req.socket as IncomingMessage['socket'] & { [kTlsInfo]?: TlsInfo };
    this.clientIp = socket.remoteAddress ?? '';
    this.clientPort = socket.remotePort ?? 0;
    this.h2 = isHttp2Request(req);
    this.tls = socket[kTlsInfo] ?? null;
    const rid = req.headers['x-request-id'];
    this.requestId = typeof rid === 'string' && isAcceptableRequestId(rid) ? rid : newRequestId(snapshot.config.system.traceIdFormat);
    const tp = req.headers.traceparent;
    const parsed = typeof tp === 'string' ? parseTraceparent(tp) : null;
    this.traceContinued = parsed !== null;
    const tracer = ctx.tracer;
    if (tracer !== null) {
      const ts = req.headers.tracestate;
      const span = tracer.startRequest(req, parsed, parsed !== null && typeof ts === 'string' ? ts : null, ctx.listenerId, this.requestId);
      this.span = span;
      this.traceparent = span.traceparent;
      this.traceId = span.traceId;
    } else {
      this.span = null;
      this.traceparent = parsed !== null ? (tp as string) : newTraceparent();
      this.traceId = this.traceparent.slice(3, 35);
    }
    this.res[kExchange] = this;
    res.on('close', onResponseClose);
  }

  /** SelectContext: the request headers (lower-case names, as Node delivers them). */
  get headers(): IncomingMessage['headers'] {
    return this.req.headers;
  }

  /** True when the request carries a body (Content-Length > 0 or Transfer-Encoding; HTTP/2: no END_STREAM on its HEADERS). */
  hasRequestBody(): boolean {
    if (this.h2) return (this.req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders !== true;
    const h = this.req.headers;
    if (h['transfer-encoding'] !== undefined) return true;
    const cl = h['content-length'];
    return cl !== undefined && cl !== '0';
  }

  /** Reports a client error while its body streams upstream (the socket resets mid-upload). */
  watchRequestBody(): void {
    const req = this.req as ReqWithExchange;
    if (req[kExchange] === this) return;
    req[kExchange] = this;
    req.on('error', onRequestBodyError);
  }

  /** Arms the total time budget of the exchange (once; later calls are ignored). */
  armTotalTimeout(ms: number): void {
    if (this.timer === null && !this.finished) this.timer = setTimeout(onTotalTimeout, ms, this);
  }

  // ---- headers ----------------------------------------------------------------------------

  // Fields held back by filterHeaders and merged before they are re-emitted.
  xff: string | null = null;
  via: string | null = null;
  tracestate: string | null = null;

  /** HeaderCollector: receives the request fields the proxy rewrites, and the response's Via. */
  collect(lower: string, value: string): void {
    if (lower === 'x-forwarded-for') this.xff = appendListValue(this.xff, value);
    else if (lower === 'via') this.via = appendListValue(this.via, value);
    else if (lower === 'tracestate') this.tracestate = this.tracestate === null ? value : `${this.tracestate},${value}`;
  }

  /**
   * Completes a response head, relayed or local: Via (when `via`), X-Request-Id, the response
   * header operations of the route and the filters, and Connection: close while draining.
   */
  finishResponseHead(out: string[], via: boolean): string[] {
    if (via) {
      out.push('via', appendListValue(this.via, VIA_TOKEN));
      this.via = null;
    }
    out.push('x-request-id', this.requestId);
    const route = this.route;
    const routeOps = route === null ? null : this.ctx.scheme === 'https' ? route.responseHeaderOpsTls : route.responseHeaderOps;
    if (routeOps !== null) applyHeaderOps(out, routeOps);
    if (this.responseHeaderOps !== null) applyHeaderOps(out, this.responseHeaderOps);
    // HTTP/2 has no Connection header (RFC 9113 §8.2.2): a draining session gets GOAWAY instead.
    if (this.ctx.draining && !this.h2) out.push('connection', 'close');
    return out;
  }

  /**
   * Writes the response head; false when the serializer refused it (invalid header from
   * upstream or an agent). Corks until the next tick so that a small response's head and body go
   * out in one write.
   */
  writeHead(status: number, headers: string[], statusMessage?: string): boolean {
    try {
      // HTTP/2 has no reason phrase.
      if (statusMessage !== undefined && statusMessage !== '' && !this.h2) this.res.writeHead(status, statusMessage, headers);
      else this.res.writeHead(status, headers);
    } catch {
      return false;
    }
    this.status = status;
    // Http2ServerResponse has no cork: its stream frames the head and the first data itself.
    if (this.h2) return true;
    this.res.cork();
    process.nextTick(uncorkResponse, this.res);
    return true;
  }

  /**
   * Sends `100 Continue` once, if the client asked for it: called right before the request body is
   * read, so a request refused earlier (limits, filters, routing) never makes the client upload.
   */
  sendContinue(): void {
    if (!this.expectContinue || this.continueSent) return;
    this.continueSent = true;
    this.res.writeContinue();
  }

  /**
   * A configured limit refused the request: counted in `sentinel_limits_triggered_total{limit}`,
   * recorded in the audit log, and answered with `code`.
   */
  limitExceeded(limit: LimitName, code: ErrorCode, extra?: string[]): void {
    this.ctx.metrics.limitTriggered(this.ctx.listenerId, limit);
    this.audit('limits', 'reject', `${limit} exceeded`, { status: ERROR_TABLE[code].status, limit });
    this.fail(code, extra);
  }

  /** The request was refused as malformed or unsafe (smuggling, traversal, …): audited, then answered. */
  reject(code: ErrorCode, reason: string, extra?: string[]): void {
    this.audit('parser', 'reject', reason, { status: ERROR_TABLE[code].status });
    this.fail(code, extra);
  }

  /** Records a security decision about this request in the audit log (request fields filled in). */
  audit(component: string, action: string, reason: string, extra?: Omit<AuditEvent, 'component' | 'action' | 'reason'>): void {
    this.ctx.audit.record({
      component,
      action,
      reason,
      request_id: this.requestId,
      trace_id: this.traceId,
      listener: this.ctx.listenerId,
      route: this.route?.id ?? '-',
      client_ip: this.clientIp,
      method: this.req.method as string,
      path: this.path,
      ...extra,
    });
  }

  // ---- local replies ------------------------------------------------------------------------

  /**
   * Ends the exchange with a locally generated response. `headers` is a flat list; X-Request-Id
   * and the response header operations are added. The caller has checked that headers are unsent.
   */
  reply(status: number, headers: string[], body: string | Buffer | null): void {
    if (this.finished) return;
    const res = this.res;
    if (res.headersSent || res.destroyed) {
      this.fail('INTERNAL_ERROR');
      return;
    }
    const payload = body ?? '';
    const out = this.finishResponseHead(headers, false);
    out.push('content-length', String(typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length));
    this.beforeLocalReply(out);
    if (!this.writeHead(status, out)) {
      this.fail('INTERNAL_ERROR');
      return;
    }
    if (this.req.method === 'HEAD') res.end();
    else res.end(payload);
    this.bytesOut += typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    this.finalize();
  }

  /** A JSON reply (builtin handlers, admin data). */
  replyJson(status: number, value: unknown): void {
    this.reply(status, ['content-type', 'application/json', 'cache-control', 'no-store'], JSON.stringify(value));
  }

  // ---- ending -------------------------------------------------------------------------------

  /** Aborts what is in progress (timeout, client gone); the exchange ends with `reason`. */
  abort(reason: ProxyError): void {
    if (this.finished) return;
    const pending = this.pending;
    if (pending !== null) pending.cancel(reason);
    else this.fail(reason.code);
  }

  onClientClose(): void {
    if (this.finished) return;
    // 'close' after a complete response is normal; before it, the client went away. Both checks:
    // an HTTP/2 response whose stream the client reset reports writableFinished (the stream is
    // finished) although nothing ended it, so writableEnded tells that case apart.
    if (!this.res.writableEnded || !this.res.writableFinished) this.abort(new ProxyError('CLIENT_CLOSED_REQUEST'));
  }

  /**
   * Called with the head of a local reply. When the request body has not been received, either
   * the client is still waiting for `100 Continue` (then the connection is closed after the reply,
   * so it never sends the body), or it is sending: the rest is discarded, bounded, after the reply.
   */
  private beforeLocalReply(out: string[]): void {
    const req = this.req;
    // HTTP/2: ending the response ends the stream; its flow control bounds what the client sends.
    if (req.complete || isHttp2Request(req) || !this.hasRequestBody()) return;
    if (this.expectContinue && !this.continueSent) {
      out.push('connection', 'close');
      return;
    }
    discardUnreadBody(req);
  }

  /**
   * Ends the exchange with an error: a JSON error if nothing was sent, else an aborted response.
   * `extra` adds header fields to the error response (Allow, Retry-After, Content-Range).
   */
  fail(code: ErrorCode, extra?: string[]): void {
    if (this.finished) return;
    this.errorCode = code;
    const res = this.res;
    if (code === 'CLIENT_CLOSED_REQUEST') {
      this.status = 499;
      if (!res.destroyed) res.destroy();
    } else if (!res.headersSent && !res.destroyed) {
      const custom = this.route?.handler.errorResponse?.(code) ?? null;
      const status = custom !== null ? custom.status : ERROR_TABLE[code].status;
      const body = custom !== null ? custom.body : errorBody(code, this.requestId);
      const head = custom !== null ? custom.headers.slice() : ['content-type', 'application/json', 'cache-control', 'no-store'];
      if (extra !== undefined) for (const h of extra) head.push(h);
      const out = this.finishResponseHead(head, false);
      out.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.length));
      this.beforeLocalReply(out);
      if (this.writeHead(status, out)) res.end(this.req.method === 'HEAD' ? undefined : body);
      else { this.status = status; this.abortResponse(); }
    } else {
      // Headers are out: the only honest signal left is to abort the client connection, so a
      // truncated body can never look complete.
      if (this.status === 0) this.status = ERROR_TABLE[code].status;
      this.abortResponse();
    }
    this.ctx.metrics.error(code);
    this.finalize();
  }

  /**
   * Aborts the response so that the client cannot take it as complete: HTTP/1.1 closes the
   * connection; HTTP/2 resets the stream with INTERNAL_ERROR (a plain destroy of the compat
   * response would end it with NO_ERROR, which a client may read as a complete body).
   */
  private abortResponse(): void {
    if (this.h2) {
      const stream = (this.res as unknown as { stream?: { destroyed: boolean; closed: boolean; destroy(err?: Error): void } }).stream;
      // A stream the client reset is closed already: nothing to send, and destroying it here (inside
      // its 'aborted' event) would hide the client's reset from the rapid-reset accounting.
      if (stream !== undefined && !stream.destroyed && !stream.closed) stream.destroy(H2_ABORTED);
      return;
    }
    this.res.destroy();
  }

  /** Runs once: timers, generation accounting, route hooks, metrics, access log. Never throws. */
  finalize(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    const pending = this.pending;
    if (pending !== null) {
      // Ended while something was in flight (a local reply raced it): stop it quietly.
      this.pending = null;
      try { pending.cancel(new ProxyError(this.errorCode ?? 'CLIENT_CLOSED_REQUEST')); } catch { /* finalize never throws */ }
    }
    const ctx = this.ctx;
    ctx.metrics.activeRequests--;
    const gate = this.concurrency;
    if (gate !== null) {
      gate.active--;
      this.concurrency = null;
    }
    const usage = this.snapshot.usage;
    if (--usage.inflight === 0 && usage.onIdle !== null) {
      const idle = usage.onIdle;
      usage.onIdle = null;
      idle();
    }
    const endNs = process.hrtime.bigint();
    const seconds = Number(endNs - this.startNs) / 1e9;
    const route = this.route;
    if (route !== null && route.filters.length > 0) {
      for (const f of route.filters) {
        if (f.onComplete === undefined) continue;
        try { f.onComplete(this); } catch (err) { process.emitWarning(`sentinel: filter "${f.id}" onComplete failed: ${(err as Error).message}`); }
      }
    }
    if (route !== null && route.handler.complete !== undefined) {
      try { route.handler.complete(this, seconds); } catch (err) { process.emitWarning(`sentinel: route "${route.id}" completion failed: ${(err as Error).message}`); }
    }
    this.routeMetrics.done(this.req.method as string, this.status, seconds);
    if (this.span !== null) this.endSpan(this.span);
    const log = ctx.accessLog;
    // Sampling is decided before the record is built; errors are always logged.
    if (log !== null && (this.errorCode !== undefined || this.status >= 500 || log.sampled())) {
      // finalize never throws: a logging failure must not take the exchange (or the process) down.
      try {
        this.writeAccessLog(log, endNs, seconds);
      } catch (err) {
        process.emitWarning(`sentinel: access log write failed: ${(err as Error).message}`);
      }
    }
    const errorLog = ctx.errorLog;
    if (errorLog !== null && this.errorCode !== undefined && errorLog.wants(this.status)) {
      try {
        this.writeErrorLog(errorLog, this.errorCode, seconds);
      } catch (err) {
        process.emitWarning(`sentinel: error log write failed: ${(err as Error).message}`);
      }
    }
  }

  private endSpan(span: RequestSpan): void {
    try {
      span.end({
        route: this.route?.id ?? '-',
        status: this.status,
        errorCode: this.errorCode,
        upstream: this.upstream?.id,
        target: this.target?.id,
        attempts: this.attempts,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
      });
    } catch (err) {
      process.emitWarning(`sentinel: ending the request span failed: ${(err as Error).message}`);
    }
  }

  private writeErrorLog(log: ErrorLog, code: ErrorCode, seconds: number): void {
    log.request({
      request_id: this.requestId,
      trace_id: this.traceId,
      listener: this.ctx.listenerId,
      route: this.route?.id ?? '-',
      upstream: this.upstream?.id ?? '-',
      target: this.target?.id ?? '-',
      method: this.req.method as string,
      path: this.path,
      status: this.status,
      error_code: code,
      attempts: this.attempts,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
    });
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
      attempts: this.attempts,
      status: this.status,
      error_code: this.errorCode,
      bytes_in: this.bytesIn,
      bytes_out: this.bytesOut,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
      upstream_ms: Math.round(upstreamMs * 1e3) / 1e3,
      agents_ms: Math.round(this.agentsMs * 1e3) / 1e3,
    }, this.req, this.logFields);
  }
}
