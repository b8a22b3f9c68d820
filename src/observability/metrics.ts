// Prometheus metrics built from the catalogue. Hot-path counters are cached children, looked up
// once per (route, method, status) and reused; gauges that mirror plain numbers are read at scrape.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counter as CounterT, Histogram as HistogramT, Gauge as GaugeT } from 'prom-client';
import { CATALOGUE, PROCESS_METRICS_PREFIX } from './catalogue.ts';
import type { MetricSpec } from './catalogue.ts';
import { UpstreamMetrics } from './upstream-metrics.ts';
import { LIMIT_NAMES, SERVER_METRICS } from './catalogue/server.ts';
import type { LimitName } from './catalogue/server.ts';
import { ServerMetrics } from './server-metrics.ts';

const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
]);

/** Methods outside the standard set are folded into OTHER to bound label cardinality. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}

/** Per-route handles, created once per route id and kept across requests. */
export class RouteMetrics {
  readonly routeId: string;
  readonly duration: ReturnType<HistogramT<string>['labels']>;
  private readonly counters = new Map<string, ReturnType<CounterT<string>['labels']>>();
  private readonly requests: CounterT<string>;

  constructor(routeId: string, requests: CounterT<string>, duration: HistogramT<string>) {
    this.routeId = routeId;
    this.requests = requests;
    this.duration = duration.labels(routeId);
  }

  done(method: string, status: number, seconds: number): void {
    const key = method + status;
    let child = this.counters.get(key);
    if (child === undefined) {
      child = this.requests.labels(this.routeId, methodLabel(method), String(status));
      this.counters.set(key, child);
    }
    child.inc();
    this.duration.observe(seconds);
  }
}

export class Metrics {
  readonly registry: Registry;
  activeRequests = 0;
  private readonly requests: CounterT<string>;
  private readonly duration: HistogramT<string>;
  private readonly upstream: CounterT<string>;
  private readonly errors: CounterT<string>;
  private readonly buildInfo: GaugeT<string>;
  private readonly reloads: CounterT<string>;
  private readonly generation: GaugeT<string>;
  readonly activeConnections: GaugeT<string>;
  readonly connectionsRejected: CounterT<string>;
  /** Upstream resilience: health, breakers, ejections, retries, pools, discovery. */
  readonly upstreams: UpstreamMetrics;
  private readonly routes = new Map<string, RouteMetrics>();
  private readonly upstreamChildren = new Map<string, ReturnType<CounterT<string>['labels']>>();
  private readonly errorChildren = new Map<string, ReturnType<CounterT<string>['labels']>>();
  private readonly logDropped: CounterT<string>;
  private readonly auditEvents: CounterT<string>;
  private readonly auditChildren = new Map<string, ReturnType<CounterT<string>['labels']>>();
  /** Sampled spans: recorded, exported, failed (src/observability/otel.ts counts them). */
  readonly tracingSpans: CounterT<string>;
  private readonly limits: CounterT<string>;
  private readonly limitChildren = new Map<string, ReturnType<CounterT<string>['labels']>>();
  /** Listener and protocol metrics: TLS, connections by protocol, HTTP/2, WebSocket. */
  readonly server: ServerMetrics;

  constructor(options: { processMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    const c = CATALOGUE;
    this.requests = new Counter({ name: c.requestsTotal.name, help: c.requestsTotal.help, labelNames: c.requestsTotal.labels, registers: [registry] });
    this.duration = new Histogram({ name: c.requestDuration.name, help: c.requestDuration.help, labelNames: c.requestDuration.labels, buckets: [...c.requestDuration.buckets], registers: [registry] });
    const readActive = (): number => this.activeRequests;
    new Gauge({
      name: c.activeRequests.name, help: c.activeRequests.help, registers: [registry],
      collect() { this.set(readActive()); },
    });
    this.activeConnections = new Gauge({ name: c.activeConnections.name, help: c.activeConnections.help, labelNames: c.activeConnections.labels, registers: [registry] });
    this.connectionsRejected = new Counter({ name: c.connectionsRejected.name, help: c.connectionsRejected.help, labelNames: c.connectionsRejected.labels, registers: [registry] });
    this.upstream = new Counter({ name: c.upstreamRequestsTotal.name, help: c.upstreamRequestsTotal.help, labelNames: c.upstreamRequestsTotal.labels, registers: [registry] });
    this.errors = new Counter({ name: c.errorsTotal.name, help: c.errorsTotal.help, labelNames: c.errorsTotal.labels, registers: [registry] });
    this.reloads = new Counter({ name: c.configReloads.name, help: c.configReloads.help, labelNames: c.configReloads.labels, registers: [registry], aggregator: c.configReloads.aggregator });
    for (const r of ['applied', 'unchanged', 'rejected']) this.reloads.labels(r).inc(0);
    this.generation = new Gauge({ name: c.configGeneration.name, help: c.configGeneration.help, registers: [registry], aggregator: c.configGeneration.aggregator });
    this.limits = this.counter(SERVER_METRICS.limitsTriggered);
    this.server = new ServerMetrics(this);
    this.buildInfo = new Gauge({ name: c.buildInfo.name, help: c.buildInfo.help, labelNames: c.buildInfo.labels, registers: [registry], aggregator: c.buildInfo.aggregator });
    this.upstreams = new UpstreamMetrics(this);
    this.logDropped = this.counter(c.logDropped);
    this.auditEvents = this.counter(c.auditEvents);
    this.tracingSpans = this.counter(c.tracingSpans);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: PROCESS_METRICS_PREFIX });
  }

  /**
   * Registers a catalogue counter in this registry. Each area (upstream, agents, rate limiting, …)
   * builds its own handles with these three, once at start-up, and keeps pre-bound children.
   */
  counter(spec: MetricSpec, collect?: (counter: CounterT<string>) => void): CounterT<string> {
    return new Counter({
      name: spec.name, help: spec.help, labelNames: spec.labels, registers: [this.registry],
      ...(spec.aggregator !== undefined ? { aggregator: spec.aggregator } : {}),
      // A counter fed from plain state at scrape time: `collect` adds what grew since the last scrape.
      ...(collect !== undefined ? { collect() { collect(this); } } : {}),
    });
  }

  /** A catalogue gauge; `collect` (optional) runs at scrape time to set values read from plain state. */
  gauge(spec: MetricSpec, collect?: (gauge: GaugeT<string>) => void): GaugeT<string> {
    return new Gauge({
      name: spec.name, help: spec.help, labelNames: spec.labels, registers: [this.registry],
      ...(spec.aggregator !== undefined ? { aggregator: spec.aggregator } : {}),
      ...(collect !== undefined ? { collect() { collect(this); } } : {}),
    });
  }

  /** A catalogue histogram (its buckets come from the spec, else the latency buckets). */
  histogram(spec: MetricSpec): HistogramT<string> {
    return new Histogram({ name: spec.name, help: spec.help, labelNames: spec.labels, buckets: [...(spec.buckets ?? CATALOGUE.requestDuration.buckets)], registers: [this.registry] });
  }

  route(routeId: string): RouteMetrics {
    let r = this.routes.get(routeId);
    if (r === undefined) {
      r = new RouteMetrics(routeId, this.requests, this.duration);
      this.routes.set(routeId, r);
    }
    return r;
  }

  upstreamOutcome(upstreamId: string, target: string, outcome: string): void {
    const key = upstreamId + '\0' + target + '\0' + outcome;
    let child = this.upstreamChildren.get(key);
    if (child === undefined) {
      child = this.upstream.labels(upstreamId, target, outcome);
      this.upstreamChildren.set(key, child);
    }
    child.inc();
  }

  error(code: string): void {
    let child = this.errorChildren.get(code);
    if (child === undefined) {
      child = this.errors.labels(code);
      this.errorChildren.set(code, child);
    }
    child.inc();
  }

  /** A log record its destination could not take (LogCounters). */
  dropped(log: 'access' | 'error' | 'audit'): void {
    this.logDropped.labels(log).inc();
  }

  /** One audit record; component and action are constants from the code, so the labels stay bounded. */
  audited(component: string, action: string): void {
    const key = component + '\0' + action;
    let child = this.auditChildren.get(key);
    if (child === undefined) {
      child = this.auditEvents.labels(component, action);
      this.auditChildren.set(key, child);
    }
    child.inc();
  }

  /** Gives a listener a 0 series for every limit name, so dashboards read 0 rather than no data. */
  initLimits(listener: string): void {
    for (const name of LIMIT_NAMES) this.limitTriggered(listener, name, 0);
  }

  /** A configured limit refused or cut off a client on `listener` (see LIMITS in catalogue/server.ts). */
  limitTriggered(listener: string, limit: LimitName, n = 1): void {
    const key = listener + '\0' + limit;
    let child = this.limitChildren.get(key);
    if (child === undefined) {
      child = this.limits.labels(listener, limit);
      this.limitChildren.set(key, child);
    }
    child.inc(n);
  }

  reloaded(result: 'applied' | 'unchanged' | 'rejected'): void {
    this.reloads.labels(result).inc();
  }

  setGeneration(generation: number): void {
    this.generation.set(generation);
  }

  setBuildInfo(version: string, configHash: string): void {
    this.buildInfo.reset();
    this.buildInfo.labels(version, configHash).set(1);
  }
}

/**
 * A feature area's metric handles, one set per registry: `create` registers them the first time a
 * registry asks (at start-up), later calls return the same handles (prom-client refuses a name
 * registered twice).
 */
export function perRegistry<T>(create: (metrics: Metrics) => T): (metrics: Metrics) => T {
  const byRegistry = new WeakMap<Metrics, T>();
  return (metrics) => {
    let h = byRegistry.get(metrics);
    if (h === undefined) {
      h = create(metrics);
      byRegistry.set(metrics, h);
    }
    return h;
  };
}
