// The `rate-limit` request filter (admit phase, or a listener's global limit before routing).
//
// One decision per request: extract the key, ask the store, act. The local store answers
// synchronously, so a local limit returns a plain boolean (no promise, no closure); the Redis store
// answers with a promise, bounded by redis-timeout-ms and never rejecting (failures become the
// configured fallback's decision). What happens over the limit:
//   - reject: the configured status (429) with Retry-After and the RateLimit headers; audited;
//   - delay: wait for the retry time, at most max-delay-ms in all and at most max-delayed-requests
//     waiting at once, then decide again; a request that cannot be admitted in time is rejected;
//   - log-only: audited and counted, then let through.
// A Redis filter with on-redis-failure "closed" answers 503 RATE_LIMITER_UNAVAILABLE while Redis is
// unreachable. See docs/rate-limiting.md.
import type { Counter, Gauge, Histogram } from 'prom-client';
import { ERROR_TABLE } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { CompiledRateLimitHeaders } from '../ratelimit/headers.ts';
import type { KeyExtractor } from '../ratelimit/key.ts';
import type { Decision, DecisionSource, LimiterStore } from '../ratelimit/types.ts';
import type { Metrics } from '../observability/metrics.ts';
import { RATELIMIT_METRICS } from '../observability/catalogue/ratelimit.ts';
import type { ProxyError } from '../core/errors.ts';
import type { Exchange, Pending } from './exchange.ts';
import type { FilterResult, RequestFilter } from './filters.ts';
import type { HeaderOp } from './header-ops.ts';

// ---- metrics -------------------------------------------------------------------------------------

const OUTCOMES = ['allowed', 'delayed', 'rejected', 'log-only', 'skipped'] as const;
type Outcome = (typeof OUTCOMES)[number];
const SOURCES = ['local', 'redis', 'fallback-local', 'fallback-open', 'fallback-closed', 'none'] as const;
type Source = DecisionSource | 'none';

function sourceIndex(source: Source): number {
  switch (source) {
    case 'local': return 0;
    case 'redis': return 1;
    case 'fallback-local': return 2;
    case 'fallback-open': return 3;
    case 'fallback-closed': return 4;
    case 'none': return 5;
  }
}

/** What a live limiter reports at scrape time (gauges read plain state, never the hot path). */
export interface LimiterGaugeSource {
  readonly filterId: string;
  /** Keys held in memory (local store, or the Redis fallback store). */
  localKeys(): number;
  /** Redis stores: 1 while deciding without Redis, else 0. Local stores: null (no series). */
  fallbackActive(): number | null;
}

/** The rate-limit metrics of one process: registered once per `Metrics`, shared by every filter. */
export class RateLimitMetrics {
  readonly decisions: Counter<string>;
  readonly redisDuration: Histogram<string>;
  readonly redisErrors: Counter<string>;
  readonly scriptReloads: Counter<string>;
  readonly evictions: Counter<string>;
  /** Live limiters (added when a store is created, removed when the registry closes it). */
  readonly limiters = new Set<LimiterGaugeSource>();
  /** Delayed requests waiting right now, by filter id. */
  readonly delayed = new Map<string, number>();
  readonly #filters = new Map<string, FilterMetrics>();

  constructor(metrics: Metrics) {
    const m = RATELIMIT_METRICS;
    this.decisions = metrics.counter(m.rateLimitDecisions);
    this.redisDuration = metrics.histogram(m.rateLimitRedisDuration);
    this.redisErrors = metrics.counter(m.rateLimitRedisErrors);
    this.scriptReloads = metrics.counter(m.rateLimitScriptReloads);
    this.evictions = metrics.counter(m.rateLimitLocalEvictions);
    const limiters = this.limiters;
    const delayed = this.delayed;
    metrics.gauge(m.rateLimitFallbackActive, (g: Gauge<string>) => {
      g.reset();
      // During a reload two stores of one filter may be alive: report the worse.
      const byFilter = new Map<string, number>();
      for (const l of limiters) {
        const v = l.fallbackActive();
        if (v !== null) byFilter.set(l.filterId, Math.max(byFilter.get(l.filterId) ?? 0, v));
      }
      for (const [id, v] of byFilter) g.labels(id).set(v);
    });
    metrics.gauge(m.rateLimitLocalKeys, (g: Gauge<string>) => {
      g.reset();
      const byFilter = new Map<string, number>();
      for (const l of limiters) byFilter.set(l.filterId, (byFilter.get(l.filterId) ?? 0) + l.localKeys());
      for (const [id, v] of byFilter) g.labels(id).set(v);
    });
    metrics.gauge(m.rateLimitDelayed, (g: Gauge<string>) => {
      g.reset();
      for (const [id, v] of delayed) g.labels(id).set(v);
    });
  }

  /** Pre-bound children for one filter id (created once, reused by every generation). */
  filter(filterId: string): FilterMetrics {
    let f = this.#filters.get(filterId);
    if (f === undefined) {
      f = new FilterMetrics(this, filterId);
      this.#filters.set(filterId, f);
    }
    return f;
  }
}

const PER_METRICS = new WeakMap<Metrics, RateLimitMetrics>();

/** The rate-limit metrics of `metrics`, registered on first use (the proxy calls it at start-up). */
export function rateLimitMetrics(metrics: Metrics): RateLimitMetrics {
  let r = PER_METRICS.get(metrics);
  if (r === undefined) {
    r = new RateLimitMetrics(metrics);
    PER_METRICS.set(metrics, r);
  }
  return r;
}

type CounterChild = ReturnType<Counter<string>['labels']>;

export class FilterMetrics {
  readonly filterId: string;
  readonly #parent: RateLimitMetrics;
  readonly #decisions: (CounterChild | undefined)[] = [];
  readonly redisDuration: ReturnType<Histogram<string>['labels']>;
  readonly redisError: CounterChild;
  readonly redisTimeout: CounterChild;
  readonly scriptReload: CounterChild;
  readonly eviction: CounterChild;

  constructor(parent: RateLimitMetrics, filterId: string) {
    this.#parent = parent;
    this.filterId = filterId;
    this.redisDuration = parent.redisDuration.labels(filterId);
    this.redisError = parent.redisErrors.labels(filterId, 'error');
    this.redisTimeout = parent.redisErrors.labels(filterId, 'timeout');
    this.scriptReload = parent.scriptReloads.labels(filterId);
    this.eviction = parent.evictions.labels(filterId);
  }

  decision(outcome: Outcome, source: Source): void {
    const i = OUTCOMES.indexOf(outcome) * SOURCES.length + sourceIndex(source);
    let child = this.#decisions[i];
    if (child === undefined) {
      child = this.#parent.decisions.labels(this.filterId, outcome, source);
      this.#decisions[i] = child;
    }
    child.inc();
  }

  delayedChange(delta: number): void {
    const map = this.#parent.delayed;
    map.set(this.filterId, (map.get(this.filterId) ?? 0) + delta);
  }
}

// ---- the filter ----------------------------------------------------------------------------------

export interface RateLimitFilterOptions {
  readonly id: string;
  readonly store: LimiterStore;
  /** True when `store.consume` never returns a promise (the local token bucket). */
  readonly synchronous: boolean;
  readonly extract: KeyExtractor;
  readonly onLimit: 'reject' | 'delay' | 'log-only';
  readonly statusCode: number;
  /** Client-facing message of the error body; null = the RATE_LIMITED default. */
  readonly message: string | null;
  readonly maxDelayMs: number;
  readonly maxDelayedRequests: number;
  readonly headers: CompiledRateLimitHeaders;
  /** Add RateLimit headers to admitted responses too. */
  readonly responseHeaders: boolean;
  readonly metrics: FilterMetrics;
  /** Monotonic milliseconds. */
  readonly now: () => number;
}

const JSON_HEADERS = ['content-type', 'application/json', 'cache-control', 'no-store'] as const;

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown }).then === 'function';
}

export class RateLimitFilter implements RequestFilter {
  readonly id: string;
  readonly kind = 'rate-limit';
  readonly #o: RateLimitFilterOptions;
  readonly #store: LimiterStore;
  readonly #extract: KeyExtractor;
  readonly #synchronous: boolean;
  #delayed = 0;

  constructor(options: RateLimitFilterOptions) {
    this.#o = options;
    this.id = options.id;
    this.#store = options.store;
    this.#extract = options.extract;
    this.#synchronous = options.synchronous;
  }

  /** Requests of this filter instance waiting in its delay queue. */
  get delayedNow(): number {
    return this.#delayed;
  }

  onRequest(ex: Exchange): FilterResult {
    const key = this.#extract(ex);
    if (key === null) {
      this.#o.metrics.decision('skipped', 'none');
      return true;
    }
    if (this.#synchronous) return this.decide(ex, this.#store.consume(key, this.#o.now()) as Decision, key);
    let d: Decision | Promise<Decision>;
    try {
      d = this.#store.consume(key, this.#o.now());
    } catch (err) {
      return this.storeFailed(ex, err);
    }
    if (!isPromise(d)) return this.decide(ex, d, key);
    return d.then((decision) => this.decide(ex, decision, key), (err: unknown) => this.storeFailed(ex, err));
  }

  /** Acts on the first decision for a request. */
  decide(ex: Exchange, d: Decision, key: string): FilterResult {
    const o = this.#o;
    if (ex.finished) return false; // the client left (or the budget ran out) while Redis answered
    if (d.allowed) return this.#admit(ex, d, 'allowed');
    if (d.source === 'fallback-closed') return this.#unavailable(ex, d);
    switch (o.onLimit) {
      case 'log-only':
        o.metrics.decision('log-only', d.source);
        ex.audit('rate-limit', 'log-only', 'limit exceeded', { decided_by: this.id, rule_ids: [this.id], limit: d.limit, source: d.source, retry_after_ms: d.retryAfterMs });
        if (o.responseHeaders) this.#addResponseHeaders(ex, d);
        return true;
      case 'delay':
        if (d.retryAfterMs > o.maxDelayMs) return this.#reject(ex, d, 'limit exceeded (wait above max-delay-ms)');
        if (this.#delayed >= o.maxDelayedRequests) return this.#reject(ex, d, 'limit exceeded (delay queue full)');
        return new DelayedRequest(this, ex, key).wait(d.retryAfterMs);
      case 'reject':
        return this.#reject(ex, d, 'limit exceeded');
    }
  }

  /**
   * Acts on a decision for a request that has waited `waitedMs` in the delay queue: true admitted,
   * false ended (rejected), 'again' wait `d.retryAfterMs` more (still within max-delay-ms).
   */
  decideAfterWait(ex: Exchange, d: Decision, waitedMs: number): boolean | 'again' {
    if (ex.finished) return false;
    if (d.allowed) return this.#admit(ex, d, 'delayed');
    if (d.source === 'fallback-closed') return this.#unavailable(ex, d);
    if (waitedMs + d.retryAfterMs <= this.#o.maxDelayMs) return 'again';
    return this.#reject(ex, d, 'limit exceeded after waiting up to max-delay-ms');
  }

  #admit(ex: Exchange, d: Decision, outcome: 'allowed' | 'delayed'): true {
    this.#o.metrics.decision(outcome, d.source);
    if (this.#o.responseHeaders) this.#addResponseHeaders(ex, d);
    return true;
  }

  #reject(ex: Exchange, d: Decision, reason: string): false {
    this.#o.metrics.decision('rejected', d.source);
    this.#reply(ex, d, 'RATE_LIMITED', reason);
    return false;
  }

  #unavailable(ex: Exchange, d: Decision): false {
    this.#o.metrics.decision('rejected', d.source);
    this.#reply(ex, d, 'RATE_LIMITER_UNAVAILABLE', 'redis unavailable (on-redis-failure closed)');
    return false;
  }

  #addResponseHeaders(ex: Exchange, d: Decision): void {
    const pairs = this.#o.headers.headers(d);
    let ops = ex.responseHeaderOps;
    if (ops === null) {
      ops = [];
      ex.responseHeaderOps = ops;
    }
    for (const [name, value] of pairs) ops.push({ op: 'add', name, value } satisfies HeaderOp);
  }

  #reply(ex: Exchange, d: Decision, code: ErrorCode, reason: string): void {
    const o = this.#o;
    const limited = code === 'RATE_LIMITED';
    const status = limited ? o.statusCode : ERROR_TABLE[code].status;
    ex.audit('rate-limit', 'reject', reason, { decided_by: this.id, rule_ids: [this.id], status, limit: d.limit, source: d.source, retry_after_ms: d.retryAfterMs });
    const headers: string[] = [...JSON_HEADERS];
    for (const [name, value] of o.headers.headers(d)) headers.push(name, value);
    const message = limited && o.message !== null ? o.message : ERROR_TABLE[code].message;
    const body = JSON.stringify({ error: { code, message, request_id: ex.requestId } });
    ex.errorCode = code;
    ex.ctx.metrics.error(code);
    ex.reply(status, headers, body);
  }

  /** A store that threw or rejected (it should not: failures map to its fallback): fail safe. */
  storeFailed(ex: Exchange, err: unknown): false {
    process.emitWarning(`sentinel: rate-limit filter "${this.id}" store failed: ${(err as Error)?.message ?? String(err)}`);
    if (ex.finished) return false;
    this.#o.metrics.decision('rejected', 'none');
    ex.audit('rate-limit', 'reject', 'limiter failed', { decided_by: this.id, rule_ids: [this.id], status: 503 });
    ex.fail('RATE_LIMITER_UNAVAILABLE');
    return false;
  }

  // ---- the delay queue (used by DelayedRequest) ----

  enterQueue(): void {
    this.#delayed++;
    this.#o.metrics.delayedChange(1);
  }

  leaveQueue(): void {
    this.#delayed--;
    this.#o.metrics.delayedChange(-1);
  }

  /** Decides again for a delayed request; a promise for the Redis store. */
  retry(key: string): Decision | Promise<Decision> {
    return this.#store.consume(key, this.#o.now());
  }

  get now(): () => number {
    return this.#o.now;
  }
}

function onDelayTimer(d: DelayedRequest): void {
  d.wake();
}

/**
 * One request waiting in a filter's delay queue: a timer, cancellable like an upstream attempt
 * (client gone, request budget spent). It holds its queue slot until it is admitted, rejected or
 * cancelled, and settles its promise exactly once.
 */
class DelayedRequest implements Pending {
  readonly #filter: RateLimitFilter;
  readonly #ex: Exchange;
  readonly #key: string;
  readonly #startMs: number;
  #timer: NodeJS.Timeout | null = null;
  #resolve: (ok: boolean) => void = () => undefined;
  #settled = false;

  constructor(filter: RateLimitFilter, ex: Exchange, key: string) {
    this.#filter = filter;
    this.#ex = ex;
    this.#key = key;
    this.#startMs = filter.now();
    filter.enterQueue();
  }

  wait(ms: number): Promise<boolean> {
    const p = new Promise<boolean>((resolve) => { this.#resolve = resolve; });
    this.#arm(ms);
    return p;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(onDelayTimer, Math.max(1, ms), this);
    this.#ex.pending = this;
  }

  #settle(ok: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#filter.leaveQueue();
    this.#resolve(ok);
  }

  wake(): void {
    this.#timer = null;
    const ex = this.#ex;
    if (ex.pending === this) ex.pending = null;
    if (ex.finished) { this.#settle(false); return; }
    let d: Decision | Promise<Decision>;
    try {
      d = this.#filter.retry(this.#key);
    } catch (err) {
      this.#settle(this.#filter.storeFailed(ex, err));
      return;
    }
    if (isPromise(d)) d.then((decision) => this.#decided(decision), (err: unknown) => this.#settle(this.#filter.storeFailed(ex, err)));
    else this.#decided(d);
  }

  #decided(d: Decision): void {
    const ex = this.#ex;
    if (ex.finished) { this.#settle(false); return; }
    const r = this.#filter.decideAfterWait(ex, d, this.#filter.now() - this.#startMs);
    if (r === 'again') this.#arm(d.retryAfterMs);
    else this.#settle(r);
  }

  cancel(reason: ProxyError): void {
    if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null; }
    const ex = this.#ex;
    if (ex.pending === this) ex.pending = null;
    this.#settle(false);
    ex.fail(reason.code);
  }
}
