// The deployment-routing decision, as Unkey's Sentinel makes it: read the deployment id header,
// look the deployment up (cached), mask a deployment of another environment as not found, look up
// its instances in this router's region (cached), keep status=running, pick one uniformly at random
// (one attempt, no retry), or, as an opt-in, with the caller's picker (src/deployments/selection.ts). The result is plain data: a target to proxy to, or an error code whose
// response is rendered by renderDeploymentError(). Warm lookups are synchronous: decide() returns a
// decision directly when both caches hit, and a promise only when it has to wait for the store.

import { SwrCache } from './cache.ts';
import type { SwrWindows } from './cache.ts';
import type { ErrorCode } from '../core/errors.ts';
import { DEPLOYMENT_ERROR_TABLE } from './errors.ts';
import type { DeploymentErrorCode } from './errors.ts';
import { monotonicClock } from './types.ts';
import type { Clock, Deployment, DeploymentStore, Instance } from './types.ts';

export { renderDeploymentError, deploymentCodeForProxyError, DEFAULT_ERROR_SOURCE_HEADER } from './errors.ts';
export type { RenderedDeploymentError, RenderOptions, DeploymentErrorCode } from './errors.ts';

export const DEFAULT_DEPLOYMENT_HEADER = 'X-Deployment-Id';

/** `deployments.id` is a VARCHAR(256) (schema.sql): a longer id cannot exist. */
export const MAX_DEPLOYMENT_ID_LENGTH = 256;

/** Sentinel V2 windows: deployments 30 s / 5 min, instances 10 s / 60 s, 1000 entries each. */
export const DEFAULT_DEPLOYMENT_CACHE: SwrWindows = { freshMs: 30_000, staleMs: 300_000, maxEntries: 1000 };
export const DEFAULT_INSTANCE_CACHE: SwrWindows = { freshMs: 10_000, staleMs: 60_000, maxEntries: 1000 };

export interface ProxyTarget {
  /** Hostname or IP to connect to (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** `host:port` as written in a URL authority (IPv6 in brackets). */
  readonly authority: string;
}

export interface ProxyDecision {
  readonly kind: 'proxy';
  readonly deployment: Deployment;
  readonly instance: Instance;
  readonly target: ProxyTarget;
  /** The instance set the pick was made from, and the instance's index in `instances.running`. */
  readonly instances: InstanceSet;
  readonly index: number;
}

/** Picks an instance from a set (the opt-in selection); -1 when none is eligible. */
export interface InstancePickerLike {
  pick(deployment: Deployment, set: InstanceSet, tag: unknown): number;
}

/** Why a request was not routed (metrics and logs only: the answer depends on `code` alone). */
export type DecisionReason =
  | 'missing_header' | 'not_found' | 'environment_mismatch' | 'no_instances' | 'no_running_instances'
  | 'store_error' | 'invalid_address' | 'client_closed';

export interface ErrorDecision {
  readonly kind: 'error';
  readonly status: number;
  readonly code: DeploymentErrorCode;
  /** The proxy's own code for the same answer (src/core/errors.ts). */
  readonly coreCode: ErrorCode;
  readonly reason: DecisionReason;
  readonly message: string;
  readonly errorType: 'user' | 'platform' | 'customer';
}

export type DeploymentDecision = ProxyDecision | ErrorDecision;

/** Operator-facing events (for logs and metrics); never reflected in responses. */
export type DeploymentRouterEvent =
  | { readonly type: 'environment_mismatch'; readonly deploymentId: string; readonly deploymentEnvironmentId: string; readonly environmentId: string }
  | { readonly type: 'deployment_not_found'; readonly deploymentId: string }
  | { readonly type: 'no_running_instances'; readonly deploymentId: string; readonly region: string; readonly total: number }
  | { readonly type: 'store_error'; readonly operation: 'get_deployment' | 'select_instance'; readonly deploymentId: string; readonly error: unknown }
  | { readonly type: 'refresh_error'; readonly resource: 'deployment' | 'instances'; readonly deploymentId: string; readonly error: unknown }
  | { readonly type: 'invalid_address'; readonly deploymentId: string; readonly instanceId: string; readonly address: string };

export interface DeploymentRouterOptions {
  readonly environmentId: string;
  readonly region: string;
  readonly store: DeploymentStore;
  /** Default `X-Deployment-Id`; matched case-insensitively. */
  readonly header?: string;
  readonly deploymentCache?: Partial<SwrWindows>;
  readonly instanceCache?: Partial<SwrWindows>;
  readonly clock?: Clock;
  /** Uniform in [0, 1); default Math.random. */
  readonly random?: () => number;
  /** `tag` is what the caller passed to decide() (e.g. its request), undefined for background work. */
  readonly onEvent?: (event: DeploymentRouterEvent, tag: unknown) => void;
}

export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

/** One shared, frozen decision per (code, reason). */
function decision(code: DeploymentErrorCode, coreCode: ErrorCode, reason: DecisionReason): ErrorDecision {
  const spec = DEPLOYMENT_ERROR_TABLE[code];
  return Object.freeze({ kind: 'error', status: spec.status, code, coreCode, reason, message: spec.message, errorType: spec.errorType });
}

const MISSING_HEADER = decision('err:user:bad_request:missing_required_header', 'DEPLOYMENT_ID_MISSING', 'missing_header');
const NOT_FOUND = decision('err:unkey:not_found:deployment_not_found', 'DEPLOYMENT_NOT_FOUND', 'not_found');
/** Same code, status and body as NOT_FOUND: a foreign environment is masked. */
const MASKED = decision('err:unkey:not_found:deployment_not_found', 'DEPLOYMENT_NOT_FOUND', 'environment_mismatch');
const NO_INSTANCES = decision('err:unkey:service_unavailable:no_running_instances', 'DEPLOYMENT_NO_RUNNING_INSTANCES', 'no_instances');
const NO_RUNNING = decision('err:unkey:service_unavailable:no_running_instances', 'DEPLOYMENT_NO_RUNNING_INSTANCES', 'no_running_instances');
const INTERNAL = decision('err:unkey:internal_server_error:internal_server_error', 'DEPLOYMENT_LOOKUP_FAILED', 'store_error');
const INVALID_CONFIG = decision('err:unkey:internal_server_error:invalid_configuration', 'DEPLOYMENT_INVALID_ADDRESS', 'invalid_address');
const CLIENT_CLOSED = decision('err:user:bad_request:client_closed_request', 'CLIENT_CLOSED_REQUEST', 'client_closed');

function hasForbiddenAddressChar(address: string): boolean {
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    // controls, space, DEL, and the URL delimiters that would make it more than an authority
    if (c <= 0x20 || c === 0x7f || c === 0x2f || c === 0x3f || c === 0x23 || c === 0x40 || c === 0x5c) return true;
  }
  return false;
}

/**
 * Parses an instance address (`host:port`, `host`, `[v6]:port`) into a target; null when it is
 * not exactly an authority (a path, query, userinfo or bad port is rejected, not ignored).
 */
export function parseInstanceAddress(address: string): ProxyTarget | null {
  if (address.length === 0 || hasForbiddenAddressChar(address)) return null;
  let url: URL;
  try {
    url = new URL(`http://${address}`);
  } catch {
    return null;
  }
  if (url.hostname === '' || url.pathname !== '/' || url.search !== '' || url.hash !== '') return null;
  const port = url.port === '' ? 80 : Number(url.port);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return Object.freeze({ host, port, authority: url.port === '' ? `${url.hostname}:80` : url.host });
}

/** First value of `name` in a header bag, matched case-insensitively; undefined when absent. */
export function readHeader(headers: HeaderBag, lowerName: string): string | undefined {
  let value = headers[lowerName];
  if (value === undefined) {
    for (const key in headers) {
      if (key.length === lowerName.length && key.toLowerCase() === lowerName) {
        value = headers[key];
        break;
      }
    }
  }
  if (typeof value === 'string' || value === undefined) return value;
  return value[0];
}

/** One region's instance list, with the routable subset and parsed targets computed once per load. */
export interface InstanceSet {
  readonly total: number;
  readonly running: readonly Instance[];
  readonly targets: readonly (ProxyTarget | null)[];
}

export class DeploymentRouter {
  readonly environmentId: string;
  readonly region: string;
  readonly headerName: string;
  private readonly headerLower: string;
  private readonly store: DeploymentStore;
  private readonly random: () => number;
  private readonly onEvent: ((event: DeploymentRouterEvent, tag: unknown) => void) | undefined;
  readonly deployments: SwrCache<Deployment>;
  readonly instances: SwrCache<InstanceSet>;

  constructor(options: DeploymentRouterOptions) {
    if (options.environmentId === '') throw new RangeError('environmentId is required');
    if (options.region === '') throw new RangeError('region is required');
    this.environmentId = options.environmentId;
    this.region = options.region;
    this.headerName = options.header ?? DEFAULT_DEPLOYMENT_HEADER;
    this.headerLower = this.headerName.toLowerCase();
    this.store = options.store;
    this.random = options.random ?? Math.random;
    this.onEvent = options.onEvent;
    const clock = options.clock ?? monotonicClock;
    const region = options.region;
    this.deployments = new SwrCache<Deployment>(
      { ...DEFAULT_DEPLOYMENT_CACHE, ...options.deploymentCache, clock, onRefreshError: (key, error) => this.emit({ type: 'refresh_error', resource: 'deployment', deploymentId: key, error }, undefined) },
      (id, signal) => this.store.getDeployment(id, signal),
    );
    this.instances = new SwrCache<InstanceSet>(
      { ...DEFAULT_INSTANCE_CACHE, ...options.instanceCache, clock, onRefreshError: (key, error) => this.emit({ type: 'refresh_error', resource: 'instances', deploymentId: key, error }, undefined) },
      async (id, signal) => {
        const all = await this.store.getInstances(id, region, signal);
        const running = all.filter((i) => i.status === 'running' && i.region === region && i.deploymentId === id);
        return { total: all.length, running, targets: running.map((i) => parseInstanceAddress(i.address)) };
      },
    );
  }

  /**
   * Decides where a request goes. Synchronous when the caches are warm; a promise otherwise.
   * Never rejects: store failures become 500 `internal_server_error`, an aborted `signal` 499.
   */
  decide(headers: HeaderBag, signal?: AbortSignal, tag?: unknown, picker: InstancePickerLike | null = null): DeploymentDecision | Promise<DeploymentDecision> {
    return this.decideId(readHeader(headers, this.headerLower), signal, tag, picker);
  }

  /**
   * decide() for an already extracted header value (undefined when the header is absent). `tag`
   * is handed to onEvent with the events of this decision (and to `picker`). `picker` null: a
   * uniform random pick (Unkey parity).
   */
  decideId(deploymentId: string | undefined, signal?: AbortSignal, tag?: unknown, picker: InstancePickerLike | null = null): DeploymentDecision | Promise<DeploymentDecision> {
    if (deploymentId === undefined || deploymentId === '') return MISSING_HEADER;
    if (deploymentId.length > MAX_DEPLOYMENT_ID_LENGTH) {
      // Longer than any stored id can be: answered without a lookup, and never cached, so junk ids
      // cannot crowd real deployments out of the cache.
      this.emit({ type: 'deployment_not_found', deploymentId: deploymentId.slice(0, MAX_DEPLOYMENT_ID_LENGTH) }, tag);
      return NOT_FOUND;
    }
    const hit = this.deployments.peek(deploymentId);
    if (hit === undefined) return this.loadDeployment(deploymentId, signal, tag, picker);
    return this.withDeployment(deploymentId, hit.value, signal, tag, picker);
  }

  /** Readiness: the store answers within timeoutMs (Sentinel V2: 500 ms). */
  async ready(timeoutMs = 500): Promise<boolean> {
    try {
      await this.store.ping(AbortSignal.timeout(timeoutMs));
      return true;
    } catch {
      return false;
    }
  }

  /** Stops background refreshes and drops the caches; the store is closed by its owner. */
  close(): void {
    this.deployments.close();
    this.instances.close();
  }

  private emit(event: DeploymentRouterEvent, tag: unknown): void {
    if (this.onEvent !== undefined) {
      try {
        this.onEvent(event, tag);
      } catch {
        // an observer must not change the decision
      }
    }
  }

  private async loadDeployment(id: string, signal: AbortSignal | undefined, tag: unknown, picker: InstancePickerLike | null): Promise<DeploymentDecision> {
    let deployment: Deployment | null;
    try {
      deployment = await this.deployments.load(id, signal);
    } catch (error) {
      if (signal?.aborted === true) return CLIENT_CLOSED;
      this.emit({ type: 'store_error', operation: 'get_deployment', deploymentId: id, error }, tag);
      return INTERNAL;
    }
    return this.withDeployment(id, deployment, signal, tag, picker);
  }

  private withDeployment(id: string, deployment: Deployment | null, signal: AbortSignal | undefined, tag: unknown, picker: InstancePickerLike | null): DeploymentDecision | Promise<DeploymentDecision> {
    if (deployment === null) {
      this.emit({ type: 'deployment_not_found', deploymentId: id }, tag);
      return NOT_FOUND;
    }
    if (deployment.environmentId !== this.environmentId) {
      this.emit({ type: 'environment_mismatch', deploymentId: id, deploymentEnvironmentId: deployment.environmentId, environmentId: this.environmentId }, tag);
      return MASKED; // byte-identical answer to an unknown deployment
    }
    const hit = this.instances.peek(id);
    if (hit === undefined) return this.loadInstances(deployment, signal, tag, picker);
    return this.select(deployment, hit.value, tag, picker);
  }

  private async loadInstances(deployment: Deployment, signal: AbortSignal | undefined, tag: unknown, picker: InstancePickerLike | null): Promise<DeploymentDecision> {
    let set: InstanceSet | null;
    try {
      set = await this.instances.load(deployment.id, signal);
    } catch (error) {
      if (signal?.aborted === true) return CLIENT_CLOSED;
      this.emit({ type: 'store_error', operation: 'select_instance', deploymentId: deployment.id, error }, tag);
      return INTERNAL;
    }
    return this.select(deployment, set, tag, picker);
  }

  private select(deployment: Deployment, set: InstanceSet | null, tag: unknown, picker: InstancePickerLike | null): DeploymentDecision {
    const n = set === null ? 0 : set.running.length;
    if (set === null || n === 0) {
      const total = set?.total ?? 0;
      this.emit({ type: 'no_running_instances', deploymentId: deployment.id, region: this.region, total }, tag);
      return total === 0 ? NO_INSTANCES : NO_RUNNING;
    }
    let index = picker === null ? -1 : picker.pick(deployment, set, tag);
    // Uniform random: the default (parity), and the fallback when the picker finds no eligible
    // instance (every one ejected by passive health): better a chance than a certain failure.
    if (index < 0 || index >= n) index = Math.floor(this.random() * n);
    if (!(index >= 0 && index < n)) index = 0;
    return this.proxyTo(deployment, set, index, tag);
  }

  /** The decision for `set.running[index]`: proxy to it, or 500 when its address is malformed. */
  proxyTo(deployment: Deployment, set: InstanceSet, index: number, tag: unknown): DeploymentDecision {
    const instance = set.running[index] as Instance;
    const target = set.targets[index] ?? null;
    if (target === null) {
      this.emit({ type: 'invalid_address', deploymentId: deployment.id, instanceId: instance.id, address: instance.address }, tag);
      return INVALID_CONFIG;
    }
    return { kind: 'proxy', deployment, instance, target, instances: set, index };
  }
}

export function createDeploymentRouter(options: DeploymentRouterOptions): DeploymentRouter {
  return new DeploymentRouter(options);
}
