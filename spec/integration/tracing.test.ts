// Tracing end to end: the real CLI exports OpenTelemetry spans over OTLP/HTTP to a receiver in
// this test (which decodes the protobuf itself), one server span per request and one client span
// per upstream attempt; the attempt's span id goes upstream in traceparent; the caller's sampled
// flag decides (parent-based); the sampling rate is reloadable; export failures never fail a
// request and are counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { startOtlpReceiver } from '../helpers/otlp-receiver.ts';
import type { OtlpReceiver, ReceivedSpan } from '../helpers/otlp-receiver.ts';

let up: Upstream;
let otlp: OtlpReceiver;
let proxy: SentinelProcess;
let port: number;
let refused: number;

function config(samplingRate: number, endpoint = otlp.url): string {
  return `
listeners { listener "main" { address "127.0.0.1:0" } }
routes {
  route "api" { matches { path-prefix "/api" }; upstream "app" }
  route "down" { matches { path-prefix "/down" }; upstream "dead" }
}
upstreams {
  upstream "app" { target "${up.address}" }
  upstream "dead" { target "127.0.0.1:${refused}" }
}
observability {
  metrics { enabled #true; address "127.0.0.1:0" }
  logging { access-log { enabled #true; file "stdout" } }
  tracing { backend "otlp" { endpoint "${endpoint}" }; sampling-rate ${samplingRate}; service-name "sentinel-spec" }
}
`;
}

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; requestId: string }> {
  const r = await request(`http://127.0.0.1:${port}${path}`, { headers });
  await r.body.dump();
  return { status: r.statusCode, requestId: String(r.headers['x-request-id']) };
}

async function metric(name: string): Promise<number> {
  const r = await request(`http://127.0.0.1:${proxy.metricsPort}/metrics`);
  const text = await r.body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

function byRequestId(spans: readonly ReceivedSpan[], requestId: string): ReceivedSpan | undefined {
  return spans.find((s) => s.kind === 2 && s.attributes['sentinel.request_id'] === requestId);
}

/** The access-log record of a request (stdout, JSON). */
function accessRecord(requestId: string): Record<string, unknown> | undefined {
  return proxy.stdout().split('\n').filter((l) => l.includes(requestId)).map((l) => JSON.parse(l) as Record<string, unknown>)[0];
}

beforeAll(async () => {
  up = await startUpstream((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
  otlp = await startOtlpReceiver();
  refused = await closedPort();
  proxy = await startSentinel(config(1), { listeners: ['main'], metrics: true });
  port = proxy.ports.get('main') as number;
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await up?.close();
  await otlp?.close();
});

describe('tracing (OTLP/HTTP protobuf)', () => {
  it('a request without traceparent: a server span and a client span, whose id goes upstream', async () => {
    const r = await get('/api/one?secret=1');
    expect(r.status).toBe(200);
    await otlp.waitFor((s) => byRequestId(s, r.requestId) !== undefined && s.some((c) => c.kind === 3 && c.parentSpanId === byRequestId(s, r.requestId)?.spanId));
    const server = byRequestId(otlp.spans, r.requestId) as ReceivedSpan;
    const client = otlp.spans.find((c) => c.kind === 3 && c.parentSpanId === server.spanId) as ReceivedSpan;
    expect(otlp.contentTypes).toEqual(new Set(['application/x-protobuf']));
    expect(server.parentSpanId).toBe('');
    expect(server.name).toBe('GET api');
    expect(server.resource['service.name']).toBe('sentinel-spec');
    expect(server.scope).toBe('sentinel');
    expect(server.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/api/one', 'http.route': 'api', 'http.response.status_code': 200, 'sentinel.listener': 'main', 'sentinel.upstream': 'app', 'sentinel.attempts': 1 });
    expect(server.statusCode).toBe(0);
    expect(client.traceId).toBe(server.traceId);
    expect(client.attributes).toMatchObject({ 'sentinel.upstream': 'app', 'sentinel.target': up.address, 'server.port': up.port, 'http.response.status_code': 200 });
    // The client span lies within the server span.
    expect(client.startNs >= server.startNs && client.endNs <= server.endNs).toBe(true);
    const seen = up.seen.at(-1);
    expect(seen?.headers.traceparent).toBe(`00-${server.traceId}-${client.spanId}-01`);
    // Logs carry the same trace id.
    expect(accessRecord(r.requestId)?.trace_id).toBe(server.traceId);
  });

  it('a sampled caller: its trace and parent are kept, tracestate goes on, the upstream parent is our client span', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const r = await get('/api/two', { traceparent: `00-${traceId}-${parent}-01`, tracestate: 'vendor=abc' });
    expect(r.status).toBe(200);
    await otlp.waitFor((s) => s.some((c) => c.kind === 3 && c.traceId === traceId));
    const server = byRequestId(otlp.spans, r.requestId) as ReceivedSpan;
    const client = otlp.spans.find((c) => c.kind === 3 && c.traceId === traceId) as ReceivedSpan;
    expect(server.traceId).toBe(traceId);
    expect(server.parentSpanId).toBe(parent);
    expect(server.traceState).toBe('vendor=abc');
    expect(client.parentSpanId).toBe(server.spanId);
    const seen = up.seen.at(-1);
    expect(seen?.headers.traceparent).toBe(`00-${traceId}-${client.spanId}-01`);
    expect(seen?.headers.tracestate).toBe('vendor=abc');
  });

  it('an unsampled caller (flag 00): nothing is exported, the upstream still gets a new parent id with the flag clear', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parent = 'b7ad6b7169203331';
    const r = await get('/api/three', { traceparent: `00-${traceId}-${parent}-00` });
    expect(r.status).toBe(200);
    const tp = String(up.seen.at(-1)?.headers.traceparent);
    expect(tp).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
    expect(tp.slice(36, 52)).not.toBe(parent);
    // A later sampled request is exported; by then the unsampled one would have been too.
    const later = await get('/api/after-three');
    await otlp.waitFor((s) => byRequestId(s, later.requestId) !== undefined);
    expect(otlp.spans.some((s) => s.traceId === traceId)).toBe(false);
  });

  it('a failed attempt: the client span carries the error, the server span is an error with the 502', async () => {
    const r = await get('/down/x');
    expect(r.status).toBe(502);
    await otlp.waitFor((s) => byRequestId(s, r.requestId) !== undefined);
    const server = byRequestId(otlp.spans, r.requestId) as ReceivedSpan;
    await otlp.waitFor((s) => s.some((c) => c.kind === 3 && c.parentSpanId === server.spanId));
    const client = otlp.spans.find((c) => c.kind === 3 && c.parentSpanId === server.spanId) as ReceivedSpan;
    expect(server.statusCode).toBe(2);
    expect(server.attributes).toMatchObject({ 'http.response.status_code': 502, 'error.type': 'UPSTREAM_CONNECT_FAILED', 'http.route': 'down' });
    expect(client.statusCode).toBe(2);
    expect(client.attributes['error.type']).toBe('UPSTREAM_CONNECT_FAILED');
    expect(client.attributes['http.response.status_code']).toBeUndefined();
  });

  it('a request that matches no route still has a server span', async () => {
    const r = await get('/nowhere');
    expect(r.status).toBe(404);
    await otlp.waitFor((s) => byRequestId(s, r.requestId) !== undefined);
    const server = byRequestId(otlp.spans, r.requestId) as ReceivedSpan;
    expect(server.attributes).toMatchObject({ 'http.route': '-', 'error.type': 'ROUTE_NOT_FOUND', 'http.response.status_code': 404 });
    expect(server.statusCode).toBe(0); // a 4xx is not a server error
  });

  it('sampling-rate is reloadable: at 0 new traces are not sampled, a sampled caller still is', async () => {
    const recordedBefore = await metric('sentinel_tracing_spans_total{result="recorded"}');
    expect(recordedBefore).toBeGreaterThan(0);
    writeFileSync(join(proxy.dir, 'sentinel.kdl'), config(0));
    const mark = proxy.stderr().length;
    proxy.child.kill('SIGHUP');
    const deadline = Date.now() + 30_000;
    while (!proxy.stderr().slice(mark).includes('"msg":"config reloaded"')) {
      if (proxy.stderr().slice(mark).includes('config reload rejected')) throw new Error(proxy.stderr().slice(mark));
      if (Date.now() > deadline) throw new Error('no reload');
      await new Promise((r) => setTimeout(r, 50));
    }
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await get(`/api/unsampled-${i}`)).requestId);
    const traceId = 'aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb';
    const sampled = await get('/api/sampled', { traceparent: `00-${traceId}-cccccccccccccccc-01` });
    await otlp.waitFor((s) => byRequestId(s, sampled.requestId) !== undefined);
    expect(ids.filter((id) => byRequestId(otlp.spans, id) !== undefined)).toEqual([]);
    // Unsampled requests still propagate a trace upstream, with the flag clear.
    expect(String(up.seen.at(-2)?.headers.traceparent)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    // exported catches up with recorded (two spans per proxied request).
    await expect.poll(() => metric('sentinel_tracing_spans_total{result="exported"}'), { timeout: 30_000, interval: 200 })
      .toBe(await metric('sentinel_tracing_spans_total{result="recorded"}'));
  });
});

describe('tracing export failures', () => {
  it('an unreachable collector never fails a request; the failure is counted and logged', async () => {
    const dead = await closedPort();
    const p = await startSentinel(config(1, `http://127.0.0.1:${dead}/v1/traces`), { listeners: ['main'], metrics: true });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await request(`http://127.0.0.1:${p.ports.get('main')}/api/x${i}`);
        await r.body.dump();
        expect(r.statusCode).toBe(200);
      }
      const failed = async () => {
        const text = await (await request(`http://127.0.0.1:${p.metricsPort}/metrics`)).body.text();
        const line = text.split('\n').find((l) => l.startsWith('sentinel_tracing_spans_total{result="failed"} '));
        return line === undefined ? 0 : Number(line.split(' ')[1]);
      };
      await expect.poll(failed, { timeout: 60_000, interval: 500 }).toBe(10);
      expect(p.stderr()).toContain('tracing: span export failed');
    } finally {
      await p.stop();
    }
  }, 90_000);
});
