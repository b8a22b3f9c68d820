// Active health checks through the real proxy: http checks (path, expected status range, Host
// header) and tcp checks take targets out of selection and put them back, the `ready` builtin
// follows (503 while an upstream a route uses has no available target), and the `upstreams`
// builtin and the health gauges report it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { call, eventually, metric } from '../helpers/http.ts';

const healthStatus: Record<string, number> = { a: 200, b: 200 };
const appHits: Record<string, number> = { a: 0, b: 0 };
const checkHosts = new Set<string>();

function app(name: 'a' | 'b') {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === '/health') {
      checkHosts.add(req.headers.host ?? '');
      res.writeHead(healthStatus[name] ?? 500);
      res.end();
      return;
    }
    appHits[name] = (appHits[name] ?? 0) + 1;
    res.end(name);
  };
}

let a: Upstream;
let b: Upstream;
let c: Upstream;
let proxy: SentinelProcess;
let port: number;

interface Status { upstreams: Record<string, { targets_available: number; targets: { target: string; health: string; available: boolean }[] }> }

async function status(): Promise<Status> {
  return JSON.parse((await call(port, '/_upstreams')).body) as Status;
}

async function healthOf(upstream: string, target: string): Promise<string | undefined> {
  return (await status()).upstreams[upstream]?.targets.find((t) => t.target === target)?.health;
}

beforeAll(async () => {
  a = await startUpstream(app('a'));
  b = await startUpstream(app('b'));
  c = await startUpstream((_req, res) => res.end('c'));
  proxy = await startSentinel(`
listeners { listener "main" { address "127.0.0.1:0" } }
routes {
  route "app" { matches { path-prefix "/app" }; upstream "app" }
  route "tcp" { matches { path-prefix "/tcp" }; upstream "tcp" }
  route "ready" { priority "critical"; matches { path "/ready" }; builtin-handler "ready" }
  route "status" { priority "critical"; matches { path "/_upstreams" }; builtin-handler "upstreams" }
}
upstreams {
  upstream "app" {
    target "${a.address}"; target "${b.address}"
    health-check {
      type "http" { path "/health"; expected-status "200-299"; host "health.internal" }
      interval-secs 0.1; timeout-secs 0.1; healthy-threshold 2; unhealthy-threshold 2
    }
  }
  upstream "tcp" {
    target "${c.address}"
    health-check { type "tcp"; interval-secs 0.1; timeout-secs 0.1; healthy-threshold 1; unhealthy-threshold 1; initial-state "unknown" }
  }
}
observability { metrics { enabled #true; address "127.0.0.1:0" }; logging { level "info"; access-log { enabled #false } } }
`, { listeners: ['main'], metrics: true });
  port = proxy.ports.get('main') as number;
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([a?.close(), b?.close(), c?.close()]);
});

describe('active health checks', () => {
  it('the proxy is ready once every used upstream has an available target; checks send the configured Host', async () => {
    await eventually('ready', async () => (await call(port, '/ready')).status === 200);
    expect(JSON.parse((await call(port, '/ready')).body)).toMatchObject({ status: 'ready' });
    await eventually('the unknown tcp target was checked', async () => (await healthOf('tcp', c.address)) === 'healthy');
    expect(checkHosts).toEqual(new Set(['health.internal']));
  });

  it('an http check failing (status outside the range) takes the target out; the others get its traffic', async () => {
    healthStatus.a = 503;
    await eventually('a is unhealthy', async () => (await healthOf('app', a.address)) === 'unhealthy');
    expect(await metric(proxy.metricsPort as number, `sentinel_upstream_target_healthy{upstream="app",target="${a.address}"}`)).toBe(0);
    expect(await metric(proxy.metricsPort as number, `sentinel_upstream_health_checks_total{upstream="app",target="${a.address}",result="fail"}`)).toBeGreaterThanOrEqual(2);
    appHits.a = 0;
    appHits.b = 0;
    for (let k = 0; k < 20; k++) expect((await call(port, '/app')).body).toBe('b');
    expect(appHits).toEqual({ a: 0, b: 20 });
  });

  it('with no healthy target: 503 UPSTREAM_NO_HEALTHY, and ready answers 503 naming the upstream', async () => {
    healthStatus.b = 500;
    await eventually('b is unhealthy', async () => (await healthOf('app', b.address)) === 'unhealthy');
    const r = await call(port, '/app');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'UPSTREAM_NO_HEALTHY' } });
    const ready = await call(port, '/ready');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'not_ready', unavailable_upstreams: ['app'] });
    expect(await metric(proxy.metricsPort as number, 'sentinel_upstream_unavailable_total{upstream="app",reason="no_healthy"}')).toBeGreaterThanOrEqual(1);
  });

  it('a target whose checks pass again comes back (after healthy-threshold checks) and ready recovers', async () => {
    healthStatus.a = 200;
    await eventually('ready again', async () => (await call(port, '/ready')).status === 200);
    expect((await call(port, '/app')).body).toBe('a');
    expect(await metric(proxy.metricsPort as number, `sentinel_upstream_target_healthy{upstream="app",target="${a.address}"}`)).toBe(1);
    healthStatus.b = 200;
    await eventually('b is healthy', async () => (await healthOf('app', b.address)) === 'healthy');
    const seen = new Set<string>();
    for (let k = 0; k < 6; k++) seen.add((await call(port, '/app')).body);
    expect(seen).toEqual(new Set(['a', 'b']));
  });

  it('a tcp check follows the listener: closed → unhealthy, back → healthy', async () => {
    const p = c.port;
    await c.close();
    await eventually('c is unhealthy', async () => (await healthOf('tcp', c.address)) === 'unhealthy');
    expect((await call(port, '/ready')).status).toBe(503);
    c = await startUpstream((_req, res) => res.end('c'), p);
    await eventually('c is healthy', async () => (await healthOf('tcp', c.address)) === 'healthy');
    expect((await call(port, '/tcp')).body).toBe('c');
    expect((await call(port, '/ready')).status).toBe(200);
  });
});
