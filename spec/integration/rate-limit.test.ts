// The rate-limit filter in a running proxy (in-process, real sockets, a real loopback upstream):
// reject with its headers and audit records, delay with its bounded queue and bounded wait,
// log-only, keys (trusted X-Forwarded-For, missing parts), the listener's global limit before
// routing, state kept across reloads, and a Redis-backed filter when Redis is unreachable.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfigText } from '../../src/config/load.ts';
import { configHash } from '../../src/config/hash.ts';
import type { Config } from '../../src/config/types.ts';
import { Logs } from '../../src/observability/log.ts';
import { startProxy } from '../../src/server/proxy-server.ts';
import type { RunningProxy } from '../../src/server/proxy-server.ts';
import { startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { closedPort } from '../helpers/upstream.ts';

interface Reply { status: number; headers: IncomingHttpHeaders; body: string }

let upstream: Upstream;
const running: RunningProxy[] = [];

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.end('ok'));
});
afterAll(async () => {
  await upstream.close();
});
const cleanupDirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.shutdown()));
  for (const d of cleanupDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function load(text: string): Config {
  const r = loadConfigText(text, 'rate-limit.kdl');
  if (r.config === null) throw new Error(r.diagnostics.map((d) => `${d.line}: ${d.message}`).join('\n'));
  return r.config;
}

function configText(filters: string, opts: { listener?: string; routeFilters?: string } = {}): string {
  return `
listeners { listener "main" { address "127.0.0.1:0"; ${opts.listener ?? ''} } }
routes {
  route "app" { matches { path-prefix "/app" }; ${opts.routeFilters ?? 'filters "rl"'}; upstream "app" }
}
upstreams { upstream "app" { target "${upstream.address}" } }
filters { ${filters} }
observability { metrics { enabled #false }; logging { level "info"; access-log { enabled #false } } }
`;
}

interface Started {
  proxy: RunningProxy;
  port: number;
  /** The process log's records. */
  logs: Record<string, unknown>[];
  /** The audit log's records (its own file), as written so far. */
  audits(): Record<string, unknown>[];
  /** A config for reloading this proxy (the same audit log: changing it needs a restart). */
  config(text: string): Config;
}

async function start(text: string): Promise<Started> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-rl-'));
  const auditFile = join(dir, 'audit.log');
  const withAudit = (t: string): Config => load(t.replace('access-log { enabled #false }', `access-log { enabled #false }; audit-log { file "${auditFile}" }`));
  const config = withAudit(text);
  const proxy = await startProxy({ config, configHash: configHash(config), version: 'test', logger: pino({ level: 'info' }, sink), logs: new Logs('silent') });
  running.push(proxy);
  cleanupDirs.push(dir);
  const audits = (): Record<string, unknown>[] => {
    let text = '';
    try { text = readFileSync(auditFile, 'utf8'); } catch { /* not written yet */ }
    return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.component === 'rate-limit');
  };
  return { proxy, port: proxy.listeners[0]!.port, logs, audits, config: withAudit };
}

/** The rate-limit audit records once `n` of them are written (the audit file is written asynchronously). */
async function auditsOf(s: Started, n: number): Promise<Record<string, unknown>[]> {
  await expect.poll(() => s.audits().length, { timeout: 5000 }).toBe(n);
  return s.audits();
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function sequential(port: number, path: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(port, path, headers)).status);
  return out;
}

async function metricValue(proxy: RunningProxy, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await proxy.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const v = (metric?.values ?? []).find((x) => Object.entries(labels).every(([k, want]) => String((x.labels as Record<string, unknown>)[k]) === want));
  return v === undefined ? 0 : Number(v.value);
}

describe('reject', () => {
  it('admits the burst, then answers 429 with Retry-After, RateLimit headers, the X-RateLimit trio, the configured message; audits and counts each', async () => {
    // 0.01 token/s: no refill during the test, so the burst is the exact quota
    const started = await start(configText('filter "rl" { type "rate-limit"; max-rps 0.01; burst 3; legacy-headers #true; message "Slow down." }'));
    const { proxy, port } = started;
    expect(await sequential(port, '/app', 3)).toEqual([200, 200, 200]);
    const r = await get(port, '/app');
    expect(r.status).toBe(429);
    expect(JSON.parse(r.body)).toEqual({ error: { code: 'RATE_LIMITED', message: 'Slow down.', request_id: r.headers['x-request-id'] } });
    expect(r.headers['content-type']).toBe('application/json');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(r.headers['ratelimit-policy']).toBe('"rl";q=3;w=300');
    expect(r.headers['ratelimit']).toMatch(/^"rl";r=0;t=\d+$/);
    expect(r.headers['x-ratelimit-limit']).toBe('3');
    expect(r.headers['x-ratelimit-remaining']).toBe('0');
    expect(upstream.seen.filter((s) => s.url === '/app').length).toBeGreaterThanOrEqual(3);
    const a = await auditsOf(started, 1);
    expect(a[0]).toMatchObject({ action: 'reject', decided_by: 'rl', status: 429, route: 'app', client_ip: '127.0.0.1', request_id: r.headers['x-request-id'] });
    expect(await metricValue(proxy, 'sentinel_ratelimit_decisions_total', { filter: 'rl', outcome: 'allowed', source: 'local' })).toBe(3);
    expect(await metricValue(proxy, 'sentinel_ratelimit_decisions_total', { filter: 'rl', outcome: 'rejected', source: 'local' })).toBe(1);
    expect(await metricValue(proxy, 'sentinel_errors_total', { code: 'RATE_LIMITED' })).toBe(1);
  });

  it('a custom status-code; RateLimit headers on admitted responses only with response-headers', async () => {
    const { port } = await start(configText(`
      filter "rl" { type "rate-limit"; max-rps 0.01; burst 2; status-code 503; response-headers #true }
      filter "quiet" { type "rate-limit"; max-rps 100 }`, { routeFilters: 'filters "quiet" "rl"' }));
    const first = await get(port, '/app');
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit']).toBe('"rl";r=1;t=100');
    expect(first.headers['ratelimit-policy']).toBe('"rl";q=2;w=200');
    expect(first.headers['x-ratelimit-limit']).toBeUndefined();
    await get(port, '/app');
    const limited = await get(port, '/app');
    expect(limited.status).toBe(503);
    expect(JSON.parse(limited.body).error.code).toBe('RATE_LIMITED');
  });
});

describe('keys', () => {
  it('client-ip honours X-Forwarded-For only from trusted proxies; each client has its own bucket', async () => {
    const { port } = await start(configText('filter "rl" { type "rate-limit"; max-rps 0.01; burst 1; trusted-proxies "127.0.0.0/8" }'));
    expect((await get(port, '/app', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200);
    expect((await get(port, '/app', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(429);
    expect((await get(port, '/app', { 'x-forwarded-for': '198.51.100.2' })).status).toBe(200);
    // a forged left-most hop does not change the key: the right-most untrusted hop is the client
    expect((await get(port, '/app', { 'x-forwarded-for': '6.6.6.6, 198.51.100.2' })).status).toBe(429);
  });

  it('without trusted proxies X-Forwarded-For is ignored: rotating it does not escape the limit', async () => {
    const { port } = await start(configText('filter "rl" { type "rate-limit"; max-rps 0.01; burst 1 }'));
    expect((await get(port, '/app', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200);
    expect((await get(port, '/app', { 'x-forwarded-for': '198.51.100.9' })).status).toBe(429);
  });

  it('a missing key part shares one bucket by default; on-missing-key "skip" leaves such requests unlimited (counted as skipped)', async () => {
    const { proxy, port } = await start(configText(`
      filter "shared" { type "rate-limit"; max-rps 0.01; burst 1; key "header:X-Api-Key,path" }
      filter "skip" { type "rate-limit"; max-rps 0.01; burst 1; key "header:X-Api-Key"; on-missing-key "skip" }`, { routeFilters: 'filters "skip" "shared"' }));
    expect(await sequential(port, '/app/a', 2, { 'x-api-key': 'k1' })).toEqual([200, 429]);
    // no header: "skip" does not limit, "shared" puts every such request in one bucket
    expect(await sequential(port, '/app/b', 2)).toEqual([200, 429]);
    expect(await metricValue(proxy, 'sentinel_ratelimit_decisions_total', { filter: 'skip', outcome: 'skipped', source: 'none' })).toBe(2);
    // the combined key keeps parts apart: same key header, another path
    expect((await get(port, '/app/c', { 'x-api-key': 'k9' })).status).toBe(200);
  });
});

describe('delay', () => {
  it('holds requests over the limit until their turn instead of rejecting them', async () => {
    const { proxy, port } = await start(configText('filter "rl" { type "rate-limit"; max-rps 20; burst 1; on-limit "delay"; max-delay-ms 5000 }'));
    const statuses = await Promise.all([0, 1, 2, 3, 4].map(() => get(port, '/app').then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(await metricValue(proxy, 'sentinel_ratelimit_decisions_total', { filter: 'rl', outcome: 'allowed', source: 'local' })).toBe(1);
    expect(await metricValue(proxy, 'sentinel_ratelimit_decisions_total', { filter: 'rl', outcome: 'delayed', source: 'local' })).toBe(4);
    expect(await metricValue(proxy, 'sentinel_ratelimit_delayed_requests', { filter: 'rl' })).toBe(0);
  });

  it('bounded queue: beyond max-delayed-requests waiting, requests are rejected at once (and audited)', async () => {
    const started = await start(configText('filter "rl" { type "rate-limit"; max-rps 4; burst 1; on-limit "delay"; max-delay-ms 10000; max-delayed-requests 2 }'));
    const { proxy, port } = started;
    const statuses = await Promise.all([0, 1, 2, 3, 4, 5].map(() => get(port, '/app').then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    expect((await auditsOf(started, 3)).map((a) => a.reason)).toEqual(['limit exceeded (delay queue full)', 'limit exceeded (delay queue full)', 'limit exceeded (delay queue full)']);
    expect(await metricValue(proxy, 'sentinel_ratelimit_delayed_requests', { filter: 'rl' })).toBe(0);
  });

  it('bounded wait: a request that would wait longer than max-delay-ms is rejected without waiting', async () => {
    const started = await start(configText('filter "rl" { type "rate-limit"; max-rps 0.1; burst 1; on-limit "delay"; max-delay-ms 200 }'));
    const { port } = started;
    expect(await sequential(port, '/app', 2)).toEqual([200, 429]);
    expect((await auditsOf(started, 1))[0]).toMatchObject({ action: 'reject', reason: 'limit exceeded (wait above max-delay-ms)' });
  });

  it('a client that leaves while delayed frees its slot and is never admitted', async () => {
    const { proxy, port } = await start(configText('filter "rl" { type "rate-limit"; max-rps 2; burst 1; on-limit "delay"; max-delay-ms 10000 }'));
    expect((await get(port, '/app')).status).toBe(200);
    const before = upstream.seen.length;
    const req = request({ host: '127.0.0.1', port, path: '/app', agent: false });
    req.on('error', () => undefined);
    req.end();
    await expect.poll(() => metricValue(proxy, 'sentinel_ratelimit_delayed_requests', { filter: 'rl' }), { timeout: 5000, interval: 5 }).toBe(1);
    req.destroy();
    await expect.poll(() => metricValue(proxy, 'sentinel_ratelimit_delayed_requests', { filter: 'rl' }), { timeout: 5000 }).toBe(0);
    await expect.poll(() => metricValue(proxy, 'sentinel_errors_total', { code: 'CLIENT_CLOSED_REQUEST' }), { timeout: 5000 }).toBe(1);
    // past the time its turn would have come (500 ms): it was never decided again nor forwarded
    await new Promise((r) => setTimeout(r, 800));
    expect(upstream.seen.length).toBe(before);
    expect(await metricValue(proxy, 'sentinel_ratelimit_decisions_total', { filter: 'rl', outcome: 'delayed', source: 'local' })).toBe(0);
    expect((await get(port, '/app')).status).toBe(200);
  });
});

describe('log-only', () => {
  it('lets every request through, audits and counts those over the limit', async () => {
    const started = await start(configText('filter "rl" { type "rate-limit"; max-rps 0.01; burst 2; on-limit "log-only" }'));
    const { proxy, port } = started;
    expect(await sequential(port, '/app', 5)).toEqual([200, 200, 200, 200, 200]);
    const a = await auditsOf(started, 3);
    expect(a.every((x) => x.action === 'log-only' && x.decided_by === 'rl')).toBe(true);
    expect(await metricValue(proxy, 'sentinel_ratelimit_decisions_total', { filter: 'rl', outcome: 'log-only', source: 'local' })).toBe(3);
  });
});

describe('listener global limit', () => {
  it('runs before routing: unmatched requests count against it too, and route filters run after it', async () => {
    const { proxy, port } = await start(configText(`
      filter "global" { type "rate-limit"; max-rps 0.01; burst 3 }
      filter "rl" { type "rate-limit"; max-rps 100 }`, { listener: 'rate-limit "global"' }));
    expect((await get(port, '/nowhere')).status).toBe(404);
    expect((await get(port, '/nowhere')).status).toBe(404);
    expect((await get(port, '/app')).status).toBe(200);
    const limited = await get(port, '/app');
    expect(limited.status).toBe(429);
    expect(limited.headers['ratelimit-policy']).toBe('"global";q=3;w=300');
    expect((await get(port, '/nowhere')).status).toBe(429);
    expect(await metricValue(proxy, 'sentinel_ratelimit_decisions_total', { filter: 'rl', outcome: 'allowed', source: 'local' })).toBe(1);
  });
});

describe('reload', () => {
  it('an unchanged filter keeps its counters across a reload; a changed limit starts a fresh store', async () => {
    const base = 'filter "rl" { type "rate-limit"; max-rps 0.01; burst 2 }';
    const started = await start(configText(base));
    const { proxy, port } = started;
    expect(await sequential(port, '/app', 3)).toEqual([200, 200, 429]);
    // same filter, another route added: the limiter store is the same registry entry
    const same = started.config(configText(base).replace('routes {', 'routes {\n  route "other" { matches { path "/other" }; builtin-handler "health" }'));
    expect((await proxy.reload(same, configHash(same))).result).toBe('applied');
    expect((await get(port, '/app')).status).toBe(429);
    const changed = started.config(configText('filter "rl" { type "rate-limit"; max-rps 0.01; burst 3 }'));
    expect((await proxy.reload(changed, configHash(changed))).result).toBe('applied');
    expect(await sequential(port, '/app', 4)).toEqual([200, 200, 200, 429]);
  });
});

describe('redis backend with Redis unreachable', () => {
  it('on-redis-failure "closed": 503 RATE_LIMITER_UNAVAILABLE with Retry-After, audited; "open": admitted; the fallback gauge is 1', async () => {
    const port0 = await closedPort();
    const redis = `backend "redis"; redis-url "redis://127.0.0.1:${port0}"; redis-timeout-ms 100; redis-probe-interval-ms 60000`;
    const started = await start(configText(`
      filter "closed" { type "rate-limit"; max-rps 100; ${redis}; on-redis-failure "closed" }
      filter "open" { type "rate-limit"; max-rps 100; ${redis}; on-redis-failure "open" }`, { routeFilters: 'filters "open" "closed"' }));
    const { proxy, port, logs } = started;
    const r = await get(port, '/app');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).error.code).toBe('RATE_LIMITER_UNAVAILABLE');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(await auditsOf(started, 1)).toEqual([expect.objectContaining({ action: 'reject', decided_by: 'closed', source: 'fallback-closed', status: 503 })]);
    expect(await metricValue(proxy, 'sentinel_ratelimit_decisions_total', { filter: 'open', outcome: 'allowed', source: 'fallback-open' })).toBe(1);
    expect(await metricValue(proxy, 'sentinel_ratelimit_fallback_active', { filter: 'closed' })).toBe(1);
    expect(await metricValue(proxy, 'sentinel_ratelimit_fallback_active', { filter: 'open' })).toBe(1);
    expect(await metricValue(proxy, 'sentinel_ratelimit_redis_errors_total', { filter: 'closed', kind: 'error' })).toBe(1);
    // one log line per filter when it switches, never one per request
    const switched = logs.filter((l) => l.msg === 'rate-limit: Redis unavailable, deciding without it');
    expect(switched.map((l) => [l.filter, l.on_redis_failure]).sort()).toEqual([['closed', 'closed'], ['open', 'open']]);
  });
});
