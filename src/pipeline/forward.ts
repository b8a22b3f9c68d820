// The forward phase: pick a target, send a fresh upstream request built from the parsed head, and
// relay the response with backpressure.
//
// One `Attempt` per try is the undici dispatch handler: it owns that try's controller, the bytes
// it sent, and the in-flight accounting of its target (`begin` … exactly one `settle`). The
// exchange outlives its attempts; a retry (issue 3) is a new Attempt on another target.
import type { Dispatcher } from 'undici';
import { ProxyError } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import { appendListValue, filterHeaders } from '../core/headers.ts';
import type { TargetRuntime, UpstreamRuntime } from '../upstream/upstream.ts';
import { VIA_TOKEN } from './exchange.ts';
import type { Exchange, Pending, RouteHandler } from './exchange.ts';
import { applyHeaderOps } from './header-ops.ts';

/** Request headers the proxy rewrites itself; incoming copies are dropped while filtering. */
const REWRITTEN_REQUEST = new Set([
  'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'via', 'traceparent', 'tracestate',
]);

/** Response headers the proxy rewrites: Via is merged, X-Request-Id is always ours. */
const REWRITTEN_RESPONSE = new Set(['via', 'x-request-id']);

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

/**
 * One pass over the client's raw headers: drop hop-by-hop and rewritten fields, add ours, then
 * the route's and the filters' request header operations.
 */
export function buildUpstreamHeaders(ex: Exchange, upstream: UpstreamRuntime, target: TargetRuntime): string[] {
  ex.xff = null;
  ex.via = null;
  ex.tracestate = null;
  const out = filterHeaders(ex.req.rawHeaders, [], REWRITTEN_REQUEST, ex);
  const cfg = upstream.config;
  const host = cfg.preserveHost ? ex.host : (cfg.hostHeader ?? target.authority);
  out.push(
    'host', host === '' ? target.authority : host,
    'x-forwarded-for', appendListValue(ex.xff, ex.clientIp),
    'x-forwarded-proto', ex.ctx.scheme,
    'via', appendListValue(ex.via, VIA_TOKEN),
    'x-request-id', ex.requestId,
    'traceparent', ex.traceparent,
  );
  if (ex.host !== '') out.push('x-forwarded-host', ex.host);
  // tracestate belongs to the incoming trace; it is dropped when we started a new one.
  if (ex.tracestate !== null && ex.traceparent === ex.req.headers.traceparent) out.push('tracestate', ex.tracestate);
  ex.via = null;
  const routeOps = ex.route?.requestHeaderOps ?? null;
  if (routeOps !== null) applyHeaderOps(out, routeOps);
  if (ex.requestHeaderOps !== null) applyHeaderOps(out, ex.requestHeaderOps);
  return out;
}

/** One try against one target: the undici dispatch handler. */
export class Attempt implements Dispatcher.DispatchHandler, Pending {
  readonly ex: Exchange;
  readonly upstream: UpstreamRuntime;
  readonly target: TargetRuntime;
  /** Request bytes (body) undici wrote for this attempt. */
  bytesSent = 0;
  /** Set-Cookie of a sticky selector that set a new affinity with this pick, or null. */
  readonly stickyCookie: string | null;
  private controller: Dispatcher.DispatchController | null = null;
  private abortReason: ProxyError | null = null;
  private settled = false;
  private drainFn: (() => void) | null = null;

  constructor(ex: Exchange, upstream: UpstreamRuntime, target: TargetRuntime, stickyCookie: string | null) {
    this.ex = ex;
    this.upstream = upstream;
    this.target = target;
    this.stickyCookie = stickyCookie;
    upstream.begin(target);
  }

  /** Sends the request. Errors thrown synchronously by undici end the exchange. */
  dispatch(): void {
    const ex = this.ex;
    const req = ex.req;
    const t = this.upstream.config.timeouts;
    let body: Dispatcher.DispatchOptions['body'] = null;
    if (ex.body !== null) body = ex.body.length > 0 ? ex.body : null;
    else if (ex.hasRequestBody()) {
      ex.watchRequestBody();
      body = req;
    }
    ex.pending = this;
    try {
      this.target.pool.dispatch({
        path: req.url as string,
        method: req.method as Dispatcher.HttpMethod,
        headers: buildUpstreamHeaders(ex, this.upstream, this.target),
        body,
        headersTimeout: t.headersMs,
        bodyTimeout: t.readMs,
      }, this);
    } catch (err) {
      // undici validates options synchronously (e.g. a header value it refuses).
      const code = classifyUpstreamError(err);
      this.settle(null);
      ex.pending = null;
      ex.fail(code === 'INTERNAL_ERROR' ? 'BAD_REQUEST' : code);
    }
  }

  /**
   * Ends this attempt's accounting once: in-flight count, and the outcome for load-aware
   * selectors (`ok` null = no verdict, e.g. the client went away).
   */
  settle(ok: boolean | null): void {
    if (this.settled) return;
    this.settled = true;
    const ex = this.ex;
    if (ex.upstreamEndNs === 0n) ex.upstreamEndNs = process.hrtime.bigint();
    const ms = Number(ex.upstreamEndNs - ex.upstreamStartNs) / 1e6;
    this.upstream.end(this.target, ms, ok);
  }

  // ---- Pending ----

  cancel(reason: ProxyError): void {
    if (this.abortReason === null) this.abortReason = reason;
    const c = this.controller;
    if (c !== null && !c.aborted) {
      c.abort(reason); // → onResponseError → the exchange fails with `reason`
    } else if (c === null) {
      // Not dispatched yet (queued in the pool): undici calls onRequestStart later and we abort
      // there. A queued request still must end now.
      this.settle(null);
      if (this.ex.pending === this) this.ex.pending = null;
      this.ex.fail(reason.code);
    }
  }

  // ---- undici DispatchHandler ----

  onRequestStart(controller: Dispatcher.DispatchController, _context: unknown): void {
    this.controller = controller;
    if (this.abortReason !== null) controller.abort(this.abortReason);
  }

  onBodySent(chunk: Buffer | string): void {
    this.bytesSent += chunk.length;
    if (this.ex.body === null) this.ex.bytesIn += chunk.length;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _headers: unknown, statusMessage?: string): void {
    if (statusCode < 200) return; // 1xx: interim responses are not relayed yet (issue 4 adds 103/100 relay).
    const ex = this.ex;
    if (ex.finished || ex.res.destroyed) {
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
      out = filterHeaders(strs, out, REWRITTEN_RESPONSE, ex);
    }
    ex.finishResponseHead(out, true);
    if (this.stickyCookie !== null) out.push('set-cookie', this.stickyCookie);
    if (!ex.writeHead(statusCode, out, statusMessage)) {
      controller.abort(new ProxyError('UPSTREAM_PROTOCOL_ERROR', 'response head rejected by the HTTP serializer'));
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const ex = this.ex;
    ex.bytesOut += chunk.length;
    if (!ex.res.write(chunk)) {
      controller.pause();
      this.drainFn ??= () => { this.controller?.resume(); };
      ex.res.once('drain', this.drainFn);
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, _trailers: unknown): void {
    const ex = this.ex;
    ex.pending = null;
    ex.upstreamEndNs = process.hrtime.bigint();
    ex.ctx.metrics.upstreamOutcome(this.upstream.id, this.target.id, 'success');
    // A 5xx is a failure for load-aware selectors even though it was relayed.
    this.settle(ex.status < 500);
    ex.res.end();
    ex.finalize();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const ex = this.ex;
    if (ex.pending === this) ex.pending = null;
    ex.upstreamEndNs = process.hrtime.bigint();
    const code = this.abortReason !== null ? this.abortReason.code : classifyUpstreamError(err);
    this.settle(code === 'CLIENT_CLOSED_REQUEST' ? null : false);
    if (code !== 'CLIENT_CLOSED_REQUEST') ex.ctx.metrics.upstreamOutcome(this.upstream.id, this.target.id, code);
    if (code === 'INTERNAL_ERROR') {
      process.emitWarning(`sentinel: unclassified upstream error: ${(err as { code?: string }).code ?? ''} ${err.message}`);
    }
    ex.fail(code);
  }
}

/** Starts the exchange's first attempt on `upstream`. */
export function forward(ex: Exchange, upstream: UpstreamRuntime): void {
  ex.upstream = upstream;
  const target = upstream.pick(ex);
  if (target === null) {
    ex.fail('UPSTREAM_NO_HEALTHY');
    return;
  }
  // The sticky cookie belongs to this pick: read it before anything else picks.
  const sticky = upstream.stickyCookie();
  ex.target = target;
  ex.attempts++;
  ex.armTotalTimeout(upstream.config.timeouts.requestMs);
  const attempt = new Attempt(ex, upstream, target, sticky);
  ex.upstreamStartNs = process.hrtime.bigint();
  attempt.dispatch();
}

/** The route handler of a route with `upstream "id"`. */
export class ProxyHandler implements RouteHandler {
  readonly kind = 'upstream';
  readonly upstream: UpstreamRuntime;

  constructor(upstream: UpstreamRuntime) {
    this.upstream = upstream;
  }

  handle(ex: Exchange): void {
    forward(ex, this.upstream);
  }
}
