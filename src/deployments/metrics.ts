// Metric handles of deployment routing, built once per Metrics registry from the catalogue
// (src/observability/catalogue/deployments.ts) and shared by every deployments route and store.
// Hot-path children are pre-bound per route; cache counters are read from the caches' plain
// stats at scrape time, so a cache hit costs no metric call.
import type { Counter, Histogram } from 'prom-client';
import { CATALOGUE } from '../observability/catalogue.ts';
import { perRegistry } from '../observability/metrics.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SwrCache, SwrCacheStats } from './cache.ts';
import type { DecisionReason } from './router.ts';

type Child<T extends { labels(...v: string[]): unknown }> = ReturnType<T['labels']>;

/** Unkey's `error_type` label, plus `none` for a response below 400. */
export type ErrorTypeLabel = 'none' | 'user' | 'platform' | 'customer';

const ERROR_TYPES: readonly ErrorTypeLabel[] = ['none', 'user', 'platform', 'customer'];
const OUTCOMES: readonly (DecisionReason | 'proxied')[] = [
  'proxied', 'missing_header', 'not_found', 'environment_mismatch', 'no_instances', 'no_running_instances', 'store_error',
  'invalid_address', 'client_closed',
];
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Per-route handles: routing outcomes, requests by status and error type, instance responses. */
export class DeploymentRouteMetrics {
  private readonly routeId: string;
  private readonly region: string;
  private readonly parent: DeploymentMetrics;
  private readonly requestChildren = new Map<string, Child<Counter<string>>>();
  private readonly durationChildren: ReadonlyMap<ErrorTypeLabel, Child<Histogram<string>>>;
  private readonly outcomeChildren: ReadonlyMap<string, Child<Counter<string>>>;
  private readonly responseChildren: readonly Child<Counter<string>>[];
  private readonly ttfbChildren: readonly Child<Histogram<string>>[];

  constructor(parent: DeploymentMetrics, routeId: string, region: string) {
    this.parent = parent;
    this.routeId = routeId;
    this.region = region;
    this.durationChildren = new Map(ERROR_TYPES.map((t) => [t, parent.duration.labels(routeId, region, t)]));
    this.outcomeChildren = new Map(OUTCOMES.map((o) => {
      const child = parent.routing.labels(routeId, o);
      child.inc(0); // a series from the start: dashboards read 0 rather than no data
      return [o, child];
    }));
    this.responseChildren = STATUS_CLASSES.map((c) => parent.upstreamResponses.labels(routeId, c));
    this.ttfbChildren = STATUS_CLASSES.map((c) => parent.upstreamDuration.labels(routeId, c));
  }

  routed(outcome: DecisionReason | 'proxied'): void {
    this.outcomeChildren.get(outcome)?.inc();
  }

  /** An instance answered with `status` after `seconds` (time to first byte). */
  upstreamResponse(status: number, seconds: number): void {
    const i = Math.min(4, Math.max(0, Math.floor(status / 100) - 1));
    (this.responseChildren[i] as Child<Counter<string>>).inc();
    (this.ttfbChildren[i] as Child<Histogram<string>>).observe(seconds);
  }

  /** The request is over (finalize). */
  done(status: number, errorType: ErrorTypeLabel, seconds: number): void {
    const key = `${status}${errorType}`;
    let child = this.requestChildren.get(key);
    if (child === undefined) {
      child = this.parent.requests.labels(this.routeId, this.region, String(status), errorType);
      this.requestChildren.set(key, child);
    }
    child.inc();
    this.durationChildren.get(errorType)?.observe(seconds);
  }
}

/** What the cache counters read at scrape time. */
export interface CacheSource {
  readonly deployments: SwrCache<unknown>;
  readonly instances: SwrCache<unknown>;
  /** Open instance pools. */
  readonly pools: () => number;
}

type StatKey = 'freshHits' | 'staleHits' | 'misses' | 'refreshErrors' | 'evictions';
const CACHE_RESULTS: readonly [StatKey, string][] = [
  ['freshHits', 'fresh'], ['staleHits', 'stale'], ['misses', 'miss'], ['refreshErrors', 'refresh_error'], ['evictions', 'evicted'],
];

export class DeploymentMetrics {
  readonly requests: Counter<string>;
  readonly duration: Histogram<string>;
  readonly routing: Counter<string>;
  readonly upstreamResponses: Counter<string>;
  readonly upstreamDuration: Histogram<string>;
  readonly storeQueries: Counter<string>;
  readonly storeDuration: Histogram<string>;
  private readonly cacheLookups: Counter<string>;
  private readonly sources = new Set<CacheSource>();
  /** Stats already added to the counter, per cache. */
  private readonly reported = new WeakMap<SwrCache<unknown>, Record<StatKey, number>>();
  private readonly routes = new Map<string, DeploymentRouteMetrics>();

  constructor(metrics: Metrics) {
    const c = CATALOGUE;
    this.requests = metrics.counter(c.deploymentRequests);
    this.duration = metrics.histogram(c.deploymentRequestDuration);
    this.routing = metrics.counter(c.deploymentRouting);
    this.upstreamResponses = metrics.counter(c.deploymentUpstreamResponses);
    this.upstreamDuration = metrics.histogram(c.deploymentUpstreamDuration);
    this.storeQueries = metrics.counter(c.deploymentStoreQueries);
    this.storeDuration = metrics.histogram(c.deploymentStoreDuration);
    this.cacheLookups = metrics.counter(c.deploymentCacheLookups, (counter) => {
      for (const s of this.sources) this.report(counter, s);
    });
    metrics.gauge(c.deploymentCacheEntries, (g) => {
      let deployments = 0;
      let instances = 0;
      for (const s of this.sources) {
        deployments += s.deployments.size;
        instances += s.instances.size;
      }
      g.labels('deployment').set(deployments);
      g.labels('instances').set(instances);
    });
    metrics.gauge(c.deploymentInstancePools, (g) => {
      let n = 0;
      for (const s of this.sources) n += s.pools();
      g.set(n);
    });
  }

  /** The handles of one route (created once per route id and region, kept across reloads). */
  route(routeId: string, region: string): DeploymentRouteMetrics {
    const key = `${routeId}\u0000${region}`;
    let r = this.routes.get(key);
    if (r === undefined) {
      r = new DeploymentRouteMetrics(this, routeId, region);
      this.routes.set(key, r);
    }
    return r;
  }

  /** Starts reading a runtime's caches at scrape time. */
  track(source: CacheSource): void {
    this.sources.add(source);
  }

  /** Stops reading it, after adding what it counted since the last scrape. */
  untrack(source: CacheSource): void {
    if (this.sources.delete(source)) this.report(this.cacheLookups, source);
  }

  private report(counter: Counter<string>, s: CacheSource): void {
    this.reportCache(counter, 'deployment', s.deployments);
    this.reportCache(counter, 'instances', s.instances);
  }

  private reportCache(counter: Counter<string>, name: string, cache: SwrCache<unknown>): void {
    const stats: SwrCacheStats = cache.stats;
    let last = this.reported.get(cache);
    if (last === undefined) {
      last = { freshHits: 0, staleHits: 0, misses: 0, refreshErrors: 0, evictions: 0 };
      this.reported.set(cache, last);
    }
    for (const [key, result] of CACHE_RESULTS) {
      const delta = stats[key] - last[key];
      counter.labels(name, result).inc(delta > 0 ? delta : 0);
      last[key] = stats[key];
    }
  }
}

/** The deployment metric handles of a registry; registers them on first call (at start-up). */
export const deploymentMetrics: (metrics: Metrics) => DeploymentMetrics = perRegistry((m) => new DeploymentMetrics(m));
