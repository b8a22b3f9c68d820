// Builtin handlers, black-box: health (liveness), status and metrics answer locally, read-only,
// uncached, with the route's response headers; not-found is a 404. (`ready` and `upstreams` have
// their own tests with the upstream health work.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import { parseHeads, rawExchange, startProxy, stopAll } from './raw.ts';

let proxy: SentinelProcess;
let port: number;

beforeAll(async () => {
  ({ proxy, port } = await startProxy(`
routes {
  route "health" { priority "critical"; matches { path "/health" }; builtin-handler "health" }
  route "status" { matches { path "/status" }; builtin-handler "status" }
  route "metrics" { matches { path "/metrics" }; builtin-handler "metrics" }
  route "gone" { matches { path-prefix "/gone" }; builtin-handler "not-found" }
}
`));
}, 60_000);

afterAll(() => stopAll(proxy));

async function one(method: string, path: string) {
  const r = await rawExchange(port, `${method} ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n${method === 'POST' ? 'Content-Length: 2\r\n\r\n{}' : '\r\n'}`);
  const heads = parseHeads(r.text);
  expect(heads.length, r.text).toBe(1);
  return heads[0] as { status: number; headers: Record<string, string>; body: string };
}

describe('builtin handlers', () => {
  it('health: 200 {"status":"ok"}, JSON, not cacheable, with the default security headers', async () => {
    const r = await one('GET', '/health');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ status: 'ok' });
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-request-id']).toBeDefined();
  });

  it('health: HEAD gets the head and no body', async () => {
    const r = await one('HEAD', '/health');
    expect(r.status).toBe(200);
    expect(Number(r.headers['content-length'])).toBeGreaterThan(0);
    expect(r.body).toBe('');
  });

  it('builtin answers are read-only: other methods get 405 with Allow', async () => {
    for (const path of ['/health', '/status', '/metrics']) {
      const r = await one('POST', path);
      expect(r.status, path).toBe(405);
      expect(r.headers['allow']).toBe('GET, HEAD');
    }
  });

  it('status: version, uptime, generation, config hash, listeners, routes and upstreams', async () => {
    const r = await one('GET', '/status');
    expect(r.status).toBe(200);
    const s = JSON.parse(r.body) as Record<string, unknown>;
    expect(s['name']).toBe('sentinel');
    expect(s['version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(s['generation']).toBe(1);
    expect(s['config_hash']).toMatch(/^[0-9a-f]+$/);
    expect(s['listeners']).toEqual(['main']);
    expect(s['routes']).toBe(4);
    expect(s['upstreams']).toEqual([]);
    expect(typeof s['uptime_secs']).toBe('number');
  });

  it('metrics: the Prometheus text format, counting the requests answered so far', async () => {
    await one('GET', '/health');
    const r = await one('GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.body).toMatch(/^sentinel_requests_total\{route="health",method="GET",status="200"\} [1-9]\d*$/m);
    expect(r.body).toContain('sentinel_limits_triggered_total{listener="main",limit="body_bytes"} 0');
  });

  it('not-found: 404 ROUTE_NOT_FOUND for any method', async () => {
    for (const m of ['GET', 'POST']) {
      const r = await one(m, '/gone/x');
      expect(r.status).toBe(404);
      expect(r.body).toContain('ROUTE_NOT_FOUND');
    }
  });
});
