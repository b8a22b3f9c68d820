// The MySQL store against a real MariaDB on an ephemeral loopback port (spec/helpers/containers.ts: a
// container under CI, a local mariadbd in a throwaway data directory where Docker is absent): the
// shared conformance suite, then pool bounds, timeouts, abort and error mapping.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMysqlStore, mapMysqlError } from '../../src/deployments/mysql-store.ts';
import { DeploymentStoreError } from '../../src/deployments/types.ts';
import { mariaDbBackend, startMariaDb } from '../helpers/containers.ts';
import type { MariaDbHandle } from '../helpers/containers.ts';
import { createMysqlHarness, SCHEMA_SQL, uid } from './harness.ts';
import type { StoreHarness } from './harness.ts';
import { describeStoreConformance } from './store.conformance.ts';

async function rejectionOf(p: Promise<unknown>): Promise<DeploymentStoreError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(DeploymentStoreError);
    return error as DeploymentStoreError;
  }
  throw new Error('expected a rejection');
}

const backend = await mariaDbBackend();

describe(`mysql store: conformance (real MariaDB, ${backend})`, () => {
  let harness: StoreHarness;
  beforeAll(async () => {
    harness = await createMysqlHarness();
  });
  afterAll(async () => {
    await harness?.teardown();
  });
  describeStoreConformance(() => harness);
});

describe(`mysql store: pool, deadlines, abort (real MariaDB, ${backend})`, () => {
  let db: MariaDbHandle;
  beforeAll(async () => {
    db = await startMariaDb({ initSql: SCHEMA_SQL });
  });
  afterAll(async () => {
    db?.thaw();
    await db?.destroy();
  });

  it('a frozen server yields kind "timeout", and the store works again once it answers', async () => {
    const store = createMysqlStore({ url: db.url, poolSize: 2, connectTimeoutMs: 5000, queryTimeoutMs: 1000 });
    try {
      await store.ping();
      db.freeze();
      try {
        expect((await rejectionOf(store.getDeployment('x'))).kind).toBe('timeout');
      } finally {
        db.thaw();
      }
      // the timed-out connection is discarded; a new one is made
      expect(await store.getDeployment(uid('nope'))).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('an abort while a query is in flight rejects with kind "aborted"', async () => {
    const store = createMysqlStore({ url: db.url, poolSize: 1, queryTimeoutMs: 30_000, connectTimeoutMs: 30_000 });
    try {
      await store.ping();
      db.freeze();
      try {
        const controller = new AbortController();
        const pending = store.getDeployment('x', controller.signal);
        controller.abort(new Error('client gone'));
        expect((await rejectionOf(pending)).kind).toBe('aborted');
      } finally {
        db.thaw();
      }
    } finally {
      await store.close();
    }
  });

  it('the wait queue is bounded: beyond maxQueue a call fails at once as "unavailable"', async () => {
    const store = createMysqlStore({ url: db.url, poolSize: 1, maxQueue: 1, queryTimeoutMs: 30_000, connectTimeoutMs: 30_000 });
    try {
      await store.ping(); // one open connection
      db.freeze();
      const controller = new AbortController();
      try {
        const holding = store.getDeployment('a', controller.signal); // takes the only connection
        const queued = store.getDeployment('b', controller.signal); // waits in the queue
        const rejected = await rejectionOf(store.getDeployment('c')); // queue full
        expect(rejected.kind).toBe('unavailable');
        expect(rejected.message).toContain('Queue limit');
        controller.abort();
        await Promise.allSettled([holding, queued]);
      } finally {
        db.thaw();
      }
    } finally {
      await store.close();
    }
  });

  it('a connection refused (nothing listening) is "unavailable"', async () => {
    const store = createMysqlStore({ url: 'mysql://root@127.0.0.1:1/sentinel', connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
    try {
      expect((await rejectionOf(store.ping())).kind).toBe('unavailable');
    } finally {
      await store.close();
    }
  });

  it('a schema mismatch is a "query" error, not a crash', async () => {
    await db.query('CREATE DATABASE IF NOT EXISTS empty_db');
    const store = createMysqlStore({ url: db.url.replace(/\/sentinel$/, '/empty_db') });
    try {
      const error = await rejectionOf(store.getDeployment('x'));
      expect(error.kind).toBe('query');
      expect(error.message).toMatch(/ER_NO_SUCH_TABLE/);
    } finally {
      await store.close();
    }
  });

  it('an unknown upstream_protocol value in a row falls back to http1', async () => {
    // the column is an ENUM; an empty string is what MariaDB stores for an invalid value in non-strict mode
    const id = uid('dep');
    await db.query("SET SESSION sql_mode = ''; INSERT INTO deployments (id, environment_id, upstream_protocol) VALUES (?, 'e1', 'h3')", [id]);
    const store = createMysqlStore({ url: db.url });
    try {
      expect((await store.getDeployment(id))?.upstreamProtocol).toBe('http1');
    } finally {
      await store.close();
    }
  });
});

describe('mapMysqlError', () => {
  it('maps socket, pool, timeout and server errors to kinds', () => {
    expect(mapMysqlError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).kind).toBe('unavailable');
    expect(mapMysqlError(Object.assign(new Error('x'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true })).kind).toBe('unavailable');
    expect(mapMysqlError(new Error('Queue limit reached.')).kind).toBe('unavailable');
    expect(mapMysqlError(Object.assign(new Error('x'), { code: 'ETIMEDOUT' })).kind).toBe('timeout');
    expect(mapMysqlError(Object.assign(new Error('x'), { code: 'PROTOCOL_SEQUENCE_TIMEOUT', fatal: true })).kind).toBe('timeout');
    expect(mapMysqlError(Object.assign(new Error('x'), { code: 'ER_PARSE_ERROR' })).kind).toBe('query');
    expect(mapMysqlError('weird').kind).toBe('query');
    const original = new DeploymentStoreError('aborted', 'a');
    expect(mapMysqlError(original)).toBe(original);
  });
});
