// Static files, black-box: traversal protection and the symlink policy, index files and the
// directory redirect, validators and conditional requests (RFC 9110 §13), single byte ranges
// (§14), Cache-Control per route, content types, precompressed siblings with Vary (§12.5.3), HEAD,
// methods, and streaming with backpressure.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import { auditRecords, parseHeads, rawExchange, startProxy, stopAll } from './raw.ts';

let dir: string;
let www: string;
let proxy: SentinelProcess;
let port: number;
const APP_JS = `console.log(${JSON.stringify('x'.repeat(2000))});\n`;
const INDEX = '<!doctype html><title>home</title>\n';
const BIG_BYTES = 64 * 1024 * 1024;

function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return rawExchange(port, `${method} ${path} HTTP/1.1\r\nHost: ${headers['Host'] ?? 'site.test'}\r\n${extra.replace(/^Host: .*\r\n/m, '')}Connection: close\r\n\r\n`);
}

async function one(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const r = await get(path, headers, method);
  const heads = parseHeads(r.text);
  expect(heads.length, r.text).toBe(1);
  return heads[0] as { status: number; headers: Record<string, string>; body: string };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-static-'));
  www = join(dir, 'www');
  mkdirSync(join(www, 'sub'), { recursive: true });
  mkdirSync(join(www, 'noindex'));
  mkdirSync(join(www, 'assets'));
  mkdirSync(join(www, '.well-known'));
  mkdirSync(join(dir, 'outside'));
  writeFileSync(join(www, 'index.html'), INDEX);
  writeFileSync(join(www, 'sub', 'index.html'), '<p>sub</p>');
  writeFileSync(join(www, 'app.js'), APP_JS);
  writeFileSync(join(www, 'app.js.br'), brotliCompressSync(APP_JS));
  writeFileSync(join(www, 'app.js.gz'), gzipSync(APP_JS));
  writeFileSync(join(www, 'data.json'), '{"a":1}');
  writeFileSync(join(www, 'empty.txt'), '');
  writeFileSync(join(www, 'hello world.txt'), 'spaces');
  writeFileSync(join(www, 'café.txt'), 'utf-8 name');
  writeFileSync(join(www, 'digits.txt'), '0123456789abcdefghij');
  writeFileSync(join(www, '.env'), 'SECRET=1');
  writeFileSync(join(www, '.well-known', 'security.txt'), 'Contact: mailto:sec@example.test');
  writeFileSync(join(www, 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(www, 'assets', 'font.woff2'), Buffer.from([0x77, 0x4f, 0x46, 0x32]));
  writeFileSync(join(dir, 'outside', 'secret.txt'), 'outside the root');
  writeFileSync(join(dir, 'secret.txt'), 'next to the root');
  symlinkSync(join(www, 'app.js'), join(www, 'link-in.js'));
  symlinkSync(join(dir, 'secret.txt'), join(www, 'link-out.txt'));
  symlinkSync(join(dir, 'outside'), join(www, 'dirlink-out'));
  execFileSync('mkfifo', [join(www, 'pipe.txt')]);
  // Sparse: 64 MiB that costs no disk, for the backpressure test.
  writeFileSync(join(www, 'big.bin'), '');
  truncateSync(join(www, 'big.bin'), BIG_BYTES);
  ({ proxy, port } = await startProxy(`
routes {
  route "assets" {
    matches { path-prefix "/assets" }
    static-files { root "${www}"; cache-control "public, max-age=31536000, immutable" }
  }
  route "spa" {
    matches { host "spa.test"; path-prefix "/" }
    static-files { root "${www}"; fallback "index.html"; cache-control #false }
  }
  route "site" {
    matches { path-prefix "/" }
    static-files { root "${www}"; index "index.html"; precompressed "br" "gzip" }
  }
}
`));
}, 60_000);

afterAll(async () => {
  await stopAll(proxy);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('static files: what is served', () => {
  it('serves the index file of the root with type, length, validators, default Cache-Control and security headers', async () => {
    const r = await one('/');
    expect(r.status).toBe(200);
    expect(r.body).toBe(INDEX);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-length']).toBe(String(INDEX.length));
    expect(r.headers['etag']).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(Date.parse(r.headers['last-modified'] as string)).toBe(Math.floor(statSync(join(www, 'index.html')).mtimeMs / 1000) * 1000);
    expect(r.headers['cache-control']).toBe('public, max-age=3600');
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-request-id']).toBeDefined();
  });

  it('redirects a directory without its trailing slash (relative Location, query kept), then serves its index', async () => {
    const r = await one('/sub?x=1');
    expect(r.status).toBe(301);
    expect(r.headers['location']).toBe('/sub/?x=1');
    const s = await one('/sub/');
    expect(s.status).toBe(200);
    expect(s.body).toBe('<p>sub</p>');
  });

  it('answers 404 for a missing file, and for a directory without an index (no listing)', async () => {
    expect((await one('/missing.html')).status).toBe(404);
    const r = await one('/noindex/');
    expect(r.status).toBe(404);
    expect(r.body).toContain('FILE_NOT_FOUND');
  });

  it('types files by extension: js, json, svg, woff2, text', async () => {
    expect((await one('/app.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await one('/data.json')).headers['content-type']).toBe('application/json; charset=utf-8');
    expect((await one('/assets/logo.svg')).headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expect((await one('/assets/font.woff2')).headers['content-type']).toBe('font/woff2');
    expect((await one('/digits.txt')).headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('takes Cache-Control from the route, or sends none', async () => {
    expect((await one('/assets/logo.svg')).headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await one('/digits.txt', { Host: 'spa.test' })).headers['cache-control']).toBeUndefined();
  });

  it('serves percent-encoded names (spaces, UTF-8) and an empty file', async () => {
    expect((await one('/hello%20world.txt')).body).toBe('spaces');
    expect((await one('/caf%C3%A9.txt')).body).toBe('utf-8 name');
    const e = await one('/empty.txt');
    expect(e.status).toBe(200);
    expect(e.headers['content-length']).toBe('0');
  });

  it('serves the fallback file for unknown paths on a single-page-app route', async () => {
    const r = await one('/some/client/route', { Host: 'spa.test' });
    expect(r.status).toBe(200);
    expect(r.body).toBe(INDEX);
  });

  it('HEAD gets the GET head and no body', async () => {
    const r = await get('/app.js', {}, 'HEAD');
    const heads = parseHeads(r.text);
    expect(heads[0]?.status).toBe(200);
    expect(heads[0]?.headers['content-length']).toBe(String(APP_JS.length));
    expect(heads[0]?.body).toBe('');
  });

  it('other methods get 405 with Allow: GET, HEAD', async () => {
    const r = await one('/app.js', {}, 'DELETE');
    expect(r.status).toBe(405);
    expect(r.headers['allow']).toBe('GET, HEAD');
  });
});

describe('static files: traversal protection and the symlink policy', () => {
  it('never serves hidden files, but serves .well-known', async () => {
    expect((await one('/.env')).status).toBe(404);
    expect((await one('/%2eenv')).status).toBe(404);
    expect((await one('/.well-known/security.txt')).body).toContain('Contact:');
  });

  it('rejects traversal before routing, encoded or not', async () => {
    expect((await one('/../secret.txt')).status).toBe(400);
    expect((await one('/%2e%2e/secret.txt')).status).toBe(400);
    expect((await one('/sub/..%2F..%2Fsecret.txt')).status).toBe(400);
  });

  it('follows a symlink that stays inside the root', async () => {
    expect((await one('/link-in.js')).body).toBe(APP_JS);
  });

  it('refuses a symlink (file or directory) that resolves outside the root with 404, and audits it', async () => {
    const f = await one('/link-out.txt');
    expect(f.status).toBe(404);
    expect(f.body).not.toContain('next to the root');
    const d = await one('/dirlink-out/secret.txt');
    expect(d.status).toBe(404);
    await expect.poll(() => auditRecords(proxy.stderr()).some((a) => a['reason'] === 'symlink resolves outside root'), { timeout: 10_000 }).toBe(true);
  });

  it('never opens a FIFO (it would block): 404 at once', async () => {
    expect((await one('/pipe.txt')).status).toBe(404);
  });
});

describe('static files: conditional requests (RFC 9110 §13)', () => {
  it('If-None-Match with the current ETag is 304 with the validators and no body', async () => {
    const first = await one('/app.js');
    const etag = first.headers['etag'] as string;
    const r = await one('/app.js', { 'If-None-Match': `"nope", ${etag}` });
    expect(r.status).toBe(304);
    expect(r.headers['etag']).toBe(etag);
    expect(r.headers['cache-control']).toBe('public, max-age=3600');
    expect(r.body).toBe('');
  });

  it('If-Modified-Since at the Last-Modified is 304; earlier is 200', async () => {
    const first = await one('/digits.txt');
    const lm = first.headers['last-modified'] as string;
    expect((await one('/digits.txt', { 'If-Modified-Since': lm })).status).toBe(304);
    expect((await one('/digits.txt', { 'If-Modified-Since': new Date(Date.parse(lm) - 60_000).toUTCString() })).status).toBe(200);
  });

  it('If-Match with another ETag is 412', async () => {
    const r = await one('/digits.txt', { 'If-Match': '"other"' });
    expect(r.status).toBe(412);
    expect(r.body).toContain('PRECONDITION_FAILED');
  });
});

describe('static files: ranges (RFC 9110 §14)', () => {
  it('a single range is 206 with Content-Range and exactly those bytes', async () => {
    const r = await one('/digits.txt', { Range: 'bytes=2-5' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe('bytes 2-5/20');
    expect(r.headers['content-length']).toBe('4');
    expect(r.body).toBe('2345');
    expect((await one('/digits.txt', { Range: 'bytes=-3' })).body).toBe('hij');
    expect((await one('/digits.txt', { Range: 'bytes=18-' })).body).toBe('ij');
  });

  it('an unsatisfiable range is 416 with Content-Range: bytes */size', async () => {
    const r = await one('/digits.txt', { Range: 'bytes=20-30' });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe('bytes */20');
  });

  it('several ranges are answered with the whole file (200)', async () => {
    const r = await one('/digits.txt', { Range: 'bytes=0-1,4-5' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('0123456789abcdefghij');
  });

  it('If-Range: the range is honoured for the current ETag, the whole file is sent for an old one', async () => {
    const etag = (await one('/digits.txt')).headers['etag'] as string;
    expect((await one('/digits.txt', { Range: 'bytes=0-1', 'If-Range': etag })).status).toBe(206);
    const stale = await one('/digits.txt', { Range: 'bytes=0-1', 'If-Range': '"stale"' });
    expect(stale.status).toBe(200);
    expect(stale.body).toBe('0123456789abcdefghij');
  });
});

describe('static files: precompressed siblings (RFC 9110 §12.5.3)', () => {
  it('serves app.js.br to a client that accepts br, with Content-Encoding, Vary and its own ETag', async () => {
    const identity = await one('/app.js', { 'Accept-Encoding': 'identity' });
    const r = await rawExchange(port, 'GET /app.js HTTP/1.1\r\nHost: site.test\r\nAccept-Encoding: gzip, br\r\nConnection: close\r\n\r\n');
    const head = parseHeads(r.text)[0];
    expect(head?.headers['content-encoding']).toBe('br');
    expect(head?.headers['vary']).toBe('Accept-Encoding');
    expect(head?.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(head?.headers['etag']).not.toBe(identity.headers['etag']);
    const body = Buffer.from(r.text.slice(r.text.indexOf('\r\n\r\n') + 4), 'latin1');
    expect(body.equals(readFileSync(join(www, 'app.js.br')))).toBe(true);
    expect(identity.headers['vary']).toBe('Accept-Encoding');
    expect(identity.headers['content-encoding']).toBeUndefined();
  });

  it('serves the gzip sibling when only gzip is accepted, and never a coding refused with q=0', async () => {
    expect((await one('/app.js', { 'Accept-Encoding': 'gzip' })).headers['content-encoding']).toBe('gzip');
    expect((await one('/app.js', { 'Accept-Encoding': 'br;q=0, gzip' })).headers['content-encoding']).toBe('gzip');
    expect((await one('/app.js', { 'Accept-Encoding': 'br;q=0, gzip;q=0' })).headers['content-encoding']).toBeUndefined();
  });

  it('serves the identity file for a range request, whatever the client accepts', async () => {
    const r = await one('/app.js', { 'Accept-Encoding': 'br', Range: 'bytes=0-6' });
    expect(r.status).toBe(206);
    expect(r.body).toBe('console');
    expect(r.headers['content-encoding']).toBeUndefined();
  });
});

describe('static files: streaming with backpressure', () => {
  /** Bytes the proxy process has read with read(2) and friends (files and sockets). */
  function readChars(pid: number): number {
    const m = /^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return Number(m?.[1]);
  }

  it('a client that stops reading stops the file read; resumed, it gets every byte', async () => {
    const pid = proxy.child.pid as number;
    const s = connect({ host: '127.0.0.1', port });
    let received = 0;
    s.on('data', (c: Buffer) => { received += c.length; });
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    s.write('GET /big.bin HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n');
    await expect.poll(() => received, { timeout: 10_000 }).toBeGreaterThan(0);
    s.pause();
    const before = readChars(pid);
    // Without backpressure the proxy would read the whole 64 MiB file while the client sleeps.
    await new Promise((r) => setTimeout(r, 1500));
    const readWhilePaused = readChars(pid) - before;
    expect(readWhilePaused).toBeLessThan(BIG_BYTES / 2);
    const done = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.resume();
    await done;
    expect(received).toBeGreaterThan(BIG_BYTES);
  }, 60_000);
});
