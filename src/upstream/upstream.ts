// The runtime form of one configured upstream: its targets (each with a pooled transport), the
// selector built from its `load-balancing` config, and the per-target in-flight counts that the
// load-aware selectors read. Health is not wired yet: every target is available.
import { randomBytes } from 'node:crypto';
import type { Pool } from 'undici';
import type { BaseLoadBalancing, LoadBalancing, UpstreamConfig } from '../config/types.ts';
import { createSelector, makeEndpoints } from './select/create-selector.ts';
import type { Algorithm, EndpointState, SelectContext, Selector, SelectorOptions } from './select/types.ts';

export interface TargetRuntime {
  /** `host:port`, used in metrics and logs. */
  readonly id: string;
  readonly pool: Pool;
  readonly poolKey: string;
  readonly weight: number;
  /** The Host header to send when the upstream does not preserve the client's. */
  readonly authority: string;
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

export class UpstreamRuntime {
  readonly id: string;
  readonly config: UpstreamConfig;
  readonly targets: readonly TargetRuntime[];
  readonly selector: Selector;
  private readonly indexOf: Map<TargetRuntime, number>;
  private readonly inflight: Uint32Array;
  private readonly state: EndpointState;
  private cookie: string | null = null;

  /** `targets[i]` must be the runtime of `config.targets[i]`. Throws on a config the loader would reject. */
  constructor(config: UpstreamConfig, targets: readonly TargetRuntime[], options: Pick<SelectorOptions, 'rng' | 'clock'> = {}) {
    if (targets.length !== config.targets.length) throw new Error(`upstream "${config.id}": ${targets.length} target runtimes for ${config.targets.length} targets`);
    this.id = config.id;
    this.config = config;
    this.targets = targets;
    this.indexOf = new Map(targets.map((t, i) => [t, i]));
    const inflight = new Uint32Array(targets.length);
    this.inflight = inflight;
    this.state = {
      available: () => true,
      inFlight: (i) => inflight[i] ?? 0,
    };
    const spec = selectorSpec(config.loadBalancing);
    this.selector = createSelector(spec.algorithm, makeEndpoints(config.targets), { ...spec.options, ...options });
  }

  /**
   * The target for a request, or null when none is available. Read `stickyCookie()` right after
   * (synchronously): it belongs to this pick. `exclude` holds target indexes a retry already tried.
   */
  pick(ctx: SelectContext, exclude?: ReadonlySet<number>): TargetRuntime | null {
    const i = this.selector.select(ctx, this.state, exclude);
    this.cookie = this.selector.setCookie ?? null;
    return i < 0 ? null : (this.targets[i] ?? null);
  }

  /** `sticky` only: the Set-Cookie value the response to the last pick must carry, or null. */
  stickyCookie(): string | null {
    return this.cookie;
  }

  /** Index of a target of this upstream, or -1. */
  indexOfTarget(target: TargetRuntime): number {
    return this.indexOf.get(target) ?? -1;
  }

  /** The exchange with `target` starts: counts it in flight. Pair with exactly one `end`. */
  begin(target: TargetRuntime): void {
    const i = this.indexOfTarget(target);
    if (i >= 0) this.inflight[i] = this.inflight[i]! + 1;
  }

  /**
   * The exchange with `target` is over. `ok` is reported to latency-aware selectors (`peak_ewma`
   * learns `latencyMs`, a failure counts as slow); null = no verdict (e.g. the client went away),
   * only the in-flight count drops.
   */
  end(target: TargetRuntime, latencyMs: number, ok: boolean | null): void {
    const i = this.indexOfTarget(target);
    if (i < 0) return;
    const n = this.inflight[i]!;
    if (n > 0) this.inflight[i] = n - 1;
    if (ok !== null) this.selector.onResult?.(i, latencyMs, ok);
  }

  /** Requests currently in flight to target `i`. */
  inFlight(i: number): number {
    return this.inflight[i] ?? 0;
  }
}
