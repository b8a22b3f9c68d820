// The Toxiproxy HTTP API, driven through toxiproxy-node-client unchanged (plus raw fetch where the
// client hides status codes or bodies).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Toxiproxy, ToxiproxyError } from 'toxiproxy-node-client';
import type { ICreateToxicBody } from 'toxiproxy-node-client/dist/interfaces.js';
import { createToxiproxyServer, startToxiproxy } from '../../../chaos/toxiproxy/server.ts';
import type { ToxiproxyServer } from '../../../chaos/toxiproxy/server.ts';
import { connectClient, portOf, startEcho, tryConnect, until } from './helpers.ts';
import type { TestServer } from './helpers.ts';

let server: ToxiproxyServer;
let echo: TestServer;
let echo2: TestServer;
let tp: Toxiproxy;

beforeEach(async () => {
  server = await createToxiproxyServer({ host: '127.0.0.1', port: 0 });
  echo = await startEcho();
  echo2 = await startEcho();
  tp = new Toxiproxy(server.url);
});

afterEach(async () => {
  await server.close();
  await echo.close();
  await echo2.close();
});

/** The client's addToxic type demands every field; Toxiproxy defaults the optional ones. */
function toxic<T>(body: Partial<ICreateToxicBody<T>> & { type: ICreateToxicBody<T>['type']; attributes: T }): ICreateToxicBody<T> {
  return body as ICreateToxicBody<T>;
}

async function roundTrip(port: number, text: string): Promise<string> {
  const c = await connectClient(port);
  c.socket.write(text);
  await c.waitForBytes(Buffer.byteLength(text));
  c.socket.destroy();
  return c.text();
}

async function raw(path: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(`${server.url}${path}`, init);
  return { status: res.status, body: await res.text() };
}

describe('toxiproxy API via toxiproxy-node-client', () => {
  it('reports a version as JSON', async () => {
    const v = JSON.parse(await tp.getVersion()) as { version: string };
    expect(v.version).toMatch(/^2\./);
  });

  it('creates a proxy on a bound loopback port that forwards traffic', async () => {
    const proxy = await tp.createProxy({ name: 'echo', listen: '127.0.0.1:0', upstream: echo.address });
    expect(proxy.name).toBe('echo');
    expect(proxy.enabled).toBe(true);
    expect(proxy.upstream).toBe(echo.address);
    expect(proxy.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(portOf(proxy.listen)).toBeGreaterThan(0);
    expect(await roundTrip(portOf(proxy.listen), 'ping')).toBe('ping');
  });

  it('answers 409 to a duplicate name and 404 to an unknown proxy', async () => {
    await tp.createProxy({ name: 'dup', listen: '127.0.0.1:0', upstream: echo.address });
    await expect(tp.createProxy({ name: 'dup', listen: '127.0.0.1:0', upstream: echo.address })).rejects.toThrow(/status code 409/);
    await expect(tp.get('nope')).rejects.toBeInstanceOf(ToxiproxyError);
    const r = await raw('/proxies/nope');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toEqual({ error: 'proxy not found', status: 404 });
  });

  it('lists and gets proxies with their toxics', async () => {
    await tp.createProxy({ name: 'a', listen: '127.0.0.1:0', upstream: echo.address });
    await tp.createProxy({ name: 'b', listen: '127.0.0.1:0', upstream: echo2.address, enabled: false });
    const all = await tp.getAll();
    expect(Object.keys(all).sort()).toEqual(['a', 'b']);
    expect(all['b']?.enabled).toBe(false);
    const b = await tp.get('b');
    expect(b.upstream).toBe(echo2.address);
    const r = await raw('/proxies');
    const body = JSON.parse(r.body) as Record<string, { toxics: unknown[] }>;
    expect(body['a']?.toxics).toEqual([]);
  });

  it('rejects missing fields and non-loopback addresses with 400', async () => {
    const post = (body: unknown) => raw('/proxies', { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    expect((await post({ listen: '127.0.0.1:0', upstream: echo.address })).status).toBe(400);
    expect((await post({ name: 'x', listen: '127.0.0.1:0' })).status).toBe(400);
    expect((await post({ name: 'x', listen: '0.0.0.0:0', upstream: echo.address })).status).toBe(400);
    expect((await post({ name: 'x', listen: ':0', upstream: echo.address })).status).toBe(400);
    expect((await post({ name: 'x', listen: '10.1.2.3:0', upstream: echo.address })).status).toBe(400);
    expect((await post({ name: 'x', listen: '127.0.0.1:0', upstream: '192.0.2.1:80' })).status).toBe(400);
    expect((await raw('/proxies', { method: 'POST', body: '{not json' })).status).toBe(400);
    const bad = await post({ name: 'x', listen: '8.8.8.8:53', upstream: echo.address });
    expect(JSON.parse(bad.body)).toMatchObject({ status: 400 });
    await expect(tp.createProxy({ name: 'y', listen: '0.0.0.0:0', upstream: echo.address })).rejects.toThrow(/status code 400/);
    expect(Object.keys(await tp.getAll())).toEqual([]);
  });

  it('disables (closing live connections and the listener) and re-enables on the same address', async () => {
    const proxy = await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: echo.address });
    const port = portOf(proxy.listen);
    const live = await connectClient(port);
    live.socket.write('x');
    await live.waitForBytes(1);

    const down = await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    expect(down.enabled).toBe(false);
    expect(down.listen).toBe(proxy.listen);
    await live.closed;
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    await until(() => server.connectionCount() === 0);

    const up = await down.update({ enabled: true, listen: down.listen, upstream: down.upstream });
    expect(up.enabled).toBe(true);
    expect(up.listen).toBe(proxy.listen);
    expect(await roundTrip(port, 'again')).toBe('again');
  });

  it('changes the upstream of a proxy', async () => {
    const proxy = await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: echo.address });
    const moved = await proxy.update({ enabled: true, listen: proxy.listen, upstream: echo2.address });
    expect(moved.upstream).toBe(echo2.address);
    expect(await roundTrip(portOf(moved.listen), 'moved')).toBe('moved');
    expect(echo2.sockets.length).toBe(1);
    expect(echo.sockets.length).toBe(0);
  });

  it('accepts PATCH for updates, as upstream does', async () => {
    await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: echo.address });
    const r = await raw('/proxies/p', { method: 'PATCH', body: JSON.stringify({ enabled: false }) });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ name: 'p', enabled: false, upstream: echo.address });
  });

  it('deletes a proxy (204) and frees its port', async () => {
    const proxy = await tp.createProxy({ name: 'gone', listen: '127.0.0.1:0', upstream: echo.address });
    await proxy.remove();
    await expect(tp.get('gone')).rejects.toThrow(/status code 404/);
    expect(await tryConnect(portOf(proxy.listen))).toBe('ECONNREFUSED');
    expect((await raw('/proxies/gone', { method: 'DELETE' })).status).toBe(404);
  });

  it('populates: creates, keeps identical proxies, replaces changed ones', async () => {
    const first = await tp.populate([
      { name: 'one', listen: '127.0.0.1:0', upstream: echo.address },
      { name: 'two', listen: '127.0.0.1:0', upstream: echo2.address, enabled: false },
    ]);
    expect(Object.keys(first).sort()).toEqual(['one', 'two']);
    expect(first['two']?.enabled).toBe(false);
    const one = first['one'];
    expect(one).toBeDefined();
    if (one === undefined) return;
    await one.addToxic(toxic({ type: 'latency', attributes: { latency: 1, jitter: 0 } }));

    // Identical listen and upstream: the running proxy (and its toxics) is kept.
    const again = await tp.populate([{ name: 'one', listen: one.listen, upstream: echo.address }]);
    expect(again['one']?.listen).toBe(one.listen);
    expect((await one.getToxic('latency_downstream')).name).toBe('latency_downstream');

    // Changed upstream: replaced by a fresh proxy without toxics.
    await tp.populate([{ name: 'one', listen: one.listen, upstream: echo2.address }]);
    const replaced = await tp.get('one');
    expect(replaced.upstream).toBe(echo2.address);
    await expect(replaced.getToxic('latency_downstream')).rejects.toThrow(/404/);
    expect(await roundTrip(portOf(replaced.listen), 'x')).toBe('x');

    const r = await raw('/populate', { method: 'POST', body: JSON.stringify({ name: 'not-an-array' }) });
    expect(r.status).toBe(400);
    const missing = await raw('/populate', { method: 'POST', body: JSON.stringify([{ name: 'z', listen: '127.0.0.1:0', upstream: echo.address }, { name: 'w' }]) });
    expect(missing.status).toBe(400);
    expect(Object.keys(await tp.getAll()).sort()).toEqual(['one', 'two']);
  });

  it('adds toxics with Toxiproxy defaults (200), gets, updates (merge) and removes them', async () => {
    const proxy = await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: echo.address });
    const added = await proxy.addToxic(toxic({ type: 'latency', attributes: { latency: 100, jitter: 10 } }));
    expect(added.toJson()).toEqual({ name: 'latency_downstream', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 100, jitter: 10 } });

    const rawAdd = await raw('/proxies/p/toxics', { method: 'POST', body: JSON.stringify({ type: 'bandwidth', stream: 'upstream', attributes: { rate: 64 } }) });
    expect(rawAdd.status).toBe(200);
    expect(JSON.parse(rawAdd.body)).toEqual({ attributes: { rate: 64 }, name: 'bandwidth_upstream', type: 'bandwidth', stream: 'upstream', toxicity: 1 });

    const named = await proxy.addToxic(toxic({ name: 'lim', type: 'limit_data', stream: 'downstream', toxicity: 0.5, attributes: { bytes: 1024 } }));
    expect(named.toJson()).toMatchObject({ name: 'lim', toxicity: 0.5, attributes: { bytes: 1024 } });

    const got = await proxy.getToxic<{ latency: number; jitter: number }>('latency_downstream');
    expect(got.attributes).toEqual({ latency: 100, jitter: 10 });

    // The client posts the whole toxic; only attributes and toxicity change, absent attributes are kept.
    const updated = await got.update({ ...got.toJson(), attributes: { latency: 500 } as { latency: number; jitter: number }, toxicity: 0.25 });
    expect(updated.attributes).toEqual({ latency: 500, jitter: 10 });
    expect(updated.toxicity).toBe(0.25);

    const list = await raw('/proxies/p/toxics');
    expect((JSON.parse(list.body) as Array<{ name: string }>).map((t) => t.name)).toEqual(['bandwidth_upstream', 'latency_downstream', 'lim']);
    expect((await tp.get('p')).toJson().name).toBe('p');
    const withToxics = JSON.parse((await raw('/proxies/p')).body) as { toxics: unknown[] };
    expect(withToxics.toxics).toHaveLength(3);

    await updated.remove();
    await expect(proxy.getToxic('latency_downstream')).rejects.toThrow(/status code 404/);
    expect((await raw('/proxies/p/toxics/latency_downstream', { method: 'DELETE' })).status).toBe(404);
  });

  it('rejects bad toxics: 409 duplicate, 400 type/stream/attributes, 404 unknown proxy', async () => {
    const proxy = await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: echo.address });
    await proxy.addToxic(toxic({ type: 'timeout', attributes: { timeout: 0 } }));
    await expect(proxy.addToxic(toxic({ type: 'timeout', attributes: { timeout: 5 } }))).rejects.toThrow(/status code 409/);
    const post = (body: unknown) => raw('/proxies/p/toxics', { method: 'POST', body: JSON.stringify(body) });
    const badType = await post({ type: 'nonsense', attributes: {} });
    expect(badType.status).toBe(400);
    expect(JSON.parse(badType.body)).toEqual({ error: 'invalid toxic type', status: 400 });
    expect((await post({ type: 'latency', stream: 'sideways', attributes: {} })).status).toBe(400);
    expect((await post({ type: 'latency', name: 'l2', attributes: { latency: 'slow' } })).status).toBe(400);
    expect((await post({ type: 'latency', name: 'l3', attributes: { latency: 1.5 } })).status).toBe(400);
    expect((await raw('/proxies/none/toxics', { method: 'POST', body: JSON.stringify({ type: 'latency' }) })).status).toBe(404);
    expect((await raw('/proxies/p/toxics/none')).status).toBe(404);
    expect((await raw('/proxies/p/toxics/none', { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('reset re-enables every proxy and removes every toxic (204)', async () => {
    const a = await tp.createProxy({ name: 'a', listen: '127.0.0.1:0', upstream: echo.address });
    await a.addToxic(toxic({ type: 'latency', attributes: { latency: 1000, jitter: 0 } }));
    await a.addToxic(toxic({ type: 'limit_data', stream: 'upstream', attributes: { bytes: 1 } }));
    const b = await tp.createProxy({ name: 'b', listen: '127.0.0.1:0', upstream: echo2.address });
    await b.update({ enabled: false, listen: b.listen, upstream: b.upstream });

    const r = await raw('/reset', { method: 'POST' });
    expect(r.status).toBe(204);
    await tp.reset();
    const all = JSON.parse((await raw('/proxies')).body) as Record<string, { enabled: boolean; toxics: unknown[] }>;
    expect(all['a']).toMatchObject({ enabled: true, toxics: [] });
    expect(all['b']).toMatchObject({ enabled: true, toxics: [] });
    expect(await roundTrip(portOf(b.listen), 'back')).toBe('back');
  });

  it('refuses browsers (403), unknown routes (404) and wrong methods (405)', async () => {
    expect((await raw('/proxies', { headers: { 'User-Agent': 'Mozilla/5.0' } })).status).toBe(403);
    expect((await raw('/nothing')).status).toBe(404);
    expect((await raw('/proxies', { method: 'PUT' })).status).toBe(405);
  });

  it('refuses a non-loopback API host', async () => {
    await expect(createToxiproxyServer({ host: '0.0.0.0', port: 0 })).rejects.toThrow(/loopback/);
  });

  it('answers 500 when the listen address is taken, and creates nothing', async () => {
    const taken = await tp.createProxy({ name: 'first', listen: '127.0.0.1:0', upstream: echo.address });
    const r = await raw('/proxies', { method: 'POST', body: JSON.stringify({ name: 'second', listen: taken.listen, upstream: echo.address }) });
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toMatchObject({ status: 500 });
    expect(Object.keys(await tp.getAll())).toEqual(['first']);
  });
});

describe('startToxiproxy', () => {
  it('uses TOXIPROXY_URL when set, without starting anything', async () => {
    const t = await startToxiproxy({ TOXIPROXY_URL: 'http://127.0.0.1:8474/' });
    expect(t).toMatchObject({ url: 'http://127.0.0.1:8474', external: true });
    await t.close();
  });

  it('otherwise starts a local server that the client can drive', async () => {
    const t = await startToxiproxy({});
    try {
      expect(t.external).toBe(false);
      const client = new Toxiproxy(t.url);
      expect(JSON.parse(await client.getVersion())).toHaveProperty('version');
    } finally {
      await t.close();
    }
  });
});
