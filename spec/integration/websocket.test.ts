// WebSocket proxying through the built proxy: a real client (undici's WebSocket) and an RFC 6455
// upstream on loopback. Upgrades are forwarded only on routes with `websocket #true`; elsewhere
// Upgrade is dropped. Messages, close codes and resets cross in both directions; backpressure holds
// when the upstream stops reading; an idle tunnel is closed; tunnels and bytes are counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { Agent, WebSocket } from 'undici';
import { startSentinel } from '../helpers/sentinel-process.ts';
import { seriesValue } from '../helpers/http.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { startWsUpstream } from '../helpers/websocket-server.ts';
import type { WsUpstream } from '../helpers/websocket-server.ts';
import { generateTestPki } from '../helpers/certs.ts';
import type { TestPki } from '../helpers/certs.ts';

let up: WsUpstream;
let sink: WsUpstream;
let refusing: WsUpstream;
let proxy: SentinelProcess;
let pki: TestPki;
let port: number;
let tlsPort: number;
const clients: WebSocket[] = [];

beforeAll(async () => {
  pki = generateTestPki();
  up = await startWsUpstream();
  sink = await startWsUpstream({ echo: false });
  refusing = await startWsUpstream({ refuseWith: 403 });
  proxy = await startSentinel(`
listeners {
    listener "main" { address "127.0.0.1:0" }
    listener "tls" { address "127.0.0.1:0"; protocol "https"; tls { cert-file "${pki.server.cert}"; key-file "${pki.server.key}" } }
}
routes {
    route "ws" { matches { path-prefix "/ws" }; upstream "echo"; websocket #true }
    route "idle" { matches { path-prefix "/idle" }; upstream "echo"; websocket #true; websocket-idle-timeout-secs 0.5 }
    route "sink" { matches { path-prefix "/sink" }; upstream "sink"; websocket #true }
    route "refused" { matches { path-prefix "/refused" }; upstream "refusing"; websocket #true }
    route "plain" { matches { path-prefix "/plain" }; upstream "echo" }
}
upstreams {
    upstream "echo" { target "${up.address}" }
    upstream "sink" { target "${sink.address}" }
    upstream "refusing" { target "${refusing.address}" }
}
observability { metrics { address "127.0.0.1:0" }; logging { access-log { enabled #false } } }
`, { listeners: ['main', 'tls'], metrics: true });
  port = proxy.ports.get('main') as number;
  tlsPort = proxy.ports.get('tls') as number;
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await proxy?.stop();
  await Promise.all([up?.close(), sink?.close(), refusing?.close()]);
  pki?.cleanup();
});

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`)).text();
}


function open(url: string, init?: ConstructorParameters<typeof WebSocket>[1]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, init);
    ws.binaryType = 'arraybuffer';
    clients.push(ws);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`websocket to ${url} failed`));
  });
}

function nextMessage(ws: WebSocket): Promise<string | ArrayBuffer> {
  return new Promise((resolve) => { ws.addEventListener('message', (e) => resolve(e.data as string | ArrayBuffer), { once: true }); });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) { resolve({ code: 1006, reason: '' }); return; }
    ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason }), { once: true });
  });
}

const HANDSHAKE = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

/** A WebSocket handshake written by hand; resolves with everything the server sent until it closed. */
function rawHandshake(path: string): Promise<string> {
  const s = connect({ host: '127.0.0.1', port });
  return new Promise((resolve) => {
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
    s.on('close', () => resolve(got));
    s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}\r\n`);
  });
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 25));
}

describe('WebSocket proxying', () => {
  it('forwards the upgrade and echoes text and binary messages both ways', async () => {
    const peerP = up.nextPeer();
    const ws = await open(`ws://127.0.0.1:${port}/ws/chat?room=1`);
    const peer = await peerP;
    // The upstream got a fresh head: the route's path, the proxy's headers, the client's key.
    expect(peer.request.url).toBe('/ws/chat?room=1');
    expect(peer.request.headers.upgrade).toBe('websocket');
    expect(peer.request.headers['sec-websocket-key']).toBeTruthy();
    expect(peer.request.headers.via).toBe('1.1 sentinel');
    expect(peer.request.headers['x-forwarded-for']).toBe('127.0.0.1');
    const m1 = nextMessage(ws);
    ws.send('hello');
    expect(await m1).toBe('hello');
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    big[12345] = 9;
    const m2 = nextMessage(ws);
    ws.send(big);
    expect(Buffer.from(await m2 as ArrayBuffer).equals(big)).toBe(true);
    // The upstream speaks first too.
    const m3 = nextMessage(ws);
    peer.send('from upstream');
    expect(await m3).toBe('from upstream');
    const before = await metrics();
    expect(seriesValue(before, 'sentinel_websocket_tunnels{route="ws"}')).toBe(1);
    expect(seriesValue(before, 'sentinel_websocket_upgrades_total{route="ws",result="upgraded"}')).toBeGreaterThanOrEqual(1);
    expect(seriesValue(before, 'sentinel_requests_total{route="ws",method="GET",status="101"}')).toBeGreaterThanOrEqual(1);
    // Client-initiated close: the code and reason reach the upstream, the echo comes back.
    const done = closed(ws);
    ws.close(4001, 'client bye');
    expect(await done).toEqual({ code: 4001, reason: 'client bye' });
    expect(peer.closeReceived).toEqual({ code: 4001, reason: 'client bye' });
    await until(async () => seriesValue(await metrics(), 'sentinel_websocket_tunnels{route="ws"}') === 0);
    const after = await metrics();
    expect(seriesValue(after, 'sentinel_websocket_bytes_total{route="ws",direction="upstream"}')).toBeGreaterThan(big.length);
    expect(seriesValue(after, 'sentinel_websocket_bytes_total{route="ws",direction="downstream"}')).toBeGreaterThan(big.length);
  });

  it('passes an upstream close (code and reason) and an upstream reset to the client', async () => {
    let peerP = up.nextPeer();
    let ws = await open(`ws://127.0.0.1:${port}/ws/a`);
    let peer = await peerP;
    let done = closed(ws);
    peer.close(4002, 'server bye');
    expect(await done).toEqual({ code: 4002, reason: 'server bye' });

    peerP = up.nextPeer();
    ws = await open(`ws://127.0.0.1:${port}/ws/b`);
    peer = await peerP;
    done = closed(ws);
    peer.socket.destroy(); // no close frame: the client sees an abnormal closure
    expect((await done).code).toBe(1006);
  });

  it('a client that goes away resets the upstream side', async () => {
    const peerP = up.nextPeer();
    // A raw client: the handshake by hand, then the TCP connection is dropped without a close frame.
    const s = connect({ host: '127.0.0.1', port });
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(`GET /ws/raw HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}\r\n`);
    const head = await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toMatch(/\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
    expect(head).toMatch(/\r\nx-request-id: /i);
    const peer = await peerP;
    const upstreamClosed = new Promise<void>((r) => peer.socket.once('close', () => r()));
    s.destroy();
    await upstreamClosed;
  });

  it('backpressure: when the upstream stops reading, the proxy stops reading from the client', async () => {
    const peerP = sink.nextPeer();
    const ws = await open(`ws://127.0.0.1:${port}/sink`);
    const peer = await peerP;
    peer.socket.pause();
    const chunk = Buffer.alloc(1024 * 1024, 1);
    const totalMb = 64;
    for (let i = 0; i < totalMb; i++) ws.send(chunk);
    // Wait until the relayed byte count stops moving (the tunnel is stalled), then check it is
    // nowhere near what the client sent: without backpressure the proxy would read it all.
    let last = -1;
    let stable = 0;
    while (stable < 8) {
      await new Promise((r) => setTimeout(r, 100));
      const n = seriesValue(await metrics(), 'sentinel_websocket_bytes_total{route="sink",direction="upstream"}');
      stable = n === last ? stable + 1 : 0;
      last = n;
    }
    expect(last).toBeLessThan((totalMb / 2) * 1024 * 1024);
    expect(ws.bufferedAmount).toBeGreaterThan(0);
    // Reading again drains everything, intact.
    let received = 0;
    peer.socket.on('data', (d: Buffer) => { received += d.length; });
    peer.socket.resume();
    await until(() => peer.messages.length === totalMb);
    expect(received).toBeGreaterThan(0);
    expect(peer.messages.every((m) => Buffer.isBuffer(m) && m.length === chunk.length)).toBe(true);
    ws.close();
  });

  it('an idle tunnel is closed after websocket-idle-timeout-secs and counted', async () => {
    const before = seriesValue(await metrics(), 'sentinel_limits_triggered_total{listener="main",limit="websocket_idle"}');
    const ws = await open(`ws://127.0.0.1:${port}/idle`);
    const c = await closed(ws);
    expect(c.code).toBe(1006);
    expect(seriesValue(await metrics(), 'sentinel_limits_triggered_total{listener="main",limit="websocket_idle"}')).toBe(before + 1);
  });

  it('on a route without websocket the Upgrade header is dropped and the request is served as plain HTTP', async () => {
    const before = up.plain.length;
    await expect(open(`ws://127.0.0.1:${port}/plain`)).rejects.toThrow();
    await until(() => up.plain.length > before);
    const seen = up.plain[up.plain.length - 1];
    expect(seen?.headers.upgrade).toBeUndefined();
    expect(seen?.headers.connection ?? '').not.toMatch(/upgrade/i);
    // The same with a raw request: the upstream's plain answer is relayed.
    const text = await rawHandshake('/plain');
    expect(text).toMatch(/^HTTP\/1\.1 426 /);
    expect(text).toContain('plain request, upgrade header: none');
    expect(upgradesOn(up, '/plain')).toBe(0);
  });

  it('an upstream that refuses the upgrade has its answer relayed', async () => {
    const text = await rawHandshake('/refused');
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text).toContain('refused');
    expect(seriesValue(await metrics(), 'sentinel_websocket_upgrades_total{route="refused",result="refused"}')).toBe(1);
  });

  it('works over TLS (wss) on an https listener', async () => {
    const dispatcher = new Agent({ connect: { ca: pki.read(pki.ca), servername: 'localhost' } });
    const ws = await open(`wss://localhost:${tlsPort}/ws/secure`, { dispatcher });
    const m = nextMessage(ws);
    ws.send('over tls');
    expect(await m).toBe('over tls');
    const done = closed(ws);
    ws.close(1000, 'done');
    expect((await done).code).toBe(1000);
    await dispatcher.close();
  });
});

function upgradesOn(u: WsUpstream, path: string): number {
  return u.upgrades.filter((r) => r.url?.startsWith(path)).length;
}
