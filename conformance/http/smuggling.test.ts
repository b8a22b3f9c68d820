// Request smuggling and parser defences, black-box against the built proxy (RFC 9112 §6.1, §6.3,
// §5.2, §3.2, §2.2). Each case names the bug class it pins. The upstream records every request it
// receives: a rejected request must never reach it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSentinel } from '../../spec/helpers/sentinel-process.ts';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import { startUpstream } from '../../spec/helpers/upstream.ts';
import type { Upstream } from '../../spec/helpers/upstream.ts';
import { rawExchange } from './raw.ts';

let up: Upstream;
let proxy: SentinelProcess;
let port: number;

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; });
    req.on('end', () => res.end(`got ${req.method} ${req.url} ${n}`));
  });
  proxy = await startSentinel(`
listeners { listener "main" { address "127.0.0.1:0" } }
routes { route "all" { matches { path-prefix "/" }; upstream "up" } }
upstreams { upstream "up" { target "${up.address}" } }
observability { metrics { enabled #false }; logging { access-log { enabled #false } } }
`, { listeners: ['main'] });
  port = proxy.ports.get('main') as number;
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await up?.close();
});

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
];

/** Well-framed requests with an unusable target or Host: 400, the connection stays usable. */
const badTargets: Case[] = [
  { name: 'asterisk-form target outside OPTIONS gets 400', status: 400, raw: 'GET * HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'absolute-form target with an invalid authority gets 400', status: 400, raw: 'GET http://[bad/ HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'absolute-form target with userinfo gets 400', status: 400, raw: 'GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n' },
  { name: 'Host with a path in it gets 400', status: 400, raw: 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n' },
  { name: 'Host with spaces gets 400', status: 400, raw: 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n' },
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
});
