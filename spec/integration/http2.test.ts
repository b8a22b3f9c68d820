// HTTP/2 downstream against the built proxy: h2 over TLS (ALPN) and h2c prior knowledge run the
// same pipeline as HTTP/1.1 (routing, header rewriting, metrics), with the session limits:
// concurrent streams, header list size and count, and the rapid-reset defence (a client that
// cancels streams in a loop gets GOAWAY ENHANCE_YOUR_CALM).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as h2Connect, constants } from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { startSentinel } from '../helpers/sentinel-process.ts';
import { seriesValue } from '../helpers/http.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { generateTestPki } from '../helpers/certs.ts';
import type { TestPki } from '../helpers/certs.ts';

let pki: TestPki;
let echo: Upstream;
let hold: Upstream;
let broken: Upstream;
let parked: Upstream;
/** Requests the `parked` upstream has received, and which of them the proxy has since closed. */
const parkedSeen: string[] = [];
const parkedClosed: string[] = [];
let proxy: SentinelProcess;
let inFlight = 0;
let maxInFlight = 0;
const held: Array<() => void> = [];

beforeAll(async () => {
  pki = generateTestPki();
  echo = await startUpstream((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => { body += d; });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  hold = await startUpstream((_req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    held.push(() => { inFlight--; res.end('released'); });
  });
  // Never answers: a request here ends only when the proxy gives it up.
  parked = await startUpstream((req) => {
    parkedSeen.push(req.url ?? '');
    req.socket.once('close', () => parkedClosed.push(req.url ?? ''));
  });
  broken = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
    setTimeout(() => res.socket?.destroy(), 20);
  });
  proxy = await startSentinel(`
listeners {
    listener "tls" {
        address "127.0.0.1:0"; protocol "https"
        max-concurrent-streams 4
        max-stream-resets-per-10s 50
        max-header-count 20
        max-header-bytes 4096
        tls { cert-file "${pki.server.cert}"; key-file "${pki.server.key}" }
    }
    listener "h2c" { address "127.0.0.1:0"; protocol "h2c" }
    listener "h2c-small" { address "127.0.0.1:0"; protocol "h2c"; max-concurrent-streams 2; keepalive-timeout-secs 0.5 }
}
routes {
    route "hold" { matches { path-prefix "/hold" }; upstream "hold" }
    route "broken" { matches { path-prefix "/broken" }; upstream "broken" }
    route "parked" { matches { path-prefix "/parked" }; upstream "parked" }
    route "echo" { matches { path-prefix "/" }; upstream "echo" }
}
upstreams {
    upstream "echo" { target "${echo.address}" }
    upstream "hold" { target "${hold.address}"; timeouts { headers-secs 120; request-secs 120 } }
    upstream "broken" { target "${broken.address}" }
    upstream "parked" { target "${parked.address}"; timeouts { headers-secs 120; request-secs 120 } }
}
observability { metrics { address "127.0.0.1:0" }; logging { access-log { enabled #false } } }
`, { listeners: ['tls', 'h2c', 'h2c-small'], metrics: true });
}, 60_000);

afterAll(async () => {
  for (const h of held.splice(0)) h();
  await proxy?.stop();
  await Promise.all([echo?.close(), hold?.close(), broken?.close(), parked?.close()]);
  pki?.cleanup();
});

const tlsUrl = () => `https://localhost:${proxy.ports.get('tls') as number}`;
const h2cUrl = () => `http://127.0.0.1:${proxy.ports.get('h2c') as number}`;

function session(url: string): ClientHttp2Session {
  const s = h2Connect(url, url.startsWith('https') ? { ca: pki.read(pki.ca) } : {});
  s.on('error', () => undefined);
  return s;
}

interface H2Response { status: number; headers: IncomingHttpHeaders; body: string }

function h2Request(s: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = s.request(headers, { endStream: body === undefined });
    let status = 0;
    let h: IncomingHttpHeaders = {};
    let data = '';
    req.on('response', (r) => { status = Number(r[':status']); h = r; });
    req.setEncoding('utf8').on('data', (d: string) => { data += d; });
    req.on('end', () => resolve({ status, headers: h, body: data }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`)).text();
}


/** Releases held upstream requests until every promise in `all` has settled. */
async function releaseUntilSettled<T>(all: Array<Promise<T>>): Promise<T[]> {
  let done = false;
  const settled = Promise.all(all).finally(() => { done = true; });
  while (!done) {
    for (const h of held.splice(0)) h();
    await new Promise((r) => setTimeout(r, 20));
  }
  return settled;
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 20));
}

describe('HTTP/2 downstream', () => {
  it('h2 over TLS runs the same pipeline: routing, a fresh upstream head (Host from :authority, one Cookie), bodies both ways, metrics', async () => {
    const before = seriesValue(await metrics(), 'sentinel_requests_total{route="echo",method="POST",status="200"}');
    const s = session(tlsUrl());
    const r = await h2Request(s, { ':method': 'POST', ':path': '/api/items?x=1', 'content-type': 'text/plain', cookie: ['c1=1', 'c2=2'], 'x-custom': 'yes' }, 'payload over h2');
    s.close();
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as { method: string; url: string; body: string; headers: Record<string, string> };
    expect(seen).toMatchObject({ method: 'POST', url: '/api/items?x=1', body: 'payload over h2' });
    expect(seen.headers.host).toBe(`localhost:${proxy.ports.get('tls') as number}`);
    expect(seen.headers.cookie).toBe('c1=1; c2=2');
    expect(seen.headers['x-custom']).toBe('yes');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers.via).toBe('1.1 sentinel');
    expect(Object.keys(seen.headers).some((k) => k.startsWith(':'))).toBe(false);
    // The response: the upstream's headers (both cookies), ours, no connection-specific fields.
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(r.headers.via).toBe('1.1 sentinel');
    expect(r.headers['x-request-id']).toBeTruthy();
    expect(r.headers.connection).toBeUndefined();
    expect(seriesValue(await metrics(), 'sentinel_requests_total{route="echo",method="POST",status="200"}')).toBe(before + 1);
  });

  it('h2c with prior knowledge works; an HTTP/1.1 request on the h2c port is not served', async () => {
    const s = session(h2cUrl());
    const r = await h2Request(s, { ':path': '/plain', 'content-length': '0' });
    s.close();
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-forwarded-proto']).toBe('http');
    const h1 = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: proxy.ports.get('h2c'), path: '/' }, (res) => resolve(`status ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      req.end();
    });
    expect(h1).toMatch(/^error /);
  });

  it('max-concurrent-streams: one session never has more than the limit in flight; a client that waits gets every stream served', async () => {
    const before = seriesValue(await metrics(), 'sentinel_limits_triggered_total{listener="tls",limit="h2_concurrent_streams"}');
    maxInFlight = 0;
    const s = session(tlsUrl());
    // A well-behaved client: it learns the limit from SETTINGS and queues the rest.
    await new Promise<void>((r) => s.once('remoteSettings', () => r()));
    expect(s.remoteSettings.maxConcurrentStreams).toBe(4);
    const all = Array.from({ length: 10 }, (_, i) => h2Request(s, { ':path': `/hold/${i}` }));
    await until(() => inFlight === 4);
    // Give queued streams every chance to overtake the limit before releasing.
    await new Promise((r) => setTimeout(r, 300));
    expect(maxInFlight).toBe(4);
    const results = await releaseUntilSettled(all);
    s.close();
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(maxInFlight).toBe(4);
    expect(seriesValue(await metrics(), 'sentinel_limits_triggered_total{listener="tls",limit="h2_concurrent_streams"}')).toBeGreaterThan(before);
  });

  it('max-concurrent-streams: streams a client opens past the limit without waiting are refused (REFUSED_STREAM, safe to retry)', async () => {
    maxInFlight = 0;
    const s = session(tlsUrl());
    // Fired at once, before the server's SETTINGS arrive: the client does not know the limit yet.
    const all = Array.from({ length: 10 }, (_, i) => h2Request(s, { ':path': `/hold/eager-${i}` }).then(
      (r) => `status ${r.status}`,
      (e: NodeJS.ErrnoException) => (/REFUSED_STREAM/.test(e.message) ? 'refused' : `error ${e.message}`),
    ));
    await until(() => inFlight > 0);
    await new Promise((r) => setTimeout(r, 300));
    const outcomes = await releaseUntilSettled(all);
    s.close();
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(outcomes.every((o) => o === 'status 200' || o === 'refused')).toBe(true);
    expect(outcomes.filter((o) => o === 'status 200').length).toBeGreaterThanOrEqual(4);
  });

  it('finished streams free their slot: sequential requests never reach the limit, and an idle session is closed after keepalive-timeout-secs', async () => {
    const series = 'sentinel_limits_triggered_total{listener="h2c-small",limit="h2_concurrent_streams"}';
    const before = seriesValue(await metrics(), series);
    const s = session(`http://127.0.0.1:${proxy.ports.get('h2c-small') as number}`);
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    for (let i = 0; i < 6; i++) expect((await h2Request(s, { ':path': `/seq/${i}` })).status).toBe(200);
    expect(seriesValue(await metrics(), series)).toBe(before);
    // No stream is open any more: the server closes the session once it has idled.
    await closed;
  });

  it('header lists over max-header-count or max-header-bytes get 431 and are counted', async () => {
    const m0 = await metrics();
    const s = session(tlsUrl());
    const many: OutgoingHttpHeaders = { ':path': '/many' };
    for (let i = 0; i < 21; i++) many[`x-h${i}`] = 'v';
    const r1 = await h2Request(s, many);
    expect(r1.status).toBe(431);
    expect(JSON.parse(r1.body)).toMatchObject({ error: { code: 'REQUEST_HEADERS_TOO_LARGE' } });
    const r2 = await h2Request(s, { ':path': '/big', 'x-big': 'a'.repeat(5000) });
    expect(r2.status).toBe(431);
    // Within the limits: served.
    const r3 = await h2Request(s, { ':path': '/ok', 'x-big': 'a'.repeat(3000) });
    expect(r3.status).toBe(200);
    s.close();
    const m1 = await metrics();
    for (const limit of ['header_count', 'header_bytes']) {
      const series = `sentinel_limits_triggered_total{listener="tls",limit="${limit}"}`;
      expect(seriesValue(m1, series)).toBe(seriesValue(m0, series) + 1);
    }
  });

  it('rapid reset: a client cancelling streams in a loop gets GOAWAY ENHANCE_YOUR_CALM; other sessions are unaffected', async () => {
    const m0 = await metrics();
    const s = session(tlsUrl());
    const goaway = new Promise<number>((resolve) => s.once('goaway', (code: number) => resolve(code)));
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    await h2Request(s, { ':path': '/warm-up' });
    // Cancel streams until the proxy ends the session. How many it takes depends on how many
    // cancels reach the proxy after their HEADERS (a stream cancelled while still queued behind
    // max-concurrent-streams sends nothing) and on how fast the bucket refills meanwhile, so the
    // bound is generous; a proxy without the defence never ends the session and fails below.
    let sent = 0;
    let gotGoaway = false;
    void goaway.then(() => { gotGoaway = true; });
    while (!gotGoaway && !s.closed && !s.destroyed && sent < 50_000) {
      const req = s.request({ ':path': `/hold/reset-${sent}` });
      req.on('error', () => undefined);
      req.close(constants.NGHTTP2_CANCEL);
      sent++;
      if (sent % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(await Promise.race([goaway, closed.then(() => 'closed without GOAWAY'), new Promise((r) => setTimeout(() => r(`no GOAWAY after ${sent} cancelled streams`), 10_000))]))
      .toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    await closed;
    const m1 = await metrics();
    expect(seriesValue(m1, 'sentinel_limits_triggered_total{listener="tls",limit="h2_rapid_reset"}')).toBe(seriesValue(m0, 'sentinel_limits_triggered_total{listener="tls",limit="h2_rapid_reset"}') + 1);
    expect(seriesValue(m1, 'sentinel_http2_client_resets_total{listener="tls"}')).toBeGreaterThan(50);
    expect(proxy.stderr()).toMatch(/"audit":true[^\n]*rapid reset/);
    // A new session is served.
    const fresh = session(tlsUrl());
    expect((await h2Request(fresh, { ':path': '/after' })).status).toBe(200);
    fresh.close();
    for (const h of held.splice(0)) h();
  }, 90_000);

  it('rapid reset: a client that ignores the GOAWAY is disconnected after the grace, not left open until the keep-alive timeout', async () => {
    // Raw h2c frames: HEADERS (END_STREAM | END_HEADERS) then RST_STREAM CANCEL, 400 times, past the
    // listener's default of 200 cancels per 10 s. The client never closes and never sends GOAWAY.
    const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
      const h = Buffer.alloc(9);
      h.writeUIntBE(payload.length, 0, 3);
      h[3] = type;
      h[4] = flags;
      h.writeUInt32BE(stream, 5);
      return Buffer.concat([h, payload]);
    };
    const path = Buffer.from('/parked/ignore-goaway');
    // :method GET, :scheme http (static table), :path and :authority as literals without indexing.
    const block = Buffer.concat([Buffer.from([0x82, 0x86, 0x04, path.length]), path, Buffer.from([0x01, 0x01, 0x78])]);
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(constants.NGHTTP2_CANCEL);
    const out: Buffer[] = [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0))];
    for (let i = 0; i < 400; i++) {
      const id = 2 * i + 1;
      out.push(frame(1, 0x5, id, block), frame(3, 0, id, cancel));
    }
    const sock = netConnect(proxy.ports.get('h2c') as number, '127.0.0.1');
    let received = Buffer.alloc(0);
    let goawayCode: number | null = null;
    sock.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      while (received.length >= 9) {
        const len = received.readUIntBE(0, 3);
        if (received.length < 9 + len) break;
        if (received[3] === 7) goawayCode = received.readUInt32BE(9 + 4);
        received = received.subarray(9 + len);
      }
    });
    sock.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.write(Buffer.concat(out));
    // The keep-alive timeout of this listener is 75 s: a session left open after its GOAWAY would
    // outlive this bound by far.
    const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open 20 s after the cancels'), 20_000))]);
    expect(goawayCode).toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(outcome).toBe('closed');
    sock.destroy();
  }, 60_000);

  it('a stream the client cancels ends its exchange at once: the upstream request is given up, counted as 499 CLIENT_CLOSED_REQUEST', async () => {
    const m0 = await metrics();
    const s = session(h2cUrl());
    const req = s.request({ ':path': '/parked/cancel-me' });
    req.on('error', () => undefined);
    await until(() => parkedSeen.includes('/parked/cancel-me'));
    req.close(constants.NGHTTP2_CANCEL);
    // Without the fix the exchange lived on until the 120 s request timeout of the route.
    await until(() => parkedClosed.includes('/parked/cancel-me'));
    await until(async () => {
      const m = await metrics();
      return seriesValue(m, 'sentinel_errors_total{code="CLIENT_CLOSED_REQUEST"}') === seriesValue(m0, 'sentinel_errors_total{code="CLIENT_CLOSED_REQUEST"}') + 1;
    });
    expect(seriesValue(await metrics(), 'sentinel_active_requests')).toBe(seriesValue(m0, 'sentinel_active_requests'));
    s.close();
  });

  it('a stream Sentinel resets itself (upstream failed mid-body) is not counted as a client reset', async () => {
    const before = seriesValue(await metrics(), 'sentinel_http2_client_resets_total{listener="h2c"}');
    const s = session(h2cUrl());
    for (let i = 0; i < 3; i++) await expect(h2Request(s, { ':path': '/broken' })).rejects.toThrow();
    s.close();
    const m = await metrics();
    expect(seriesValue(m, 'sentinel_http2_client_resets_total{listener="h2c"}')).toBe(before);
    expect(seriesValue(m, 'sentinel_errors_total{code="UPSTREAM_RESET"}') + seriesValue(m, 'sentinel_errors_total{code="UPSTREAM_PROTOCOL_ERROR"}')).toBeGreaterThanOrEqual(3);
  });
});
