// The forward phase: pick a target, send a fresh upstream request built from the parsed head, and
// relay the response with backpressure; retry where the upstream's retry policy allows it.
//
// One `Attempt` per try is the undici dispatch handler: it owns that try's controller, the bytes
// it sent, its timers (backoff, per-attempt timeout) and the accounting of its target (`acquire`
// … exactly one `settle`, which reports the outcome to the breaker, passive detection and
// latency-aware selectors). The exchange outlives its attempts; a retry is a new Attempt, on
// another target where one is available (`retryAfter`).
import type { Dispatcher } from 'undici';
import { ERROR_TABLE, ProxyError } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import { appendListValue, filterHeaders } from '../core/headers.ts';
import type { OutlierResult } from '../upstream/health/outlier.ts';
import { backoffMs, shouldRetry } from '../upstream/retry.ts';
import type { AttemptFailure, RetryPolicy } from '../upstream/retry.ts';
import type { RetryRuntime, TargetRuntime, UpstreamRuntime } from '../upstream/upstream.ts';
import type { AttemptSpan } from '../observability/tracing.ts';
import { admitRequestBody, bufferRequestBody, declaredLength, requestBodySource } from './body.ts';
import { VIA_TOKEN } from './exchange.ts';
import type { Exchange, Pending, RouteHandler } from './exchange.ts';
import type { ResponseRelay } from './response-hook.ts';
import { applyHeaderOps } from './header-ops.ts';
import { relayInterim, relayTrailers } from './interim.ts';

/**
 * Request headers the proxy rewrites itself; incoming copies are dropped while filtering. `expect`
 * is answered by the proxy (src/pipeline/body.ts) and never forwarded.
 */
const REWRITTEN_REQUEST = new Set([
  'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'via', 'traceparent', 'tracestate', 'expect',
]);

/** Response headers the proxy rewrites: Via is merged, X-Request-Id is always ours. */
export const REWRITTEN_RESPONSE: ReadonlySet<string> = new Set(['via', 'x-request-id']);

/**
 * The raw response head undici hands over, as a flat string list: HTTP/1.1 gives `[name, value, …]`
 * buffers; an HTTP/2 upstream gives a header object (values may be arrays).
 */
export function rawResponseHeaders(raw: unknown): string[] {
  if (Array.isArray(raw)) {
    const strs: string[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const v = raw[i] as Buffer | string;
      strs[i] = typeof v === 'string' ? v : v.toString('latin1');
    }
    return strs;
  }
  const out: string[] = [];
  if (raw !== null && typeof raw === 'object') {
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      if (name.charCodeAt(0) === 58 /* : */) continue;
      if (Array.isArray(value)) for (const v of value) out.push(name, String(v));
      else if (value !== undefined) out.push(name, String(value));
    }
  }
  return out;
}

/** OpenSSL certificate verification failures as Node reports them (`err.code`). */
const UPSTREAM_TLS_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'HOSTNAME_MISMATCH', 'INVALID_CA', 'INVALID_PURPOSE', 'PATH_LENGTH_EXCEEDED',
]);

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
      return 'UPSTREAM_HEADERS_TOO_LARGE';
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_INFO':
      return 'UPSTREAM_PROTOCOL_ERROR';
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_INVALID_ARG':
      // undici refused a value that came from the client's request.
      return 'BAD_REQUEST';
  }
  if (typeof code === 'string') {
    if (code.startsWith('HPE_')) return 'UPSTREAM_PROTOCOL_ERROR';
    if (UPSTREAM_TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'UPSTREAM_TLS_ERROR';
  }
  // undici's parser errors can come without a code (e.g. an HTTP/2-only server answering HTTP/1.1).
  if ((err as { name?: unknown } | null)?.name === 'HTTPParserError') return 'UPSTREAM_PROTOCOL_ERROR';
  return 'INTERNAL_ERROR';
}

/**
 * One pass over the client's raw headers: drop hop-by-hop and rewritten fields, add ours, then
 * the route's and the filters' request header operations. `traceparent` is the attempt span's
 * when tracing is on, else the exchange's.
 */
export function buildUpstreamHeaders(ex: Exchange, upstream: UpstreamRuntime, target: TargetRuntime, traceparent: string = ex.traceparent): string[] {
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
    'traceparent', traceparent,
  );
  if (ex.host !== '') out.push('x-forwarded-host', ex.host);
  // tracestate belongs to the incoming trace; it is dropped when we started a new one.
  if (ex.tracestate !== null && ex.traceContinued) out.push('tracestate', ex.tracestate);
  ex.via = null;
  const routeOps = ex.route?.requestHeaderOps ?? null;
  if (routeOps !== null) applyHeaderOps(out, routeOps);
  if (ex.requestHeaderOps !== null) applyHeaderOps(out, ex.requestHeaderOps);
  return out;
}

/**
 * What a failed attempt says about its target (breaker, passive detection): connect failures and
 * resets are local-origin failures, timeouts are timeouts, an unparseable response counts like a
 * 5xx; the client going away, a request undici refused, or the total budget running out while
 * the response was already flowing say nothing about the target (null).
 */
export function outcomeOf(code: ErrorCode, responded: boolean): OutlierResult | null {
  switch (code) {
    case 'UPSTREAM_CONNECT_FAILED':
    case 'UPSTREAM_RESET':
      return 'connect_failure';
    case 'UPSTREAM_CONNECT_TIMEOUT':
    case 'UPSTREAM_HEADERS_TIMEOUT':
    case 'UPSTREAM_ATTEMPT_TIMEOUT':
    case 'UPSTREAM_BODY_TIMEOUT':
      return 'timeout';
    case 'UPSTREAM_PROTOCOL_ERROR':
    case 'UPSTREAM_HEADERS_TOO_LARGE':
      return '5xx';
    case 'REQUEST_TIMEOUT':
      return responded ? null : 'timeout';
    default:
      return null;
  }
}

function onAttemptTimer(a: Attempt): void {
  a.timerFired();
}

/** One try against one target: the undici dispatch handler. */
export class Attempt implements Dispatcher.DispatchHandler, Pending, ResponseRelay {
  readonly ex: Exchange;
  readonly upstream: UpstreamRuntime;
  readonly target: TargetRuntime;
  /** Request bytes (body) undici wrote for this attempt. */
  bytesSent = 0;
  /** Set-Cookie of a sticky selector that set a new affinity with this pick, or null. */
  readonly stickyCookie: string | null;
  /** `websocket` for a WebSocket upgrade attempt (src/pipeline/websocket.ts), else null. */
  protected upgrade: string | null = null;
  protected controller: Dispatcher.DispatchController | null = null;
  private abortReason: ProxyError | null = null;
  private settled = false;
  /** No longer the exchange's attempt (given up for a retry, or cancelled before it started). */
  private detached = false;
  /** The response head was relayed to the client. */
  private responded = false;
  private dispatched = false;
  private startNs = 0n;
  /** The backoff delay before dispatch, then the per-attempt timeout. */
  private timer: NodeJS.Timeout | null = null;
  private drainFn: (() => void) | null = null;
  /** The upstream's trailers, kept from the end of the response until `finish` relays them. */
  private rawTrailers: unknown = undefined;
  /** This attempt's client span (tracing on; started at dispatch), or null. */
  private span: AttemptSpan | null = null;
  /** The upstream's response status (0 until the head arrives), for the span. */
  private status = 0;

  /** `target` was acquired for it (counted in flight); the attempt settles it exactly once. */
  constructor(ex: Exchange, upstream: UpstreamRuntime, target: TargetRuntime, stickyCookie: string | null) {
    this.ex = ex;
    this.upstream = upstream;
    this.target = target;
    this.stickyCookie = stickyCookie;
  }

  /** True once undici started writing the request (the upstream may have seen it). */
  get sent(): boolean {
    return this.controller !== null;
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
      body = ex.requestBodyStream ?? requestBodySource(ex);
    }
    ex.pending = this;
    this.dispatched = true;
    this.startNs = process.hrtime.bigint();
    if (ex.span !== null) this.span = ex.span.startAttempt(req.method as string, this.upstream.id, this.target.id, ex.attempts);
    const perAttempt = this.attemptTimeoutMs();
    if (perAttempt !== null) this.timer = setTimeout(onAttemptTimer, perAttempt, this);
    try {
      const options: Dispatcher.DispatchOptions & { servername?: string } = {
        path: req.url as string,
        method: req.method as Dispatcher.HttpMethod,
        headers: buildUpstreamHeaders(ex, this.upstream, this.target, this.span === null ? ex.traceparent : this.span.traceparent),
        body,
        headersTimeout: t.headersMs,
        bodyTimeout: t.readMs,
      };
      if (this.upgrade !== null) options.upgrade = this.upgrade;
      // TLS upstreams: a constant per pool. undici reconnects whenever a request's servername differs
      // from its connection's, and would derive it from the client's Host; the pool's connector
      // sets the real server name (src/upstream/transport.ts).
      if (this.upstream.config.tls !== undefined) options.servername = this.target.id;
      this.target.pool.dispatch(options, this);
    } catch (err) {
      // undici validates options synchronously (e.g. a header value it refuses).
      const code = classifyUpstreamError(err);
      this.settle(null, code);
      ex.pending = null;
      ex.fail(code === 'INTERNAL_ERROR' ? 'BAD_REQUEST' : code);
    }
  }

  // ---- retry hooks (the upstream's retry policy; deployment routes retry across instances) ----

  /** Bound on this attempt until its response head, or null. */
  protected attemptTimeoutMs(): number | null {
    return this.upstream.retry?.perAttemptTimeoutMs ?? null;
  }

  /** A response with this status may be discarded for a retry. */
  protected retryableStatus(status: number): boolean {
    const retry = this.upstream.retry;
    return retry !== null && retry.statuses.has(status);
  }

  /** Starts the next attempt after this one (settled) failed; false: the caller ends the exchange. */
  protected retry(failure: AttemptFailure): boolean {
    return retryAfter(this, failure);
  }

  /** Dispatches after `delayMs` (a retry's backoff); the exchange can cancel it meanwhile. */
  dispatchAfter(delayMs: number): void {
    this.ex.pending = this;
    this.timer = setTimeout(onAttemptTimer, delayMs, this);
  }

  /** The backoff elapsed (not dispatched yet), or the per-attempt timeout fired. */
  timerFired(): void {
    this.timer = null;
    if (!this.dispatched) this.dispatch();
    else this.cancel(new ProxyError('UPSTREAM_ATTEMPT_TIMEOUT'));
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /**
   * Ends this attempt's accounting once: in-flight count, and the outcome for the breaker,
   * passive detection and load-aware selectors (null = no verdict, e.g. the client went away).
   */
  settle(outcome: OutlierResult | null, code?: ErrorCode): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimer();
    if (this.span !== null) this.span.end(this.status, code);
    const ms = this.startNs === 0n ? 0 : Number(process.hrtime.bigint() - this.startNs) / 1e6;
    this.upstream.end(this.target, ms, outcome);
  }

  // ---- Pending ----

  cancel(reason: ProxyError): void {
    if (this.detached) return;
    if (this.abortReason === null) this.abortReason = reason;
    this.clearTimer();
    const c = this.controller;
    if (c !== null) {
      if (!c.aborted) c.abort(reason); // → onResponseError → retry or fail with `reason`
      return;
    }
    // Not started: waiting for its backoff, connecting, or queued in the pool. If undici has it,
    // it calls onRequestStart later and we abort there; its callbacks are ignored from now on.
    this.detached = true;
    const ex = this.ex;
    if (ex.pending === this) ex.pending = null;
    this.settle(reason.code === 'UPSTREAM_ATTEMPT_TIMEOUT' ? 'timeout' : null, reason.code);
    if (ex.finished) return;
    if (this.retry({ kind: 'error', code: reason.code })) return;
    ex.fail(reason.code);
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
    if (this.detached) return;
    const ex = this.ex;
    if (statusCode < 200) {
      relayInterim(ex, statusCode, controller.rawHeaders);
      return;
    }
    this.clearTimer();
    this.status = statusCode;
    if (ex.finished || ex.res.destroyed) {
      controller.abort(new ProxyError('CLIENT_CLOSED_REQUEST'));
      return;
    }
    if (this.retryableStatus(statusCode)) {
      this.settle('5xx');
      if (this.retry({ kind: 'status', status: statusCode })) {
        // The next attempt is under way; this response is discarded (its connection too).
        this.detached = true;
        controller.abort(new ProxyError('UPSTREAM_RESET', `status ${statusCode} discarded for a retry`));
        return;
      }
    }
    this.responded = true;
    const out = filterHeaders(rawResponseHeaders(controller.rawHeaders), [], REWRITTEN_RESPONSE, ex);
    const hook = ex.responseInterceptor;
    if (hook !== null) hook.onHead(this, statusCode, out, statusMessage);
    else this.commitHead(statusCode, out, statusMessage);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.detached) return;
    const hook = this.ex.responseInterceptor;
    if (hook !== null) hook.onData(this, chunk);
    else this.write(chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, _trailers: unknown): void {
    if (this.detached) return;
    this.rawTrailers = (controller as { rawTrailers?: unknown }).rawTrailers;
    const hook = this.ex.responseInterceptor;
    if (hook !== null) hook.onEnd(this);
    else this.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.detached) return;
    const ex = this.ex;
    if (ex.pending === this) ex.pending = null;
    ex.upstreamEndNs = process.hrtime.bigint();
    const code = this.abortReason !== null ? this.abortReason.code : classifyUpstreamError(err);
    this.settle(outcomeOf(code, this.responded), code);
    // A client fault (gone, body over the limit) says nothing about the target.
    if (ERROR_TABLE[code].source !== 'client') ex.ctx.metrics.upstreamOutcome(this.upstream.id, this.target.id, code);
    if (code === 'UPSTREAM_HEADERS_TOO_LARGE') {
      ex.ctx.metrics.limitTriggered(ex.ctx.listenerId, 'upstream_response_header_bytes');
      ex.audit('limits', 'reject', 'upstream_response_header_bytes exceeded', { status: 502, limit: 'upstream_response_header_bytes', upstream: this.upstream.id, target: this.target.id });
    }
    if (code === 'INTERNAL_ERROR') {
      process.emitWarning(`sentinel: unclassified upstream error: ${(err as { code?: string }).code ?? ''} ${err.message}`);
    } else if (code === 'UPSTREAM_TLS_ERROR') {
      process.emitWarning(`sentinel: TLS to upstream "${this.upstream.id}" target ${this.target.id} failed: ${(err as { code?: string }).code ?? ''} ${err.message}`);
    }
    if (ex.finished) return;
    if (!this.responded && this.retry({ kind: 'error', code })) return;
    ex.fail(code);
  }
  // ---- ResponseRelay (the response hook, src/pipeline/response-hook.ts) ----

  pause(): void {
    this.controller?.pause();
  }

  resume(): void {
    const c = this.controller;
    if (c !== null && !c.aborted) c.resume();
  }

  commitHead(status: number, out: string[], statusMessage: string | undefined): boolean {
    const ex = this.ex;
    ex.finishResponseHead(out, true);
    if (this.stickyCookie !== null) out.push('set-cookie', this.stickyCookie);
    if (ex.writeHead(status, out, statusMessage)) return true;
    this.controller?.abort(new ProxyError('UPSTREAM_PROTOCOL_ERROR', 'response head rejected by the HTTP serializer'));
    return false;
  }

  write(chunk: Buffer): void {
    const ex = this.ex;
    ex.bytesOut += chunk.length;
    if (!ex.res.write(chunk)) {
      this.controller?.pause();
      this.drainFn ??= () => { this.resume(); };
      ex.res.once('drain', this.drainFn);
    }
  }

  finish(): void {
    const ex = this.ex;
    relayTrailers(ex, this.rawTrailers);
    ex.pending = null;
    ex.upstreamEndNs = process.hrtime.bigint();
    ex.ctx.metrics.upstreamOutcome(this.upstream.id, this.target.id, 'success');
    // A 5xx is a failure for passive detection and load-aware selectors even though it was relayed.
    this.settle(ex.status >= 500 ? '5xx' : 'success');
    ex.res.end();
    ex.finalize();
  }

  discard(): void {
    if (this.detached) return;
    this.detached = true;
    const ex = this.ex;
    if (ex.pending === this) ex.pending = null;
    this.settle(null);
    const c = this.controller;
    if (c !== null && !c.aborted) c.abort(new ProxyError('CLIENT_CLOSED_REQUEST', 'response discarded by a response filter'));
  }

}

/** The `reason` label of a retry: the error code, or `status_NNN`. */
export function retryReason(f: AttemptFailure): string {
  return f.kind === 'error' ? f.code : `status_${f.status}`;
}

/**
 * The retry policy's verdict on `failed`, shared by every kind of attempt: the backoff to wait
 * before the next try, or null when the policy refuses (no attempts left, a failure it does not
 * retry, not idempotent once sent, a body that cannot be replayed, or no time left before
 * `requestTimeoutMs` after the backoff).
 */
export function retryBackoffMs(failed: Attempt, failure: AttemptFailure, policy: RetryPolicy, requestTimeoutMs: number): number | null {
  const ex = failed.ex;
  const delayMs = backoffMs(policy, ex.attempts, Math.random);
  const elapsedMs = Number(process.hrtime.bigint() - ex.startNs) / 1e6;
  const verdict = shouldRetry(policy, {
    attempt: ex.attempts,
    failure,
    method: ex.req.method as string,
    bodyReplayable: ex.body !== null || !ex.hasRequestBody(),
    // Once undici started writing, the upstream may have the head even when no body byte went out.
    bytesSent: failed.sent ? Math.max(1, failed.bytesSent) : 0,
    budgetRemainingMs: requestTimeoutMs - elapsedMs - delayMs,
  });
  return verdict === 'retry' ? delayMs : null;
}

/**
 * Starts the next attempt after `failed` (already settled) failed with `failure`, when the retry
 * policy allows it: attempts left, a retryable failure, idempotent or nothing sent, a replayable
 * body, time left after the backoff, a target (another one where possible), and a token from the
 * upstream's retry budget (asked last, so refused retries spend nothing). False: the caller ends
 * the exchange with the failure.
 */
export function retryAfter(failed: Attempt, failure: AttemptFailure): boolean {
  const ex = failed.ex;
  const upstream = failed.upstream;
  const retry = upstream.retry;
  if (retry === null || ex.finished) return false;
  const delayMs = retryBackoffMs(failed, failure, retry.policy, upstream.config.timeouts.requestMs);
  if (delayMs === null) return false;
  const tried = (ex.tried ??= []);
  tried.push(failed.target);
  // Another target where one is available, else the same one again (a one-target upstream).
  const target = upstream.acquire(ex, tried) ?? upstream.acquire(ex, null);
  if (target === null) return false;
  const sticky = upstream.stickyCookie();
  const m = ex.ctx.metrics.upstreams;
  if (!retry.budget.tryAcquire()) {
    upstream.end(target, 0, null);
    m.budgetExhausted(upstream.id);
    return false;
  }
  m.retried(upstream.id, retryReason(failure));
  // The same kind of attempt again (a WebSocket upgrade stays one).
  startAttempt(ex, upstream, target, sticky, delayMs, failed.constructor as AttemptClass);
  return true;
}

/** Builds the Attempt of one try: `Attempt`, or a subclass (a WebSocket upgrade). */
export type AttemptClass = new (ex: Exchange, upstream: UpstreamRuntime, target: TargetRuntime, stickyCookie: string | null) => Attempt;

function startAttempt(ex: Exchange, upstream: UpstreamRuntime, target: TargetRuntime, sticky: string | null, delayMs: number, AttemptOf: AttemptClass): void {
  ex.target = target;
  ex.attempts++;
  if (ex.upstreamStartNs === 0n) ex.upstreamStartNs = process.hrtime.bigint();
  const attempt = new AttemptOf(ex, upstream, target, sticky);
  if (delayMs > 0) attempt.dispatchAfter(delayMs);
  else attempt.dispatch();
}

/** The first attempt: a target, or 503 (`UPSTREAM_NO_HEALTHY` / `UPSTREAM_QUEUE_FULL`, counted). */
function firstAttempt(ex: Exchange, upstream: UpstreamRuntime, AttemptOf: AttemptClass): void {
  const target = upstream.acquire(ex, null);
  if (target === null) {
    const code = upstream.unavailable;
    ex.ctx.metrics.upstreams.unavailable(upstream.id, code === 'UPSTREAM_QUEUE_FULL' ? 'queue_full' : 'no_healthy');
    ex.fail(code);
    return;
  }
  // The sticky cookie belongs to this pick: read it before anything else picks.
  startAttempt(ex, upstream, target, upstream.stickyCookie(), 0, AttemptOf);
}

/**
 * A request under a retry policy (an upstream's, or a deployments route's across instances): counts
 * it for the retry budget, and buffers a body that a retry may have to send again when its declared
 * size allows (bigger and chunked bodies stream, and such a request is not retried). Returns null
 * when the first attempt can start now, else the promise of the buffering: true when it may start;
 * false when the exchange ended meanwhile (a client gone or a bad body already answered).
 */
export function prepareRetryBody(ex: Exchange, retry: RetryRuntime | null): Promise<boolean> | null {
  if (retry === null) return null;
  retry.budget.onRequest();
  if (ex.body !== null || ex.requestBodyStream !== null || !ex.hasRequestBody()) return null;
  const len = declaredLength(ex);
  return len >= 0 && len <= retry.maxBufferBytes ? bufferForRetry(ex, retry.maxBufferBytes) : null;
}

async function bufferForRetry(ex: Exchange, maxBytes: number): Promise<boolean> {
  const r = await bufferRequestBody(ex, maxBytes);
  if (ex.finished) return false;
  if (!r.ok) {
    ex.fail(r.reason === 'aborted' ? 'CLIENT_CLOSED_REQUEST' : 'BAD_REQUEST');
    return false;
  }
  return true;
}

/** Starts the exchange's first attempt on `upstream` (`AttemptOf`: a subclass for WebSocket upgrades). */
export function forward(ex: Exchange, upstream: UpstreamRuntime, AttemptOf: AttemptClass = Attempt): void {
  ex.upstream = upstream;
  ex.armTotalTimeout(upstream.config.timeouts.requestMs);
  const buffering = prepareRetryBody(ex, upstream.retry);
  if (buffering === null) firstAttempt(ex, upstream, AttemptOf);
  else void buffering.then((ok) => { if (ok) firstAttempt(ex, upstream, AttemptOf); });
}

/** The route handler of a route with `upstream "id"`. */
export class ProxyHandler implements RouteHandler {
  readonly kind = 'upstream';
  readonly upstream: UpstreamRuntime;

  constructor(upstream: UpstreamRuntime) {
    this.upstream = upstream;
  }

  handle(ex: Exchange): void {
    if (admitRequestBody(ex)) forward(ex, this.upstream);
  }
}
