// Connection pools for instance addresses. Instances come and go with deployments, so unlike an
// upstream's fixed targets their pools cannot be taken from the registry at compile time: they are
// created on first use, one undici Pool per (address, protocol), and held in a bounded map that
// closes pools idle for longer than the idle timeout and, when full, the least recently used one.
// Closing is graceful (undici lets requests already on the pool finish). Each endpoint is a
// one-target UpstreamRuntime so the forward phase's `Attempt` drives it like any other target.
import type { UpstreamConfig } from '../config/types.ts';
import { DEFAULT_MAX_HEADER_BYTES, createPool, poolKey } from '../upstream/transport.ts';
import type { PoolOptions } from '../upstream/transport.ts';
import { UpstreamRuntime } from '../upstream/upstream.ts';
import type { TargetRuntime } from '../upstream/upstream.ts';
import type { ProxyTarget } from './router.ts';
import type { Clock, UpstreamProtocol } from './types.ts';
import { monotonicClock } from './types.ts';
import { TargetHealth } from '../upstream/health/target-health.ts';
import { monotonicClock as upstreamClock } from '../upstream/health/clock.ts';
import { OutlierTarget } from '../upstream/health/outlier.ts';
import type { OutlierPolicy } from '../upstream/health/outlier.ts';

export interface InstanceEndpoint {
  readonly key: string;
  readonly upstream: UpstreamRuntime;
  readonly target: TargetRuntime;
  /** Passive health of the address (`outlier-detection`), or null. */
  readonly outlier: OutlierTarget | null;
  lastUsedMs: number;
}

/** The pool key of an instance address: one pool per address and upstream protocol. */
function endpointKey(target: ProxyTarget, protocol: UpstreamProtocol): string {
  return protocol === 'h2c' ? `h2c|${target.authority}` : target.authority;
}

/** Passive health holds the address ejected now. */
function isEjected(ep: InstanceEndpoint): boolean {
  return ep.outlier !== null && ep.outlier.isEjected();
}

export interface InstanceEndpointOptions {
  /** Name for metrics and logs (`sentinel_upstream_requests_total{upstream}`): bounded, from config. */
  readonly upstreamId: string;
  /** Pools at most; beyond it the least recently used one is closed. */
  readonly maxEndpoints: number;
  readonly maxConnections: number;
  /** Idle keep-alive connections close after this, and a pool unused for this long is closed. */
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** 0 = none. */
  readonly headersTimeoutMs: number;
  /** 0 = none. */
  readonly readTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Passive health per instance address; absent = none (parity). */
  readonly outlier?: OutlierPolicy;
  /** An address was ejected (`ejected` true) or returned. */
  readonly onEjection?: (address: string, ejected: boolean, untilMs: number) => void;
  readonly clock?: Clock;
}

/** Target id of every instance in metrics: instance addresses are unbounded, so they stay out of labels. */
export const INSTANCE_TARGET_ID = 'instance';

const NO_LOC = Object.freeze({ file: '', line: 0, column: 0 });

export class InstanceEndpoints {
  private readonly endpoints = new Map<string, InstanceEndpoint>();
  private readonly options: InstanceEndpointOptions;
  private readonly clock: Clock;
  /** The instance's in-flight count lives in a TargetHealth (no checks, no breaker: always available). */
  private readonly healthClock = upstreamClock;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  /** Pools closed because the map was full or they were idle (tests, status). */
  evicted = 0;

  constructor(options: InstanceEndpointOptions) {
    this.options = options;
    this.clock = options.clock ?? monotonicClock;
    const everyMs = Math.min(60_000, Math.max(1000, Math.floor(options.idleTimeoutMs / 2)));
    this.sweeper = setInterval(sweep, everyMs, this);
    this.sweeper.unref();
  }

  get size(): number {
    return this.endpoints.size;
  }

  /** The endpoint for an instance target, creating its pool on first use. */
  get(target: ProxyTarget, protocol: UpstreamProtocol): InstanceEndpoint {
    const key = endpointKey(target, protocol);
    let ep = this.endpoints.get(key);
    if (ep === undefined) ep = this.create(key, target, protocol);
    ep.lastUsedMs = this.clock.now();
    return ep;
  }

  /** May selection pick this address now? False only while passive health holds it ejected. */
  available(target: ProxyTarget, protocol: UpstreamProtocol): boolean {
    const ep = this.endpoints.get(endpointKey(target, protocol));
    return ep === undefined || !isEjected(ep);
  }

  /** Requests in flight to an instance address (0 when it has no pool); never creates one. */
  inFlight(target: ProxyTarget, protocol: UpstreamProtocol): number {
    const ep = this.endpoints.get(endpointKey(target, protocol));
    return ep === undefined ? 0 : ep.target.health.inflight;
  }

  /** Closes pools unused for the idle timeout (called on a timer; exposed for tests). */
  sweepIdle(): void {
    const cutoff = this.clock.now() - this.options.idleTimeoutMs;
    for (const [key, ep] of this.endpoints) {
      // An ejected address keeps its pool (and so its ejection) until the ejection ends.
      if (ep.lastUsedMs <= cutoff && ep.upstream.inFlight(0) === 0 && !isEjected(ep)) this.drop(key, ep);
    }
  }

  /** Closes every pool (in-flight requests finish first). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    const pools = [...this.endpoints.values()].map((ep) => ep.target.pool);
    this.endpoints.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }

  /** Closes every pool at once, aborting what runs on them (process exit). */
  async destroy(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const pools = [...this.endpoints.values()].map((ep) => ep.target.pool);
    this.endpoints.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }

  private create(key: string, target: ProxyTarget, protocol: UpstreamProtocol): InstanceEndpoint {
    if (this.endpoints.size >= this.options.maxEndpoints) this.evictOne();
    const o = this.options;
    const timeouts = { connectMs: o.connectTimeoutMs, headersMs: o.headersTimeoutMs, readMs: o.readTimeoutMs, requestMs: o.requestTimeoutMs };
    // No queue bound of its own: the per-route request timeout bounds waiting for a connection.
    const pool = { maxConnections: o.maxConnections, idleTimeoutMs: o.idleTimeoutMs, maxPendingRequests: Number.MAX_SAFE_INTEGER, maxRequestsPerConnection: 0 };
    const poolOptions: PoolOptions = { host: target.host, port: target.port, pool, timeouts, h2c: protocol === 'h2c' };
    const config: UpstreamConfig = {
      id: o.upstreamId,
      targets: [{ host: target.host, port: target.port, weight: 1 }],
      loadBalancing: { algorithm: 'round_robin' },
      preserveHost: true,
      hostHeader: null,
      timeouts,
      pool,
      // One target: retries and passive health across instances are the deployments route's (pipeline/deployments.ts).
      healthCheck: null,
      circuitBreaker: null,
      outlierDetection: null,
      retryPolicy: null,
      discovery: { kind: 'static' },
      maxResponseHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
      loc: NO_LOC,
    };
    const runtime: TargetRuntime = {
      id: INSTANCE_TARGET_ID,
      host: target.host,
      port: target.port,
      pool: createPool(poolOptions),
      poolKey: poolKey(poolOptions),
      weight: 1,
      authority: target.authority,
      health: new TargetHealth(INSTANCE_TARGET_ID, {}, this.healthClock),
    };
    const onEjection = o.onEjection;
    const outlier = o.outlier === undefined ? null : new OutlierTarget(o.outlier, this.healthClock, onEjection === undefined ? undefined : (ejected, _atMs, untilMs) => onEjection(target.authority, ejected, untilMs));
    const ep: InstanceEndpoint = { key, upstream: new UpstreamRuntime(config, [runtime]), target: runtime, outlier, lastUsedMs: this.clock.now() };
    if (!this.closed) this.endpoints.set(key, ep);
    return ep;
  }

  /** Frees one slot: the least recently used idle pool, else the least recently used one. */
  private evictOne(): void {
    let victim: InstanceEndpoint | undefined;
    let idleVictim: InstanceEndpoint | undefined;
    for (const ep of this.endpoints.values()) {
      if (victim === undefined || ep.lastUsedMs < victim.lastUsedMs) victim = ep;
      if (ep.upstream.inFlight(0) === 0 && (idleVictim === undefined || ep.lastUsedMs < idleVictim.lastUsedMs)) idleVictim = ep;
    }
    const chosen = idleVictim ?? victim;
    if (chosen !== undefined) this.drop(chosen.key, chosen);
  }

  private drop(key: string, ep: InstanceEndpoint): void {
    this.endpoints.delete(key);
    this.evicted++;
    ep.target.pool.close().catch(() => undefined);
  }
}

function sweep(endpoints: InstanceEndpoints): void {
  endpoints.sweepIdle();
}
