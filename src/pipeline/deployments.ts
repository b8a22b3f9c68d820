// The route handler of `deployments { }` routes: Unkey Sentinel's deployment routing on the
// proxy's own forward path (docs/deployments.md).
//
// Per request: the internal health endpoints are answered here and never proxied; otherwise the
// deployment id header goes to the router, which decides synchronously when its caches are warm
// (a promise only when it must wait for the store); an error decision ends the exchange with its
// code, which this route renders in Unkey's contract; a proxy decision sends one attempt to the
// picked instance through a pooled endpoint (no retry: parity; `retry-policy` opts into retries
// across instances, `outlier-detection` into passive health per instance address). Upstream
// responses of any status are relayed untouched, plus the timing header.
import type { Dispatcher } from 'undici';
import type { ErrorCode, ProxyError } from '../core/errors.ts';
import type { DeploymentsConfig } from '../config/types.ts';
import { compileParityErrors, errorTypeFor } from '../deployments/errors.ts';
import type { DeploymentRouteMetrics, ErrorTypeLabel } from '../deployments/metrics.ts';
import type { InstanceEndpoint } from '../deployments/endpoints.ts';
import type { DeploymentDecision, ProxyDecision } from '../deployments/router.ts';
import type { DeploymentRuntime } from '../deployments/runtime.ts';
import type { InstanceSelection } from '../deployments/selection.ts';
import { maxEjectable } from '../upstream/health/outlier.ts';
import type { EjectionGroup, OutlierResult, OutlierTarget } from '../upstream/health/outlier.ts';
import type { AttemptFailure } from '../upstream/retry.ts';
import type { RetryRuntime } from '../upstream/upstream.ts';
import type { Exchange, LocalErrorResponse, Pending, RouteHandler } from './exchange.ts';
import { Attempt, prepareRetryBody, retryBackoffMs, retryReason } from './forward.ts';
import type { HeaderOp } from './header-ops.ts';

/** Unkey's namespace for the proxy's own endpoints: never proxied. */
const INTERNAL_ROOT = '/_unkey/internal';
const HEALTH_V1 = '/_unkey/internal/health';
const HEALTH_LIVE = '/_unkey/internal/health/live';
const HEALTH_READY = '/_unkey/internal/health/ready';
const HEALTH_STARTUP = '/_unkey/internal/health/startup';

/** Spoofable identity header of Unkey's policy engine: always stripped from inbound requests (V2). */
export const PRINCIPAL_HEADER = 'X-Unkey-Principal';
export const TIMING_HEADER = 'X-Unkey-Timing';

/** A duration as Unkey's timing entries write it: the largest unit that keeps the value >= 1. */
export function formatTimingDuration(ns: number): string {
  if (ns >= 1e9) return `${Math.round(ns / 1e6) / 1e3}s`;
  if (ns >= 1e6) return `${Math.round(ns / 1e3) / 1e3}ms`;
  if (ns >= 1e3) return `${Math.round(ns) / 1e3}us`;
  return `${Math.max(0, Math.round(ns))}ns`;
}

function isInternalPath(path: string): boolean {
  return path.startsWith(INTERNAL_ROOT) && (path.length === INTERNAL_ROOT.length || path.charCodeAt(INTERNAL_ROOT.length) === 47 /* / */);
}

/**
 * The first value of a request header (Unkey reads it with Go's Header.Get). Node joins repeated
 * custom headers with ", ", so a joined value is looked up again in the raw list.
 */
export function firstHeaderValue(ex: Exchange, lower: string): string | undefined {
  const v = ex.req.headers[lower];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return v[0];
  if (!v.includes(',')) return v;
  const raw = ex.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === lower.length && name.toLowerCase() === lower) return raw[i + 1] as string;
  }
  return v;
}

/** Waits for a decision that needs the store; the client leaving or the budget ending ends it. */
class DecisionWait implements Pending {
  private readonly ex: Exchange;

  constructor(ex: Exchange) {
    this.ex = ex;
  }

  cancel(reason: ProxyError): void {
    if (this.ex.pending === this) this.ex.pending = null;
    this.ex.fail(reason.code);
  }
}

/** The group of a success report (a success never ejects). */
const NO_EJECTION: EjectionGroup = { mayEject: () => false };

/** One attempt at an instance: the forward phase's Attempt plus instance metrics, the timing header and retries across instances. */
class DeploymentAttempt extends Attempt {
  private readonly handler: DeploymentsHandler;
  readonly decision: ProxyDecision;
  /** Instance indexes (in `decision.instances.running`) earlier attempts of this request tried; null on a first attempt. */
  readonly tried: Set<number> | null;
  private startedNs = 0n;
  /** The timing header entries this attempt added (taken back when its response is discarded for a retry). */
  private timingOps: HeaderOp[] | null = null;

  /** Passive health of the instance address (`outlier-detection`), or null. */
  private readonly outlier: OutlierTarget | null;

  constructor(ex: Exchange, ep: InstanceEndpoint, handler: DeploymentsHandler, decision: ProxyDecision, tried: Set<number> | null) {
    super(ex, ep.upstream, ep.target, null);
    this.handler = handler;
    this.decision = decision;
    this.tried = tried;
    this.outlier = ep.outlier;
  }

  override dispatch(): void {
    this.startedNs = process.hrtime.bigint();
    super.dispatch();
  }

  /**
   * Also reports the outcome (once, and only for an attempt that was dispatched) to passive health
   * and to an opt-in selection (latency-aware algorithms learn from it).
   */
  override settle(outcome: OutlierResult | null, code?: ErrorCode): void {
    super.settle(outcome, code);
    const startedNs = this.startedNs;
    this.startedNs = 0n;
    if (outcome === null || startedNs === 0n) return;
    if (this.outlier !== null) {
      const detection = this.outlier.report(outcome, outcome === 'success' ? NO_EJECTION : this.handler.ejectionGroup(this.decision));
      if (detection !== 'none') this.ex.ctx.metrics.upstreams.target(this.upstream.id, this.target.id).ejection(detection === 'enforced' ? 'ejected' : 'refused');
    }
    const picker = this.handler.picker;
    if (picker === null) return;
    const d = this.decision;
    picker.onResult(d.deployment, d.instances, d.index, Number(process.hrtime.bigint() - startedNs) / 1e6, outcome === 'success');
  }

  override onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: unknown, statusMessage?: string): void {
    if (statusCode >= 200) {
      const ex = this.ex;
      const now = process.hrtime.bigint();
      this.handler.metrics.upstreamResponse(statusCode, Number(now - ex.upstreamStartNs) / 1e9);
      if (this.handler.timingHeader) {
        const ops: HeaderOp[] = [
          { op: 'add', name: TIMING_HEADER, value: `sentinel{scope=sentinel}=${formatTimingDuration(Number(now - ex.startNs))}` },
          { op: 'add', name: TIMING_HEADER, value: `instance{scope=sentinel}=${formatTimingDuration(Number(now - ex.upstreamStartNs))}` },
        ];
        this.timingOps = ops;
        if (ex.responseHeaderOps === null) ex.responseHeaderOps = ops;
        else ex.responseHeaderOps.push(...ops);
      }
    }
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  // ---- retries across instances (`retry-policy` of the route; none by default: parity) ----

  protected override attemptTimeoutMs(): number | null {
    return this.handler.retry?.perAttemptTimeoutMs ?? null;
  }

  protected override retryableStatus(status: number): boolean {
    const retry = this.handler.retry;
    return retry !== null && retry.statuses.has(status);
  }

  /**
   * The next attempt goes to an instance of the same set that this request has not tried yet
   * (never one twice), when the policy allows it (attempts left, a retryable failure, idempotent
   * or nothing sent, a replayable body, time left before the request deadline after the backoff)
   * and the retry budget grants a token.
   */
  protected override retry(failure: AttemptFailure): boolean {
    const handler = this.handler;
    const retry = handler.retry;
    const ex = this.ex;
    if (retry === null || ex.finished) return false;
    const delayMs = retryBackoffMs(this, failure, retry.policy, handler.requestTimeoutMs);
    if (delayMs === null) return false;
    const d = this.decision;
    const tried = this.tried ?? new Set<number>();
    tried.add(d.index);
    const next = handler.nextInstance(ex, d, tried);
    if (next === null) return false;
    const m = ex.ctx.metrics.upstreams;
    if (!retry.budget.tryAcquire()) {
      m.budgetExhausted(this.upstream.id);
      return false;
    }
    m.retried(this.upstream.id, retryReason(failure));
    // The discarded response's timing entries must not reach the client with the next one's.
    const ops = this.timingOps;
    if (ops !== null && ex.responseHeaderOps !== null) ex.responseHeaderOps = ex.responseHeaderOps.filter((op) => !ops.includes(op));
    handler.startAttempt(ex, next, tried, delayMs);
    return true;
  }
}

export class DeploymentsHandler implements RouteHandler {
  readonly kind = 'deployments';
  readonly routeId: string;
  readonly runtime: DeploymentRuntime;
  readonly metrics: DeploymentRouteMetrics;
  readonly timingHeader: boolean;
  /** The opt-in selection algorithm's picker; null = Unkey's uniform random pick. */
  readonly picker: InstanceSelection | null;
  /** The opt-in retries across instances; null = one attempt (parity). */
  readonly retry: RetryRuntime | null;
  readonly requestTimeoutMs: number;
  /** Removed from every forwarded request: the deployment id header (a fixed Unkey defect) and X-Unkey-Principal. */
  readonly requestHeaderOps: readonly HeaderOp[];
  private readonly headerLower: string;
  private readonly environmentId: string;
  private readonly region: string;
  private readonly errors: ReadonlyMap<ErrorCode, LocalErrorResponse>;

  constructor(routeId: string, config: DeploymentsConfig, runtime: DeploymentRuntime, metrics: DeploymentRouteMetrics) {
    this.routeId = routeId;
    this.runtime = runtime;
    this.metrics = metrics;
    this.timingHeader = config.timingHeader;
    this.picker = runtime.selection(config.selection);
    this.retry = runtime.retry(config.retryPolicy);
    this.headerLower = config.header.toLowerCase();
    this.environmentId = config.environmentId;
    this.region = config.region;
    this.requestTimeoutMs = config.requestTimeoutMs;
    this.errors = compileParityErrors({ errorSourceHeader: config.errorSourceHeader, errorSourceValue: config.errorSourceValue });
    this.requestHeaderOps = Object.freeze([
      { op: 'remove', name: config.header },
      { op: 'remove', name: PRINCIPAL_HEADER },
    ]);
  }

  handle(ex: Exchange): void {
    if (isInternalPath(ex.path)) {
      this.internal(ex);
      return;
    }
    ex.armTotalTimeout(this.requestTimeoutMs);
    const decision = this.runtime.router.decideId(firstHeaderValue(ex, this.headerLower), undefined, ex, this.picker);
    if (decision instanceof Promise) this.wait(ex, decision);
    else this.route(ex, decision);
  }

  errorResponse(code: ErrorCode): LocalErrorResponse | null {
    return this.errors.get(code) ?? null;
  }

  complete(ex: Exchange, seconds: number): void {
    if (isInternalPath(ex.path)) return;
    const errorType: ErrorTypeLabel = ex.errorCode !== undefined ? errorTypeFor(ex.errorCode) : ex.status >= 400 ? 'customer' : 'none';
    this.metrics.done(ex.status, errorType, seconds);
    if (ex.ctx.accessLog !== null) {
      const fields = ex.logFields ?? (ex.logFields = { deployment_id: firstHeaderValue(ex, this.headerLower) ?? '' });
      fields.environment_id = this.environmentId;
      fields.region = this.region;
      fields.error_type = errorType;
    }
  }

  private wait(ex: Exchange, pending: Promise<DeploymentDecision>): void {
    const wait = new DecisionWait(ex);
    ex.pending = wait;
    pending.then((decision) => {
      if (ex.pending !== wait || ex.finished) return; // the client left or the budget ended first
      ex.pending = null;
      this.route(ex, decision);
    }, () => {
      // decide() never rejects; should it, the request still ends.
      if (ex.pending === wait) ex.pending = null;
      ex.fail('DEPLOYMENT_LOOKUP_FAILED');
    });
  }

  private route(ex: Exchange, d: DeploymentDecision): void {
    if (d.kind === 'error') {
      this.metrics.routed(d.reason);
      ex.fail(d.coreCode);
      return;
    }
    this.metrics.routed('proxied');
    const buffering = prepareRetryBody(ex, this.retry);
    if (buffering === null) this.startAttempt(ex, d, null, 0);
    else void buffering.then((ok) => { if (ok) this.startAttempt(ex, d, null, 0); });
  }

  /** Sends an attempt to the decision's instance (after `delayMs`, a retry's backoff). */
  startAttempt(ex: Exchange, d: ProxyDecision, tried: Set<number> | null, delayMs: number): void {
    const ep = this.runtime.endpoints.get(d.target, d.deployment.upstreamProtocol);
    if (ex.ctx.accessLog !== null) {
      ex.logFields = { deployment_id: d.deployment.id, instance_id: d.instance.id, instance_address: d.instance.address };
    }
    ex.upstream = ep.upstream;
    ex.target = ep.target;
    ex.attempts++;
    // Counted in flight until the attempt settles (an instance has no breaker: begin never refuses).
    ep.upstream.begin(ep.target);
    const attempt = new DeploymentAttempt(ex, ep, this, d, tried);
    if (ex.upstreamStartNs === 0n) ex.upstreamStartNs = process.hrtime.bigint();
    if (delayMs > 0) attempt.dispatchAfter(delayMs);
    else attempt.dispatch();
  }

  /**
   * The passive-health group of a decision's instance set: one more ejection is allowed while at
   * most `max-ejection-percent` of the set (never all of it) is ejected. Built on a failure report only.
   */
  ejectionGroup(d: ProxyDecision): EjectionGroup {
    const endpoints = this.runtime.endpoints;
    const set = d.instances;
    const protocol = d.deployment.upstreamProtocol;
    const cap = maxEjectable(set.running.length, this.runtime.maxEjectionPercent ?? 0);
    return {
      mayEject: () => {
        let ejected = 0;
        for (const t of set.targets) if (t !== null && !endpoints.available(t, protocol)) ejected++;
        return ejected < cap;
      },
    };
  }

  /**
   * A retry's instance: one of `d.instances` outside `tried` (picked by the route's selection, else
   * uniformly, also when passive health ejected every untried one), with a usable address; null
   * when every instance was tried. Instances with a malformed address are skipped (and marked tried).
   */
  nextInstance(ex: Exchange, d: ProxyDecision, tried: Set<number>): ProxyDecision | null {
    const set = d.instances;
    const n = set.running.length;
    while (tried.size < n) {
      let index = this.picker === null ? -1 : this.picker.pick(d.deployment, set, ex, tried);
      // Uniform among the untried: `random`, or every untried instance is ejected.
      if (index < 0) {
        let k = Math.floor(Math.random() * (n - tried.size));
        for (let i = 0; i < n; i++) {
          if (tried.has(i)) continue;
          if (k-- === 0) { index = i; break; }
        }
      }
      if (index < 0 || tried.has(index)) return null;
      const next = this.runtime.router.proxyTo(d.deployment, set, index, ex);
      if (next.kind === 'proxy') return next;
      tried.add(index);
    }
    return null;
  }

  /** `/_unkey/internal/…`: Unkey's health endpoints (V1 and V2 paths); anything else there is 404. */
  private internal(ex: Exchange): void {
    const method = ex.req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      ex.fail('METHOD_NOT_ALLOWED');
      return;
    }
    switch (ex.path) {
      case HEALTH_V1:
        ex.reply(200, ['content-type', 'text/plain; charset=utf-8', 'cache-control', 'no-store'], 'OK');
        return;
      case HEALTH_LIVE:
      case HEALTH_STARTUP:
        ex.replyJson(200, { status: 'ok' });
        return;
      case HEALTH_READY:
        this.runtime.ready().then((r) => {
          if (ex.finished) return;
          if (r.ok) ex.replyJson(200, { status: 'ok' });
          else ex.replyJson(503, { status: 'fail', checks: { store: r.failure } });
        }, () => ex.fail('INTERNAL_ERROR'));
        return;
      default:
        ex.fail('ROUTE_NOT_FOUND');
    }
  }
}
