// The real CLI process proxying to real loopback upstreams: headers, streaming, errors, timeouts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { startBlackhole } from '../helpers/blackhole.ts';
import type { Blackhole } from '../helpers/blackhole.ts';

interface Reply { status: number; headers: IncomingMessage['headers']; rawHeaders: string[]; body: Buffer; aborted: boolean }

function send(port: number, opts: { method?: string; path?: string; headers?: Record<string, string | string[]> | string[]; body?: Buffer | (() => AsyncIterable<Buffer>) } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => { aborted = true; });
      res.on('error', () => { aborted = true; });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks), aborted: aborted || !res.complete }));
    });
    // An error after the response head arrived is reported through `aborted`, not as a failure.
    let responded = false;
    req.once('response', () => { responded = true; });
    req.on('error', (err) => { if (!responded) reject(err); });
    const body = opts.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      void (async () => {
        for await (const chunk of body()) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })();
    }
  });
}

function deterministicChunks(totalBytes: number, chunkBytes: number): () => AsyncIterable<Buffer> {
  return async function* () {
    let sent = 0;
    let n = 0;
    while (sent < totalBytes) {
      const size = Math.min(chunkBytes, totalBytes - sent);
      const b = Buffer.alloc(size, n++ % 251);
      sent += size;
      yield b;
    }
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let echo: Upstream;          // echoes request head as JSON, or streams/hashes bodies
let stall: Upstream;         // various misbehaviours selected by path
let blackhole: Blackhole;    // accepts no connections: connect timeout
let refused: number;
let proxy: SentinelProcess;
let port: number;

beforeAll(async () => {
  echo = await startUpstream((req, res) => {
    if (req.url?.startsWith('/upload')) {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => { h.update(c); n += c.length; });
      req.on('end', () => {
        const body = JSON.stringify({ bytes: n, sha256: h.digest('hex') });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      });
      return;
    }
    if (req.url?.startsWith('/download')) {
      const total = Number(new URL(req.url, 'http://x').searchParams.get('bytes'));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      void (async () => {
        for await (const c of deterministicChunks(total, 65536)()) {
          if (!res.write(c)) await new Promise((r) => res.once('drain', r));
        }
        res.end();
      })();
      return;
    }
    if (req.url === '/firehose') {
      // 64 MiB, written with backpressure; records how far it got and whether it is blocked.
      const total = 64 * 1024 * 1024;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      void (async () => {
        const chunk = Buffer.alloc(65536, 9);
        while (firehose.written < total) {
          firehose.written += chunk.length;
          if (!res.write(chunk)) {
            firehose.blocked = true;
            await new Promise((r) => res.once('drain', r));
            firehose.blocked = false;
          }
        }
        res.end();
      })();
      return;
    }
    if (req.url === '/hop') {
      res.writeHead(200, [
        'Content-Type', 'text/plain',
        'Connection', 'x-upstream-secret, keep-alive',
        'X-Upstream-Secret', 'leak',
        'Keep-Alive', 'timeout=5',
        'Via', '1.0 origin',
        'X-Kept', 'yes',
      ]);
      res.end('hop');
      return;
    }
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  stall = await startUpstream((req, res) => {
    switch ((req.url ?? '').replace(/^\/[st]\//, '/')) {
      case '/no-headers': return; // never answers
      case '/stall-body':
        res.writeHead(200, { 'content-length': '100000' });
        res.write(Buffer.alloc(1000, 1)); // then nothing
        return;
      case '/reset-mid-body':
        res.writeHead(200, { 'content-length': '1000000' });
        res.write(Buffer.alloc(10000, 2), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      case '/reset-before-headers':
        req.socket.destroy();
        return;
      case '/trickle': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const t = setInterval(() => res.write('x'), 50);
        res.on('close', () => clearInterval(t));
        return;
      }
      case '/slow-headers': {
        const t = setTimeout(() => { res.writeHead(200); res.end('late'); }, 5000);
        res.on('close', () => clearTimeout(t));
        return;
      }
      case '/hold': {
        // Answers only when the client goes away or after a long time; records the abort.
        const t = setTimeout(() => res.end('held'), 20000);
        res.on('close', () => { clearTimeout(t); aborts.push(req.url ?? ''); });
        return;
      }
      default:
        res.end('ok');
    }
  });
  blackhole = await startBlackhole();
  refused = await closedPort();
  proxy = await startSentinel(`
listeners { listener "main" { address "127.0.0.1:0" } }
routes {
  route "echo" { matches { path-prefix "/" }; upstream "echo"; policies { max-body-size-bytes 67108864 } }
  route "hosted" { matches { path-prefix "/rewrite-host" }; upstream "echo-host" }
  route "stall" { matches { path-prefix "/s" }; upstream "stall" }
  route "total" { matches { path-prefix "/t" }; upstream "stall-total" }
  route "refused" { matches { path "/refused" }; upstream "refused" }
  route "blackhole" { matches { path "/blackhole" }; upstream "blackhole" }
  route "health" { priority "critical"; matches { path "/_health" }; builtin-handler "health" }
  route "nothing" { matches { host "nowhere.invalid" }; upstream "echo" }
}
upstreams {
  upstream "echo" { target "${echo.address}" }
  upstream "echo-host" { target "${echo.address}"; host-header "internal.example" }
  upstream "stall" {
    target "${stall.address}"
    timeouts { connect-secs 2; headers-secs 0.4; read-secs 0.4; request-secs 30 }
  }
  upstream "stall-total" {
    target "${stall.address}"
    timeouts { connect-secs 2; headers-secs 10; read-secs 10; request-secs 0.6 }
  }
  upstream "refused" { target "127.0.0.1:${refused}" }
  upstream "blackhole" { target "${blackhole.address}"; timeouts { connect-secs 0.3 } }
}
observability { metrics { enabled #true; address "127.0.0.1:0" }; logging { level "info"; access-log { enabled #true; file "stdout" } } }
`, { listeners: ['main'], metrics: true });
  port = proxy.ports.get('main') as number;
}, 60_000);

const aborts: string[] = [];
const firehose = { written: 0, blocked: false };

afterAll(async () => {
  if (process.env.SENTINEL_SPEC_DEBUG) console.log(proxy?.stderr());
  await proxy?.stop();
  await Promise.all([echo?.close(), stall?.close(), blackhole?.close()]);
});

describe('header rewriting', () => {
  it('appends X-Forwarded-For, sets X-Forwarded-Proto/Host, Via, generates X-Request-Id and traceparent, preserves Host', async () => {
    const r = await send(port, { path: '/a?b=1', headers: { host: 'app.example:8443', 'x-forwarded-for': '203.0.113.7' } });
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body.toString()) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/a?b=1');
    expect(seen.headers.host).toBe('app.example:8443');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('app.example:8443');
    expect(seen.headers.via).toBe('1.1 sentinel');
    expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers['x-request-id']).toBe(seen.headers['x-request-id']);
    expect(seen.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  });

  it('honours a well-formed X-Request-Id and traceparent, replaces malformed ones', async () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const good = await send(port, { headers: { 'x-request-id': 'abc-123', traceparent: tp, tracestate: 'vendor=1' } });
    const g = JSON.parse(good.body.toString()) as { headers: Record<string, string> };
    expect(g.headers['x-request-id']).toBe('abc-123');
    expect(good.headers['x-request-id']).toBe('abc-123');
    expect(g.headers.traceparent).toBe(tp);
    expect(g.headers.tracestate).toBe('vendor=1');
    const bad = await send(port, { headers: { 'x-request-id': 'bad id with spaces', traceparent: 'garbage', tracestate: 'vendor=1' } });
    const b = JSON.parse(bad.body.toString()) as { headers: Record<string, string> };
    expect(b.headers['x-request-id']).not.toBe('bad id with spaces');
    expect(b.headers.traceparent).not.toBe('garbage');
    expect(b.headers.tracestate).toBeUndefined();
  });

  it('removes hop-by-hop request headers and every header named in Connection', async () => {
    const r = await send(port, { headers: [
      'Host', 'hop.example',
      'Connection', 'keep-alive, X-Secret-Hop',
      'X-Secret-Hop', 'must-not-pass',
      'Keep-Alive', 'timeout=5',
      'TE', 'trailers',
      'Proxy-Authorization', 'Basic Zm9vOmJhcg==',
      'Proxy-Connection', 'keep-alive',
      'X-End-To-End', 'kept',
    ] });
    expect(r.status, r.body.toString()).toBe(200);
    const seen = JSON.parse(r.body.toString()) as { headers: Record<string, string> };
    expect(seen.headers['x-secret-hop']).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['proxy-connection']).toBeUndefined();
    expect(seen.headers['x-end-to-end']).toBe('kept');
  });

  it('removes hop-by-hop response headers and Connection-named ones, appends Via', async () => {
    const r = await send(port, { path: '/hop' });
    expect(r.status).toBe(200);
    expect(r.headers['x-upstream-secret']).toBeUndefined();
    expect(r.headers['keep-alive']).toBeUndefined();
    expect(r.headers['x-kept']).toBe('yes');
    expect(r.headers.via).toBe('1.0 origin, 1.1 sentinel');
    expect(r.body.toString()).toBe('hop');
  });

  it('uses the configured host-header instead of the client Host when set', async () => {
    const r = await send(port, { path: '/rewrite-host', headers: { host: 'public.example' } });
    const seen = JSON.parse(r.body.toString()) as { headers: Record<string, string> };
    expect(seen.headers.host).toBe('internal.example');
    expect(seen.headers['x-forwarded-host']).toBe('public.example');
  });
});

describe('streaming', () => {
  it('streams a 24 MiB chunked upload and a 24 MiB download with matching checksums', async () => {
    const total = 24 * 1024 * 1024;
    const expected = createHash('sha256');
    for await (const c of deterministicChunks(total, 65536)()) expected.update(c);
    const digest = expected.digest('hex');

    const up = await send(port, { method: 'POST', path: '/upload', body: deterministicChunks(total, 65536), headers: { 'content-type': 'application/octet-stream' } });
    expect(up.status).toBe(200);
    expect(JSON.parse(up.body.toString())).toEqual({ bytes: total, sha256: digest });

    const down = await send(port, { path: `/download?bytes=${total}` });
    expect(down.status).toBe(200);
    expect(down.aborted).toBe(false);
    expect(down.body.length).toBe(total);
    expect(sha(down.body)).toBe(digest);
  });

  it('respects backpressure: a client that stops reading stops the upstream (bounded buffering)', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/firehose', agent: false }, (res) => {
        res.pause();
        void (async () => {
          // Wait until the upstream is blocked on a full pipe and stays blocked while we do not read.
          let stable = 0;
          let last = -1;
          while (stable < 10) {
            await new Promise((r) => setTimeout(r, 50));
            stable = firehose.blocked && firehose.written === last ? stable + 1 : 0;
            last = firehose.written;
          }
          // Socket buffers on both hops plus undici's and Node's: far less than the 64 MiB body.
          expect(firehose.written).toBeLessThan(24 * 1024 * 1024);
          let received = 0;
          res.on('data', (c: Buffer) => { received += c.length; });
          res.on('end', () => { expect(received).toBe(64 * 1024 * 1024); resolve(); });
          res.resume();
        })().catch(reject);
      });
      req.on('error', reject);
      req.end();
    });
  });

  it('streams a Content-Length upload unchanged', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const r = await send(port, { method: 'PUT', path: '/upload', body, headers: { 'content-length': String(body.length) } });
    expect(JSON.parse(r.body.toString())).toEqual({ bytes: body.length, sha256: sha(body) });
  });
});

describe('errors', () => {
  it('answers 404 ROUTE_NOT_FOUND as JSON with the request id', async () => {
    const only = await startSentinel(`
listeners { listener "only" { address "127.0.0.1:0" } }
routes { route "api" { matches { path-prefix "/api" }; upstream "echo" } }
upstreams { upstream "echo" { target "${echo.address}" } }
observability { metrics { enabled #false }; logging { level "info"; access-log { enabled #false } } }
`, { listeners: ['only'] });
    try {
      const p = only.ports.get('only') as number;
      const miss = await send(p, { path: '/apix', headers: { 'x-request-id': 'rid-404' } });
      expect(miss.status).toBe(404);
      expect(miss.headers['content-type']).toBe('application/json');
      expect(JSON.parse(miss.body.toString())).toEqual({ error: { code: 'ROUTE_NOT_FOUND', message: 'No route matches this request.', request_id: 'rid-404' } });
      const hit = await send(p, { path: '/api/x' });
      expect(hit.status).toBe(200);
    } finally {
      await only.stop();
    }
  });

  it('maps a refused connection to 502 UPSTREAM_CONNECT_FAILED', async () => {
    const r = await send(port, { path: '/refused' });
    expect(r.status).toBe(502);
    expect(errorCode(r)).toBe('UPSTREAM_CONNECT_FAILED');
  });

  it('maps an upstream reset before the response head to 502 UPSTREAM_RESET', async () => {
    const r = await send(port, { path: '/s/reset-before-headers', method: 'POST', body: Buffer.from('x') });
    expect(r.status).toBe(502);
    expect(errorCode(r)).toBe('UPSTREAM_RESET');
  });

  it('aborts the client response when the upstream resets mid-body (never a body that looks complete)', async () => {
    const r = await send(port, { path: '/s/reset-mid-body' });
    expect(r.status).toBe(200);
    expect(r.aborted).toBe(true);
    expect(r.body.length).toBeLessThan(1000000);
  });

  it('cancels the upstream request when the client aborts', async () => {
    const before = aborts.length;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/s/hold', agent: false });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => { req.destroy(); resolve(); }, 300);
      req.on('response', () => reject(new Error('unexpected response')));
    });
    await waitFor(() => aborts.length > before);
    expect(aborts.slice(before)).toContain('/s/hold');
    await waitFor(async () => (await metric('sentinel_errors_total{code="CLIENT_CLOSED_REQUEST"}')) >= 1);
  });
});

describe('timeouts', () => {
  it('connect timeout → 504 UPSTREAM_CONNECT_TIMEOUT', async () => {
    const r = await send(port, { path: '/blackhole' });
    expect(r.status).toBe(504);
    expect(errorCode(r)).toBe('UPSTREAM_CONNECT_TIMEOUT');
  });

  it('response headers timeout → 504 UPSTREAM_HEADERS_TIMEOUT', async () => {
    const r = await send(port, { path: '/s/no-headers' });
    expect(r.status).toBe(504);
    expect(errorCode(r)).toBe('UPSTREAM_HEADERS_TIMEOUT');
  });

  it('body idle timeout → the started response is aborted and counted as UPSTREAM_BODY_TIMEOUT', async () => {
    const before = await metric('sentinel_errors_total{code="UPSTREAM_BODY_TIMEOUT"}');
    const r = await send(port, { path: '/s/stall-body' });
    expect(r.status).toBe(200);
    expect(r.aborted).toBe(true);
    expect(r.body.length).toBe(1000);
    await waitFor(async () => (await metric('sentinel_errors_total{code="UPSTREAM_BODY_TIMEOUT"}')) === before + 1);
  });

  it('total request timeout before the head → 504 REQUEST_TIMEOUT', async () => {
    const r = await send(port, { path: '/t/slow-headers' });
    expect(r.status).toBe(504);
    expect(errorCode(r)).toBe('REQUEST_TIMEOUT');
  });

  it('total request timeout while a body trickles (never idle) → response aborted', async () => {
    const before = await metric('sentinel_errors_total{code="REQUEST_TIMEOUT"}');
    const r = await send(port, { path: '/t/trickle' });
    expect(r.status).toBe(200);
    expect(r.aborted).toBe(true);
    await waitFor(async () => (await metric('sentinel_errors_total{code="REQUEST_TIMEOUT"}')) === before + 1);
  });
});

describe('builtins, metrics and logs', () => {
  it('serves builtin health without touching an upstream', async () => {
    const r = await send(port, { path: '/_health' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({ status: 'ok' });
  });

  it('exposes the required metrics on the metrics listener', async () => {
    await send(port, { path: '/metrics-probe' });
    const text = await metricsText();
    for (const name of ['sentinel_requests_total', 'sentinel_request_duration_seconds_bucket', 'sentinel_active_requests', 'sentinel_upstream_requests_total', 'sentinel_build_info']) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/sentinel_requests_total\{route="echo",method="GET",status="200"\} \d+/);
    expect(text).toMatch(/sentinel_upstream_requests_total\{upstream="echo",target="127\.0\.0\.1:\d+",outcome="success"\} \d+/);
    expect(text).toMatch(/sentinel_build_info\{version="[^"]+",config_hash="[0-9a-f]{16}"\} 1/);
  });

  it('writes one JSON access log line per request with id, route, target, status, bytes and duration', async () => {
    await send(port, { path: '/logged', headers: { 'x-request-id': 'log-me-1' } });
    await waitFor(() => proxy.stdout().includes('log-me-1'));
    const line = proxy.stdout().split('\n').find((l) => l.includes('"log-me-1"')) as string;
    const rec = JSON.parse(line) as Record<string, unknown>;
    expect(rec).toMatchObject({ request_id: 'log-me-1', route: 'echo', upstream: 'echo', target: echo.address, status: 200, method: 'GET', path: '/logged' });
    expect(typeof rec.duration_ms).toBe('number');
    expect(rec.bytes_out as number).toBeGreaterThan(0);
  });
});

function errorCode(r: Reply): string {
  return (JSON.parse(r.body.toString()) as { error: { code: string } }).error.code;
}

async function metricsText(): Promise<string> {
  const r = await send(proxy.metricsPort as number, { path: '/metrics' });
  return r.body.toString();
}

async function metric(series: string): Promise<number> {
  const text = await metricsText();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Polls a condition (no timing assertion: the test timeout is the only bound). */
async function waitFor(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (;;) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}


