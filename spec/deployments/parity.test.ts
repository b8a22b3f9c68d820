// Unkey Sentinel parity (research note §8), the rows decidable at the engine level, run against
// both stores: the static store and the MySQL store over a real MariaDB. One `it` per row, named
// after the row. Rows that need the proxy wiring are listed in docs/deployments.md.
// Setup per the checklist: environment E1, region R1; every test seeds its own uniquely named
// deployments (D1 in E1, D2 in E2, ...) and builds a fresh router (cold caches, fake clock).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYMENT_ERROR_CODES, DEPLOYMENT_ERROR_TABLE, renderDeploymentError } from '../../src/deployments/errors.ts';
import type { DeploymentErrorCode } from '../../src/deployments/errors.ts';
import { createDeploymentRouter } from '../../src/deployments/router.ts';
import type { DeploymentDecision, DeploymentRouter, DeploymentRouterEvent, DeploymentRouterOptions } from '../../src/deployments/router.ts';
import { createMysqlHarness, createStaticHarness, uid } from './harness.ts';
import type { StoreHarness } from './harness.ts';

const E1 = 'env_E1';
const E2 = 'env_E2';
const R1 = 'aws:r1';
const R2 = 'aws:r2';

function fakeClock(): { now(): number; advance(ms: number): void } {
  let t = 0;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Deterministic uniform PRNG (mulberry32) so the distribution test cannot flake. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Checks the exact error response of a decision (row 12 applies to every error row). */
function expectError(decision: DeploymentDecision, code: DeploymentErrorCode): void {
  expect(decision.kind).toBe('error');
  if (decision.kind !== 'error') return;
  expect(decision.code).toBe(code);
  expect(decision.status).toBe(DEPLOYMENT_ERROR_TABLE[code].status);
  const r = renderDeploymentError(decision.code);
  expect(r.status).toBe(decision.status);
  expect(r.headers['Content-Type']).toBe('application/json');
  expect(r.headers['X-Unkey-Error-Source']).toBe('sentinel');
  const body = JSON.parse(r.body.toString('utf8')) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error)).toEqual(['code', 'message']);
  expect(body.error.code).toBe(code);
  expect(body.error.message).toBe(DEPLOYMENT_ERROR_TABLE[code].message);
}

function expectProxied(decision: DeploymentDecision, address: string): void {
  expect(decision.kind).toBe('proxy');
  if (decision.kind === 'proxy') expect(decision.instance.address).toBe(address);
}

/** Waits (real time) until no load for `id` is in flight in either cache. */
async function settled(router: DeploymentRouter, id: string): Promise<void> {
  for (let i = 0; i < 500 && (router.deployments.isLoading(id) || router.instances.isLoading(id)); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(router.deployments.isLoading(id) || router.instances.isLoading(id)).toBe(false);
}

const STORES: readonly [string, () => Promise<StoreHarness>][] = [
  ['static store', async () => createStaticHarness()],
  ['mysql store (real MariaDB)', () => createMysqlHarness()],
];

describe.each(STORES)('parity with Unkey Sentinel, %s', (_name, makeHarness) => {
  let h: StoreHarness;
  const routers: DeploymentRouter[] = [];
  beforeAll(async () => {
    h = await makeHarness();
  });
  afterAll(async () => {
    for (const r of routers) r.close();
    await h?.teardown();
  });

  function router(extra: Partial<DeploymentRouterOptions> = {}): { r: DeploymentRouter; clock: ReturnType<typeof fakeClock>; events: DeploymentRouterEvent[] } {
    const clock = fakeClock();
    const events: DeploymentRouterEvent[] = [];
    const r = createDeploymentRouter({ environmentId: E1, region: R1, store: h.store, clock, random: seededRandom(7), onEvent: (e) => events.push(e), ...extra });
    routers.push(r);
    return { r, clock, events };
  }

  /** D1 in E1 with one running instance in R1; returns its id and address. */
  async function seedD1(options: { status?: 'ready' | 'stopped' } = {}): Promise<{ d1: string; address: string }> {
    const d1 = uid('D1');
    const address = '127.0.0.1:9001';
    await h.addDeployment({ id: d1, environmentId: E1, status: options.status ?? 'ready' });
    await h.addInstance({ id: uid('i'), deploymentId: d1, region: R1, address, status: 'running' });
    return { d1, address };
  }

  it('row 2: missing or empty X-Deployment-Id → 400 missing_required_header, nothing proxied', async () => {
    const { r } = router();
    expectError(await r.decide({}), 'err:user:bad_request:missing_required_header');
    expectError(await r.decide({ 'x-deployment-id': '' }), 'err:user:bad_request:missing_required_header');
    expectError(await r.decide({ 'x-deployment-id': [] }), 'err:user:bad_request:missing_required_header');
  });

  it('row 3: the header name is case-insensitive', async () => {
    const { d1, address } = await seedD1();
    expectProxied(await router().r.decide({ 'x-deployment-id': d1 }), address);
    expectProxied(await router().r.decide({ 'X-DEPLOYMENT-ID': d1 }), address);
    expectProxied(await router().r.decide({ 'X-Deployment-Id': d1 }), address);
    expectProxied(await router({ header: 'X-My-Deploy' }).r.decide({ 'x-my-deploy': d1 }), address);
  });

  it('row 4: unknown deployment → 404 deployment_not_found', async () => {
    expectError(await router().r.decide({ 'x-deployment-id': uid('random') }), 'err:unkey:not_found:deployment_not_found');
  });

  it('row 5: a deployment in another environment is masked as not found (identical status, code, message, headers, body bytes)', async () => {
    const d2 = uid('D2');
    await h.addDeployment({ id: d2, environmentId: E2 });
    await h.addInstance({ id: uid('i'), deploymentId: d2, region: R1, address: '127.0.0.1:9002', status: 'running' });
    const { r } = router();
    const masked = await r.decide({ 'x-deployment-id': d2 });
    const unknown = await r.decide({ 'x-deployment-id': uid('random') });
    expectError(masked, 'err:unkey:not_found:deployment_not_found');
    if (masked.kind !== 'error' || unknown.kind !== 'error') return;
    // Only the internal reason differs (metrics and the audit log); the answer is the same.
    expect({ ...masked, reason: 'x' }).toEqual({ ...unknown, reason: 'x' });
    expect([masked.reason, unknown.reason]).toEqual(['environment_mismatch', 'not_found']);
    const a = renderDeploymentError(masked.code);
    const b = renderDeploymentError(unknown.code);
    expect(a.status).toBe(b.status);
    expect(a.headers).toEqual(b.headers);
    expect(a.body.equals(b.body)).toBe(true);
  });

  it('row 6: only the environment is checked; a stopped deployment with a running instance is still proxied', async () => {
    const { d1, address } = await seedD1({ status: 'stopped' });
    expectProxied(await router().r.decide({ 'x-deployment-id': d1 }), address);
  });

  it('row 7: only instances in the proxy region are eligible (running only in R2 → 503 no_running_instances)', async () => {
    const d1 = uid('D1');
    await h.addDeployment({ id: d1, environmentId: E1 });
    await h.addInstance({ id: uid('i'), deploymentId: d1, region: R2, address: '127.0.0.1:9003', status: 'running' });
    expectError(await router().r.decide({ 'x-deployment-id': d1 }), 'err:unkey:service_unavailable:no_running_instances');
    expectProxied(await router({ region: R2 }).r.decide({ 'x-deployment-id': d1 }), '127.0.0.1:9003');
  });

  it('row 8: only status=running instances are eligible (all pending/failed/inactive → 503)', async () => {
    const d1 = uid('D1');
    await h.addDeployment({ id: d1, environmentId: E1 });
    for (const status of ['pending', 'failed', 'inactive'] as const) {
      await h.addInstance({ id: uid('i'), deploymentId: d1, region: R1, address: '127.0.0.1:9004', status });
    }
    const { r, events } = router();
    expectError(await r.decide({ 'x-deployment-id': d1 }), 'err:unkey:service_unavailable:no_running_instances');
    expect(events).toContainEqual({ type: 'no_running_instances', deploymentId: d1, region: R1, total: 3 });
  });

  it('row 9: no instances at all → the same 503 no_running_instances', async () => {
    const d1 = uid('D1');
    await h.addDeployment({ id: d1, environmentId: E1 });
    expectError(await router().r.decide({ 'x-deployment-id': d1 }), 'err:unkey:service_unavailable:no_running_instances');
  });

  it('row 10: uniform random choice among running instances (3000 picks, chi-square p > 0.01), non-running never picked', async () => {
    const d1 = uid('D1');
    await h.addDeployment({ id: d1, environmentId: E1 });
    const running = ['127.0.0.1:9101', '127.0.0.1:9102', '127.0.0.1:9103'];
    for (const address of running) await h.addInstance({ id: uid('i'), deploymentId: d1, region: R1, address, status: 'running' });
    await h.addInstance({ id: uid('i'), deploymentId: d1, region: R1, address: '127.0.0.1:9104', status: 'pending' });
    await h.addInstance({ id: uid('i'), deploymentId: d1, region: R1, address: '127.0.0.1:9105', status: 'failed' });
    const { r } = router({ random: seededRandom(12345) });
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const d = await r.decide({ 'x-deployment-id': d1 });
      if (d.kind !== 'proxy') throw new Error(`unexpected ${JSON.stringify(d)}`);
      counts.set(d.instance.address, (counts.get(d.instance.address) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(running);
    const chiSquare = running.reduce((sum, a) => sum + ((counts.get(a) ?? 0) - 1000) ** 2 / 1000, 0);
    expect(chiSquare).toBeLessThan(9.21); // 2 degrees of freedom, p = 0.01
  });

  it('row 12: every error body is exactly {"error":{"code","message"}} with Content-Type application/json and X-Unkey-Error-Source: sentinel', () => {
    for (const code of DEPLOYMENT_ERROR_CODES) {
      const r = renderDeploymentError(code);
      expect(r.status).toBe(DEPLOYMENT_ERROR_TABLE[code].status);
      expect(r.headers).toEqual({ 'Content-Type': 'application/json', 'Content-Length': String(r.body.length), 'X-Unkey-Error-Source': 'sentinel' });
      expect(r.body.toString('utf8')).toBe(`{"error":{"code":"${code}","message":"${DEPLOYMENT_ERROR_TABLE[code].message}"}}`);
    }
    const custom = renderDeploymentError('err:unkey:not_found:deployment_not_found', { errorSourceHeader: 'X-Acme-Error-Source', errorSourceValue: 'edge' });
    expect(custom.headers['X-Acme-Error-Source']).toBe('edge');
    expect(custom.headers['X-Unkey-Error-Source']).toBeUndefined();
  });

  it('row 24 (engine part): the decision carries the deployment upstream protocol (h2c or http1)', async () => {
    const d1 = uid('D1');
    await h.addDeployment({ id: d1, environmentId: E1, upstreamProtocol: 'h2c' });
    await h.addInstance({ id: uid('i'), deploymentId: d1, region: R1, address: '127.0.0.1:9005', status: 'running' });
    const d = await router().r.decide({ 'x-deployment-id': d1 });
    expect(d.kind === 'proxy' && d.deployment.upstreamProtocol).toBe('h2c');
    const { d1: plain } = await seedD1();
    const p = await router().r.decide({ 'x-deployment-id': plain });
    expect(p.kind === 'proxy' && p.deployment.upstreamProtocol).toBe('http1');
  });

  it('row 25: deployment lookup cached; a change is invisible within the fresh window (30 s), stale is served while refreshing, then 404', async () => {
    const { d1, address } = await seedD1();
    const { r, clock } = router({ instanceCache: { freshMs: 300_000, staleMs: 600_000 } });
    expectProxied(await r.decide({ 'x-deployment-id': d1 }), address);
    await h.updateDeployment(d1, { environmentId: E2 });
    clock.advance(29_999);
    expectProxied(await r.decide({ 'x-deployment-id': d1 }), address); // fresh: no reload
    clock.advance(1); // 30 s: stale, served, refresh starts
    const stale = r.decide({ 'x-deployment-id': d1 });
    expect(stale).not.toBeInstanceOf(Promise); // never blocks once warm
    expectProxied(await stale, address);
    await settled(r, d1);
    expectError(await r.decide({ 'x-deployment-id': d1 }), 'err:unkey:not_found:deployment_not_found');
  });

  it('row 26: not-found deployments are negatively cached for the same windows', async () => {
    const d3 = uid('D3');
    const { r, clock } = router();
    expectError(await r.decide({ 'x-deployment-id': d3 }), 'err:unkey:not_found:deployment_not_found');
    await h.addDeployment({ id: d3, environmentId: E1 });
    await h.addInstance({ id: uid('i'), deploymentId: d3, region: R1, address: '127.0.0.1:9006', status: 'running' });
    clock.advance(29_999);
    expectError(await r.decide({ 'x-deployment-id': d3 }), 'err:unkey:not_found:deployment_not_found');
    clock.advance(1);
    expectError(await r.decide({ 'x-deployment-id': d3 }), 'err:unkey:not_found:deployment_not_found'); // stale null, refreshing
    await settled(r, d3);
    expectProxied(await r.decide({ 'x-deployment-id': d3 }), '127.0.0.1:9006');
  });

  it('row 27: the instance list is cached (fresh 10 s / stale 60 s), an empty list too', async () => {
    const d1 = uid('D1');
    await h.addDeployment({ id: d1, environmentId: E1 });
    const { r, clock } = router();
    expectError(await r.decide({ 'x-deployment-id': d1 }), 'err:unkey:service_unavailable:no_running_instances');
    await h.addInstance({ id: uid('i'), deploymentId: d1, region: R1, address: '127.0.0.1:9007', status: 'running' });
    clock.advance(9_999);
    expectError(await r.decide({ 'x-deployment-id': d1 }), 'err:unkey:service_unavailable:no_running_instances');
    clock.advance(1);
    expectError(await r.decide({ 'x-deployment-id': d1 }), 'err:unkey:service_unavailable:no_running_instances'); // stale, refreshing
    await settled(r, d1);
    expectProxied(await r.decide({ 'x-deployment-id': d1 }), '127.0.0.1:9007');
  });

  it('row 28: with the DB down, a warm cache keeps routing until the stale window ends; a cold lookup → 500 internal_server_error', async () => {
    const { d1, address } = await seedD1();
    const { r, clock, events } = router();
    expectProxied(await r.decide({ 'x-deployment-id': d1 }), address);
    await h.goDown();
    try {
      // instances expire first (stale 60 s); until then every request routes, refreshes failing in the background
      for (const atMs of [10_000, 30_000, 45_000, 59_999]) {
        clock.advance(atMs - clock.now());
        expectProxied(await r.decide({ 'x-deployment-id': d1 }), address);
        await settled(r, d1);
      }
      expect(events.some((e) => e.type === 'refresh_error')).toBe(true);
      clock.advance(1); // 60 s: the instance list is gone, the DB is still down
      expectError(await r.decide({ 'x-deployment-id': d1 }), 'err:unkey:internal_server_error:internal_server_error');
      expectError(await router().r.decide({ 'x-deployment-id': uid('cold') }), 'err:unkey:internal_server_error:internal_server_error');
      expect(events.some((e) => e.type === 'store_error')).toBe(true);
    } finally {
      await h.goUp();
    }
  });

  it('row 28: with the DB down, a warm deployment entry keeps routing until its 5 min stale window ends', async () => {
    const { d1, address } = await seedD1();
    const { r, clock } = router({ instanceCache: { freshMs: 10_000, staleMs: 600_000 } });
    expectProxied(await r.decide({ 'x-deployment-id': d1 }), address);
    await h.goDown();
    try {
      for (const atMs of [30_000, 150_000, 299_999]) {
        clock.advance(atMs - clock.now());
        expectProxied(await r.decide({ 'x-deployment-id': d1 }), address);
        await settled(r, d1);
      }
      clock.advance(1); // 300 s: the deployment entry is gone
      expectError(await r.decide({ 'x-deployment-id': d1 }), 'err:unkey:internal_server_error:internal_server_error');
    } finally {
      await h.goUp();
    }
  });

  it('row 29: DB errors are not negatively cached; once the DB is back the next request succeeds immediately', async () => {
    const { d1: d4, address } = await seedD1();
    const { r } = router();
    await h.goDown();
    try {
      expectError(await r.decide({ 'x-deployment-id': d4 }), 'err:unkey:internal_server_error:internal_server_error');
    } finally {
      await h.goUp();
    }
    expectProxied(await r.decide({ 'x-deployment-id': d4 }), address); // same router, same (fake) instant
  });

  it('row 30 (engine part): readiness fails while the DB is unreachable', async () => {
    const { r } = router();
    expect(await r.ready()).toBe(true);
    await h.goDown();
    try {
      expect(await r.ready()).toBe(false);
    } finally {
      await h.goUp();
    }
    expect(await r.ready()).toBe(true);
  });

  it('row 33 (engine part): an environment mismatch emits a warning event naming both environments', async () => {
    const d2 = uid('D2');
    await h.addDeployment({ id: d2, environmentId: E2 });
    const { r, events } = router();
    await r.decide({ 'x-deployment-id': d2 });
    expect(events).toContainEqual({ type: 'environment_mismatch', deploymentId: d2, deploymentEnvironmentId: E2, environmentId: E1 });
  });

  it('row 34: a misconfigured instance address → 500 invalid_configuration', async () => {
    const d1 = uid('D1');
    await h.addDeployment({ id: d1, environmentId: E1 });
    await h.addInstance({ id: uid('i'), deploymentId: d1, region: R1, address: '%%bad', status: 'running' });
    const { r, events } = router();
    expectError(await r.decide({ 'x-deployment-id': d1 }), 'err:unkey:internal_server_error:invalid_configuration');
    expect(events.some((e) => e.type === 'invalid_address' && e.address === '%%bad')).toBe(true);
  });
});
