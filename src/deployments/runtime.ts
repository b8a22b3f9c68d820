// The long-lived state of deployment routing, held in the registry under `deployments|<identity>`
// so that a reload which keeps the identity keeps it warm: the store (a MySQL pool), the lookup
// caches (inside the router), the instance connection pools, and the readiness result. The
// identity is a hash of every setting that shapes that state; route-level settings (header names,
// request timeout, timing header) are not part of it and change without dropping a cache.
import { createHash } from 'node:crypto';
import type { BaseLoadBalancing, DeploymentsConfig, DeploymentsStoreConfig, RetryPolicyConfig } from '../config/types.ts';
import { retryRuntimeOf } from '../upstream/upstream.ts';
import { resolveOutlierOptions } from '../upstream/health/outlier.ts';
import type { RetryRuntime } from '../upstream/upstream.ts';
import type { Logger } from '../observability/log.ts';
import type { Resource } from '../runtime/registry.ts';
import { InstanceEndpoints } from './endpoints.ts';
import type { CacheSource, DeploymentMetrics } from './metrics.ts';
import { createMysqlStore } from './mysql-store.ts';
import { createDeploymentRouter } from './router.ts';
import type { DeploymentRouter, DeploymentRouterEvent } from './router.ts';
import { InstanceSelection } from './selection.ts';
import { createStaticStore } from './static-store.ts';
import { isDeploymentStoreError, monotonicClock } from './types.ts';
import type { Clock, Deployment, DeploymentStore, Instance } from './types.ts';

/** What the runtime needs from the request a decision is made for (an Exchange is one). */
export interface DecisionContext {
  readonly requestId: string;
  audit(component: string, action: string, reason: string, extra?: Record<string, unknown>): void;
}

function isDecisionContext(tag: unknown): tag is DecisionContext {
  return typeof tag === 'object' && tag !== null && typeof (tag as { audit?: unknown }).audit === 'function';
}

/** Registry key of the runtime a config needs: equal keys share one runtime. */
export function deploymentRuntimeKey(c: DeploymentsConfig): string {
  const identity = {
    environmentId: c.environmentId,
    region: c.region,
    deploymentCache: c.deploymentCache,
    instanceCache: c.instanceCache,
    connectTimeoutMs: c.connectTimeoutMs,
    headersTimeoutMs: c.headersTimeoutMs,
    readTimeoutMs: c.readTimeoutMs,
    pool: c.pool,
    store: c.store,
    // Passive health lives with the instance pools; absent keeps the identities of older configs.
    ...(c.outlierDetection !== null ? { outlierDetection: c.outlierDetection } : {}),
  };
  // Hashed: the store settings may hold a password, and registry keys show up in status output.
  return `deployments|${createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 32)}`;
}

/** `mysql://user:password@host:port/database` for mysql2, every part escaped. */
export function mysqlUrl(s: Extract<DeploymentsStoreConfig, { kind: 'mysql' }>): string {
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  const auth = s.password === '' ? encodeURIComponent(s.user) : `${encodeURIComponent(s.user)}:${encodeURIComponent(s.password)}`;
  return `mysql://${auth}@${host}:${s.port}/${encodeURIComponent(s.database)}`;
}

export function createStoreFromConfig(s: DeploymentsStoreConfig): DeploymentStore {
  if (s.kind === 'static') return createStaticStore({ deployments: s.deployments, instances: s.instances });
  return createMysqlStore({
    url: mysqlUrl(s),
    poolSize: s.poolSize,
    maxQueue: s.maxQueue,
    connectTimeoutMs: s.connectTimeoutMs,
    queryTimeoutMs: s.queryTimeoutMs,
    idleTimeoutMs: s.idleTimeoutMs,
  });
}

type Operation = 'get_deployment' | 'get_instances' | 'ping';

/** Counts and times every store call (sentinel_deployments_store_*). */
class InstrumentedStore implements DeploymentStore {
  private readonly inner: DeploymentStore;
  private readonly kind: string;
  private readonly metrics: DeploymentMetrics;

  constructor(inner: DeploymentStore, kind: string, metrics: DeploymentMetrics) {
    this.inner = inner;
    this.kind = kind;
    this.metrics = metrics;
    for (const op of ['get_deployment', 'get_instances', 'ping'] as const) this.metrics.storeQueries.labels(kind, op, 'ok').inc(0);
  }

  private async timed<T>(op: Operation, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    let result = 'ok';
    try {
      return await run();
    } catch (error) {
      result = isDeploymentStoreError(error) ? error.kind : 'query';
      throw error;
    } finally {
      this.metrics.storeQueries.labels(this.kind, op, result).inc();
      this.metrics.storeDuration.labels(this.kind, op).observe((performance.now() - start) / 1000);
    }
  }

  getDeployment(id: string, signal?: AbortSignal): Promise<Deployment | null> {
    return this.timed('get_deployment', () => this.inner.getDeployment(id, signal));
  }

  getInstances(deploymentId: string, region: string, signal?: AbortSignal): Promise<readonly Instance[]> {
    return this.timed('get_instances', () => this.inner.getInstances(deploymentId, region, signal));
  }

  ping(signal?: AbortSignal): Promise<void> {
    return this.timed('ping', () => this.inner.ping(signal));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface Readiness {
  readonly ok: boolean;
  /** The store failure kind when not ok (`unavailable`, `timeout`, …); never a message or an address. */
  readonly failure: string | null;
}

export interface DeploymentRuntimeOptions {
  readonly config: DeploymentsConfig;
  readonly metrics: DeploymentMetrics;
  readonly logger: Logger | null;
  /** Default: the store the config describes (tests inject failing ones). */
  readonly store?: DeploymentStore;
  readonly clock?: Clock;
  /** Readiness answers are reused for this long (probes cannot turn into a database load). Default 1000. */
  readonly readinessCacheMs?: number;
  /** Per check (Sentinel: 500 ms). */
  readonly readinessTimeoutMs?: number;
}

/** Distinct `selection` (and `retry-policy`) configs kept per runtime. */
const MAX_SELECTIONS = 16;

/**
 * The value kept under `key` (state shared by equal configs, so a reload keeps it), made when absent
 * (a null made is returned, not kept); past MAX_SELECTIONS the oldest goes (configs a reload
 * dropped; a handful at most live at once).
 */
function memo<T>(map: Map<string, T>, key: string, make: () => T | null): T | null {
  const known = map.get(key);
  if (known !== undefined) return known;
  const made = make();
  if (made === null) return null;
  if (map.size >= MAX_SELECTIONS) map.delete(map.keys().next().value as string);
  map.set(key, made);
  return made;
}

/** Same-kind operator logs at most once a second; the next one says how many were dropped. */
const LOG_INTERVAL_MS = 1000;

export class DeploymentRuntime implements Resource {
  readonly router: DeploymentRouter;
  readonly endpoints: InstanceEndpoints;
  readonly storeKind: 'static' | 'mysql';
  private readonly store: DeploymentStore;
  private readonly metrics: DeploymentMetrics;
  private readonly logger: Logger | null;
  private readonly clock: Clock;
  private readonly environmentId: string;
  private readonly readinessCacheMs: number;
  private readonly readinessTimeoutMs: number;
  private readiness: { atMs: number; value: Readiness } | null = null;
  private readinessCheck: Promise<Readiness> | null = null;
  private readonly logGate = new Map<string, { atMs: number; suppressed: number }>();
  private readonly source: CacheSource;
  /** Selector state of the opt-in selection algorithms, one per `selection` config (reloads keep it). */
  private readonly selections = new Map<string, InstanceSelection>();
  private readonly maxSelectionEntries: number;
  /** `outlier-detection`'s share of a deployment's instances that may be ejected at once; null = no passive health. */
  readonly maxEjectionPercent: number | null;
  /** Retry runtimes (policy and budget) of the routes' `retry-policy`, one per policy (reloads keep the budget). */
  private readonly retries = new Map<string, RetryRuntime>();
  private closed = false;

  constructor(o: DeploymentRuntimeOptions) {
    const c = o.config;
    this.metrics = o.metrics;
    this.logger = o.logger;
    this.clock = o.clock ?? monotonicClock;
    this.environmentId = c.environmentId;
    this.storeKind = c.store.kind;
    this.readinessCacheMs = o.readinessCacheMs ?? 1000;
    this.readinessTimeoutMs = o.readinessTimeoutMs ?? 500;
    this.store = new InstrumentedStore(o.store ?? createStoreFromConfig(c.store), c.store.kind, o.metrics);
    this.router = createDeploymentRouter({
      environmentId: c.environmentId,
      region: c.region,
      store: this.store,
      deploymentCache: c.deploymentCache,
      instanceCache: c.instanceCache,
      clock: this.clock,
      onEvent: (event, tag) => this.onEvent(event, tag),
    });
    this.endpoints = new InstanceEndpoints({
      upstreamId: `deployments:${c.environmentId}`,
      maxEndpoints: c.pool.maxInstances,
      maxConnections: c.pool.maxConnections,
      idleTimeoutMs: c.pool.idleTimeoutMs,
      connectTimeoutMs: c.connectTimeoutMs,
      headersTimeoutMs: c.headersTimeoutMs ?? 0,
      readTimeoutMs: c.readTimeoutMs ?? 0,
      // The route arms its own total budget (request-timeout-secs); nothing reads this one.
      requestTimeoutMs: 0,
      ...(c.outlierDetection !== null ? {
        outlier: resolveOutlierOptions({
          consecutive5xx: c.outlierDetection.consecutive5xx,
          consecutiveLocalFailures: c.outlierDetection.consecutiveFailures,
          baseEjectionMs: c.outlierDetection.baseEjectionMs,
          maxEjectionMs: c.outlierDetection.maxEjectionMs,
          maxEjectionPercent: c.outlierDetection.maxEjectionPercent,
        }),
        onEjection: (address: string, ejected: boolean, untilMs: number) => this.onEjection(address, ejected, untilMs),
      } : {}),
      clock: this.clock,
    });
    this.maxEjectionPercent = c.outlierDetection?.maxEjectionPercent ?? null;
    this.maxSelectionEntries = c.instanceCache.maxEntries;
    this.source = { deployments: this.router.deployments, instances: this.router.instances, pools: () => this.endpoints.size };
    o.metrics.track(this.source);
  }

  /**
   * The picker of a route's `selection`: null for `random` (the router's uniform pick, parity);
   * otherwise selector state shared by the routes (and reloads) with the same selection.
   */
  selection(selection: BaseLoadBalancing): InstanceSelection | null {
    // With passive health even `random` goes through a selector: it must skip ejected instances.
    if (selection.algorithm === 'random' && this.maxEjectionPercent === null) return null;
    // Bounded like the instance cache: one selector per cached deployment at most.
    return memo(this.selections, JSON.stringify(selection), () => new InstanceSelection(selection, this.endpoints, this.maxSelectionEntries)) as InstanceSelection;
  }

  /** The retry runtime of a route's `retry-policy` (null: one attempt, parity); its budget is shared by equal policies. */
  retry(policy: RetryPolicyConfig | null): RetryRuntime | null {
    // retryRuntimeOf is null for max-attempts 1 (one attempt): nothing to keep.
    return policy === null ? null : memo(this.retries, JSON.stringify(policy), () => retryRuntimeOf(policy));
  }

  /**
   * Readiness (`/_unkey/internal/health/ready`): the store answers a ping. Concurrent probes share
   * one check, and its answer is reused for a second.
   */
  ready(): Promise<Readiness> {
    const now = this.clock.now();
    const cached = this.readiness;
    if (cached !== null && now - cached.atMs < this.readinessCacheMs) return Promise.resolve(cached.value);
    if (this.readinessCheck !== null) return this.readinessCheck;
    const check = this.store.ping(AbortSignal.timeout(this.readinessTimeoutMs)).then(
      (): Readiness => ({ ok: true, failure: null }),
      (error: unknown): Readiness => ({ ok: false, failure: isDeploymentStoreError(error) ? error.kind : 'unavailable' }),
    ).then((value) => {
      this.readiness = { atMs: this.clock.now(), value };
      this.readinessCheck = null;
      return value;
    });
    this.readinessCheck = check;
    return check;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.router.close();
    this.metrics.untrack(this.source);
    await this.endpoints.close();
    await this.store.close().catch(() => undefined);
  }

  async destroy(): Promise<void> {
    this.closed = true;
    this.router.close();
    this.metrics.untrack(this.source);
    await this.endpoints.destroy();
    await this.store.close().catch(() => undefined);
  }

  private onEjection(address: string, ejected: boolean, untilMs: number): void {
    if (ejected) {
      this.logger?.warn({ environment_id: this.environmentId, instance_address: address, ejection_ms: Math.max(0, Math.round(untilMs - performance.now())) }, 'instance ejected by passive health (outlier-detection)');
    } else {
      this.logger?.info({ environment_id: this.environmentId, instance_address: address }, 'instance returned from ejection');
    }
  }

  private onEvent(event: DeploymentRouterEvent, tag: unknown): void {
    const requestId = isDecisionContext(tag) ? tag.requestId : undefined;
    switch (event.type) {
      case 'environment_mismatch': {
        const fields = {
          deployment_id: event.deploymentId,
          deployment_environment_id: event.deploymentEnvironmentId,
          environment_id: event.environmentId,
          status: 404,
        };
        // A request for another environment's deployment is refused (and masked as not found).
        if (isDecisionContext(tag)) tag.audit('deployments', 'reject', 'deployment belongs to another environment', fields);
        else this.logger?.warn(fields, 'deployment belongs to another environment');
        return;
      }
      case 'store_error':
        this.gatedLog('error', `store_error|${event.operation}`, 'deployment store lookup failed (answered 500)', {
          operation: event.operation, deployment_id: event.deploymentId, request_id: requestId, ...describeError(event.error),
        });
        return;
      case 'refresh_error':
        this.gatedLog('warn', `refresh_error|${event.resource}`, 'deployment cache refresh failed; the stale entry is served until it expires', {
          cache: event.resource, deployment_id: event.deploymentId, ...describeError(event.error),
        });
        return;
      case 'invalid_address':
        this.gatedLog('error', 'invalid_address', 'instance address is not host:port (answered 500 invalid_configuration)', {
          deployment_id: event.deploymentId, instance_id: event.instanceId, address: event.address, request_id: requestId,
        });
        return;
      case 'no_running_instances':
        this.logger?.debug({ deployment_id: event.deploymentId, region: event.region, instances: event.total, request_id: requestId }, 'no running instance in this region');
        return;
      case 'deployment_not_found':
        return;
    }
  }

  private gatedLog(level: 'warn' | 'error', key: string, msg: string, fields: Record<string, unknown>): void {
    const logger = this.logger;
    if (logger === null) return;
    const now = this.clock.now();
    let gate = this.logGate.get(key);
    if (gate === undefined) {
      gate = { atMs: -Infinity, suppressed: 0 };
      this.logGate.set(key, gate);
    }
    if (now - gate.atMs < LOG_INTERVAL_MS) {
      gate.suppressed++;
      return;
    }
    const suppressed = gate.suppressed;
    gate.atMs = now;
    gate.suppressed = 0;
    logger[level]({ environment_id: this.environmentId, store: this.storeKind, ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
  }
}

function describeError(error: unknown): { error_kind: string; error: string } {
  if (isDeploymentStoreError(error)) return { error_kind: error.kind, error: error.message };
  return { error_kind: 'unknown', error: error instanceof Error ? error.message : String(error) };
}

export function createDeploymentRuntime(o: DeploymentRuntimeOptions): DeploymentRuntime {
  return new DeploymentRuntime(o);
}
