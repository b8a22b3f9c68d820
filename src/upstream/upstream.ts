// The runtime form of one configured upstream in one config generation: its targets (each with a
// pooled transport and its long-lived health state), the selector built from its
// `load-balancing` config, and its retry policy and budget.
//
// The targets come from the config (`static`) or from a discovery source. With a source, the set
// is re-read when the source's version changes (one integer compare per pick), and the selector is
// rebuilt for the new set; targets that persist keep their health, breaker and pool, since those
// live in the registry, not here.
import { randomBytes } from 'node:crypto';
import type { Pool } from 'undici';
import type { BaseLoadBalancing, LoadBalancing, RetryPolicyConfig, UpstreamConfig } from '../config/types.ts';
import { EndpointHealthSet } from './health/endpoint-health.ts';
import type { OutlierResult } from './health/outlier.ts';
import type { TargetHealth } from './health/target-health.ts';
import { createRetryBudget } from './retry.ts';
import type { RetryBudget, RetryPolicy } from './retry.ts';
import { monotonicClock } from './health/clock.ts';
import { createSelector, makeEndpoints } from './select/create-selector.ts';
import type { Algorithm, SelectContext, Selector, SelectorOptions } from './select/types.ts';
import type { Clock } from './health/clock.ts';

export interface TargetRuntime {
  /** `host:port`, used in metrics and logs. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly pool: Pool;
  /** Registry key of the pool. */
  readonly poolKey: string;
  readonly weight: number;
  /** The Host header to send when the upstream does not preserve the client's. */
  readonly authority: string;
  /** Long-lived: health verdict, breaker, outlier state, in-flight count. */
  readonly health: TargetHealth;
}

/** Where a dynamic upstream's targets come from (src/upstream/discovered-targets.ts). */
export interface TargetSource {
  /** Grows by one whenever `targets` changes. */
  readonly version: number;
  readonly targets: readonly TargetRuntime[];
  /** Resolves when the first refresh is over. */
  readonly ready: Promise<void>;
  /** Kind and freshness, for the status page. */
  status(): Record<string, unknown>;
}

/** Retry policy and budget of an upstream (null when it has no `retry-policy`). */
export interface RetryRuntime {
  readonly policy: RetryPolicy;
  readonly budget: RetryBudget;
  /** Statuses that may be retried. */
  readonly statuses: ReadonlySet<number>;
  /** Bound on one attempt until its response head, or null. */
  readonly perAttemptTimeoutMs: number | null;
  /** Bodies up to this declared length are buffered so that a retry can replay them. */
  readonly maxBufferBytes: number;
}

/** Why `acquire` found no target. */
export type Unavailable = 'UPSTREAM_NO_HEALTHY' | 'UPSTREAM_QUEUE_FULL';

export interface UpstreamRuntimeOptions extends Pick<SelectorOptions, 'rng' | 'clock'> {
  /** The discovery source of a dynamic upstream; absent = the given targets, fixed. */
  readonly source?: TargetSource | null;
}

let processStickySecret: Uint8Array | null = null;

/**
 * HMAC key for sticky cookies when the config gives none: random, once per process, so affinities
 * survive reloads but not a restart, and are not shared between instances.
 */
function defaultStickySecret(): Uint8Array {
  processStickySecret ??= randomBytes(32);
  return processStickySecret;
}

function baseOptions(lb: BaseLoadBalancing): SelectorOptions {
  switch (lb.algorithm) {
    case 'consistent_hash':
    case 'maglev':
      return { hashKey: lb.hashKey };
    case 'peak_ewma':
    case 'adaptive':
      return { ewmaDecayMs: lb.decayMs };
    default:
      return {};
  }
}

/** The selector algorithm and options for a validated `load-balancing` config. */
export function selectorSpec(lb: LoadBalancing): { algorithm: Algorithm; options: SelectorOptions } {
  if (lb.algorithm !== 'sticky') return { algorithm: lb.algorithm, options: baseOptions(lb) };
  return {
    algorithm: 'sticky',
    options: {
      ...baseOptions(lb.fallback),
      sticky: {
        cookieName: lb.cookieName,
        ttlMs: lb.ttlMs,
        path: lb.cookiePath,
        secure: lb.secure,
        httpOnly: lb.httpOnly,
        sameSite: lb.sameSite,
        fallback: lb.fallback.algorithm,
        secret: lb.secret ?? defaultStickySecret(),
      },
    },
  };
}

/** The retry runtime of a config's `retry-policy`, or null. */
export function retryRuntime(config: UpstreamConfig, clock: Clock = monotonicClock): RetryRuntime | null {
  return retryRuntimeOf(config.retryPolicy, clock);
}

/** The retry runtime of a `retry-policy` (an upstream's, or a deployments route's), or null. */
export function retryRuntimeOf(r: RetryPolicyConfig | null, clock: Clock = monotonicClock): RetryRuntime | null {
  if (r === null || r.maxAttempts <= 1) return null;
  return {
    policy: {
      maxAttempts: r.maxAttempts,
      retryOnStatuses: r.retryableStatusCodes,
      baseBackoffMs: r.backoffMs,
      maxBackoffMs: r.maxBackoffMs,
      minAttemptBudgetMs: 1,
      retryNonIdempotent: r.retryNonIdempotent,
    },
    budget: createRetryBudget({ ratio: r.budgetRatio, minRetriesPerSecond: r.budgetMinPerSecond }, clock),
    statuses: new Set(r.retryableStatusCodes),
    perAttemptTimeoutMs: r.perAttemptTimeoutMs,
    maxBufferBytes: r.maxBufferBytes,
  };
}

export class UpstreamRuntime {
  readonly id: string;
  readonly config: UpstreamConfig;
  readonly retry: RetryRuntime | null;
  /** Why the last `acquire` returned null. */
  unavailable: Unavailable = 'UPSTREAM_NO_HEALTHY';
  /** A dynamic upstream's first discovery refresh; null for static targets. */
  readonly ready: Promise<void> | null;
  private readonly source: TargetSource | null;
  private readonly selectorOptions: SelectorOptions;
  private readonly algorithm: Algorithm;
  private readonly maxEjectionPercent: number;
  private readonly capacity: number;
  private version = -1;
  private current: readonly TargetRuntime[] = [];
  private currentSelector!: Selector;
  private state!: EndpointHealthSet;
  private indexOf = new Map<TargetRuntime, number>();
  private cookie: string | null = null;

  /** `targets`: the static targets (ignored when `options.source` is given). */
  constructor(config: UpstreamConfig, targets: readonly TargetRuntime[], options: UpstreamRuntimeOptions = {}) {
    this.id = config.id;
    this.config = config;
    this.source = options.source ?? null;
    this.ready = this.source?.ready ?? null;
    const spec = selectorSpec(config.loadBalancing);
    this.algorithm = spec.algorithm;
    const selectorOptions: SelectorOptions = { ...spec.options };
    if (options.rng !== undefined) selectorOptions.rng = options.rng;
    if (options.clock !== undefined) selectorOptions.clock = options.clock;
    this.selectorOptions = selectorOptions;
    this.maxEjectionPercent = config.outlierDetection?.maxEjectionPercent ?? 50;
    this.capacity = config.pool.maxConnections + config.pool.maxPendingRequests;
    this.retry = retryRuntime(config, options.clock);
    if (this.source === null) {
      if (config.discovery.kind === 'static' && targets.length !== config.targets.length) {
        throw new Error(`upstream "${config.id}": ${targets.length} target runtimes for ${config.targets.length} targets`);
      }
      this.install(targets, 0);
    } else {
      this.install(this.source.targets, this.source.version);
    }
  }

  /** Builds the selector and the state view for a target set (load/reload, or a discovery change). */
  private install(targets: readonly TargetRuntime[], version: number): void {
    this.currentSelector = createSelector(this.algorithm, makeEndpoints(targets), this.selectorOptions);
    this.state = new EndpointHealthSet(targets.map((t) => t.health), this.maxEjectionPercent, this.capacity);
    this.indexOf = new Map(targets.map((t, i) => [t, i]));
    this.current = targets;
    this.version = version;
  }

  /** Follows the discovery source: one compare when nothing changed. */
  private refresh(): void {
    const s = this.source;
    if (s !== null && s.version !== this.version) this.install(s.targets, s.version);
  }

  /** The current targets. */
  get targets(): readonly TargetRuntime[] {
    this.refresh();
    return this.current;
  }

  get selector(): Selector {
    this.refresh();
    return this.currentSelector;
  }

  /**
   * Selection only (no accounting): the target for a request, or null when none is available.
   * Read `stickyCookie()` right after (synchronously): it belongs to this pick. `exclude` holds
   * target indexes a retry already tried.
   */
  pick(ctx: SelectContext, exclude?: ReadonlySet<number>): TargetRuntime | null {
    this.refresh();
    const i = this.currentSelector.select(ctx, this.state, exclude);
    this.cookie = this.currentSelector.setCookie ?? null;
    return i < 0 ? null : (this.current[i] ?? null);
  }

  /**
   * Selection and `begin` in one: the target that takes this attempt, counted in flight (and
   * holding a half-open probe slot if its breaker is half-open). `tried` are targets earlier
   * attempts of the request used; they are skipped while another target is available. Null when
   * none can take it (`unavailable` says why). At most one pass over the targets: a breaker that
   * refuses at the last moment excludes its target, nothing loops unboundedly.
   */
  acquire(ctx: SelectContext, tried: readonly TargetRuntime[] | null): TargetRuntime | null {
    this.refresh();
    const selector = this.currentSelector;
    const targets = this.current;
    let exclude: Set<number> | undefined;
    if (tried !== null) {
      exclude = new Set();
      for (const t of tried) {
        const i = this.indexOf.get(t);
        if (i !== undefined) exclude.add(i);
      }
    }
    for (let k = 0; k <= targets.length; k++) {
      const i = selector.select(ctx, this.state, exclude);
      if (i < 0) break;
      const t = targets[i]!;
      if (t.health.begin()) {
        this.cookie = selector.setCookie ?? null;
        return t;
      }
      (exclude ??= new Set()).add(i);
    }
    this.cookie = null;
    this.unavailable = 'UPSTREAM_NO_HEALTHY';
    for (let i = 0; i < targets.length; i++) {
      if (this.state.usable(i) && !this.state.available(i)) { this.unavailable = 'UPSTREAM_QUEUE_FULL'; break; }
    }
    return null;
  }

  /** `sticky` only: the Set-Cookie value the response to the last pick must carry, or null. */
  stickyCookie(): string | null {
    return this.cookie;
  }

  /** Index of a target among the current targets, or -1. */
  indexOfTarget(target: TargetRuntime): number {
    this.refresh();
    return this.indexOf.get(target) ?? -1;
  }

  /** The exchange with `target` starts: counts it in flight. False = its breaker refused. */
  begin(target: TargetRuntime): boolean {
    return target.health.begin();
  }

  /**
   * The exchange with `target` is over: exactly once per `begin`/`acquire`. `outcome` feeds the
   * breaker, passive detection and latency-aware selectors (`peak_ewma` learns `latencyMs`; any
   * outcome but success counts as slow). null = no verdict (the client went away, or a local
   * error): only the in-flight count drops and a half-open probe slot is freed.
   */
  end(target: TargetRuntime, latencyMs: number, outcome: OutlierResult | null): void {
    if (outcome === null) {
      target.health.abort();
      return;
    }
    target.health.end(outcome, this.state);
    const i = this.indexOf.get(target);
    if (i !== undefined) this.currentSelector.onResult?.(i, latencyMs, outcome === 'success');
  }

  /** Requests currently in flight to current target `i`. */
  inFlight(i: number): number {
    return this.current[i]?.health.inflight ?? 0;
  }

  /** Targets selection may pick now. */
  availableCount(): number {
    this.refresh();
    return this.state.availableCount();
  }

  /** Targets that are healthy, not ejected and admitted by their breaker, full or not (readiness). */
  usableCount(): number {
    this.refresh();
    let n = 0;
    for (let i = 0; i < this.current.length; i++) if (this.state.usable(i)) n++;
    return n;
  }

  /** The status page's view (builtin handler `upstreams`). */
  summary(nowMs: number = monotonicClock.now()): Record<string, unknown> {
    const targets = this.targets;
    return {
      algorithm: this.algorithm,
      discovery: this.source === null ? { kind: 'static' } : this.source.status(),
      targets_total: targets.length,
      targets_available: this.state.availableCount(),
      targets: targets.map((t, i) => {
        const h = t.health;
        const until = h.outlier?.ejectedUntilMs() ?? 0;
        return {
          target: t.id,
          weight: t.weight,
          available: this.state.available(i),
          health: h.health,
          breaker: h.breaker === null ? null : h.breaker.state,
          ejected: until > 0,
          ejection_remaining_ms: until > 0 ? Math.max(0, Math.round(until - nowMs)) : 0,
          ejections: h.ejections,
          in_flight: h.inflight,
          queued: h.queued(),
        };
      }),
    };
  }
}
