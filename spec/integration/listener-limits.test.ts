// Listener-level limits against the built proxy, each counted in
// sentinel_limits_triggered_total{listener,limit} when it triggers: per-listener max-connections
// (busy connections refuse new ones, idle ones are evicted), header count and head size (431),
// the request-body timeout (408) and the keep-alive idle timeout, and a slowloris client holding
// 10,000 connections that must not stop a normal client from being served.
//
// The slowloris case needs about 10,100 open files in the proxy and in the attacking process. Both
// are started through `ulimit -n 12000` (so the hard limit must allow 12,000; CI's is 20,000).
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startSentinel } from '../helpers/sentinel-process.ts';
import { seriesValue } from '../helpers/http.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { startUpstream } from '../helpers/upstream.ts';
import { rawExchange } from '../../conformance/http/raw.ts';
import { closedByPeer, openSocket } from '../helpers/sockets.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

async function start(kdl: string, nofile?: number): Promise<SentinelProcess> {
  const p = await startSentinel(kdl, { listeners: ['main'], metrics: true, ...(nofile !== undefined ? { nofile } : {}) });
  cleanups.push(() => p.stop());
  return p;
}

async function metrics(p: SentinelProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text();
}


const limit = (l: string) => `sentinel_limits_triggered_total{listener="main",limit="${l}"}`;

const open = (port: number): Promise<Socket> => openSocket(port, cleanups);

const base = (listener: string, routes: string, upstreams = '', system = '') => `
system { ${system} }
listeners { listener "main" { address "127.0.0.1:0"; ${listener} } }
routes { ${routes} }
upstreams { ${upstreams} }
observability { metrics { address "127.0.0.1:0" }; logging { access-log { enabled #false } } }
`;

const HEALTH = 'route "h" { matches { path-prefix "/" }; builtin-handler "health" }';

describe('listener limits', () => {
  it('listener max-connections: when every connection is busy a new one is refused and counted; a freed slot is reused', async () => {
    const held: Array<() => void> = [];
    // Holds /a and /b (the two busy connections); answers anything else at once.
    const up = await startUpstream((req, res) => {
      if (req.url === '/a' || req.url === '/b') held.push(() => res.end('done'));
      else res.end('ok');
    });
    cleanups.push(() => { for (const h of held.splice(0)) h(); return up.close(); });
    const p = await start(base('max-connections 2', 'route "u" { matches { path-prefix "/" }; upstream "u" }', `upstream "u" { target "${up.address}" }`));
    const port = p.ports.get('main') as number;
    const a = await open(port);
    const b = await open(port);
    a.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    b.write('GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    while (held.length < 2) await new Promise((r) => setTimeout(r, 10));
    const c = await open(port);
    await closedByPeer(c);
    const m = await metrics(p);
    expect(seriesValue(m, limit('listener_max_connections'))).toBe(1);
    expect(seriesValue(m, 'sentinel_connections_rejected_total{listener="main"}')).toBe(1);
    expect(seriesValue(m, limit('connection_evicted'))).toBe(0);
    // The busy connections were untouched; once one finishes, a new client gets in.
    for (const h of held.splice(0)) h();
    b.destroy();
    await closedByPeer(b);
    let status = 0;
    while (status !== 200) {
      const r = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      status = r.statuses[0] ?? 0;
    }
    expect(a.destroyed).toBe(false);
  });

  it('system max-connections across listeners: a connection evicted for another listener\'s client is accounted to its own listener', async () => {
    const p = await startSentinel(`
system { max-connections 2 }
listeners {
  listener "main" { address "127.0.0.1:0" }
  listener "other" { address "127.0.0.1:0" }
}
routes { ${HEALTH} }
observability { metrics { address "127.0.0.1:0" }; logging { access-log { enabled #false } } }
`, { listeners: ['main', 'other'], metrics: true });
    cleanups.push(() => p.stop());
    const active = (m: string, l: string) => seriesValue(m, `sentinel_active_connections{listener="${l}"}`);
    const evicted = (m: string, l: string) => seriesValue(m, `sentinel_limits_triggered_total{listener="${l}",limit="connection_evicted"}`);
    const first = await open(p.ports.get('other') as number);
    await open(p.ports.get('other') as number);
    while (active(await metrics(p), 'other') < 2) await new Promise((r) => setTimeout(r, 20));
    // The cap is full of idle "other" connections: a client of "main" evicts the oldest of them.
    const r = await rawExchange(p.ports.get('main') as number, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(r.statuses).toEqual([200]);
    await closedByPeer(first);
    let m = await metrics(p);
    while (active(m, 'main') > 0) { await new Promise((res) => setTimeout(res, 20)); m = await metrics(p); }
    expect(active(m, 'main')).toBe(0);
    expect(active(m, 'other')).toBe(1);
    expect(evicted(m, 'other')).toBe(1);
    expect(evicted(m, 'main')).toBe(0);
  });

  it('max-header-count and max-header-bytes answer 431 and close; both are counted', async () => {
    const p = await start(base('max-header-count 10; max-header-bytes 2048', HEALTH));
    const port = p.ports.get('main') as number;
    const many = Array.from({ length: 11 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const r1 = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${many}\r\n`);
    // Host plus 11 fields: over 10.
    expect(r1.statuses).toEqual([431]);
    expect(r1.text).toContain('"code":"REQUEST_HEADERS_TOO_LARGE"');
    expect(r1.closed).toBe(true);
    const r2 = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(3000)}\r\n\r\n`);
    expect(r2.statuses).toEqual([431]);
    expect(r2.closed).toBe(true);
    // Past twice the field limit the parser itself refuses the head (counted with header_bytes).
    const flood = Array.from({ length: 25 }, (_, i) => `X-F${i}: v\r\n`).join('');
    const r3 = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${flood}\r\n`);
    expect(r3.statuses).toEqual([431]);
    expect(r3.closed).toBe(true);
    // Exactly at both limits (Host, 8 fields and Connection: 10): served.
    const fine = Array.from({ length: 8 }, (_, i) => `X-H${i}: v\r\n`).join('');
    expect((await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${fine}Connection: close\r\n\r\n`)).statuses).toEqual([200]);
    const m = await metrics(p);
    expect(seriesValue(m, limit('header_count'))).toBe(1);
    expect(seriesValue(m, limit('header_bytes'))).toBe(2);
    expect(p.stderr()).toMatch(/"audit":true[^\n]*max-header-count exceeded/);
  });

  it('request-timeout-secs: a body that stops arriving gets 408 and the connection is closed; keep-alive idle connections are closed after keepalive-timeout-secs', async () => {
    const up = await startUpstream((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
    cleanups.push(() => up.close());
    const p = await start(base('headers-timeout-secs 0.4; request-timeout-secs 0.5; keepalive-timeout-secs 0.3',
      'route "u" { matches { path-prefix "/" }; upstream "u" }', `upstream "u" { target "${up.address}" }`));
    const port = p.ports.get('main') as number;
    const s = await open(port);
    let got = '';
    s.setEncoding('latin1').on('data', (d: string) => { got += d; });
    s.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part');
    await closedByPeer(s);
    expect(got).toMatch(/HTTP\/1\.1 408 /);
    expect(seriesValue(await metrics(p), limit('client_timeout'))).toBeGreaterThanOrEqual(1);
    // Keep-alive: served, then closed by the server once idle.
    const k = await open(port);
    let first = '';
    k.setEncoding('latin1').on('data', (d: string) => { first += d; });
    k.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closedByPeer(k);
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    expect(first).toMatch(/keep-alive/i);
  });
});

describe('slowloris', () => {
  it('a client holding 10,000 slow connections does not stop a normal client from being served', async () => {
    const conns = 10_000;
    // A long head timeout: the attacker keeps every connection for the whole test (the worst case
    // the timeout would otherwise cut short). The default max-connections is 10,000.
    const p = await start(base('headers-timeout-secs 300; request-timeout-secs 300', HEALTH), 12_000);
    const port = p.ports.get('main') as number;
    const script = fileURLToPath(new URL('../helpers/slowloris.ts', import.meta.url));
    const attacker = spawn('/bin/sh', ['-c', `ulimit -n 12000 && exec "$0" "$@"`, process.execPath, script, String(port), String(conns)], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanups.push(() => new Promise<void>((resolve) => { attacker.once('exit', () => resolve()); attacker.stdin?.end(); if (attacker.exitCode !== null) resolve(); }));
    let out = '';
    attacker.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
    while (!out.includes('ready ')) {
      if (attacker.exitCode !== null) throw new Error(`slowloris client exited early (${attacker.exitCode}): ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(out).toMatch(new RegExp(`ready ${conns} failed 0`));
    // The proxy holds every one of them.
    while (seriesValue(await metrics(p), 'sentinel_active_connections{listener="main"}') < conns) await new Promise((r) => setTimeout(r, 100));
    expect(seriesValue(await metrics(p), 'sentinel_active_connections{listener="main"}')).toBe(conns);

    // A normal client: several connections, each served. At the cap, a new connection evicts the
    // oldest slow one.
    for (let i = 0; i < 5; i++) {
      const r = await rawExchange(port, `GET /health HTTP/1.1\r\nHost: normal\r\nConnection: close\r\n\r\n`);
      expect(r.statuses).toEqual([200]);
    }
    const m = await metrics(p);
    // The first normal connection evicted a slow one; it closed after its answer, so the next ones
    // found a free slot (or evicted again).
    expect(seriesValue(m, limit('connection_evicted'))).toBeGreaterThanOrEqual(1);
    expect(seriesValue(m, 'sentinel_connections_rejected_total{listener="main"}')).toBe(0);
    expect(seriesValue(m, 'sentinel_active_connections{listener="main"}')).toBeLessThanOrEqual(conns);
  }, 180_000);
});
