// A DeploymentStore over plain data (as the KDL config gives it): the embedded default, tests and
// small setups. Lookups are two Map reads; instances are pre-grouped by (deployment, region), so
// getInstances returns the same frozen array every time.

import { DEPLOYMENT_STATUSES, DeploymentStoreError, INSTANCE_STATUSES, UPSTREAM_PROTOCOLS } from './types.ts';
import type { Deployment, DeploymentStatus, DeploymentStore, Instance, InstanceStatus, UpstreamProtocol } from './types.ts';

/** A deployment as written in config: only `id` and `environmentId` are required. */
export interface StaticDeploymentInput {
  readonly id: string;
  readonly environmentId: string;
  readonly workspaceId?: string;
  readonly projectId?: string;
  readonly status?: DeploymentStatus;
  readonly upstreamProtocol?: UpstreamProtocol;
}

export interface StaticInstanceInput {
  readonly id: string;
  readonly deploymentId: string;
  readonly region: string;
  readonly address: string;
  /** Default `running`. */
  readonly status?: InstanceStatus;
}

export interface StaticStoreData {
  readonly deployments: readonly StaticDeploymentInput[];
  readonly instances: readonly StaticInstanceInput[];
}

export type StaticStoreDataResult = { readonly ok: true; readonly data: StaticStoreData } | { readonly ok: false; readonly errors: readonly string[] };

const EMPTY: readonly Instance[] = Object.freeze([]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/**
 * Validates untyped input (e.g. from a config parser). Never throws; every problem is reported
 * with its path. Duplicate ids are errors; an instance may reference an unknown deployment
 * (it is then unreachable, as in the database).
 */
export function parseStaticStoreData(raw: unknown): StaticStoreDataResult {
  const errors: string[] = [];
  if (!isRecord(raw)) return { ok: false, errors: ['store data must be an object with deployments and instances'] };
  const deploymentsRaw = raw.deployments ?? [];
  const instancesRaw = raw.instances ?? [];
  if (!Array.isArray(deploymentsRaw)) errors.push('deployments must be a list');
  if (!Array.isArray(instancesRaw)) errors.push('instances must be a list');
  if (errors.length > 0) return { ok: false, errors };
  const deployments: StaticDeploymentInput[] = [];
  const instances: StaticInstanceInput[] = [];
  const seenDeployments = new Set<string>();
  const seenInstances = new Set<string>();
  (deploymentsRaw as unknown[]).forEach((d, i) => {
    const at = `deployments[${i}]`;
    if (!isRecord(d)) return void errors.push(`${at} must be an object`);
    if (!nonEmptyString(d.id)) return void errors.push(`${at}.id must be a non-empty string`);
    if (!nonEmptyString(d.environmentId)) return void errors.push(`${at}.environmentId must be a non-empty string`);
    if (seenDeployments.has(d.id)) return void errors.push(`${at}.id "${d.id}" is a duplicate`);
    for (const key of ['workspaceId', 'projectId'] as const) {
      if (d[key] !== undefined && typeof d[key] !== 'string') return void errors.push(`${at}.${key} must be a string`);
    }
    if (d.status !== undefined && !(DEPLOYMENT_STATUSES as readonly unknown[]).includes(d.status)) {
      return void errors.push(`${at}.status must be one of ${DEPLOYMENT_STATUSES.join(', ')}`);
    }
    if (d.upstreamProtocol !== undefined && !(UPSTREAM_PROTOCOLS as readonly unknown[]).includes(d.upstreamProtocol)) {
      return void errors.push(`${at}.upstreamProtocol must be one of ${UPSTREAM_PROTOCOLS.join(', ')}`);
    }
    seenDeployments.add(d.id);
    deployments.push(d as unknown as StaticDeploymentInput);
  });
  (instancesRaw as unknown[]).forEach((inst, i) => {
    const at = `instances[${i}]`;
    if (!isRecord(inst)) return void errors.push(`${at} must be an object`);
    for (const key of ['id', 'deploymentId', 'region', 'address'] as const) {
      if (!nonEmptyString(inst[key])) return void errors.push(`${at}.${key} must be a non-empty string`);
    }
    if (seenInstances.has(inst.id as string)) return void errors.push(`${at}.id "${String(inst.id)}" is a duplicate`);
    if (inst.status !== undefined && !(INSTANCE_STATUSES as readonly unknown[]).includes(inst.status)) {
      return void errors.push(`${at}.status must be one of ${INSTANCE_STATUSES.join(', ')}`);
    }
    seenInstances.add(inst.id as string);
    instances.push(inst as unknown as StaticInstanceInput);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, data: { deployments, instances } };
}

function instanceKey(deploymentId: string, region: string): string {
  return `${deploymentId}\u0000${region}`;
}

export class StaticDeploymentStore implements DeploymentStore {
  private readonly deployments: ReadonlyMap<string, Deployment>;
  private readonly instances: ReadonlyMap<string, readonly Instance[]>;
  private closed = false;

  constructor(data: StaticStoreData) {
    const deployments = new Map<string, Deployment>();
    for (const d of data.deployments) {
      deployments.set(d.id, Object.freeze({
        id: d.id,
        environmentId: d.environmentId,
        workspaceId: d.workspaceId ?? '',
        projectId: d.projectId ?? '',
        status: d.status ?? 'ready',
        upstreamProtocol: d.upstreamProtocol ?? 'http1',
      }));
    }
    const grouped = new Map<string, Instance[]>();
    for (const i of data.instances) {
      const key = instanceKey(i.deploymentId, i.region);
      let list = grouped.get(key);
      if (list === undefined) grouped.set(key, (list = []));
      list.push(Object.freeze({ id: i.id, deploymentId: i.deploymentId, region: i.region, address: i.address, status: i.status ?? 'running' }));
    }
    const instances = new Map<string, readonly Instance[]>();
    for (const [key, list] of grouped) instances.set(key, Object.freeze(list));
    this.deployments = deployments;
    this.instances = instances;
  }

  private check(signal: AbortSignal | undefined): void {
    if (this.closed) throw new DeploymentStoreError('closed', 'the static deployment store is closed');
    if (signal?.aborted === true) throw new DeploymentStoreError('aborted', 'the lookup was aborted', { cause: signal.reason });
  }

  async getDeployment(id: string, signal?: AbortSignal): Promise<Deployment | null> {
    this.check(signal);
    return this.deployments.get(id) ?? null;
  }

  async getInstances(deploymentId: string, region: string, signal?: AbortSignal): Promise<readonly Instance[]> {
    this.check(signal);
    return this.instances.get(instanceKey(deploymentId, region)) ?? EMPTY;
  }

  async ping(signal?: AbortSignal): Promise<void> {
    this.check(signal);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function createStaticStore(data: StaticStoreData): StaticDeploymentStore {
  return new StaticDeploymentStore(data);
}
