// The route handler of `deployments { }` routes: Unkey Sentinel's deployment routing on the
// proxy's own forward path (docs/deployments.md).
//
// Per request: the internal health endpoints are answered here and never proxied; otherwise the
// deployment id header goes to the router, which decides synchronously when its caches are warm
// (a promise only when it must wait for the store); an error decision ends the exchange with its
// code, which this route renders in Unkey's contract; a proxy decision sends one attempt to the
// picked instance through a pooled endpoint (no retry: parity). Upstream responses of any status
// are relayed untouched, plus the timing header.
import type { Dispatcher } from 'undici';
import type { ErrorCode, ProxyError } from '../core/errors.ts';
import type { DeploymentsConfig } from '../config/types.ts';
import { compileParityErrors, errorTypeFor } from '../deployments/errors.ts';
import type { DeploymentRouteMetrics, ErrorTypeLabel } from '../deployments/metrics.ts';
import type { DeploymentDecision } from '../deployments/router.ts';
import type { DeploymentRuntime } from '../deployments/runtime.ts';
import type { InstanceSelection } from '../deployments/selection.ts';
import type { ProxyDecision } from '../deployments/router.ts';
import type { OutlierResult } from '../upstream/health/outlier.ts';
import type { TargetRuntime, UpstreamRuntime } from '../upstream/upstream.ts';
import type { Exchange, LocalErrorResponse, Pending, RouteHandler } from './exchange.ts';
import { Attempt } from './forward.ts';
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

/** One attempt at an instance: the forward phase's Attempt plus instance metrics and the timing header. */
class DeploymentAttempt extends Attempt {
  private readonly handler: DeploymentsHandler;
  private readonly decision: ProxyDecision;
  private startedNs = 0n;

  constructor(ex: Exchange, upstream: UpstreamRuntime, target: TargetRuntime, handler: DeploymentsHandler, decision: ProxyDecision) {
    super(ex, upstream, target, null);
    this.handler = handler;
    this.decision = decision;
  }

  override dispatch(): void {
    this.startedNs = process.hrtime.bigint();
    super.dispatch();
  }

  /** Also reports the outcome to an opt-in selection (latency-aware algorithms learn from it). */
  override settle(outcome: OutlierResult | null, code?: ErrorCode): void {
    super.settle(outcome, code);
    const picker = this.handler.picker;
    if (picker === null || outcome === null || this.startedNs === 0n) return;
    const d = this.decision;
    const ms = Number(process.hrtime.bigint() - this.startedNs) / 1e6;
    this.startedNs = 0n; // once
    picker.onResult(d.deployment, d.instances, d.index, ms, outcome === 'success');
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
        if (ex.responseHeaderOps === null) ex.responseHeaderOps = ops;
        else ex.responseHeaderOps.push(...ops);
      }
    }
    super.onResponseStart(controller, statusCode, headers, statusMessage);
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
  /** Removed from every forwarded request: the deployment id header (a fixed Unkey defect) and X-Unkey-Principal. */
  readonly requestHeaderOps: readonly HeaderOp[];
  private readonly headerLower: string;
  private readonly environmentId: string;
  private readonly region: string;
  private readonly requestTimeoutMs: number;
  private readonly errors: ReadonlyMap<ErrorCode, LocalErrorResponse>;

  constructor(routeId: string, config: DeploymentsConfig, runtime: DeploymentRuntime, metrics: DeploymentRouteMetrics) {
    this.routeId = routeId;
    this.runtime = runtime;
    this.metrics = metrics;
    this.timingHeader = config.timingHeader;
    this.picker = runtime.selection(config.selection);
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
    const ep = this.runtime.endpoints.get(d.target, d.deployment.upstreamProtocol);
    if (ex.ctx.accessLog !== null) {
      ex.logFields = { deployment_id: d.deployment.id, instance_id: d.instance.id, instance_address: d.instance.address };
    }
    ex.upstream = ep.upstream;
    ex.target = ep.target;
    ex.attempts++;
    // Counted in flight until the attempt settles (an instance has no breaker: begin never refuses).
    ep.upstream.begin(ep.target);
    const attempt = new DeploymentAttempt(ex, ep.upstream, ep.target, this, d);
    ex.upstreamStartNs = process.hrtime.bigint();
    attempt.dispatch();
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
