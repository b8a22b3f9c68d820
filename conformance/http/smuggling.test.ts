// Request smuggling and parser defences, black-box against the built proxy (RFC 9112 §6.1, §6.3,
// §5.2, §3.2, §2.2; RFC 9110 §7.6, §7.8, §10.1.1; RFC 3986 §5.2.4, §6.2.2). Each case names the bug
// class it pins. The upstream records every request it receives: a rejected request must never
// reach it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import { startUpstream } from '../../spec/helpers/upstream.ts';
import type { Upstream } from '../../spec/helpers/upstream.ts';
import { auditRecords, parseHeads, rawExchange, startProxy, stopAll } from './raw.ts';

let up: Upstream;
let proxy: SentinelProcess;
let port: number;

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; });
    req.on('end', () => res.end(`got ${req.method} ${req.url} ${n}`));
  });
  ({ proxy, port } = await startProxy(`
routes {
  route "all" { matches { path-prefix "/" }; upstream "up" }
  route "admin" { matches { path-prefix "/admin" }; builtin-handler "not-found" }
}
upstreams { upstream "up" { target "${up.address}" } }
`));
}, 60_000);

afterAll(() => stopAll(proxy, up));

interface Case { readonly name: string; readonly raw: string; readonly status: number }

const rejected: Case[] = [
  { name: 'CL.TE: Content-Length together with Transfer-Encoding is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG' },
  { name: 'duplicate Content-Length with different values is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd' },
  { name: 'Transfer-Encoding whose final coding is not chunked is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n' },
  { name: 'obs-fold (line folding) in a header is rejected', status: 400,
    raw: 'GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n' },
  { name: 'bare LF as a line terminator is rejected', status: 400,
    raw: 'GET / HTTP/1.1\nHost: a\n\n' },
  { name: 'bare CR inside a header value is rejected', status: 400,
    raw: 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n' },
  { name: 'invalid character in a header name is rejected', status: 400,
    raw: 'GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n' },
  { name: 'NUL in the request target is rejected', status: 400,
    raw: 'GET /a\u0000b HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'missing Host on HTTP/1.1 is rejected', status: 400,
    raw: 'GET / HTTP/1.1\r\n\r\n' },
  { name: 'whitespace between header name and colon is rejected', status: 400,
    raw: 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello' },
  { name: 'invalid chunk size is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n' },
  { name: 'duplicate Content-Length with equal values is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc' },
  { name: 'Content-Length as a list is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc' },
  { name: 'Content-Length with a sign is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc' },
  { name: 'Transfer-Encoding identity is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n' },
  { name: 'Transfer-Encoding with a near-miss token (xchunked) is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n' },
  { name: 'Transfer-Encoding split over two lines with chunked last (x, chunked) is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' },
  { name: 'Transfer-Encoding chunked twice on two lines is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' },
  { name: 'Transfer-Encoding in an HTTP/1.0 request is rejected as faulty framing', status: 400,
    raw: 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' },
  { name: 'Transfer-Encoding value with a vertical tab is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \u000bchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' },
  { name: 'duplicate Host is rejected', status: 400,
    raw: 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' },
  { name: 'NUL in a header value is rejected', status: 400,
    raw: 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u0000b\r\n\r\n' },
  { name: 'control character in a header value is rejected', status: 400,
    raw: 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u0001b\r\n\r\n' },
  { name: 'bare LF in chunked framing is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n' },
  { name: 'chunk size overflow is rejected', status: 400,
    raw: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nabc\r\n0\r\n\r\n' },
  { name: 'HTTP/0.9 request line (no head) is rejected with 505', status: 505,
    raw: 'GET /\r\n\r\n' },
  { name: 'HTTP/2.0 on an HTTP/1 request line is rejected with 505', status: 505,
    raw: 'GET / HTTP/2.0\r\nHost: a\r\n\r\n' },
  { name: 'HTTP/1.2 request line is rejected', status: 400,
    raw: 'GET / HTTP/1.2\r\nHost: a\r\n\r\n' },
  { name: 'non-ASCII byte in the target is rejected', status: 400,
    raw: 'GET /\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'whitespace after the version in the request line is rejected', status: 400,
    raw: 'GET / HTTP/1.1 \r\nHost: a\r\n\r\n' },
];

/** Well-framed requests with an unusable target or Host: 400, the connection stays usable. */
const badTargets: Case[] = [
  { name: 'asterisk-form target outside OPTIONS gets 400', status: 400, raw: 'GET * HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'absolute-form target with an invalid authority gets 400', status: 400, raw: 'GET http://[bad/ HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'absolute-form target with userinfo gets 400', status: 400, raw: 'GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'Host with a path in it gets 400', status: 400, raw: 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n' },
  { name: 'Host with spaces gets 400', status: 400, raw: 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n' },
  { name: 'path traversal above the root (/../x) gets 400', status: 400, raw: 'GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'encoded path traversal above the root (/%2e%2e/x) gets 400', status: 400, raw: 'GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'encoded slash (%2F) in the path gets 400', status: 400, raw: 'GET /x%2F..%2Fadmin HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'encoded backslash (%5C) in the path gets 400', status: 400, raw: 'GET /x%5C..%5Cadmin HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'raw backslash in the path gets 400', status: 400, raw: 'GET /x\\..\\admin HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'encoded NUL (%00) in the path gets 400', status: 400, raw: 'GET /a%00.txt HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'malformed percent-encoding gets 400', status: 400, raw: 'GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'dot-segment with path parameters (Tomcat ..;/) gets 400', status: 400, raw: 'GET /x/..;/admin HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'fragment in the request target gets 400', status: 400, raw: 'GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'TRACE is disabled (501), so it never echoes credentials (cross-site tracing)', status: 501, raw: 'TRACE / HTTP/1.1\r\nHost: a\r\nCookie: secret\r\n\r\n' },
  { name: 'an unknown expectation gets 417', status: 417, raw: 'GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n' },
  { name: 'OPTIONS with an invalid Max-Forwards gets 400', status: 400, raw: 'OPTIONS /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: -1\r\n\r\n' },
];

/**
 * Path normalisation (docs/design.md, "Request-target handling"): the path a request is routed by
 * is the path the upstream receives. Each row: sent → received upstream.
 */
const normalised: readonly (readonly [string, string])[] = [
  ['/a/./b', '/a/b'],
  ['/a/../b', '/b'],
  ['/a//b///c', '/a/b/c'],
  ['/a/%2e/b', '/a/b'],
  ['/a/%2E%2E/b', '/b'],
  ['/a/.%2e/b', '/b'],
  ['/%7Euser/%41bc', '/~user/Abc'],
  ['/caf%c3%a9', '/caf%C3%A9'],
  ['/a/b/..', '/a/'],
  ['/a?x=/../y&z=%2F', '/a?x=/../y&z=%2F'],
  ['/.well-known/x', '/.well-known/x'],
];

describe('request smuggling and parser defences', () => {
  for (const c of rejected) {
    it(c.name, async () => {
      const before = up.seen.length;
      const r = await rawExchange(port, c.raw);
      expect(r.statuses[0], r.text).toBe(c.status);
      expect(r.closed).toBe(true);
      expect(up.seen.length).toBe(before);
    });
  }

  for (const [sent, received] of normalised) {
    it(`path normalisation: ${sent} is routed and forwarded as ${received}`, async () => {
      const r = await rawExchange(port, `GET ${sent} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      expect(r.statuses, r.text).toEqual([200]);
      expect(r.text).toContain(`got GET ${received} 0`);
    });
  }

  it('path normalisation happens before routing: /x/../admin reaches the admin route, not the upstream', async () => {
    const before = up.seen.length;
    const r = await rawExchange(port, 'GET /x/%2e%2e/admin/secret HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(r.statuses).toEqual([404]);
    expect(r.text).toContain('ROUTE_NOT_FOUND');
    expect(up.seen.length).toBe(before);
  });

  it('Expect: 100-continue is answered by the proxy when the body is wanted, and not forwarded', async () => {
    const r = await rawExchange(port, 'POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc');
    expect(r.statuses).toEqual([100, 200]);
    expect(r.text).toContain('got POST /e 3');
    expect(up.seen.at(-1)?.headers.expect).toBeUndefined();
  });

  it('Expect: 100-continue on a request refused before its body is read gets no 100 and a closed connection', async () => {
    const before = up.seen.length;
    const r = await rawExchange(port, 'POST /admin HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n');
    expect(r.statuses).toEqual([404]);
    expect(parseHeads(r.text)[0]?.headers.connection).toBe('close');
    expect(r.closed).toBe(true);
    expect(up.seen.length).toBe(before);
  });

  for (const [name, raw] of [
    ['websocket', 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'],
    ['h2c', 'GET /h2c HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n'],
  ] as const) {
    it(`Upgrade: ${name} on a route without WebSocket is served as plain HTTP/1.1 (RFC 9110 §7.8): never switched, never tunnelled`, async () => {
      const r = await rawExchange(port, raw);
      expect(r.statuses).toEqual([200]);
      expect(r.text).toContain('got GET');
      const seen = up.seen.at(-1);
      expect(seen?.headers.upgrade).toBeUndefined();
      expect(seen?.headers.connection ?? '').not.toMatch(/upgrade/i);
      expect(seen?.headers['http2-settings']).toBeUndefined();
    });
  }

  for (const [name, raw] of [
    ['OPTIONS with Max-Forwards: 0 (RFC 9110 §7.6.2)', 'OPTIONS /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n'],
    ['OPTIONS * (asterisk-form, RFC 9112 §3.2.4)', 'OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'],
  ] as const) {
    it(`${name} is answered by the proxy with Allow and never forwarded`, async () => {
      const before = up.seen.length;
      const r = await rawExchange(port, raw);
      expect(r.statuses).toEqual([200]);
      expect(parseHeads(r.text)[0]?.headers.allow).toBe('GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH');
      expect(up.seen.length).toBe(before);
    });
  }

  it('OPTIONS with Max-Forwards: 5 is forwarded with Max-Forwards: 4', async () => {
    const r = await rawExchange(port, 'OPTIONS /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 5\r\nConnection: close\r\n\r\n');
    expect(r.statuses).toEqual([200]);
    expect(up.seen.at(-1)?.headers['max-forwards']).toBe('4');
  });

  it('CONNECT is not a reverse-proxy method: the connection is closed and nothing reaches the upstream', async () => {
    const before = up.seen.length;
    const r = await rawExchange(port, 'CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n');
    expect(r.closed).toBe(true);
    expect(r.statuses.every((s) => s >= 400)).toBe(true);
    expect(up.seen.length).toBe(before);
  });

  it('a chunked body is re-framed upstream: the upstream sees exactly the decoded bytes', async () => {
    const r = await rawExchange(port, 'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
    expect(r.statuses).toEqual([200]);
    expect(r.text).toContain('got POST /c 5');
  });

  it('two pipelined requests get two responses, in order, and nothing is smuggled between them', async () => {
    const before = up.seen.length;
    const r = await rawExchange(port,
      'POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc' +
      'GET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(r.statuses).toEqual([200, 200]);
    expect(r.text.indexOf('got POST /one 3')).toBeLessThan(r.text.indexOf('got GET /two 0'));
    expect(up.seen.length).toBe(before + 2);
  });

  for (const c of badTargets) {
    it(`${c.name}, never reaches the upstream, and the connection stays usable`, async () => {
      const before = up.seen.length;
      const r = await rawExchange(port, c.raw + 'GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      expect(r.statuses, r.text).toEqual([c.status, 200]);
      expect(r.text).toContain('got GET /after 0');
      expect(up.seen.length).toBe(before + 1);
    });
  }

  it('absolute-form with a valid authority is accepted and sent upstream in origin-form', async () => {
    const r = await rawExchange(port, 'GET http://example.test:8080/abs?q=1 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n');
    expect(r.statuses).toEqual([200]);
    expect(r.text).toContain('got GET /abs?q=1 0');
    expect(up.seen.at(-1)?.headers.host).toBe('example.test:8080');
  });

  it('rejections are recorded in the audit log with the reason and the request id', async () => {
    await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    await rawExchange(port, 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    await rawExchange(port, 'GET /../x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await rawExchange(port, 'TRACE / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const wanted = ['duplicate Host header', 'Transfer-Encoding other than a single chunked', 'path rejected: traversal-above-root', 'TRACE is disabled'];
    await expect.poll(() => {
      const reasons = new Set(auditRecords(proxy.stderr()).map((a) => a['reason']));
      return wanted.filter((w) => !reasons.has(w));
    }, { timeout: 10_000 }).toEqual([]);
    for (const a of auditRecords(proxy.stderr())) {
      expect(a['component'], JSON.stringify(a)).toMatch(/^(parser|limits)$/);
      expect(a['request_id'], JSON.stringify(a)).toBeTypeOf('string');
    }
  });
});
