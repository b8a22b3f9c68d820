// Each toxic's observable effect on real loopback TCP traffic, driven through toxiproxy-node-client.
// Time is only ever checked as a lower bound ("not before"), never as an upper bound.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer as createHttpServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Toxiproxy } from 'toxiproxy-node-client';
import type { Proxy } from 'toxiproxy-node-client';
import type { ICreateToxicBody } from 'toxiproxy-node-client/dist/interfaces.js';
import { createToxiproxyServer } from '../../../chaos/toxiproxy/server.ts';
import type { ToxiproxyServer } from '../../../chaos/toxiproxy/server.ts';
import { connectClient, portOf, sleep, startEcho, startServer, tryConnect, until } from './helpers.ts';
import type { TestServer } from './helpers.ts';

let server: ToxiproxyServer;
let tp: Toxiproxy;
const peers: TestServer[] = [];

/** Deterministic randomness for toxicity/jitter/slicing; tests may replace `nextRandom`. */
let nextRandom: () => number = () => 0.5;

beforeEach(async () => {
  nextRandom = () => 0.5;
  server = await createToxiproxyServer({ host: '127.0.0.1', port: 0, random: () => nextRandom() });
  tp = new Toxiproxy(server.url);
});

afterEach(async () => {
  await server.close();
  for (const p of peers.splice(0)) await p.close();
});

function toxic<T>(body: Partial<ICreateToxicBody<T>> & { type: ICreateToxicBody<T>['type']; attributes: T }): ICreateToxicBody<T> {
  return body as ICreateToxicBody<T>;
}

async function echoProxy(): Promise<{ proxy: Proxy; port: number; upstream: TestServer }> {
  const upstream = await startEcho();
  peers.push(upstream);
  const proxy = await tp.createProxy({ name: 'echo', listen: '127.0.0.1:0', upstream: upstream.address });
  return { proxy, port: portOf(proxy.listen), upstream };
}

/** An upstream that sends `payload` as soon as a client connects (and then optionally ends). */
async function senderProxy(payload: Buffer, end: boolean): Promise<{ proxy: Proxy; port: number; upstream: TestServer; endedAt: number[] }> {
  const endedAt: number[] = [];
  const upstream = await startServer((socket) => {
    socket.write(payload);
    if (end) socket.end(() => endedAt.push(performance.now()));
  });
  peers.push(upstream);
  const proxy = await tp.createProxy({ name: 'sender', listen: '127.0.0.1:0', upstream: upstream.address });
  return { proxy, port: portOf(proxy.listen), upstream, endedAt };
}

const bytesOf = (bufs: Buffer[]): number => bufs.reduce((n, b) => n + b.length, 0);

describe('latency', () => {
  it('delays the downstream response by at least the latency', async () => {
    const { proxy, port } = await echoProxy();
    await proxy.addToxic(toxic({ type: 'latency', attributes: { latency: 300, jitter: 0 } }));
    const c = await connectClient(port);
    const sentAt = performance.now();
    c.socket.write('hello');
    const at = await c.waitForBytes(5);
    expect(c.text()).toBe('hello');
    expect(at - sentAt).toBeGreaterThanOrEqual(300);
    c.socket.destroy();
  });

  it('on the upstream stream delays what the server receives, with jitter never below latency - jitter', async () => {
    const receivedAt: number[] = [];
    const upstream = await startServer((socket) => socket.on('data', () => receivedAt.push(performance.now())));
    peers.push(upstream);
    const proxy = await tp.createProxy({ name: 'up', listen: '127.0.0.1:0', upstream: upstream.address });
    nextRandom = () => 0; // every jitter draw is the lowest: latency - jitter = 200 ms
    await proxy.addToxic(toxic({ type: 'latency', stream: 'upstream', attributes: { latency: 250, jitter: 50 } }));
    const c = await connectClient(portOf(proxy.listen));
    const sentAt = performance.now();
    c.socket.write('req');
    await until(() => receivedAt.length > 0);
    expect((receivedAt[0] as number) - sentAt).toBeGreaterThanOrEqual(200);
    c.socket.destroy();
  });

  it('applies to a live connection once added, and removal flushes held data', async () => {
    const { proxy, port } = await echoProxy();
    const c = await connectClient(port);
    c.socket.write('a');
    await c.waitForBytes(1);

    const lat = await proxy.addToxic(toxic({ type: 'latency', attributes: { latency: 200, jitter: 0 } }));
    const sentAt = performance.now();
    c.socket.write('b');
    const at = await c.waitForBytes(2);
    expect(at - sentAt).toBeGreaterThanOrEqual(200);

    // Update on the live connection: later data gets the new latency.
    await lat.update({ ...lat.toJson(), attributes: { latency: 400, jitter: 0 } });
    const sent2 = performance.now();
    c.socket.write('c');
    const at2 = await c.waitForBytes(3);
    expect(at2 - sent2).toBeGreaterThanOrEqual(400);

    // Hold a chunk behind a huge latency, then remove the toxic: the chunk is delivered, not lost.
    await lat.update({ ...lat.toJson(), attributes: { latency: 600_000, jitter: 0 } });
    c.socket.write('d');
    await sleep(100);
    expect(c.bytes()).toBe(3);
    await lat.remove();
    await c.waitForBytes(4);
    expect(c.text()).toBe('abcd');
    c.socket.destroy();
  });
});

describe('toxicity', () => {
  it('0 never applies the toxic, 1 always does', async () => {
    const payload = Buffer.alloc(1000, 7);
    const { proxy, port } = await senderProxy(payload, false);
    const lim = await proxy.addToxic(toxic({ type: 'limit_data', toxicity: 0, attributes: { bytes: 10 } }));
    nextRandom = () => 0; // the most toxic draw there is
    const untouched = await connectClient(port);
    await untouched.waitForBytes(1000);
    expect(untouched.bytes()).toBe(1000);
    untouched.socket.destroy();

    await lim.update({ ...lim.toJson(), toxicity: 1 });
    nextRandom = () => 0.999999;
    const limited = await connectClient(port);
    const closed = await limited.closed;
    expect(closed.ended).toBe(true);
    expect(limited.bytes()).toBe(10);
  });

  it('is rolled per connection', async () => {
    const { proxy, port } = await senderProxy(Buffer.alloc(100, 1), false);
    await proxy.addToxic(toxic({ type: 'limit_data', toxicity: 0.5, attributes: { bytes: 1 } }));
    nextRandom = () => 0.25; // < 0.5: applied
    const hit = await connectClient(port);
    await hit.closed;
    expect(hit.bytes()).toBe(1);
    nextRandom = () => 0.75; // >= 0.5: not applied
    const miss = await connectClient(port);
    await miss.waitForBytes(100);
    expect(miss.bytes()).toBe(100);
    miss.socket.destroy();
  });
});

describe('bandwidth', () => {
  it('a transfer is not faster than size / rate, and arrives intact', async () => {
    const payload = Buffer.alloc(60_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const { proxy, port } = await senderProxy(payload, true);
    await proxy.addToxic(toxic({ type: 'bandwidth', attributes: { rate: 100 } })); // 100 KB/s → 600 ms
    const c = await connectClient(port);
    const start = performance.now();
    const closed = await c.closed;
    expect(closed.ended).toBe(true);
    expect(Buffer.concat(c.chunks).equals(payload)).toBe(true);
    expect(closed.at - start).toBeGreaterThanOrEqual(550);
    // Sent in pieces of at most 100 ms worth (10,000 bytes), as Toxiproxy does.
    expect(c.chunks.length).toBeGreaterThanOrEqual(6);
  });

  it('on the upstream stream throttles what the server receives', async () => {
    const upstream = await startServer(() => {});
    peers.push(upstream);
    const proxy = await tp.createProxy({ name: 'up', listen: '127.0.0.1:0', upstream: upstream.address });
    await proxy.addToxic(toxic({ type: 'bandwidth', stream: 'upstream', attributes: { rate: 50 } })); // 50 KB/s
    const c = await connectClient(portOf(proxy.listen));
    const start = performance.now();
    c.socket.write(Buffer.alloc(20_000, 3));
    await until(() => bytesOf(upstream.received[0] ?? []) === 20_000);
    expect(performance.now() - start).toBeGreaterThanOrEqual(380); // 20 KB at 50 KB/s = 400 ms
    c.socket.destroy();
  });
});

describe('slow_close', () => {
  it('holds the close for at least the delay after the upstream closed', async () => {
    const { proxy, port, endedAt } = await senderProxy(Buffer.from('bye'), true);
    await proxy.addToxic(toxic({ type: 'slow_close', attributes: { delay: 300 } }));
    const c = await connectClient(port);
    const closed = await c.closed;
    expect(c.text()).toBe('bye');
    expect(closed.ended).toBe(true);
    expect(endedAt).toHaveLength(1);
    expect(closed.at - (endedAt[0] as number)).toBeGreaterThanOrEqual(300);
  });
});

describe('timeout', () => {
  it('with 0: passes no data and keeps the connection open until the toxic is removed', async () => {
    const { proxy, port } = await echoProxy();
    const t = await proxy.addToxic(toxic({ type: 'timeout', attributes: { timeout: 0 } }));
    const c = await connectClient(port);
    let closedYet = false;
    void c.closed.then(() => (closedYet = true));
    c.socket.write('anyone?');
    await sleep(300);
    expect(c.bytes()).toBe(0);
    expect(closedYet).toBe(false);
    expect(server.connectionCount()).toBe(1);
    await t.remove();
    const closed = await c.closed;
    expect(c.bytes()).toBe(0); // data was dropped, not delayed
    expect(closed.ended).toBe(true);
  });

  it('with N ms: closes the connection not before N ms, without data', async () => {
    const { proxy, port } = await echoProxy();
    await proxy.addToxic(toxic({ type: 'timeout', attributes: { timeout: 250 } }));
    const start = performance.now();
    const c = await connectClient(port);
    c.socket.write('ping');
    const closed = await c.closed;
    expect(c.bytes()).toBe(0);
    expect(closed.at - start).toBeGreaterThanOrEqual(250);
  });

  it('on the upstream stream: the server never sees the request', async () => {
    const { proxy, port, upstream } = await echoProxy();
    await proxy.addToxic(toxic({ type: 'timeout', stream: 'upstream', attributes: { timeout: 200 } }));
    const c = await connectClient(port);
    c.socket.write('lost');
    await c.closed;
    expect(bytesOf(upstream.received[0] ?? [])).toBe(0);
  });
});

describe('reset_peer', () => {
  it('resets the client connection (ECONNRESET) on the first response data', async () => {
    const { proxy, port } = await echoProxy();
    await proxy.addToxic(toxic({ type: 'reset_peer', attributes: { timeout: 0 } }));
    const c = await connectClient(port);
    c.socket.write('hello');
    const closed = await c.closed;
    expect(closed.errorCode).toBe('ECONNRESET');
    expect(c.bytes()).toBe(0);
  });

  it('with a timeout resets not before the timeout, and the upstream is reset too', async () => {
    const upstreamErrors: string[] = [];
    const upstream = await startServer((socket) => socket.on('error', (e: NodeJS.ErrnoException) => upstreamErrors.push(e.code ?? '')));
    peers.push(upstream);
    const proxy = await tp.createProxy({ name: 'r', listen: '127.0.0.1:0', upstream: upstream.address });
    await proxy.addToxic(toxic({ type: 'reset_peer', stream: 'upstream', attributes: { timeout: 200 } }));
    const c = await connectClient(portOf(proxy.listen));
    const sentAt = performance.now();
    c.socket.write('x');
    const closed = await c.closed;
    expect(closed.errorCode).toBe('ECONNRESET');
    expect(closed.at - sentAt).toBeGreaterThanOrEqual(200);
    await until(() => upstreamErrors.length > 0);
    expect(upstreamErrors[0]).toBe('ECONNRESET');
  });
});

describe('slicer', () => {
  it('delivers the data intact in many small chunks', async () => {
    const payload = Buffer.alloc(2000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 256;
    const { proxy, port } = await senderProxy(payload, false);
    await proxy.addToxic(toxic({ type: 'slicer', attributes: { average_size: 20, size_variation: 5, delay: 2000 } }));
    const c = await connectClient(port);
    await c.waitForBytes(payload.length);
    expect(Buffer.concat(c.chunks).equals(payload)).toBe(true);
    // ~100 pieces 2 ms apart; the receiver sees far more reads than the single write.
    expect(c.chunks.length).toBeGreaterThanOrEqual(20);
    c.socket.destroy();
  });
});

describe('limit_data', () => {
  it('passes exactly N bytes downstream, then closes', async () => {
    const payload = Buffer.alloc(5000, 9);
    const { proxy, port } = await senderProxy(payload, false);
    await proxy.addToxic(toxic({ type: 'limit_data', attributes: { bytes: 1234 } }));
    const c = await connectClient(port);
    const closed = await c.closed;
    expect(closed.ended).toBe(true);
    expect(c.bytes()).toBe(1234);
  });

  it('on the upstream stream: the server receives exactly N bytes, the client still gets the echo of them', async () => {
    const { proxy, port, upstream } = await echoProxy();
    await proxy.addToxic(toxic({ type: 'limit_data', stream: 'upstream', attributes: { bytes: 5 } }));
    const c = await connectClient(port);
    c.socket.write('0123456789');
    await c.closed;
    expect(Buffer.concat(upstream.received[0] ?? []).toString()).toBe('01234');
  });
});

describe('limit_data on a live connection', () => {
  it('keeps counting across an update of the limit', async () => {
    const { proxy, port } = await echoProxy();
    const lim = await proxy.addToxic(toxic({ type: 'limit_data', attributes: { bytes: 100 } }));
    const c = await connectClient(port);
    c.socket.write(Buffer.alloc(60, 1));
    await c.waitForBytes(60);
    await lim.update({ ...lim.toJson(), attributes: { bytes: 80 } });
    c.socket.write(Buffer.alloc(60, 2));
    const closed = await c.closed;
    expect(closed.ended).toBe(true);
    expect(c.bytes()).toBe(80);
  });
});

describe('proxy lifecycle with live traffic', () => {
  it('disabling closes connections held by toxics and refuses new ones; enabling restores', async () => {
    const { proxy, port } = await echoProxy();
    await proxy.addToxic(toxic({ type: 'timeout', attributes: { timeout: 0 } }));
    const held = await connectClient(port);
    held.socket.write('x');
    await until(() => server.connectionCount() === 1);
    const down = await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    await held.closed;
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    await until(() => server.connectionCount() === 0);
    await down.update({ enabled: true, listen: down.listen, upstream: down.upstream });
    expect(await tryConnect(port)).toBe('connected');
  });

  it('an unreachable upstream closes the client connection', async () => {
    const gone = await startEcho();
    const address = gone.address;
    await gone.close();
    const proxy = await tp.createProxy({ name: 'dead', listen: '127.0.0.1:0', upstream: address });
    const c = await connectClient(portOf(proxy.listen));
    await c.closed;
    expect(c.bytes()).toBe(0);
    await until(() => server.connectionCount() === 0);
  });

  it('respects backpressure: a client that does not read stalls the upstream instead of filling memory', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    let done = false;
    const upstream = await startServer((socket) => {
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
        done = true;
      };
      pump();
    });
    peers.push(upstream);
    const proxy = await tp.createProxy({ name: 'bp', listen: '127.0.0.1:0', upstream: upstream.address });
    await proxy.addToxic(toxic({ type: 'latency', attributes: { latency: 1, jitter: 0 } }));
    const c = await connectClient(portOf(proxy.listen));
    c.socket.pause();
    // Let the pipe fill: kernel buffers hold a few MB, the proxy at most its high-water mark.
    let last = -1;
    while (written !== last) {
      last = written;
      await sleep(200);
    }
    expect(done).toBe(false);
    expect(written).toBeLessThan(total);
    // Reading again lets everything through.
    c.socket.resume();
    await c.waitForBytes(total);
    expect(c.bytes()).toBe(total);
    c.socket.destroy();
  });

  it('connections closed under held data leave no timer behind; close() leaves no listener', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const { proxy, port } = await echoProxy();
    await proxy.addToxic(toxic({ type: 'latency', attributes: { latency: 600_000, jitter: 0 } }));
    await proxy.addToxic(toxic({ type: 'slow_close', stream: 'upstream', attributes: { delay: 600_000 } }));
    const clients = await Promise.all(Array.from({ length: 6 }, () => connectClient(port)));
    for (const c of clients) c.socket.write('held');
    await until(() => server.connectionCount() === 6);
    await until(() => timers() >= 6); // one latency timer per held echo
    // Disabling keeps the toxics but kills the connections: their stages must clear their timers.
    await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    for (const c of clients) await c.closed;
    await until(() => server.connectionCount() === 0);
    expect(timers()).toBeLessThanOrEqual(2); // whatever the test runner itself keeps
    await proxy.update({ enabled: true, listen: proxy.listen, upstream: proxy.upstream });
    const late = await connectClient(port);
    late.socket.write('held');
    await until(() => timers() >= 1);
    await server.close();
    await late.closed;
    expect(server.connectionCount()).toBe(0);
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    expect(await tryConnect(portOf(new URL(server.url).host))).toBe('ECONNREFUSED');
  });
});

describe('with an HTTP upstream', () => {
  const body = 'x'.repeat(20_000);

  async function httpProxy(): Promise<{ proxy: Proxy; port: number }> {
    const http = createHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
      res.end(body);
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    peers.push({
      address: '',
      port: 0,
      sockets: [],
      received: [],
      close: () =>
        new Promise<void>((r) => {
          http.closeAllConnections();
          http.close(() => r());
        }),
    });
    const proxy = await tp.createProxy({ name: 'http', listen: '127.0.0.1:0', upstream: `127.0.0.1:${(http.address() as AddressInfo).port}` });
    return { proxy, port: portOf(proxy.listen) };
  }

  function get(port: number): Promise<{ status: number; text: string } | { error: string }> {
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      req.end();
    });
  }

  it('a response through the proxy is intact, and slowed by latency', async () => {
    const { proxy, port } = await httpProxy();
    expect(await get(port)).toEqual({ status: 200, text: body });
    await proxy.addToxic(toxic({ type: 'latency', attributes: { latency: 250, jitter: 0 } }));
    const start = performance.now();
    expect(await get(port)).toEqual({ status: 200, text: body });
    expect(performance.now() - start).toBeGreaterThanOrEqual(250);
  });

  it('reset_peer makes the request fail with ECONNRESET', async () => {
    const { proxy, port } = await httpProxy();
    await proxy.addToxic(toxic({ type: 'reset_peer', attributes: { timeout: 0 } }));
    expect(await get(port)).toEqual({ error: 'ECONNRESET' });
  });

  it('limit_data cuts the response short mid-body', async () => {
    const { proxy, port } = await httpProxy();
    await proxy.addToxic(toxic({ type: 'limit_data', attributes: { bytes: 1000 } }));
    const r = await get(port);
    expect(r).toHaveProperty('error');
  });
});
