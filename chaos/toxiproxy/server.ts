// Toxiproxy v2 HTTP API (api.go) over the loopback fault proxies in proxy.ts. Paths, JSON shapes,
// defaults and status codes follow upstream Toxiproxy so that `toxiproxy-node-client` works
// unchanged; the differences are listed in README.md.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatAddress, isLoopbackHost, parseLoopbackAddress } from './address.ts';
import { ToxicProxy } from './proxy.ts';
import type { ProxyRuntime } from './proxy.ts';
import { decodeAttributes, isStream, isToxicType } from './toxics.ts';
import type { Stream, ToxicSpec } from './toxics.ts';

/** Reported by GET /version: the upstream API level this server implements, tagged as ours. */
export const TOXIPROXY_API_VERSION = '2.12.0-sentinel';

const MAX_BODY_BYTES = 1024 * 1024;

export interface ToxiproxyServerOptions {
  /** Loopback only; default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port; default 8474 (Toxiproxy's). */
  readonly port?: number;
  /** Source of randomness for toxicity, jitter and slicing; default Math.random. */
  readonly random?: () => number;
}

export interface ToxiproxyServer {
  /** Base URL for the client, e.g. "http://127.0.0.1:8474". */
  readonly url: string;
  /** Live proxied connections over all proxies (accepted, not yet fully closed). */
  connectionCount(): number;
  /** Stops the API, every proxy listener and every connection, and clears all timers. */
  close(): Promise<void>;
}

class ApiError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

const badBody = (detail: string): ApiError => new ApiError(`bad request body: ${detail}`, 400);
const missingField = (field: string): ApiError => new ApiError(`missing required field: ${field}`, 400);
const proxyNotFound = (): ApiError => new ApiError('proxy not found', 404);
const toxicNotFound = (): ApiError => new ApiError('toxic not found', 404);

interface ProxyInput {
  readonly name: string;
  readonly listen: string;
  readonly upstream: string;
  readonly enabled: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(rec: Record<string, unknown>, field: string, fallback: string): string {
  const v = rec[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw badBody(`${field} must be a string`);
  return v;
}

function optionalBool(rec: Record<string, unknown>, field: string, fallback: boolean): boolean {
  const v = rec[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw badBody(`${field} must be a boolean`);
  return v;
}

/** Validates one proxy body; `where` names the item in /populate errors. */
function decodeProxyInput(raw: unknown, where: string): ProxyInput {
  if (!isRecord(raw)) throw badBody('expected a JSON object');
  const name = optionalString(raw, 'name', '');
  const upstream = optionalString(raw, 'upstream', '');
  // An empty listen means "all interfaces, any port" in Toxiproxy; we pick loopback instead.
  const listen = optionalString(raw, 'listen', '') || '127.0.0.1:0';
  if (name === '') throw missingField(`name${where}`);
  if (upstream === '') throw missingField(`upstream${where}`);
  checkAddresses(listen, upstream);
  return { name, listen, upstream, enabled: optionalBool(raw, 'enabled', true) };
}

function checkAddresses(listen: string, upstream: string): void {
  for (const [value, field] of [
    [listen, 'listen'],
    [upstream, 'upstream'],
  ] as const) {
    const parsed = parseLoopbackAddress(value, field);
    if (!parsed.ok) throw new ApiError(parsed.message, 400);
  }
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw badBody('too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw badBody('EOF');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badBody((err as Error).message);
  }
}

/** The proxy collection and the API operations on it. */
class Collection {
  readonly proxies = new Map<string, ToxicProxy>();
  private readonly runtime: ProxyRuntime;
  /** API operations run one at a time, like Toxiproxy's collection lock. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(runtime: ProxyRuntime) {
    this.runtime = runtime;
  }

  serialize<T>(op: () => Promise<T>): Promise<T> {
    const next = this.queue.then(op);
    this.queue = next.catch(() => {});
    return next;
  }

  get(name: string): ToxicProxy {
    const proxy = this.proxies.get(name);
    if (proxy === undefined) throw proxyNotFound();
    return proxy;
  }

  async startOrFail(proxy: ToxicProxy): Promise<void> {
    try {
      await proxy.start();
    } catch (err) {
      throw new ApiError(`listen tcp ${proxy.listen}: ${(err as Error).message}`, 500);
    }
  }

  async create(input: ProxyInput): Promise<ToxicProxy> {
    if (this.proxies.has(input.name)) throw new ApiError('proxy already exists', 409);
    const proxy = new ToxicProxy(input.name, input.listen, input.upstream, this.runtime);
    if (input.enabled) await this.startOrFail(proxy);
    this.proxies.set(input.name, proxy);
    return proxy;
  }

  /** Toxiproxy's AddOrReplace: an existing proxy with the same listen and upstream is kept. */
  async addOrReplace(input: ProxyInput): Promise<ToxicProxy> {
    const existing = this.proxies.get(input.name);
    if (existing !== undefined) {
      if (existing.listen === input.listen && existing.upstream === input.upstream) return existing;
      await existing.stop();
      this.proxies.delete(input.name);
    }
    return this.create(input);
  }

  async update(proxy: ToxicProxy, raw: unknown): Promise<void> {
    if (!isRecord(raw)) throw badBody('expected a JSON object');
    const listen = optionalString(raw, 'listen', proxy.listen);
    const upstream = optionalString(raw, 'upstream', proxy.upstream);
    const enabled = optionalBool(raw, 'enabled', proxy.enabled);
    checkAddresses(listen, upstream);
    if (listen !== proxy.listen || upstream !== proxy.upstream) {
      await proxy.stop();
      proxy.listen = listen;
      proxy.upstream = upstream;
    }
    if (enabled !== proxy.enabled) {
      if (enabled) await this.startOrFail(proxy);
      else await proxy.stop();
    }
  }

  async remove(name: string): Promise<void> {
    const proxy = this.get(name);
    this.proxies.delete(name);
    await proxy.stop();
  }

  async reset(): Promise<void> {
    for (const proxy of this.proxies.values()) {
      await this.startOrFail(proxy);
      proxy.resetToxics();
    }
  }

  async closeAll(): Promise<void> {
    for (const proxy of this.proxies.values()) {
      proxy.resetToxics();
      await proxy.stop();
    }
    this.proxies.clear();
  }
}

function createToxic(proxy: ToxicProxy, raw: unknown): ToxicSpec {
  if (!isRecord(raw)) throw badBody('expected a JSON object');
  const stream = optionalString(raw, 'stream', 'downstream');
  if (!isStream(stream)) throw new ApiError('stream was invalid, can be either upstream or downstream', 400);
  const type = optionalString(raw, 'type', '');
  const name = optionalString(raw, 'name', '') || `${type}_${stream}`;
  if (!isToxicType(type)) throw new ApiError('invalid toxic type', 400);
  const toxicity = raw['toxicity'] ?? 1;
  if (typeof toxicity !== 'number' || !Number.isFinite(toxicity)) throw badBody('toxicity must be a number');
  if (proxy.getToxic(name) !== undefined) throw new ApiError('toxic already exists', 409);
  const attrs = decodeAttributes(type, raw['attributes']);
  if (!attrs.ok) throw badBody(attrs.message);
  const spec: ToxicSpec = { attributes: attrs.attributes, name, type, stream: stream as Stream, toxicity };
  proxy.addToxic(spec);
  return spec;
}

/** Only attributes and toxicity change; name, type and stream in the body are ignored (as upstream). */
function updateToxic(proxy: ToxicProxy, name: string, raw: unknown): ToxicSpec {
  const old = proxy.getToxic(name);
  if (old === undefined) throw toxicNotFound();
  if (!isRecord(raw)) throw badBody('expected a JSON object');
  const attrs = decodeAttributes(old.type, raw['attributes'], old.attributes);
  if (!attrs.ok) throw badBody(attrs.message);
  const toxicity = raw['toxicity'] ?? old.toxicity;
  if (typeof toxicity !== 'number' || !Number.isFinite(toxicity)) throw badBody('toxicity must be a number');
  const spec: ToxicSpec = { ...old, attributes: attrs.attributes, toxicity };
  proxy.updateToxic(spec);
  return spec;
}

async function route(col: Collection, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        throw new ApiError('bad path encoding', 400);
      }
    });
  const [root, proxyName, sub, toxicName, extra] = parts;
  const isUpdate = method === 'POST' || method === 'PATCH';

  if (parts.length === 1 && root === 'version' && method === 'GET') {
    send(res, 200, `{"version": "${TOXIPROXY_API_VERSION}"}\n`, 'application/json;charset=utf-8');
    return;
  }
  if (parts.length === 1 && root === 'reset' && method === 'POST') {
    await col.serialize(() => col.reset());
    send(res, 204, undefined);
    return;
  }
  if (parts.length === 1 && root === 'populate' && method === 'POST') {
    const body = await readJson(req);
    const created = await col.serialize(async () => {
      if (!Array.isArray(body)) throw badBody('expected a JSON array of proxies');
      const inputs = body.map((item, i) => decodeProxyInput(item, ` at proxy ${i + 1}`));
      const seen = new Set<string>();
      for (const input of inputs) {
        if (seen.has(input.name)) throw badBody(`duplicate proxy name "${input.name}"`);
        seen.add(input.name);
      }
      const out: ToxicProxy[] = [];
      for (const input of inputs) out.push(await col.addOrReplace(input));
      return out;
    });
    send(res, 201, { proxies: created.map((p) => p.toJSON()) });
    return;
  }
  if (root !== 'proxies' || extra !== undefined) throw new ApiError('404 page not found', 404);

  if (proxyName === undefined) {
    if (method === 'GET') {
      send(res, 200, Object.fromEntries([...col.proxies].map(([name, p]) => [name, p.toJSON()])));
      return;
    }
    if (method === 'POST') {
      const body = await readJson(req);
      const proxy = await col.serialize(() => col.create(decodeProxyInput(body, '')));
      send(res, 201, proxy.toJSON());
      return;
    }
    throw new ApiError('method not allowed', 405);
  }

  if (sub === undefined) {
    if (method === 'GET') {
      send(res, 200, col.get(proxyName).toJSON());
      return;
    }
    if (isUpdate) {
      const body = await readJson(req);
      const proxy = await col.serialize(async () => {
        const p = col.get(proxyName);
        await col.update(p, body);
        return p;
      });
      send(res, 200, proxy.toJSON());
      return;
    }
    if (method === 'DELETE') {
      await col.serialize(() => col.remove(proxyName));
      send(res, 204, undefined);
      return;
    }
    throw new ApiError('method not allowed', 405);
  }

  if (sub !== 'toxics') throw new ApiError('404 page not found', 404);

  if (toxicName === undefined) {
    if (method === 'GET') {
      send(res, 200, col.get(proxyName).toxicList());
      return;
    }
    if (method === 'POST') {
      const body = await readJson(req);
      const toxic = await col.serialize(async () => createToxic(col.get(proxyName), body));
      send(res, 200, toxic);
      return;
    }
    throw new ApiError('method not allowed', 405);
  }

  if (method === 'GET') {
    const toxic = col.get(proxyName).getToxic(toxicName);
    if (toxic === undefined) throw toxicNotFound();
    send(res, 200, toxic);
    return;
  }
  if (isUpdate) {
    const body = await readJson(req);
    const toxic = await col.serialize(async () => updateToxic(col.get(proxyName), toxicName, body));
    send(res, 200, toxic);
    return;
  }
  if (method === 'DELETE') {
    await col.serialize(async () => {
      const proxy = col.get(proxyName);
      if (proxy.getToxic(toxicName) === undefined) throw toxicNotFound();
      proxy.removeToxic(toxicName);
    });
    send(res, 204, undefined);
    return;
  }
  throw new ApiError('method not allowed', 405);
}

/** Starts the API on a loopback address. */
export async function createToxiproxyServer(options: ToxiproxyServerOptions = {}): Promise<ToxiproxyServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error(`toxiproxy: API host ${host} is not a loopback address`);
  const col = new Collection({ random: options.random ?? Math.random, now: () => performance.now() });

  const http = createServer((req, res) => {
    // Toxiproxy refuses browsers so a web page cannot drive it (CSRF-style attacks).
    if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
      req.resume();
      send(res, 403, 'User agent not allowed\n', 'text/plain; charset=utf-8');
      return;
    }
    route(col, req, res).catch((err: unknown) => {
      const apiErr = err instanceof ApiError ? err : new ApiError((err as Error).message, 500);
      req.resume();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(res, apiErr.status, `${JSON.stringify({ error: apiErr.message, status: apiErr.status })}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen({ host: host === 'localhost' ? '127.0.0.1' : host, port: options.port ?? 8474 }, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const addr = http.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${formatAddress(addr.address, addr.port)}`,
    connectionCount: () => [...col.proxies.values()].reduce((n, p) => n + p.connectionCount(), 0),
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeAllConnections();
        await col.serialize(() => col.closeAll());
        await stopped;
      })();
      return closing;
    },
  };
}

/**
 * For drills: use the real Toxiproxy at TOXIPROXY_URL when it is set, else start this one on a
 * free loopback port. close() only stops what was started here.
 */
export async function startToxiproxy(env: Readonly<Record<string, string | undefined>> = process.env): Promise<{ readonly url: string; readonly external: boolean; close(): Promise<void> }> {
  const external = env['TOXIPROXY_URL'];
  if (external !== undefined && external !== '') {
    return { url: external.replace(/\/+$/, ''), external: true, close: async () => {} };
  }
  const server = await createToxiproxyServer({ host: '127.0.0.1', port: 0 });
  return { url: server.url, external: false, close: () => server.close() };
}
