// Request limits, black-box: URI length (414), request body size (413, declared and while a
// chunked body streams), concurrent requests per route (503 at once), upstream response head size
// (502). Each limit is checked for its status, for what reaches (or never reaches) the upstream,
// for its `sentinel_limits_triggered_total{limit}` delta and for its audit record.
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import { startUpstream } from '../../spec/helpers/upstream.ts';
import type { Upstream } from '../../spec/helpers/upstream.ts';
import { auditRecords, metricValue, parseHeads, rawExchange, rawSteps, startProxy, stopAll } from './raw.ts';

let up: Upstream;
let proxy: SentinelProcess;
let port: number;
let metricsPort: number | null;
/** Requests to /few* wait here until released, by path. */
const held = new Map<string, () => void>();

function release(path: string): void {
  const r = held.get(path);
  held.delete(path);
  r?.();
}
/** How each upstream request ended: bytes received and whether its body completed. */
const outcomes = new Map<string, { bytes: number; complete: boolean }>();

function track(req: IncomingMessage): void {
  const id = req.headers['x-test-id'];
  if (typeof id !== 'string') return;
  const o = { bytes: 0, complete: false };
  outcomes.set(id, o);
  req.on('data', (c: Buffer) => { o.bytes += c.length; });
  req.on('end', () => { o.complete = true; });
}

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    track(req);
    if (req.url?.startsWith('/few')) {
      held.set(req.url, () => res.end('released'));
      return;
    }
    if (req.url?.startsWith('/small/reset')) {
      req.once('data', () => req.socket.destroy());
      return;
    }
    if (req.url?.startsWith('/tight/big') || req.url?.startsWith('/bighead')) {
      res.setHeader('x-big', 'b'.repeat(4096));
      res.end('big head');
      return;
    }
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; });
    req.on('end', () => res.end(`got ${req.method} ${req.url} ${n}`));
  });
  ({ proxy, port, metricsPort } = await startProxy(`
routes {
  route "small" { matches { path-prefix "/small" }; upstream "up"; policies { max-body-size-bytes 1000 } }
  route "few" { matches { path-prefix "/few" }; upstream "up"; policies { max-concurrent-requests 2 } }
  route "tight" { matches { path-prefix "/tight" }; upstream "tight" }
  route "all" { matches { path-prefix "/" }; upstream "up" }
}
upstreams {
  upstream "up" { target "${up.address}" }
  upstream "tight" { target "${up.address}"; max-response-header-bytes 2048 }
}
`, { listener: 'max-uri-bytes 256', metrics: true }));
}, 60_000);

afterAll(async () => {
  for (const path of [...held.keys()]) release(path);
  await stopAll(proxy, up);
});

const limitSeries = (limit: string): string => `sentinel_limits_triggered_total{listener="main",limit="${limit}"}`;

async function audited(reason: string): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await expect.poll(() => {
    found = auditRecords(proxy.stderr()).find((a) => a['reason'] === reason);
    return found !== undefined;
  }, { timeout: 10_000 }).toBe(true);
  return found as Record<string, unknown>;
}

describe('request-target length (max-uri-bytes)', () => {
  it('a target over the limit gets 414, never reaches the upstream, is counted and audited, and the connection stays usable', async () => {
    const before = await metricValue(metricsPort as number, limitSeries('uri_bytes'));
    const seen = up.seen.length;
    const r = await rawExchange(port, `GET /${'a'.repeat(300)} HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    expect(r.statuses, r.text).toEqual([414, 200]);
    expect(r.text).toContain('URI_TOO_LONG');
    expect(up.seen.length).toBe(seen + 1);
    expect(await metricValue(metricsPort as number, limitSeries('uri_bytes'))).toBe(before + 1);
    expect((await audited('uri_bytes exceeded'))['status']).toBe(414);
  });

  it('a target at the limit is served', async () => {
    const path = `/${'a'.repeat(255)}`;
    const r = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    expect(r.statuses).toEqual([200]);
  });
});

describe('request body size (max-body-size-bytes)', () => {
  it('a declared Content-Length over the limit is refused before anything is forwarded', async () => {
    const before = await metricValue(metricsPort as number, limitSeries('body_bytes'));
    const seen = up.seen.length;
    const r = await rawExchange(port, `POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n${'x'.repeat(2000)}GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    // The 2000 bytes are read and discarded (under the 1 MiB discard bound): the connection stays usable.
    expect(r.statuses, r.text).toEqual([413, 200]);
    expect(r.text).toContain('PAYLOAD_TOO_LARGE');
    expect(up.seen.length).toBe(seen + 1);
    expect(await metricValue(metricsPort as number, limitSeries('body_bytes'))).toBe(before + 1);
    const a = await audited('body_bytes exceeded');
    expect(a['limit']).toBe('body_bytes');
    expect(a['route']).toBe('small');
  });

  it('with Expect: 100-continue, an oversized body is refused without 100 Continue and the connection closes, so the client never uploads', async () => {
    const seen = up.seen.length;
    const r = await rawExchange(port, 'POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n');
    expect(r.statuses).toEqual([413]);
    expect(parseHeads(r.text)[0]?.headers.connection).toBe('close');
    expect(r.closed).toBe(true);
    expect(up.seen.length).toBe(seen);
  });

  it('with Expect: 100-continue, a body within the limit gets 100 Continue and is forwarded', async () => {
    const r = await rawExchange(port, `POST /small/ok HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${'y'.repeat(10)}`);
    expect(r.statuses).toEqual([100, 200]);
    expect(r.text).toContain('got POST /small/ok 10');
  });

  it('a chunked body within the limit is forwarded whole', async () => {
    const r = await rawExchange(port, `POST /small/chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1f4\r\n${'z'.repeat(500)}\r\n1f4\r\n${'z'.repeat(500)}\r\n0\r\n\r\n`);
    expect(r.statuses).toEqual([200]);
    expect(r.text).toContain('got POST /small/chunked 1000');
  });

  it('a chunked body over the limit is cut off while it streams: 413, the upstream never gets a complete request', async () => {
    const before = await metricValue(metricsPort as number, limitSeries('body_bytes'));
    const chunk = `258\r\n${'c'.repeat(600)}\r\n`;
    const r = await rawSteps(port, [
      `POST /small/stream HTTP/1.1\r\nHost: a\r\nX-Test-Id: chunked-over\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`,
      // The first 600 bytes are under the limit: they are forwarded before the rest is sent.
      () => expect.poll(() => outcomes.get('chunked-over')?.bytes ?? 0, { timeout: 10_000 }).toBe(600),
      `${chunk}${chunk}0\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
    ], { quietMs: 500 });
    expect(r.statuses, r.text).toEqual([413, 200]);
    expect(r.text).toContain('got GET /after 0');
    expect(await metricValue(metricsPort as number, limitSeries('body_bytes'))).toBe(before + 1);
    const o = outcomes.get('chunked-over') as { bytes: number; complete: boolean };
    await expect.poll(() => o.complete, { timeout: 2000 }).toBe(false);
    expect(o.bytes).toBeLessThanOrEqual(1000);
  });

  it('a chunked body over the limit in one piece is refused before the upstream sees it', async () => {
    const seen = up.seen.length;
    const r = await rawExchange(port, `POST /small/one HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n${'d'.repeat(2000)}\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    expect(r.statuses, r.text).toEqual([413, 200]);
    expect(up.seen.length).toBe(seen + 1);
  });

  it('an upstream that fails during a chunked upload: 502, the rest of the body is discarded, the connection stays usable', async () => {
    const chunk = `64\r\n${'r'.repeat(100)}\r\n`;
    const r = await rawSteps(port, [
      `POST /small/reset HTTP/1.1\r\nHost: a\r\nX-Test-Id: reset-mid-upload\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`,
      () => expect.poll(() => outcomes.get('reset-mid-upload')?.bytes ?? 0, { timeout: 10_000 }).toBeGreaterThan(0),
      () => new Promise((resolve) => setTimeout(resolve, 200)),
      `${chunk}0\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
    ], { quietMs: 1000 });
    expect(r.statuses, r.text).toEqual([502, 200]);
    expect(r.text).toContain('got GET /after 0');
  });

  it('a client that keeps sending more than the discard bound after a 413 is disconnected, after the 413', async () => {
    const body = 'x'.repeat(2 * 1024 * 1024);
    const r = await rawExchange(port, `POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}`, { quietMs: 2000 });
    expect(r.statuses[0]).toBe(413);
    expect(r.closed).toBe(true);
  });

  it('the default limit (10 MiB) applies to routes without policies', async () => {
    const r = await rawExchange(port, 'POST /default HTTP/1.1\r\nHost: a\r\nContent-Length: 10485761\r\nExpect: 100-continue\r\n\r\n');
    expect(r.statuses).toEqual([413]);
  });
});

describe('concurrent requests per route (max-concurrent-requests)', () => {
  it('beyond the limit a request gets 503 at once with Retry-After, is counted and audited; a freed place is reused', async () => {
    const before = await metricValue(metricsPort as number, limitSeries('route_concurrency'));
    const seen = up.seen.length;
    const first = rawExchange(port, 'GET /few/1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', { quietMs: 30_000 });
    const second = rawExchange(port, 'GET /few/2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', { quietMs: 30_000 });
    await expect.poll(() => held.size, { timeout: 10_000 }).toBe(2);
    const third = await rawExchange(port, 'GET /few/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(third.statuses).toEqual([503]);
    expect(third.text).toContain('ROUTE_CONCURRENCY_LIMITED');
    expect(parseHeads(third.text)[0]?.headers['retry-after']).toBe('1');
    expect(up.seen.length).toBe(seen + 2);
    expect(await metricValue(metricsPort as number, limitSeries('route_concurrency'))).toBe(before + 1);
    expect((await audited('route_concurrency exceeded'))['route']).toBe('few');
    // Other routes are not affected.
    expect((await rawExchange(port, 'GET /other HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).statuses).toEqual([200]);
    release('/few/1');
    expect((await first).statuses).toEqual([200]);
    const fourth = rawExchange(port, 'GET /few/4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', { quietMs: 30_000 });
    await expect.poll(() => held.size, { timeout: 10_000 }).toBe(2);
    release('/few/2');
    release('/few/4');
    expect((await second).statuses).toEqual([200]);
    expect((await fourth).statuses).toEqual([200]);
  });
});

describe('upstream response head size (max-response-header-bytes)', () => {
  it('a head over the upstream limit is a 502 UPSTREAM_HEADERS_TOO_LARGE, counted and audited', async () => {
    const before = await metricValue(metricsPort as number, limitSeries('upstream_response_header_bytes'));
    const r = await rawExchange(port, 'GET /tight/big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(r.statuses).toEqual([502]);
    expect(r.text).toContain('UPSTREAM_HEADERS_TOO_LARGE');
    expect(r.text).not.toContain('bbbb');
    expect(await metricValue(metricsPort as number, limitSeries('upstream_response_header_bytes'))).toBe(before + 1);
    const a = await audited('upstream_response_header_bytes exceeded');
    expect(a['upstream']).toBe('tight');
  });

  it('the same head passes an upstream with the default limit (64 KiB)', async () => {
    const r = await rawExchange(port, 'GET /bighead HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(r.statuses).toEqual([200]);
    expect(r.text).toContain('big head');
  });
});
