// Store harnesses: one seeding and failure-injection interface over the static store (rebuilt from
// mutable data on every change) and the MySQL store (rows written into a real MariaDB), so the
// conformance and parity suites run the same cases against both.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createMysqlStore } from '../../src/deployments/mysql-store.ts';
import { createStaticStore } from '../../src/deployments/static-store.ts';
import type { StaticDeploymentInput, StaticInstanceInput } from '../../src/deployments/static-store.ts';
import { DeploymentStoreError, splitRegion } from '../../src/deployments/types.ts';
import type { Deployment, DeploymentStore, Instance } from '../../src/deployments/types.ts';
import { startMariaDb } from '../helpers/mariadb.ts';
import type { MariaDbHandle } from '../helpers/mariadb.ts';

export const SCHEMA_SQL = readFileSync(fileURLToPath(new URL('../../src/deployments/schema.sql', import.meta.url)), 'utf8');

export interface StoreHarness {
  readonly name: 'static' | 'mysql';
  /** The store under test (lives until teardown). */
  readonly store: DeploymentStore;
  /** A second, independent store over the same data (the caller closes it). */
  openStore(): DeploymentStore;
  addDeployment(d: StaticDeploymentInput): Promise<void>;
  updateDeployment(id: string, patch: { environmentId?: string; status?: Deployment['status'] }): Promise<void>;
  addInstance(i: StaticInstanceInput): Promise<void>;
  setInstanceStatus(id: string, status: Instance['status']): Promise<void>;
  /** The backing store becomes unreachable (MariaDB stopped / static store failing). */
  goDown(): Promise<void>;
  goUp(): Promise<void>;
  teardown(): Promise<void>;
}

/** Static store over mutable data; while "down", every call rejects 'unavailable' like a dead DB. */
export function createStaticHarness(): StoreHarness {
  const deployments: StaticDeploymentInput[] = [];
  const instances: StaticInstanceInput[] = [];
  let current = createStaticStore({ deployments, instances });
  let down = false;
  const rebuild = (): void => {
    current = createStaticStore({ deployments: [...deployments], instances: [...instances] });
  };
  const guard = (): void => {
    if (down) throw new DeploymentStoreError('unavailable', 'static harness: store is down');
  };
  let closed = false;
  const makeStore = (): DeploymentStore => {
    let mine = false;
    return {
      async getDeployment(id, signal) {
        if (mine) throw new DeploymentStoreError('closed', 'closed');
        guard();
        return current.getDeployment(id, signal);
      },
      async getInstances(id, region, signal) {
        if (mine) throw new DeploymentStoreError('closed', 'closed');
        guard();
        return current.getInstances(id, region, signal);
      },
      async ping(signal) {
        if (mine) throw new DeploymentStoreError('closed', 'closed');
        guard();
        return current.ping(signal);
      },
      async close() {
        mine = true;
      },
    };
  };
  const store = makeStore();
  return {
    name: 'static',
    store,
    openStore: makeStore,
    async addDeployment(d) {
      deployments.push(d);
      rebuild();
    },
    async updateDeployment(id, patch) {
      const i = deployments.findIndex((d) => d.id === id);
      const d = deployments[i];
      if (d === undefined) throw new Error(`no deployment ${id}`);
      deployments[i] = { ...d, ...patch };
      rebuild();
    },
    async addInstance(i) {
      instances.push(i);
      rebuild();
    },
    async setInstanceStatus(id, status) {
      const i = instances.findIndex((x) => x.id === id);
      const inst = instances[i];
      if (inst === undefined) throw new Error(`no instance ${id}`);
      instances[i] = { ...inst, status };
      rebuild();
    },
    async goDown() {
      down = true;
    },
    async goUp() {
      down = false;
    },
    async teardown() {
      if (closed) return;
      closed = true;
      await store.close();
    },
  };
}

/** MySQL store against a real MariaDB started for the suite (destroyed by teardown()). */
export async function createMysqlHarness(storeOptions: { queryTimeoutMs?: number; connectTimeoutMs?: number } = {}): Promise<StoreHarness> {
  const db: MariaDbHandle = await startMariaDb({ initSql: SCHEMA_SQL });
  const open = (): DeploymentStore => createMysqlStore({ url: db.url, poolSize: 4, connectTimeoutMs: storeOptions.connectTimeoutMs ?? 2000, queryTimeoutMs: storeOptions.queryTimeoutMs ?? 2000 });
  const store = open();
  const ensureRegion = async (region: string): Promise<string> => {
    const { platform, name } = splitRegion(region);
    await db.query('INSERT IGNORE INTO regions (id, name, platform) VALUES (?, ?, ?)', [`reg_${region}`, name, platform]);
    return `reg_${region}`;
  };
  return {
    name: 'mysql',
    store,
    openStore: open,
    async addDeployment(d) {
      await db.query(
        'INSERT INTO deployments (id, workspace_id, project_id, environment_id, status, upstream_protocol) VALUES (?, ?, ?, ?, ?, ?)',
        [d.id, d.workspaceId ?? '', d.projectId ?? '', d.environmentId, d.status ?? 'ready', d.upstreamProtocol ?? 'http1'],
      );
    },
    async updateDeployment(id, patch) {
      if (patch.environmentId !== undefined) await db.query('UPDATE deployments SET environment_id = ? WHERE id = ?', [patch.environmentId, id]);
      if (patch.status !== undefined) await db.query('UPDATE deployments SET status = ? WHERE id = ?', [patch.status, id]);
    },
    async addInstance(i) {
      const regionId = await ensureRegion(i.region);
      await db.query('INSERT INTO instances (id, deployment_id, region_id, address, status) VALUES (?, ?, ?, ?, ?)', [i.id, i.deploymentId, regionId, i.address, i.status ?? 'running']);
    },
    async setInstanceStatus(id, status) {
      await db.query('UPDATE instances SET status = ? WHERE id = ?', [status, id]);
    },
    goDown: () => db.stop(),
    goUp: () => db.start(),
    async teardown() {
      await store.close();
      await db.destroy();
    },
  };
}

let counter = 0;
/** A fresh id so tests sharing one database never collide. */
export function uid(prefix: string): string {
  counter++;
  return `${prefix}_${process.pid}_${counter}`;
}
