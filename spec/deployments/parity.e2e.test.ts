// Unkey Sentinel parity (research note unkey-sentinel.md §8), end to end: the real binary, real
// loopback instances, and each store (the static store from KDL, the MySQL store over a real
// MariaDB). One test per checklist row, named after it; rows that cannot apply to a store, or need
// a feature the pipeline does not have yet, are skipped with the reason in their name.
//
// Setup per the checklist: environment E1, region R1; D1 in E1 and D2 in E2, each with a running
// instance in R1; one more deployment per row (e2e-harness.ts `buildFixture`). Routes are picked
// by Host: `main` (defaults), `slow` (1 s request, 0.5 s connect timeouts), `custom` (header and
// error-source names), `windows` (1 s fresh / 600 s stale caches), `outage` (0.2 s / 15 s).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEPLOYMENT_ERROR_TABLE } from '../../src/deployments/errors.ts';
import type { DeploymentErrorCode } from '../../src/deployments/errors.ts';
import { runSentinel, startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { startMariaDb } from '../helpers/mariadb.ts';
import type { MariaDbHandle } from '../helpers/mariadb.ts';
import { SCHEMA_SQL } from './harness.ts';
import {
  D, E1, E2, HOSTS, OUTAGE, R1, WINDOWS, buildFixture, closeClient, eventually, insertDeployment, insertInstance, mysqlStoreKdl, proxyConfig,
  scrape, seedMysql, send, seriesValue, startInstances, staticStoreKdl, stopInstances,
} from './e2e-harness.ts';
import type { Echoed, Fixture, Instances, Reply } from './e2e-harness.ts';

type StoreKind = 'static' | 'mysql';

/** Row 12, checked on every error response: exactly {"error":{"code","message"}}, JSON, the error-source header. */
function expectParity(r: Reply, code: DeploymentErrorCode, source: [string, string] = ['x-unkey-error-source', 'sentinel']): void {
  const spec = DEPLOYMENT_ERROR_TABLE[code];
  expect(r.status, r.body.toString()).toBe(spec.status);
  expect(r.headers['content-type']).toBe('application/json');
  expect(r.headers[source[0]]).toBe(source[1]);
  const body = JSON.parse(r.body.toString('utf8')) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error)).toEqual(['code', 'message']);
  expect(body.error).toEqual({ code, message: spec.message });
}

function echoed(r: Reply): Echoed {
  expect(r.status, r.body.toString()).toBe(200);
  expect(r.headers['x-stub']).toBe('echo');
  return JSON.parse(r.body.toString('utf8')) as Echoed;
}

const STORES: readonly [string, StoreKind][] = [['static store', 'static'], ['mysql store (real MariaDB)', 'mysql']];

afterAll(() => closeClient());

describe.each(STORES)('Unkey Sentinel parity through the running proxy, %s', (_name, kind) => {
  let inst: Instances;
  let fixture: Fixture;
  let db: MariaDbHandle | null = null;
  let proxy: SentinelProcess;
  let port = 0;
  let metricsPort = 0;

  beforeAll(async () => {
    inst = await startInstances();
    fixture = buildFixture(inst);
    if (kind === 'mysql') {
      db = await startMariaDb({ initSql: SCHEMA_SQL });
      await seedMysql(db, fixture);
    }
    proxy = await startSentinel(proxyConfig(storeKdl()), { listeners: ['edge'], metrics: true });
    port = proxy.ports.get('edge') as number;
    metricsPort = proxy.metricsPort as number;
  });

  afterAll(async () => {
    await proxy?.stop();
    await stopInstances(inst);
    db?.thaw();
    await db?.destroy();
  });

  function storeKdl(): string {
    return kind === 'static' ? staticStoreKdl(fixture) : mysqlStoreKdl(db as MariaDbHandle);
  }

  /** A request on a route (by Host) with a deployment id (none when undefined). */
  function call(id: string | undefined, o: { host?: string; method?: string; path?: string; headers?: Record<string, string>; body?: Buffer; fresh?: boolean } = {}): Promise<Reply> {
    return send(port, {
      method: o.method,
      path: o.path,
      body: o.body,
      fresh: o.fresh,
      headers: { host: o.host ?? HOSTS.main, ...(id !== undefined ? { 'X-Deployment-Id': id } : {}), ...o.headers },
    });
  }

  /** Static store: data changes only by a reload (SIGHUP), which applies at once. */
  async function reloadStatic(): Promise<void> {
    const count = (): number => proxy.stderr().split('\n').filter((l) => l.includes('"msg":"config reloaded"')).length;
    const before = count();
    writeFileSync(join(proxy.dir, 'sentinel.kdl'), proxyConfig(storeKdl()));
    proxy.child.kill('SIGHUP');
    await eventually('the reload', async () => (count() > before ? true : undefined));
  }

  function accessRecords(): Record<string, unknown>[] {
    return proxy.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  const skipStatic = kind === 'static' ? it.skip : it;

  it('row 1: every method and path (outside /_unkey/internal) is proxied with method, path and query unchanged', async () => {
    const e = echoed(await call(D.d1, { method: 'PATCH', path: '/a/b/c?x=1&y=2' }));
    expect([e.method, e.url]).toEqual(['PATCH', '/a/b/c?x=1&y=2']);
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PURGE']) {
      const r = echoed(await call(D.d1, { method, path: `/m/${method.toLowerCase()}?q=%20x` }));
      expect([r.method, r.url]).toEqual([method, `/m/${method.toLowerCase()}?q=%20x`]);
    }
    const head = await call(D.d1, { method: 'HEAD', path: '/h' });
    expect(head.status).toBe(200);
  });

  it('row 2: a missing or empty X-Deployment-Id → 400 missing_required_header, the instance receives nothing', async () => {
    const seen = inst.echo.seen.length;
    expectParity(await call(undefined), 'err:user:bad_request:missing_required_header');
    expectParity(await call(''), 'err:user:bad_request:missing_required_header');
    expect(inst.echo.seen.length).toBe(seen);
  });

  it('row 3: the header name is case-insensitive', async () => {
    for (const name of ['x-deployment-id', 'X-DEPLOYMENT-ID', 'x-DePlOyMeNt-Id']) {
      echoed(await send(port, { headers: { host: HOSTS.main, [name]: D.d1 } }));
    }
    // a configured header name too
    echoed(await send(port, { headers: { host: HOSTS.custom, 'x-my-deploy': D.d1 } }));
  });

  it('row 4: an unknown deployment → 404 deployment_not_found', async () => {
    expectParity(await call('D_random_404'), 'err:unkey:not_found:deployment_not_found');
  });

  it('row 5: a deployment in another environment is masked as not found (status, headers and body bytes identical)', async () => {
    const masked = await call(D.d2);
    const unknown = await call('D_random_404b');
    expectParity(masked, 'err:unkey:not_found:deployment_not_found');
    expect(masked.status).toBe(unknown.status);
    expect(masked.body.equals(unknown.body)).toBe(true);
    const comparable = (r: Reply): string[] => {
      const out: string[] = [];
      for (let i = 0; i < r.rawHeaders.length; i += 2) {
        const name = (r.rawHeaders[i] as string).toLowerCase();
        if (name !== 'date' && name !== 'x-request-id') out.push(name, r.rawHeaders[i + 1] as string);
      }
      return out;
    };
    expect(comparable(masked)).toEqual(comparable(unknown));
  });

  it('row 6: only the environment is checked; a stopped deployment with a running instance is proxied', async () => {
    echoed(await call(D.stopped));
  });

  it('row 7: only instances in the proxy region are eligible (running only in R2 → 503 no_running_instances)', async () => {
    const seen = inst.echo.seen.length;
    expectParity(await call(D.r2), 'err:unkey:service_unavailable:no_running_instances');
    expect(inst.echo.seen.length).toBe(seen);
  });

  it('row 8: only status=running instances are eligible (pending, failed, inactive → 503)', async () => {
    expectParity(await call(D.notRunning), 'err:unkey:service_unavailable:no_running_instances');
  });

  it('row 9: no instances at all → the same 503 no_running_instances', async () => {
    expectParity(await call(D.empty), 'err:unkey:service_unavailable:no_running_instances');
  });

  it('row 10: uniform random choice among running instances (3000 requests, chi-square p > 1e-6), non-running never picked', { timeout: 180_000 }, async () => {
    const before = inst.uniform.map((u) => u.seen.length);
    const counts = new Map<string, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < 3000) {
        next++;
        const r = await call(D.uniform);
        expect(r.status).toBe(200);
        const who = r.body.toString();
        counts.set(who, (counts.get(who) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect([...counts.keys()].sort()).toEqual(['u0', 'u1', 'u2']);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(3000);
    const chiSquare = ['u0', 'u1', 'u2'].reduce((sum, k) => sum + ((counts.get(k) ?? 0) - total / 3) ** 2 / (total / 3), 0);
    // 2 degrees of freedom: 27.63 is p = 1e-6, so a uniform picker fails this once in a million runs,
    // while a 50/25/25 split scores about 375.
    expect(chiSquare).toBeLessThan(27.63);
    expect(inst.uniform.slice(3).map((u, i) => u.seen.length - (before[i + 3] as number))).toEqual([0, 0]);
  });

  it('row 11: one attempt, no retry: with one of two instances refusing, about half the requests get 503 service_unavailable', { timeout: 120_000 }, async () => {
    const goodBefore = inst.good.seen.length;
    let ok = 0;
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const r = await call(D.half);
      if (r.status === 200) {
        expect(r.body.toString()).toBe('good');
        ok++;
      } else {
        expectParity(r, 'err:unkey:service_unavailable:service_unavailable');
        refused++;
      }
    }
    expect(ok + refused).toBe(400);
    // Binomial(400, 0.5): [120, 280] is ±8 standard deviations. A retry would make every request succeed.
    expect(refused).toBeGreaterThanOrEqual(120);
    expect(refused).toBeLessThanOrEqual(280);
    expect(inst.good.seen.length - goodBefore).toBe(ok); // the good instance never got a retried request
  });

  it('row 12: every error is exactly {"error":{"code","message"}} with Content-Type application/json and the error-source header (name and value configurable)', async () => {
    expectParity(await call(undefined), 'err:user:bad_request:missing_required_header');
    expectParity(await call('nope'), 'err:unkey:not_found:deployment_not_found');
    expectParity(await call(D.empty), 'err:unkey:service_unavailable:no_running_instances');
    expectParity(await call(D.bad), 'err:unkey:internal_server_error:invalid_configuration');
    expectParity(await call(D.refused), 'err:unkey:service_unavailable:service_unavailable');
    expectParity(await call(D.reset), 'err:unkey:bad_gateway:bad_sentinel');
    const custom = await send(port, { headers: { host: HOSTS.custom, 'x-my-deploy': 'nope' } });
    expectParity(custom, 'err:unkey:not_found:deployment_not_found', ['x-acme-error-source', 'edge']);
    expect(custom.headers['x-unkey-error-source']).toBeUndefined();
  });

  it('row 13: upstream connection refused → 503 service_unavailable (DNS failures map the same way; not exercised: no DNS off loopback)', async () => {
    expectParity(await call(D.refused), 'err:unkey:service_unavailable:service_unavailable');
  });

  it('row 14: the instance resets the connection before a response → 502 bad_sentinel', async () => {
    expectParity(await call(D.reset), 'err:unkey:bad_gateway:bad_sentinel');
  });

  it('row 15: upstream connect timeout (connect-timeout-secs 0.5, a blackholed listener) → 504 sentinel_timeout', async () => {
    expectParity(await call(D.blackhole, { host: HOSTS.slow }), 'err:unkey:gateway_timeout:sentinel_timeout');
  });

  it('row 16: the request deadline (request-timeout-secs 1) ends a hanging instance with 504 sentinel_timeout (divergence: Sentinel V2 answers 500)', async () => {
    const seen = inst.hang.seen.length;
    expectParity(await call(D.hang, { host: HOSTS.slow }), 'err:unkey:gateway_timeout:sentinel_timeout');
    expect(inst.hang.seen.length).toBe(seen + 1);
  });

  it('row 17: a client abort cancels the upstream request and is accounted as 499 client_closed_request in logs and metrics', async () => {
    const labels = { route: 'main', region: R1, status: '499', error_type: 'user' };
    const before = seriesValue(await scrape(metricsPort), 'sentinel_deployments_requests_total', labels);
    const requestId = `abort-${kind}-${Date.now()}`;
    const upstream = new Promise<{ req: IncomingMessage; res: ServerResponse }>((resolve) => {
      inst.hold.handler = (req, res) => resolve({ req, res });
    });
    const client = httpRequest({ host: '127.0.0.1', port, path: '/slow', agent: false, headers: { host: HOSTS.main, 'x-deployment-id': D.hold, 'x-request-id': requestId } });
    client.on('error', () => undefined);
    client.end();
    const { res } = await upstream;
    const cancelled = new Promise<void>((resolve) => res.once('close', () => resolve()));
    client.destroy();
    await cancelled; // the instance sees its request go away
    expect(res.writableFinished).toBe(false);
    const record = await eventually('the access-log record', async () => accessRecords().find((r) => r.request_id === requestId));
    expect(record).toMatchObject({ status: 499, error_code: 'CLIENT_CLOSED_REQUEST', error_type: 'user', deployment_id: D.hold });
    await eventually('the 499 metric', async () => {
      const after = seriesValue(await scrape(metricsPort), 'sentinel_deployments_requests_total', labels);
      return after === before + 1 ? true : undefined;
    });
  });

  it('row 18: an upstream 503 passes through untouched (status, reason, headers, body; no Sentinel JSON, no error-source header)', async () => {
    const r = await call(D.passthrough);
    expect(r.status).toBe(503);
    expect(r.body.toString()).toBe('upstream says no');
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.headers['x-custom']).toBe('kept');
    expect(r.headers['retry-after']).toBe('7');
    expect(r.headers['x-unkey-error-source']).toBeUndefined();
  });

  it('row 19: Host preserved, X-Forwarded-Host = original host, X-Forwarded-Proto = http, X-Forwarded-For gets the client once (divergence: not doubled), the deployment header is not forwarded (divergence)', async () => {
    const e = echoed(await call(D.d1, { headers: { 'x-forwarded-for': '203.0.113.7' } }));
    expect(e.headers.host).toBe(HOSTS.main);
    expect(e.headers['x-forwarded-host']).toBe(HOSTS.main);
    expect(e.headers['x-forwarded-proto']).toBe('http');
    expect(e.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(e.headers['x-deployment-id']).toBeUndefined();
  });

  it('row 20: hop-by-hop headers (and those named in Connection) are stripped towards the instance', async () => {
    const e = echoed(await call(D.d1, { headers: { connection: 'keep-alive, foo', foo: '1', 'keep-alive': 'timeout=5', te: 'trailers', bar: 'kept' } }));
    expect(e.headers.foo).toBeUndefined();
    expect(e.headers['keep-alive']).toBeUndefined();
    expect(e.headers.te).toBeUndefined();
    expect(e.headers.bar).toBe('kept');
  });

  it('row 20 (WebSocket part, a divergence): an Upgrade to a deployment is served as plain HTTP, never switched or tunnelled, and the instance sees no Upgrade', async () => {
    const r = await new Promise<{ status: number; body: string; upgraded: boolean }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/ws', agent: false, headers: {
        host: HOSTS.main, 'x-deployment-id': D.d1, connection: 'Upgrade', upgrade: 'websocket',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13',
      } });
      req.on('upgrade', (_res, socket) => { socket.destroy(); resolve({ status: 101, body: '', upgraded: true }); });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, upgraded: false }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(r.upgraded).toBe(false);
    expect(r.status, r.body).toBe(200);
    const e = JSON.parse(r.body) as Echoed;
    expect(e.headers.upgrade).toBeUndefined();
  });

  it('row 21: streaming: the first response chunk reaches the client before the instance finishes; request bodies stream too (V1/V2 buffered them)', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => { release = r; });
    inst.stream.handler = (req, res) => {
      if (req.method === 'POST') {
        let bytes = 0;
        req.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes === 5) res.write('got-first-part;'); // seen before the client sent the rest
        });
        req.on('end', () => res.end(`total=${bytes}`));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('first;');
      void released.then(() => res.end('second'));
    };
    // Response: the instance holds its second chunk until the client has the first one.
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/sse', agent: false, headers: { host: HOSTS.main, 'x-deployment-id': D.stream } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
          if (text === 'first;') release();
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    expect(body).toBe('first;second');
    // Request body: the client sends its second part only after the instance answered to the first.
    const upload = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/upload', agent: false, headers: { host: HOSTS.main, 'x-deployment-id': D.stream, 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
          if (text === 'got-first-part;') req.end('67890');
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.flushHeaders();
      req.write('12345');
    });
    expect(upload).toBe('got-first-part;total=10');
  });

  it('row 22: an inbound X-Unkey-Principal is always stripped', async () => {
    const e = echoed(await call(D.d1, { headers: { 'X-Unkey-Principal': '{"spoofed":true}' } }));
    expect(e.headers['x-unkey-principal']).toBeUndefined();
  });

  it('row 23: a successful response carries X-Unkey-Timing with a parseable sentinel entry', async () => {
    const r = await call(D.d1);
    expect(r.status).toBe(200);
    const timing = String(r.headers['x-unkey-timing']);
    const m = /(?:^|, )sentinel\{scope=sentinel\}=([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s)(?:,|$)/.exec(timing);
    expect(m, timing).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThan(0);
    expect(timing).toMatch(/instance\{scope=sentinel\}=[0-9.]+(ns|us|ms|s)/);
  });

  it('row 24: h2c to the instance when the deployment says upstream_protocol=h2c, HTTP/1.1 otherwise', async () => {
    const r = await call(D.h2c);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('h2c 2.0');
    const before = inst.h2c.requests;
    expectParity(await call(D.h2cAsHttp1), 'err:unkey:bad_gateway:bad_sentinel');
    expect(inst.h2c.requests).toBe(before);
  });

  if (kind === 'static') {
    it('row 25 (static store: data changes only by a reload, which applies at once): a deployment moved to E2 answers 404 after the reload', async () => {
      echoed(await call(D.move));
      (fixture.deployments.find((d) => d.id === D.move) as Fixture['deployments'][number]).environmentId = E2;
      await reloadStatic();
      expectParity(await call(D.move), 'err:unkey:not_found:deployment_not_found');
    });

    it('row 26 (static store: applies at reload): a deployment added by a reload is served at once', async () => {
      expectParity(await call(D.added), 'err:unkey:not_found:deployment_not_found');
      fixture.deployments.push({ id: D.added, environmentId: E1 });
      fixture.instances.push({ id: 'i_added', deploymentId: D.added, region: R1, address: inst.echo.address, status: 'running' });
      await reloadStatic();
      echoed(await call(D.added));
    });

    it('row 27 (static store: applies at reload): an instance added by a reload is used at once', async () => {
      expectParity(await call(D.grows), 'err:unkey:service_unavailable:no_running_instances');
      fixture.instances.push({ id: 'i_grows', deploymentId: D.grows, region: R1, address: inst.echo.address, status: 'running' });
      await reloadStatic();
      echoed(await call(D.grows));
    });
  } else {
    it(`row 25: the deployment lookup is cached; a change is invisible within the fresh window (${WINDOWS.freshSecs} s here), then the refreshed entry answers 404`, async () => {
      const t0 = Date.now();
      echoed(await call(D.move, { host: HOSTS.windows }));
      await (db as MariaDbHandle).query('UPDATE deployments SET environment_id = ? WHERE id = ?', [E2, D.move]);
      echoed(await call(D.move, { host: HOSTS.windows })); // fresh, or the first stale hit: served, refresh starts
      await eventually('the refreshed entry', async () => ((await call(D.move, { host: HOSTS.windows })).status === 404 ? true : undefined));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(WINDOWS.freshSecs * 1000); // never before the fresh window ended
      expectParity(await call(D.move, { host: HOSTS.windows }), 'err:unkey:not_found:deployment_not_found');
    });

    it('row 26: not-found deployments are negatively cached for the same windows', async () => {
      const t0 = Date.now();
      expectParity(await call(D.added, { host: HOSTS.windows }), 'err:unkey:not_found:deployment_not_found');
      await insertDeployment(db as MariaDbHandle, { id: D.added, environmentId: E1 });
      await insertInstance(db as MariaDbHandle, { id: 'i_added', deploymentId: D.added, region: R1, address: inst.echo.address, status: 'running' });
      expectParity(await call(D.added, { host: HOSTS.windows }), 'err:unkey:not_found:deployment_not_found');
      await eventually('the new deployment', async () => ((await call(D.added, { host: HOSTS.windows })).status === 200 ? true : undefined));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(WINDOWS.freshSecs * 1000);
    });

    it('row 27: the instance list is cached, an empty one too: 503 persists until the fresh window ends, then 200', async () => {
      const t0 = Date.now();
      expectParity(await call(D.grows, { host: HOSTS.windows }), 'err:unkey:service_unavailable:no_running_instances');
      await insertInstance(db as MariaDbHandle, { id: 'i_grows', deploymentId: D.grows, region: R1, address: inst.echo.address, status: 'running' });
      expectParity(await call(D.grows, { host: HOSTS.windows }), 'err:unkey:service_unavailable:no_running_instances');
      await eventually('the new instance', async () => ((await call(D.grows, { host: HOSTS.windows })).status === 200 ? true : undefined));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(WINDOWS.freshSecs * 1000);
    });
  }

  skipStatic(`row 28${kind === 'static' ? ' (skipped for the static store: it has no database to lose)' : ''}: with the database down a warm cache keeps routing until the stale window ends (${OUTAGE.staleSecs} s here); a cold lookup → 500 internal_server_error`, { timeout: 120_000 }, async () => {
    const h = db as MariaDbHandle;
    const tWarm = Date.now();
    echoed(await call(D.outage, { host: HOSTS.outage }));
    await h.stop();
    try {
      echoed(await call(D.outage, { host: HOSTS.outage })); // stale, refreshes failing in the background
      expectParity(await call(D.flaky, { host: HOSTS.outage }), 'err:unkey:internal_server_error:internal_server_error');
      let served = 0;
      const firstFailure = await eventually('the end of the stale window', async () => {
        const r = await call(D.outage, { host: HOSTS.outage });
        if (r.status === 200) { served++; return undefined; }
        expectParity(r, 'err:unkey:internal_server_error:internal_server_error');
        return Date.now();
      }, 90_000, 250);
      expect(served).toBeGreaterThan(0);
      // The entries were stored no earlier than tWarm, so they cannot expire before tWarm + stale.
      expect(firstFailure - tWarm).toBeGreaterThanOrEqual(OUTAGE.staleSecs * 1000 - 50);
    } finally {
      await h.start();
    }
  });

  skipStatic(`row 29${kind === 'static' ? ' (skipped for the static store: it has no database to lose)' : ''}: database errors are not negatively cached; once the database is back the next request succeeds`, { timeout: 60_000 }, async () => {
    const h = db as MariaDbHandle;
    await h.stop();
    try {
      expectParity(await call(D.flaky), 'err:unkey:internal_server_error:internal_server_error');
    } finally {
      await h.start();
    }
    echoed(await call(D.flaky));
  });

  it(`row 30: /_unkey/internal/health* is answered by the proxy, never proxied; readiness ${kind === 'mysql' ? 'fails (503) while the database is unreachable' : 'is always ready (static store: nothing to reach)'}`, { timeout: 60_000 }, async () => {
    const seen = inst.echo.seen.length;
    const v1 = await call(undefined, { path: '/_unkey/internal/health' });
    expect([v1.status, v1.body.toString()]).toEqual([200, 'OK']);
    for (const p of ['live', 'startup', 'ready']) {
      const r = await call(D.d1, { path: `/_unkey/internal/health/${p}` });
      expect([r.status, JSON.parse(r.body.toString())]).toEqual([200, { status: 'ok' }]);
    }
    expect((await call(D.d1, { path: '/_unkey/internal/other' })).status).toBe(404);
    expect((await call(D.d1, { path: '/_unkey/internal/health/ready', method: 'POST' })).status).toBe(405);
    expect(inst.echo.seen.length).toBe(seen);
    if (kind === 'mysql') {
      const h = db as MariaDbHandle;
      await h.stop();
      try {
        const down = await eventually('readiness to fail', async () => {
          const r = await call(undefined, { path: '/_unkey/internal/health/ready' });
          return r.status === 503 ? r : undefined;
        });
        expect(JSON.parse(down.body.toString())).toEqual({ status: 'fail', checks: { store: 'unavailable' } });
        expect((await call(undefined, { path: '/_unkey/internal/health/live' })).status).toBe(200);
      } finally {
        await h.start();
      }
      await eventually('readiness to recover', async () => ((await call(undefined, { path: '/_unkey/internal/health/ready' })).status === 200 ? true : undefined));
    }
  });

  it('row 31: config: environment-id and region are required; starting without either fails with a clear message (file, line, hint)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-deployments-'));
    try {
      const file = join(dir, 'bad.kdl');
      writeFileSync(file, `listeners { listener "edge" { address "127.0.0.1:0" } }
routes { route "main" { matches { path-prefix "/" }; deployments { ${storeKdl()} } } }
`);
      const r = await runSentinel(['run', '-c', file]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('route "main" deployments has no "environment-id"');
      expect(r.stderr).toContain('route "main" deployments has no "region"');
      expect(r.stderr).toContain(`${file}:2:`);
      expect(r.stderr).toContain('hint:');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('row 32: metrics: requests by status, error_type and region, routing and upstream counters (after rows 2, 4 and 13)', async () => {
    const series = [
      ['sentinel_deployments_requests_total', { route: 'main', region: R1, status: '400', error_type: 'user' }],
      ['sentinel_deployments_requests_total', { route: 'main', region: R1, status: '404', error_type: 'platform' }],
      ['sentinel_deployments_requests_total', { route: 'main', region: R1, status: '503', error_type: 'customer' }],
      ['sentinel_deployments_requests_total', { route: 'main', region: R1, status: '200', error_type: 'none' }],
      ['sentinel_deployments_routing_total', { route: 'main', outcome: 'missing_header' }],
      ['sentinel_deployments_routing_total', { route: 'main', outcome: 'not_found' }],
      ['sentinel_deployments_routing_total', { route: 'main', outcome: 'proxied' }],
      ['sentinel_deployments_upstream_responses_total', { route: 'main', status_class: '2xx' }],
      ['sentinel_errors_total', { code: 'UPSTREAM_CONNECT_FAILED' }],
      ['sentinel_deployments_request_duration_seconds_count', { route: 'main', region: R1, error_type: 'none' }],
    ] as const;
    const read = async (): Promise<number[]> => {
      const text = await scrape(metricsPort);
      return series.map(([name, labels]) => seriesValue(text, name, labels));
    };
    const before = await read();
    await call(undefined); // row 2
    await call('D_unknown_32'); // row 4
    await call(D.refused); // row 13
    await call(D.d1);
    const after = await eventually('the counters', async () => {
      const v = await read();
      return v.every((x, i) => x >= (before[i] as number) + 1) ? v : undefined;
    });
    expect(after.map((x, i) => x - (before[i] as number))).toEqual([1, 1, 1, 1, 1, 1, 2, 1, 1, 1]);
    const text = await scrape(metricsPort);
    expect(seriesValue(text, 'sentinel_deployments_store_queries_total', { store: kind, operation: 'get_deployment', result: 'ok' })).toBeGreaterThan(0);
    expect(seriesValue(text, 'sentinel_deployments_cache_lookups_total', { cache: 'deployment', result: 'fresh' })).toBeGreaterThan(0);
    expect(seriesValue(text, 'sentinel_deployments_instance_pools', {})).toBeGreaterThan(0);
  });

  it('row 33: a request log per request (status, error_type, duration, environment, region) and a warning naming both environments on a mismatch', async () => {
    const r = await call(D.d2);
    const requestId = String(r.headers['x-request-id']);
    const record = await eventually('the access-log record', async () => accessRecords().find((x) => x.request_id === requestId));
    expect(record).toMatchObject({ status: 404, error_code: 'DEPLOYMENT_NOT_FOUND', error_type: 'platform', environment_id: E1, region: R1, deployment_id: D.d2, route: 'main' });
    expect(typeof record.duration_ms).toBe('number');
    const warning = await eventually('the mismatch warning', async () => proxy.stderr().split('\n').filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>).find((x) => x.request_id === requestId && x.level === 40));
    expect(warning).toMatchObject({ audit: true, component: 'deployments', action: 'reject', deployment_id: D.d2, deployment_environment_id: E2, environment_id: E1 });
    const ok = await call(D.d1);
    const okRecord = await eventually('the success record', async () => accessRecords().find((x) => x.request_id === ok.headers['x-request-id']));
    expect(okRecord).toMatchObject({ status: 200, error_type: 'none', environment_id: E1, region: R1, deployment_id: D.d1, upstream: `deployments:${E1}` });
    expect(okRecord.instance_address).toBe(inst.echo.address);
  });

  it('row 34: a misconfigured instance address → 500 invalid_configuration', async () => {
    expectParity(await call(D.bad), 'err:unkey:internal_server_error:invalid_configuration');
  });
});
