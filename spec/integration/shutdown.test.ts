// Graceful shutdown: in-flight requests (HTTP/1.1, HTTP/2 streams) and WebSocket tunnels finish, new
// connections are refused, HTTP/2 sessions get GOAWAY, exit code 0; past the timeout the rest is
// closed; a second signal forces the exit.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { connect } from 'node:net';
import { startSentinel } from '../helpers/sentinel-process.ts';
import { connect as h2Connect } from 'node:http2';
import { WebSocket } from 'undici';
import { startUpstream } from '../helpers/upstream.ts';
import { startWsUpstream } from '../helpers/websocket-server.ts';
import type { Upstream } from '../helpers/upstream.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

/** An upstream that holds every request until `release()` is called. */
async function holdingUpstream(): Promise<Upstream & { arrived: Promise<void>; release(): void }> {
  let onArrive: () => void = () => undefined;
  const arrived = new Promise<void>((r) => { onArrive = r; });
  const held: Array<() => void> = [];
  const up = await startUpstream((_req, res) => {
    held.push(() => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('finished'); });
    onArrive();
  });
  return Object.assign(up, { arrived, release: () => { for (const h of held.splice(0)) h(); } });
}

function get(port: number, path: string): Promise<{ status: number; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete }));
    });
    req.on('error', reject);
    req.end();
  });
}

function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

function config(upstream: string, graceSecs: number): string {
  return `
system { graceful-shutdown-timeout-secs ${graceSecs} }
listeners { listener "main" { address "127.0.0.1:0" } }
routes { route "all" { matches { path-prefix "/" }; upstream "up" } }
upstreams { upstream "up" { target "${upstream}"; timeouts { headers-secs 60; request-secs 60 } } }
observability { metrics { enabled #false }; logging { access-log { enabled #false } } }
`;
}

describe('graceful shutdown', () => {
  it('SIGTERM lets the in-flight request finish, refuses new connections, exits 0', async () => {
    const up = await holdingUpstream();
    cleanups.push(() => up.close());
    const p = await startSentinel(config(up.address, 30), { listeners: ['main'] });
    cleanups.push(() => p.stop('SIGKILL'));
    const port = p.ports.get('main') as number;
    const inflight = get(port, '/long');
    await up.arrived;
    p.child.kill('SIGTERM');
    // The listener closes: wait until new connections are refused (polling, no timing assertion).
    while (!(await connectionRefused(port))) await new Promise((r) => setTimeout(r, 20));
    expect(p.child.exitCode).toBeNull(); // still draining: the request is held
    up.release();
    const r = await inflight;
    expect(r).toEqual({ status: 200, body: 'finished', complete: true });
    expect(await p.exited).toBe(0);
    expect(p.stderr()).toContain('"forced":false');
  });

  it('past graceful-shutdown-timeout-secs the remaining connections are closed and the exit is still 0', async () => {
    const up = await holdingUpstream();
    cleanups.push(async () => { up.release(); await up.close(); });
    const p = await startSentinel(config(up.address, 0.3), { listeners: ['main'] });
    cleanups.push(() => p.stop('SIGKILL'));
    const inflight = get(p.ports.get('main') as number, '/never').catch(() => ({ status: 0, body: '', complete: false }));
    await up.arrived;
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const r = await inflight;
    expect(r.complete).toBe(false);
    expect(p.stderr()).toContain('"forced":true');
  });

  it('a second signal forces an immediate exit with a non-zero code', async () => {
    const up = await holdingUpstream();
    cleanups.push(async () => { up.release(); await up.close(); });
    const p = await startSentinel(config(up.address, 30), { listeners: ['main'] });
    cleanups.push(() => p.stop('SIGKILL'));
    const inflight = get(p.ports.get('main') as number, '/held').catch(() => null);
    await up.arrived;
    p.child.kill('SIGTERM');
    while (!p.stderr().includes('shutdown: draining')) await new Promise((r) => setTimeout(r, 20));
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(1);
    await inflight;
  });
});

describe('graceful shutdown with long requests, an open WebSocket and an HTTP/2 session', () => {
  it('they complete; new connections are refused; exit 0 within the timeout', async () => {
    const up = await holdingUpstream();
    cleanups.push(async () => { up.release(); await up.close(); });
    const ws = await startWsUpstream();
    cleanups.push(() => ws.close());
    const p = await startSentinel(`
system { graceful-shutdown-timeout-secs 60 }
listeners {
    listener "main" { address "127.0.0.1:0" }
    listener "h2c" { address "127.0.0.1:0"; protocol "h2c" }
}
routes {
    route "ws" { matches { path-prefix "/ws" }; upstream "ws"; websocket #true }
    route "all" { matches { path-prefix "/" }; upstream "up" }
}
upstreams {
    upstream "up" { target "${up.address}"; timeouts { headers-secs 60; request-secs 60 } }
    upstream "ws" { target "${ws.address}" }
}
observability { metrics { enabled #false }; logging { access-log { enabled #false } } }
`, { listeners: ['main', 'h2c'] });
    cleanups.push(() => p.stop('SIGKILL'));
    const port = p.ports.get('main') as number;

    // In flight: a long HTTP/1.1 request, a long HTTP/2 stream, and an open WebSocket.
    const long = get(port, '/long');
    await up.arrived;
    const session = h2Connect(`http://127.0.0.1:${p.ports.get('h2c') as number}`);
    session.on('error', () => undefined);
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    const h2Long = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const s = session.request({ ':path': '/long-h2' });
      let status = 0;
      let body = '';
      s.on('response', (h) => { status = Number(h[':status']); });
      s.setEncoding('utf8').on('data', (d: string) => { body += d; });
      s.on('end', () => resolve({ status, body }));
      s.on('error', reject);
    });
    const peerP = ws.nextPeer();
    const client = await new Promise<WebSocket>((resolve, reject) => {
      const c = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      c.onopen = () => resolve(c);
      c.onerror = () => reject(new Error('websocket failed'));
    });
    await peerP;
    // Both held requests are at the upstream before the signal.
    while (up.seen.length < 2) await new Promise((r) => setTimeout(r, 20));

    p.child.kill('SIGTERM');
    while (!(await connectionRefused(port))) await new Promise((r) => setTimeout(r, 20));
    await goaway; // the HTTP/2 session was told: no new streams
    expect(p.child.exitCode).toBeNull();

    // The tunnel still carries messages both ways while the proxy drains.
    const echoed = new Promise<string>((resolve) => { client.addEventListener('message', (e) => resolve(String(e.data)), { once: true }); });
    client.send('still here');
    expect(await echoed).toBe('still here');

    up.release();
    expect(await long).toEqual({ status: 200, body: 'finished', complete: true });
    expect(await h2Long).toEqual({ status: 200, body: 'finished' });
    session.close();
    expect(p.child.exitCode).toBeNull(); // the WebSocket is still open
    const closed = new Promise<number>((resolve) => { client.addEventListener('close', (e) => resolve(e.code), { once: true }); });
    client.close(1000, 'done');
    expect(await closed).toBe(1000);
    expect(await p.exited).toBe(0);
    expect(p.stderr()).toContain('"forced":false');
  });

  it('a WebSocket still open at graceful-shutdown-timeout-secs is closed and the exit is still 0', async () => {
    const ws = await startWsUpstream();
    cleanups.push(() => ws.close());
    const p = await startSentinel(`
system { graceful-shutdown-timeout-secs 0.5 }
listeners { listener "main" { address "127.0.0.1:0" } }
routes { route "ws" { matches { path-prefix "/" }; upstream "ws"; websocket #true } }
upstreams { upstream "ws" { target "${ws.address}" } }
observability { metrics { enabled #false }; logging { access-log { enabled #false } } }
`, { listeners: ['main'] });
    cleanups.push(() => p.stop('SIGKILL'));
    const client = await new Promise<WebSocket>((resolve, reject) => {
      const c = new WebSocket(`ws://127.0.0.1:${p.ports.get('main') as number}/`);
      c.onopen = () => resolve(c);
      c.onerror = () => reject(new Error('websocket failed'));
    });
    const closed = new Promise<number>((resolve) => { client.addEventListener('close', (e) => resolve(e.code), { once: true }); });
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(await closed).toBe(1006);
    expect(p.stderr()).toContain('"forced":true');
  });
});
