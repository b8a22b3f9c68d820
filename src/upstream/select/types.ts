// Contracts of endpoint selection. Selectors are pure decision logic: no I/O, no timers. The
// forward phase owns endpoint state (health, ejection, breaker, in-flight counts) and hands a
// read-only view of it to `select()`.

import type { Clock } from '../health/clock.ts';

export { ALGORITHMS } from '../../core/load-balancing.ts';
export type { Algorithm } from '../../core/load-balancing.ts';
import type { Algorithm } from '../../core/load-balancing.ts';

export interface Endpoint {
  /** "host:port"; stable identity, the input of every hash (ring, maglev, sticky cookie). */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /**
   * Relative weight, finite and >= 0. Used by `weighted`, `weighted_least_connections`,
   * `consistent_hash` and `maglev`; ignored by the others. Weight 0 = backup: picked only when no
   * positive-weight endpoint is eligible.
   */
  readonly weight: number;
  /** Position in the endpoint array given to `createSelector` (checked there). */
  index: number;
}

export type HeaderMap = Record<string, string | string[] | undefined>;

export interface SelectContext {
  clientIp: string;
  path: string;
  /** Lower-case names, as Node delivers them. */
  headers: HeaderMap;
  /** Raw query string without the leading '?', or null when absent. */
  query: string | null;
  /** Parsed request cookies when the pipeline already has them; otherwise the Cookie header is scanned. */
  cookies?: Readonly<Record<string, string>> | undefined;
}

/** availability = healthy && not ejected && breaker allows. Indexes are endpoint positions. */
export interface EndpointState {
  available(i: number): boolean;
  inFlight(i: number): number;
  /** Optional caller-owned latency EWMA; when present `peak_ewma` uses it instead of its own. */
  latencyEwmaMs?(i: number): number;
}

export interface Selector {
  readonly algorithm: Algorithm;
  /**
   * Endpoint index, or -1 when no endpoint is both available and outside `exclude`. Bounded work:
   * never loops more than a fixed multiple of the endpoint (or table) count.
   */
  select(ctx: SelectContext, state: EndpointState, exclude?: ReadonlySet<number>): number;
  /** Outcome report of an exchange with endpoint `i` (latency-aware algorithms learn from it). */
  onResult?(i: number, latencyMs: number, ok: boolean): void;
  /**
   * `sticky` only: after `select()`, the Set-Cookie header value to emit (a new affinity was set),
   * or null. Read it synchronously right after `select()`.
   */
  readonly setCookie?: string | null;
}

export type SameSite = 'Strict' | 'Lax' | 'None';

export interface StickyOptions {
  /** Default "SERVERID". */
  cookieName?: string;
  /** Max-Age of the affinity cookie; 0 = session cookie. Default 3_600_000. */
  ttlMs?: number;
  /** Default "/". */
  path?: string;
  /** Default true. */
  secure?: boolean;
  /** Default "Lax". "None" requires secure. */
  sameSite?: SameSite;
  /** Default true. */
  httpOnly?: boolean;
  /** Algorithm used when the request has no valid affinity. Default "round_robin". */
  fallback?: Exclude<Algorithm, 'sticky'>;
  /**
   * HMAC key for the opaque cookie value. Give the same secret to every instance (and across
   * reloads) to keep affinities; default: 32 random bytes per selector.
   */
  secret?: string | Uint8Array;
}

export interface SelectorOptions {
  /** Uniform [0, 1) source for `random`, `p2c`, `peak_ewma`. Default Math.random. */
  rng?: () => number;
  /** Time source for `peak_ewma`. Default monotonic clock. */
  clock?: Clock;
  /**
   * Key of `consistent_hash` and `maglev`: "client-ip" (default), "path", "header:NAME",
   * "cookie:NAME", "query:NAME". A missing key falls back to the client IP.
   */
  hashKey?: string;
  /** `peak_ewma` decay time constant. Default 10_000. */
  ewmaDecayMs?: number;
  /** `peak_ewma`: latency recorded for a failed exchange, at least. Default 1_000. */
  failurePenaltyMs?: number;
  /** `maglev` lookup table size; must be prime and > endpoint count. Default 65_537. */
  maglevTableSize?: number;
  /** `consistent_hash` ring points per unit weight. Default 160. */
  ringPointsPerWeight?: number;
  sticky?: StickyOptions;
}
