// Handles of the upstream-resilience metrics (catalogue/upstream.ts), registered once per Metrics.
// Counters are pre-bound per target when its state is created; gauges are read from the live
// target states at scrape time, so the request path never touches them. Also the sink for the
// operator-facing log lines of health changes (set by the composition root).
import type { Counter, Gauge } from 'prom-client';
import { UPSTREAM_METRICS as U } from './catalogue/upstream.ts';
import type { Metrics } from './metrics.ts';

/** What the gauges read from one target's long-lived state (structural: upstream/health/target-health.ts). */
export interface TargetStateView {
  readonly health: 'healthy' | 'unhealthy' | 'unknown';
  readonly breaker: { readonly state: 'closed' | 'open' | 'half-open' } | null;
  readonly inflight: number;
  available(): boolean;
  queued(): number;
}

type BreakerStateName = 'closed' | 'open' | 'half-open';
type Child = ReturnType<Counter<string>['labels']>;

export type UpstreamLog = (level: 'info' | 'warn', fields: Record<string, unknown>, msg: string) => void;

const BREAKER_VALUE: Readonly<Record<BreakerStateName, number>> = { closed: 0, 'half-open': 1, open: 2 };

/** The observer of one target (`TargetObserver` in upstream/health/target-health.ts). */
export interface TargetMetrics {
  breaker(from: BreakerStateName, to: BreakerStateName): void;
  ejection(event: 'ejected' | 'returned' | 'refused'): void;
  health(from: string, to: string): void;
  /** One active check result. */
  checked(ok: boolean): void;
  /** Starts exposing the gauges of `state`. */
  track(state: TargetStateView): void;
  closed(): void;
}

export class UpstreamMetrics {
  /** Operator log of health changes; null = silent (tests, benchmarks). */
  log: UpstreamLog | null = null;
  private readonly retries: Counter<string>;
  private readonly budgetExhaustedCounter: Counter<string>;
  private readonly unavailableCounter: Counter<string>;
  private readonly discoveryCounter: Counter<string>;
  private readonly transitions: Counter<string>;
  private readonly ejections: Counter<string>;
  private readonly checks: Counter<string>;
  private readonly children = new Map<Counter<string>, Map<string, Child>>();
  private readonly live = new Map<TargetStateView, { readonly upstream: string; readonly target: string }>();
  private readonly sources = new Map<object, { readonly upstream: string; readonly count: () => number }>();
  /** Routes per upstream id of the config serving new requests (setRoutes). */
  private routes: ReadonlyMap<string, number> = new Map();

  constructor(metrics: Metrics) {
    this.retries = metrics.counter(U.upstreamRetries);
    this.budgetExhaustedCounter = metrics.counter(U.upstreamRetryBudgetExhausted);
    this.unavailableCounter = metrics.counter(U.upstreamUnavailable);
    this.discoveryCounter = metrics.counter(U.upstreamDiscoveryRefreshes);
    this.transitions = metrics.counter(U.upstreamBreakerTransitions);
    this.ejections = metrics.counter(U.upstreamEjections);
    this.checks = metrics.counter(U.upstreamHealthChecks);
    const live = this.live;
    const perTarget = (g: Gauge<string>, value: (s: TargetStateView) => number | null): void => {
      g.reset();
      for (const [s, l] of live) {
        const v = value(s);
        if (v !== null) g.labels(l.upstream, l.target).set(v);
      }
    };
    metrics.gauge(U.upstreamTargetHealthy, (g) => perTarget(g, (s) => (s.health === 'healthy' ? 1 : 0)));
    metrics.gauge(U.upstreamTargetAvailable, (g) => perTarget(g, (s) => (s.available() ? 1 : 0)));
    metrics.gauge(U.upstreamBreakerState, (g) => perTarget(g, (s) => (s.breaker === null ? null : BREAKER_VALUE[s.breaker.state])));
    metrics.gauge(U.upstreamInflight, (g) => perTarget(g, (s) => s.inflight));
    metrics.gauge(U.upstreamQueueDepth, (g) => perTarget(g, (s) => s.queued()));
    const sources = this.sources;
    metrics.gauge(U.upstreamDiscoveredTargets, (g) => {
      g.reset();
      for (const s of sources.values()) g.labels(s.upstream).set(s.count());
    });
    metrics.gauge(U.upstreamRoutes, (g) => {
      g.reset();
      for (const [upstream, n] of this.routes) g.labels(upstream).set(n);
    });
  }

  /** The routes per upstream of the config now serving (at start and after each applied reload). */
  setRoutes(routes: ReadonlyMap<string, number>): void {
    this.routes = routes;
  }

  private child(counter: Counter<string>, ...labels: string[]): Child {
    let byLabels = this.children.get(counter);
    if (byLabels === undefined) {
      byLabels = new Map();
      this.children.set(counter, byLabels);
    }
    const key = labels.join('\0');
    let c = byLabels.get(key);
    if (c === undefined) {
      c = counter.labels(...labels);
      byLabels.set(key, c);
    }
    return c;
  }

  /** The observer of `target` of `upstream`; counters are bound once, here. */
  target(upstream: string, target: string): TargetMetrics {
    const opened = this.child(this.transitions, upstream, target, 'open');
    const halfOpen = this.child(this.transitions, upstream, target, 'half-open');
    const closedT = this.child(this.transitions, upstream, target, 'closed');
    const enforced = this.child(this.ejections, upstream, target, 'enforced');
    const refused = this.child(this.ejections, upstream, target, 'refused');
    const ok = this.child(this.checks, upstream, target, 'ok');
    const fail = this.child(this.checks, upstream, target, 'fail');
    let state: TargetStateView | null = null;
    const fields = { upstream, target };
    return {
      breaker: (from, to) => {
        (to === 'open' ? opened : to === 'half-open' ? halfOpen : closedT).inc();
        if (to === 'open' || (to === 'closed' && from !== 'closed')) this.log?.(to === 'open' ? 'warn' : 'info', { ...fields, from, to }, `circuit breaker ${to}`);
      },
      ejection: (event) => {
        if (event === 'ejected') enforced.inc();
        else if (event === 'refused') refused.inc();
        if (event !== 'refused') this.log?.(event === 'ejected' ? 'warn' : 'info', fields, event === 'ejected' ? 'target ejected' : 'target returned from ejection');
      },
      health: (from, to) => {
        this.log?.(to === 'healthy' ? 'info' : 'warn', { ...fields, from, to }, `target ${to}`);
      },
      checked: (isOk) => {
        (isOk ? ok : fail).inc();
      },
      track: (s) => {
        state = s;
        this.live.set(s, fields);
      },
      closed: () => {
        if (state !== null) this.live.delete(state);
        state = null;
      },
    };
  }

  retried(upstream: string, reason: string): void {
    this.child(this.retries, upstream, reason).inc();
  }

  budgetExhausted(upstream: string): void {
    this.child(this.budgetExhaustedCounter, upstream).inc();
  }

  unavailable(upstream: string, reason: 'no_healthy' | 'queue_full'): void {
    this.child(this.unavailableCounter, upstream, reason).inc();
  }

  discoveryRefreshed(upstream: string, result: 'changed' | 'unchanged' | 'failed'): void {
    this.child(this.discoveryCounter, upstream, result).inc();
  }

  /** Exposes the target count of a discovery source until `untrackSource`. */
  trackSource(source: object, upstream: string, count: () => number): void {
    this.sources.set(source, { upstream, count });
  }

  untrackSource(source: object): void {
    this.sources.delete(source);
  }
}
