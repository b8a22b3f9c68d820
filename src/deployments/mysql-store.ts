// A DeploymentStore over the Unkey-style MySQL/MariaDB schema (src/deployments/schema.sql), read
// through a bounded mysql2 pool. Every call has one overall deadline (connect + query) and honours
// the caller's AbortSignal; mysql2's own `timeout` kills a query that outlives queryTimeoutMs.
// Statements are server-side prepared (`execute`), never string-built. Foreign errors are mapped to
// DeploymentStoreError at this boundary. Ids are compared again in JS after the query, so a
// case-insensitive or PAD SPACE collation in an existing database cannot widen a lookup.

import { createPool } from 'mysql2/promise';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { DeploymentStoreError, splitRegion } from './types.ts';
import type { Deployment, DeploymentStatus, DeploymentStore, Instance, InstanceStatus } from './types.ts';

export interface MysqlStoreOptions {
  /** `mysql://user:password@host:port/database` (read-only credentials are enough). */
  readonly url: string;
  /** Maximum open connections (mysql2 `connectionLimit`). Default 10. */
  readonly poolSize?: number;
  /** Calls waiting for a free connection beyond this fail at once as 'unavailable'. Default 1000. */
  readonly maxQueue?: number;
  /** TCP connect + handshake deadline per new connection. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Per-query deadline (mysql2 `timeout`). Default 2000. A call's overall deadline is connect + query. */
  readonly queryTimeoutMs?: number;
  /** Idle pooled connections are closed after this. Default 60000. */
  readonly idleTimeoutMs?: number;
}

const SQL_DEPLOYMENT =
  'SELECT id, environment_id, workspace_id, project_id, status, upstream_protocol FROM deployments WHERE id = ? LIMIT 1';
const SQL_INSTANCES =
  'SELECT i.id, i.deployment_id, i.address, i.status FROM instances i JOIN regions r ON r.id = i.region_id ' +
  'WHERE i.deployment_id = ? AND r.platform = ? AND r.name = ?';
const SQL_PING = 'SELECT 1';

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR', 'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'ER_ACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'PROTOCOL_SEQUENCE_TIMEOUT']);

/** Maps a mysql2 / socket error to a DeploymentStoreError; the message carries no credentials. */
export function mapMysqlError(error: unknown): DeploymentStoreError {
  if (error instanceof DeploymentStoreError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown; fatal?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(error);
  const text = `mysql: ${code !== '' ? code + ': ' : ''}${message}`;
  if (TIMEOUT_CODES.has(code)) return new DeploymentStoreError('timeout', text, { cause: error });
  if (UNAVAILABLE_CODES.has(code) || e.fatal === true || message === 'Queue limit reached.' || message === 'Pool is closed.') {
    return new DeploymentStoreError('unavailable', text, { cause: error });
  }
  return new DeploymentStoreError('query', text, { cause: error });
}

function toDeployment(row: RowDataPacket): Deployment {
  return Object.freeze({
    id: String(row.id),
    environmentId: String(row.environment_id),
    workspaceId: String(row.workspace_id ?? ''),
    projectId: String(row.project_id ?? ''),
    status: String(row.status) as DeploymentStatus,
    // Unknown or empty protocols fall back to http1, as in Sentinel V2.
    upstreamProtocol: row.upstream_protocol === 'h2c' ? 'h2c' : 'http1',
  });
}

export class MysqlDeploymentStore implements DeploymentStore {
  private readonly pool: Pool;
  private readonly deadlineMs: number;
  private readonly queryTimeoutMs: number;
  private closed = false;

  constructor(options: MysqlStoreOptions) {
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 2000;
    this.deadlineMs = connectTimeoutMs + this.queryTimeoutMs;
    this.pool = createPool({
      uri: options.url,
      connectionLimit: options.poolSize ?? 10,
      maxIdle: options.poolSize ?? 10,
      queueLimit: options.maxQueue ?? 1000,
      waitForConnections: true,
      connectTimeout: connectTimeoutMs,
      idleTimeout: options.idleTimeoutMs ?? 60_000,
      enableKeepAlive: true,
      dateStrings: true,
    });
    // Idle connections that die (server restart) emit 'error' on themselves and leave the pool;
    // nothing must surface as an unhandled 'error' event on the pool.
    this.pool.pool.on('error', () => {});
  }

  private run(sql: string, params: readonly string[], signal: AbortSignal | undefined): Promise<RowDataPacket[]> {
    if (this.closed) return Promise.reject(new DeploymentStoreError('closed', 'the MySQL deployment store is closed'));
    if (signal?.aborted === true) return Promise.reject(new DeploymentStoreError('aborted', 'the lookup was aborted', { cause: signal.reason }));
    return new Promise<RowDataPacket[]>((resolve, reject) => {
      let done = false;
      const finish = (error: DeploymentStoreError | null, rows?: RowDataPacket[]): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error !== null) reject(error);
        else resolve(rows ?? []);
      };
      const onAbort = (): void => finish(new DeploymentStoreError('aborted', 'the lookup was aborted', { cause: signal?.reason }));
      const timer = setTimeout(() => finish(new DeploymentStoreError('timeout', `mysql: no answer within ${this.deadlineMs} ms`)), this.deadlineMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pool.execute<RowDataPacket[]>({ sql, timeout: this.queryTimeoutMs }, params as string[]).then(
        ([rows]) => finish(null, rows),
        (error: unknown) => finish(mapMysqlError(error)),
      );
    });
  }

  async getDeployment(id: string, signal?: AbortSignal): Promise<Deployment | null> {
    const rows = await this.run(SQL_DEPLOYMENT, [id], signal);
    const row = rows.find((r) => r.id === id);
    return row === undefined ? null : toDeployment(row);
  }

  async getInstances(deploymentId: string, region: string, signal?: AbortSignal): Promise<readonly Instance[]> {
    const { platform, name } = splitRegion(region);
    const rows = await this.run(SQL_INSTANCES, [deploymentId, platform, name], signal);
    const out: Instance[] = [];
    for (const row of rows) {
      if (row.deployment_id !== deploymentId) continue;
      out.push(Object.freeze({
        id: String(row.id),
        deploymentId,
        region,
        address: String(row.address),
        status: String(row.status) as InstanceStatus,
      }));
    }
    return Object.freeze(out);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.run(SQL_PING, [], signal);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => {});
  }
}

export function createMysqlStore(options: MysqlStoreOptions): MysqlDeploymentStore {
  return new MysqlDeploymentStore(options);
}
