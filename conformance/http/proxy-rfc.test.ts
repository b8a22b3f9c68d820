// RFC 9110 / RFC 9112 requirements on an intermediary, black-box, with a raw TCP upstream that
// records request bytes and sends exact response bytes: hop-by-hop removal and Connection tokens
// (RFC 9110 §7.6.1), Via (§7.6.3), Date (§6.6.1), HEAD and 204/304 without content (§9.3.2,
// §15.3.5, §15.4.5), 1xx forwarding (§15.2), trailers (§6.5, RFC 9112 §7.1.2), and the rule that the
// upstream request is re-serialised from a parsed head, never forwarded as raw bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import { parseHeads, rawExchange, startProxy, startRawUpstream, stopAll } from './raw.ts';
import type { RawRequest, RawUpstream } from './raw.ts';

let up: RawUpstream;
let proxy: SentinelProcess;
let port: number;

function pathOf(req: RawRequest): string {
  return (req.head.split(' ')[1] ?? '').split('?')[0] as string;
}

const RESPONSES: Readonly<Record<string, string>> = {
  '/hop': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: x-secret, keep-alive\r\nX-Secret: internal\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nUpgrade: foo\r\nX-Kept: yes\r\n\r\nok',
  '/via': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nVia: 1.1 origin\r\nDate: Tue, 01 Jan 2030 00:00:00 GMT\r\n\r\nok',
  '/nodate': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  '/head': 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n',
  '/204': 'HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n',
  '/304': 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
  '/early': 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nX-Hint: 1\r\nConnection: x-hint\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal',
  '/processing': 'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  '/trailers': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n5\r\nhello\r\n0\r\nX-Checksum: abc123\r\nContent-Type: text/evil\r\nSet-Cookie: no=1\r\n\r\n',
  '/close': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
};

beforeAll(async () => {
  up = await startRawUpstream((req) => {
    if (pathOf(req) === '/head' && !req.head.startsWith('HEAD ')) return 'HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n';
    return RESPONSES[pathOf(req)] ?? 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\necho';
  });
  ({ proxy, port } = await startProxy(`
routes { route "all" { matches { path-prefix "/" }; upstream "up" } }
upstreams { upstream "up" { target "${up.address}" } }
`));
}, 60_000);

afterAll(() => stopAll(proxy, up));

function lastRequestHead(): string {
  return (up.requests.at(-1) as RawRequest).head;
}

function headLines(head: string): string[] {
  return head.split('\r\n').slice(1).filter((l) => l !== '');
}

function fieldNames(head: string): string[] {
  return headLines(head).map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
}

describe('request to the upstream (RFC 9110 §7.6, RFC 9112 §3.2)', () => {
  it('removes hop-by-hop fields and every field named in Connection, keeps end-to-end fields', async () => {
    const r = await rawExchange(port, 'GET /req HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n'
      + 'Trailer: X-T\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nX-End: 2\r\n\r\n');
    expect(r.statuses).toEqual([200]);
    const names = fieldNames(lastRequestHead());
    for (const hop of ['x-hop', 'keep-alive', 'te', 'trailer', 'proxy-connection', 'proxy-authorization']) {
      expect(names, hop).not.toContain(hop);
    }
    // The only Connection upstream is the proxy's own, for its own connection.
    for (const line of headLines(lastRequestHead())) {
      if (line.toLowerCase().startsWith('connection:')) expect(line.toLowerCase()).toBe('connection: keep-alive');
    }
    expect(lastRequestHead()).toContain('X-End: 2\r\n');
  });

  it('appends its Via to the client\'s', async () => {
    await rawExchange(port, 'GET /req HTTP/1.1\r\nHost: a\r\nVia: 1.0 fred\r\nConnection: close\r\n\r\n');
    expect(lastRequestHead()).toMatch(/\r\nvia: 1\.0 fred, 1\.1 sentinel\r\n/i);
  });

  it('re-serialises the head: odd whitespace, case and number forms never reach the upstream raw', async () => {
    const r = await rawExchange(port, '\r\nPOST  /re?q=1 HTTP/1.1\r\nhost: a\r\nX-Odd:  \t spaced  value \t \r\nCONTENT-LENGTH: 003\r\nX-Empty:\r\nConnection: close\r\n\r\nabc');
    expect(r.statuses).toEqual([200]);
    const req = up.requests.at(-1) as RawRequest;
    expect(req.head.startsWith('POST /re?q=1 HTTP/1.1\r\n')).toBe(true);
    for (const line of headLines(req.head)) {
      // field-name ":" SP field-value, no surrounding whitespace, no obs-fold, no control characters.
      // eslint-disable-next-line no-control-regex -- asserting the absence of control characters is the point
      expect(line, JSON.stringify(line)).toMatch(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+: ?(?:[^\s\x00-\x1f\x7f](?:[^\x00-\x08\x0a-\x1f\x7f]*[^\s\x00-\x1f\x7f])?)?$/);
    }
    expect(req.head).toMatch(/\r\nX-Odd: spaced {2}value\r\n/);
    expect(req.head).toMatch(/\r\ncontent-length: 3\r\n/i);
    expect(req.body.toString()).toBe('abc');
  });
});

describe('response to the client (RFC 9110 §7.6, §6.6.1)', () => {
  it('removes hop-by-hop fields and the fields the upstream named in Connection', async () => {
    const r = await rawExchange(port, 'GET /hop HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const h = parseHeads(r.text)[0]?.headers ?? {};
    expect(h['x-secret']).toBeUndefined();
    expect(h['keep-alive']).toBeUndefined();
    expect(h['proxy-authenticate']).toBeUndefined();
    expect(h['upgrade']).toBeUndefined();
    expect(h['connection']).toBe('close');
    expect(h['x-kept']).toBe('yes');
  });

  it('an upstream Connection: close does not close the client connection', async () => {
    const r = await rawExchange(port, 'GET /close HTTP/1.1\r\nHost: a\r\n\r\nGET /close HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(r.statuses).toEqual([200, 200]);
  });

  it('appends its Via to the upstream\'s, and relays the upstream\'s Date', async () => {
    const r = await rawExchange(port, 'GET /via HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const h = parseHeads(r.text)[0]?.headers ?? {};
    expect(h['via']).toBe('1.1 origin, 1.1 sentinel');
    expect(h['date']).toBe('Tue, 01 Jan 2030 00:00:00 GMT');
  });

  it('adds a Date when the upstream sent none', async () => {
    const r = await rawExchange(port, 'GET /nodate HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const date = parseHeads(r.text)[0]?.headers['date'] as string;
    expect(Number.isNaN(Date.parse(date))).toBe(false);
    expect(Math.abs(Date.parse(date) - Date.now())).toBeLessThan(60_000);
  });

  it('HEAD: the GET Content-Length is relayed with no content, and the connection stays in step', async () => {
    const r = await rawExchange(port, 'HEAD /head HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const heads = parseHeads(r.text);
    expect(heads.map((x) => x.status)).toEqual([200, 200]);
    expect(heads[0]?.headers['content-length']).toBe('1000');
    expect(heads[0]?.body).toBe('');
    expect(heads[1]?.body).toBe('echo');
  });

  it('204 and 304 carry no content and the connection stays in step', async () => {
    const r = await rawExchange(port, 'GET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET /304 HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const heads = parseHeads(r.text);
    expect(heads.map((x) => x.status)).toEqual([204, 304, 200]);
    expect(heads[0]?.body).toBe('');
    expect(heads[1]?.headers['etag']).toBe('"x"');
    expect(heads[1]?.body).toBe('');
  });
});

describe('interim responses (RFC 9110 §15.2)', () => {
  it('relays 103 Early Hints with its Link (hop-by-hop fields removed) before the final response', async () => {
    const r = await rawExchange(port, 'GET /early HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const heads = parseHeads(r.text);
    expect(heads.map((x) => x.status)).toEqual([103, 200]);
    expect(heads[0]?.headers['link']).toBe('</style.css>; rel=preload; as=style');
    expect(heads[0]?.headers['x-hint']).toBeUndefined();
    expect(heads[1]?.body).toBe('final');
  });

  it('relays 102 Processing', async () => {
    const r = await rawExchange(port, 'GET /processing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(r.statuses).toEqual([102, 200]);
  });

  it('sends no 1xx to an HTTP/1.0 client', async () => {
    const r = await rawExchange(port, 'GET /early HTTP/1.0\r\nHost: a\r\n\r\n');
    expect(r.statuses).toEqual([200]);
  });
});

describe('trailers (RFC 9110 §6.5, RFC 9112 §7.1.2)', () => {
  it('relays trailer fields to an HTTP/1.1 client, minus fields that may not be trailers', async () => {
    const r = await rawExchange(port, 'GET /trailers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(r.statuses).toEqual([200]);
    const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4);
    expect(body).toMatch(/^5\r\nhello\r\n0\r\n/);
    expect(body).toMatch(/\r\nX-Checksum: abc123\r\n\r\n$/i);
    expect(body).not.toMatch(/content-type/i);
    expect(body).not.toMatch(/set-cookie/i);
  });

  it('drops trailers for an HTTP/1.0 client (the body is delimited by the close)', async () => {
    const r = await rawExchange(port, 'GET /trailers HTTP/1.0\r\nHost: a\r\n\r\n');
    expect(r.statuses).toEqual([200]);
    expect(r.text.slice(r.text.indexOf('\r\n\r\n') + 4)).toBe('hello');
  });
});
