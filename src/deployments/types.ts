// The deployment-routing contract: what a store returns, the store interface shared by the static
// and the MySQL stores (one conformance suite runs against both), and the typed store error.
// Mirrors the Unkey-style schema (deployments, instances, regions); see docs/deployments.md.

/** Milliseconds on a monotonic scale; injected so caches can run on a fake clock in tests. */
export interface Clock {
  now(): number;
}

export const monotonicClock: Clock = { now: () => performance.now() };

export const INSTANCE_STATUSES = ['inactive', 'pending', 'running', 'failed'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export const DEPLOYMENT_STATUSES = [
  'pending', 'starting', 'building', 'deploying', 'network', 'finalizing', 'ready', 'failed',
  'skipped', 'awaiting_approval', 'stopped', 'superseded', 'cancelled',
] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

export const UPSTREAM_PROTOCOLS = ['http1', 'h2c'] as const;
export type UpstreamProtocol = (typeof UPSTREAM_PROTOCOLS)[number];

export interface Deployment {
  readonly id: string;
  /** The only authorisation check: must equal the router's configured environment. */
  readonly environmentId: string;
  readonly workspaceId: string;
  readonly projectId: string;
  /** Informational only: routing does not consult it (parity row 6). */
  readonly status: DeploymentStatus;
  readonly upstreamProtocol: UpstreamProtocol;
}

export interface Instance {
  readonly id: string;
  readonly deploymentId: string;
  /** `<platform>:<name>`, e.g. `aws:us-east-1` (the MySQL store joins `regions` on both parts). */
  readonly region: string;
  /** `host:port`, as stored; parsed (and rejected when malformed) by the router. */
  readonly address: string;
  readonly status: InstanceStatus;
}

/**
 * A read-only source of deployments and instances. Implementations must:
 * - resolve `null` for an unknown deployment (not-found is a value, not an error);
 * - return only the instances of `deploymentId` in `region`, whatever their status;
 * - reject with a DeploymentStoreError for every failure (never a foreign error), and reject with
 *   kind 'aborted' promptly when `signal` aborts.
 */
export interface DeploymentStore {
  getDeployment(id: string, signal?: AbortSignal): Promise<Deployment | null>;
  getInstances(deploymentId: string, region: string, signal?: AbortSignal): Promise<readonly Instance[]>;
  /** Resolves when the backing store answers; rejects with a DeploymentStoreError otherwise. */
  ping(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export type DeploymentStoreErrorKind =
  | 'unavailable' // cannot reach the database (refused, reset, closed, pool queue full)
  | 'timeout' // connect or query deadline passed
  | 'aborted' // the caller's signal aborted
  | 'closed' // the store was closed
  | 'query'; // the database answered with an error (schema mismatch, bad data, ...)

/** The only error a store rejects with. `message` is operator-facing; never sent to clients. */
export class DeploymentStoreError extends Error {
  readonly kind: DeploymentStoreErrorKind;

  constructor(kind: DeploymentStoreErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeploymentStoreError';
    this.kind = kind;
  }
}

export function isDeploymentStoreError(error: unknown): error is DeploymentStoreError {
  return error instanceof DeploymentStoreError;
}

/** Splits `<platform>:<name>` at the first colon; a region without a colon has platform ''. */
export function splitRegion(region: string): { platform: string; name: string } {
  const colon = region.indexOf(':');
  return colon < 0 ? { platform: '', name: region } : { platform: region.slice(0, colon), name: region.slice(colon + 1) };
}
