// The registry-held runtime of deployment routing: its identity (what keeps caches across a
// reload), readiness (coalesced and cached, no detail leaked), operator logs (rate-limited), the
// audit record on an environment mismatch, and store metrics. Fake clock, injected stores.
import { afterEach, describe, expect, it } from 'vitest';
import type { DeploymentsConfig, RetryPolicyConfig } from '../../src/config/types.ts';
import type { Logger } from '../../src/observability/log.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { deploymentMetrics } from '../../src/deployments/metrics.ts';
import { createDeploymentRuntime, deploymentRuntimeKey, mysqlUrl } from '../../src/deployments/runtime.ts';
import type { DeploymentRuntime } from '../../src/deployments/runtime.ts';
import { createStaticStore } from '../../src/deployments/static-store.ts';
import { DeploymentStoreError } from '../../src/deployments/types.ts';
import type { DeploymentStore } from '../../src/deployments/types.ts';

function config(patch: Partial<DeploymentsConfig> = {}): DeploymentsConfig {
  return {
    environmentId: 'e1', region: 'aws:r1', header: 'X-Deployment-Id', errorSourceHeader: 'X-Unkey-Error-Source', errorSourceValue: 'sentinel',
    timingHeader: true, requestTimeoutMs: 900_000, connectTimeoutMs: 10_000, headersTimeoutMs: null, readTimeoutMs: null,
    deploymentCache: { freshMs: 30_000, staleMs: 300_000, maxEntries: 1000 }, instanceCache: { freshMs: 10_000, staleMs: 60_000, maxEntries: 1000 },
    pool: { maxConnections: 50, idleTimeoutMs: 90_000, maxInstances: 1024 }, selection: { algorithm: 'random' }, retryPolicy: null, outlierDetection: null,
    store: { kind: 'static', deployments: [{ id: 'd1', environmentId: 'e1', workspaceId: '', projectId: '', status: 'ready', upstreamProtocol: 'http1' }], instances: [] },
    ...patch,
  };
}

const MYSQL = { kind: 'mysql', host: 'db', port: 3306, user: 'ro', password: 'hunter2', database: 'unkey', poolSize: 10, maxQueue: 1000, connectTimeoutMs: 5000, queryTimeoutMs: 2000, idleTimeoutMs: 60_000 } as const;

interface Logged { level: string; fields: Record<string, unknown>; msg: string }

function capture(): { logger: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string): void => void lines.push({ level, fields, msg });
  return { logger: { warn: at('warn'), error: at('error'), debug: at('debug'), info: at('info') } as unknown as Logger, lines };
}

/** A store whose every call fails (or answers) as the test says, counting pings. */
function scriptedStore(): DeploymentStore & { fail: DeploymentStoreError | null; pings: number; release: (() => void) | null } {
  const s = {
    fail: null as DeploymentStoreError | null,
    pings: 0,
    release: null as (() => void) | null,
    async getDeployment() { if (s.fail !== null) throw s.fail; return null; },
    async getInstances() { if (s.fail !== null) throw s.fail; return []; },
    ping() {
      s.pings++;
      return new Promise<void>((resolve, reject) => {
        s.release = () => (s.fail !== null ? reject(s.fail) : resolve());
      });
    },
    async close() {},
  };
  return s;
}

const runtimes: DeploymentRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

function runtime(o: { store?: DeploymentStore; clock?: { now(): number }; logger?: Logger; config?: DeploymentsConfig; metrics?: Metrics } = {}): DeploymentRuntime {
  const r = createDeploymentRuntime({
    config: o.config ?? config(), metrics: deploymentMetrics(o.metrics ?? new Metrics({ processMetrics: false })), logger: o.logger ?? null,
    ...(o.store !== undefined ? { store: o.store } : {}), ...(o.clock !== undefined ? { clock: o.clock } : {}),
  });
  runtimes.push(r);
  return r;
}

describe('deploymentRuntimeKey', () => {
  it('route-level settings keep the identity (a reload keeps caches and pools warm)', () => {
    const k = deploymentRuntimeKey(config());
    for (const patch of [{ header: 'X-Other' }, { errorSourceHeader: 'X-E' }, { errorSourceValue: 'x' }, { timingHeader: false }, { requestTimeoutMs: 5 }]) {
      expect(deploymentRuntimeKey(config(patch)), JSON.stringify(patch)).toBe(k);
    }
  });

  it('anything that shapes the state changes it', () => {
    const k = deploymentRuntimeKey(config());
    const patches: Partial<DeploymentsConfig>[] = [
      { environmentId: 'e2' }, { region: 'aws:r2' }, { connectTimeoutMs: 1 }, { headersTimeoutMs: 1 }, { readTimeoutMs: 1 },
      { deploymentCache: { freshMs: 1, staleMs: 2, maxEntries: 3 } }, { instanceCache: { freshMs: 1, staleMs: 2, maxEntries: 3 } },
      { pool: { maxConnections: 1, idleTimeoutMs: 1, maxInstances: 1 } }, { store: { kind: 'static', deployments: [], instances: [] } }, { store: MYSQL },
    ];
    for (const patch of patches) expect(deploymentRuntimeKey(config(patch)), JSON.stringify(patch)).not.toBe(k);
  });

  it('never carries the database password', () => {
    const key = deploymentRuntimeKey(config({ store: MYSQL }));
    expect(key).toMatch(/^deployments\|[0-9a-f]{32}$/);
    expect(key).not.toContain('hunter2');
  });

  it('mysqlUrl escapes every part', () => {
    expect(mysqlUrl({ ...MYSQL, user: 'r@o', password: 'p:w/d', database: 'u db', host: '::1' })).toBe('mysql://r%40o:p%3Aw%2Fd@[::1]:3306/u%20db');
    expect(mysqlUrl({ ...MYSQL, password: '' })).toBe('mysql://ro@db:3306/unkey');
  });
});

describe('DeploymentRuntime', () => {
  it('readiness: concurrent probes share one ping, the answer is reused for a second, a failure reports only its kind', async () => {
    let now = 0;
    const store = scriptedStore();
    const r = runtime({ store, clock: { now: () => now } });
    const a = r.ready();
    const b = r.ready();
    expect(store.pings).toBe(1);
    store.release?.();
    expect(await a).toEqual({ ok: true, failure: null });
    expect(await b).toEqual({ ok: true, failure: null });
    now = 999;
    expect(await r.ready()).toEqual({ ok: true, failure: null });
    expect(store.pings).toBe(1);
    now = 1000;
    store.fail = new DeploymentStoreError('unavailable', 'mysql: ECONNREFUSED 10.0.0.7:3306');
    const c = r.ready();
    expect(store.pings).toBe(2);
    store.release?.();
    expect(await c).toEqual({ ok: false, failure: 'unavailable' });
  });

  it('readiness against a real static store is ready', async () => {
    expect(await runtime().ready()).toEqual({ ok: true, failure: null });
  });

  it('store failures are logged at most once a second, with the number dropped in between', async () => {
    let now = 0;
    const store = scriptedStore();
    store.fail = new DeploymentStoreError('timeout', 'mysql: no answer within 7000 ms');
    const { logger, lines } = capture();
    const r = runtime({ store, clock: { now: () => now }, logger });
    for (let i = 0; i < 5; i++) expect(await r.router.decideId(`d${i}`)).toMatchObject({ code: 'err:unkey:internal_server_error:internal_server_error', reason: 'store_error' });
    now = 1000;
    await r.router.decideId('d9');
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(2);
    expect(errors[0]?.fields).toMatchObject({ operation: 'get_deployment', deployment_id: 'd0', error_kind: 'timeout', environment_id: 'e1', store: 'static' });
    expect(errors[1]?.fields).toMatchObject({ deployment_id: 'd9', suppressed: 4 });
  });

  it('an environment mismatch goes to the audit log of the request, naming both environments', async () => {
    const audits: unknown[][] = [];
    const ctx = { requestId: 'req-1', audit: (...args: unknown[]) => void audits.push(args) };
    const r = runtime({ config: config({ store: { kind: 'static', deployments: [{ id: 'd2', environmentId: 'e2', workspaceId: '', projectId: '', status: 'ready', upstreamProtocol: 'http1' }], instances: [] } }) });
    expect(await r.router.decideId('d2', undefined, ctx)).toMatchObject({ status: 404, reason: 'environment_mismatch' });
    expect(audits).toEqual([['deployments', 'reject', 'deployment belongs to another environment',
      { deployment_id: 'd2', deployment_environment_id: 'e2', environment_id: 'e1', status: 404 }]]);
  });

  it('counts and times store calls by kind, operation and result, and exposes cache stats at scrape time', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const store = createStaticStore({ deployments: [], instances: [] });
    const r = runtime({ metrics, store });
    await r.router.decideId('x');
    await r.router.decideId('x');
    const text = await metrics.registry.metrics();
    expect(text).toContain('sentinel_deployments_store_queries_total{store="static",operation="get_deployment",result="ok"} 1');
    expect(text).toContain('sentinel_deployments_cache_lookups_total{cache="deployment",result="miss"} 1');
    expect(text).toContain('sentinel_deployments_cache_lookups_total{cache="deployment",result="fresh"} 1');
    expect(text).toContain('sentinel_deployments_cache_entries{cache="deployment"} 1');
    await r.close();
    // closing reports the last counts and stops reading the caches
    const after = await metrics.registry.metrics();
    expect(after).toContain('sentinel_deployments_cache_entries{cache="deployment"} 0');
    expect(after).toContain('sentinel_deployments_cache_lookups_total{cache="deployment",result="fresh"} 1');
  });
});

describe('DeploymentRuntime: per-config state of the routes (selection, retry-policy)', () => {
  const policy = (maxAttempts: number, backoffMs = 10): RetryPolicyConfig => ({
    maxAttempts, retryableStatusCodes: [503], backoffMs, maxBackoffMs: 100, perAttemptTimeoutMs: null, retryNonIdempotent: false,
    budgetRatio: 0.2, budgetMinPerSecond: 10, maxBufferBytes: 65_536,
  });

  it('random without passive health needs no picker; equal selections share one (reloads keep selector state)', () => {
    const r = runtime();
    expect(r.selection({ algorithm: 'random' })).toBeNull();
    const a = r.selection({ algorithm: 'round_robin' });
    expect(a).not.toBeNull();
    expect(r.selection({ algorithm: 'round_robin' })).toBe(a);
    expect(r.selection({ algorithm: 'least_connections' })).not.toBe(a);
  });

  it('equal retry policies share one runtime (and so one budget); max-attempts 1 is one attempt', () => {
    const r = runtime();
    expect(r.retry(null)).toBeNull();
    expect(r.retry(policy(1))).toBeNull();
    const a = r.retry(policy(3));
    expect(a).not.toBeNull();
    expect(r.retry(policy(3))).toBe(a);
    expect(r.retry(policy(3, 20))).not.toBe(a);
  });

  it('both are bounded: past 16 distinct configs the oldest is dropped and made again when asked', () => {
    const r = runtime();
    const firstSelection = r.selection({ algorithm: 'consistent_hash', hashKey: 'header:x-0' });
    const firstRetry = r.retry(policy(2, 1));
    // Asked again while still kept: the same object.
    expect(r.selection({ algorithm: 'consistent_hash', hashKey: 'header:x-0' })).toBe(firstSelection);
    for (let i = 1; i <= 16; i++) {
      r.selection({ algorithm: 'consistent_hash', hashKey: `header:x-${i}` });
      r.retry(policy(2, 1 + i));
    }
    expect(r.selection({ algorithm: 'consistent_hash', hashKey: 'header:x-0' })).not.toBe(firstSelection);
    expect(r.retry(policy(2, 1))).not.toBe(firstRetry);
  });
});
