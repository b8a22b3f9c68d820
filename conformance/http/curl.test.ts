// curl (HTTP/1.1) as a real peer client: what a widely used client does with Sentinel's answers
// to Expect: 100-continue, body limits, chunked uploads, ranges, compression and conditional GET.
// curl comes from the Debian package `curl`.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import { startProxy, stopAll } from './raw.ts';
import { startUpstream } from '../../spec/helpers/upstream.ts';
import type { Upstream } from '../../spec/helpers/upstream.ts';

let up: Upstream;
let proxy: SentinelProcess;
let port: number;
let base: string;
let dir: string;
const STYLE = `body { color: ${'#123456; '.repeat(300)} }\n`;
const BLOB = Buffer.alloc(3 * 1024 * 1024, 0);
for (let i = 0; i < BLOB.length; i++) BLOB[i] = (i * 31 + 7) & 0xff;

interface CurlResult { code: number | null; stdout: Buffer; stderr: string }

function curl(args: readonly string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['--http1.1', '-sS', '--max-time', '30', ...args], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? null), stdout, stderr: stderr.toString() });
    });
  });
}

/** `-w` fields written after the body, on their own line. */
async function curlW(args: readonly string[], w: string): Promise<{ body: Buffer; w: string; code: number | null }> {
  const r = await curl([...args, '-w', `\n@@${w}`]);
  const text = r.stdout;
  const at = text.lastIndexOf('\n@@');
  return { body: text.subarray(0, at), w: text.subarray(at + 3).toString(), code: r.code };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-curl-'));
  // The static route maps the whole path under root: /files/x is <root>/files/x.
  const files = join(dir, 'www', 'files');
  mkdirSync(files, { recursive: true });
  writeFileSync(join(files, 'style.css'), STYLE);
  writeFileSync(join(files, 'style.css.br'), brotliCompressSync(STYLE));
  writeFileSync(join(files, 'style.css.gz'), gzipSync(STYLE));
  writeFileSync(join(files, 'blob.bin'), BLOB);
  up = await startUpstream((req, res) => {
    const h = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; h.update(c); });
    req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, bytes: n, sha256: h.digest('hex'), te: req.headers['transfer-encoding'] ?? null })));
  });
  ({ proxy, port } = await startProxy(`
routes {
  route "files" { matches { path-prefix "/files" }; static-files { root "${dir}/www"; precompressed "br" "gzip" } }
  route "small" { matches { path-prefix "/small" }; upstream "up"; policies { max-body-size-bytes 65536 } }
  route "all" { matches { path-prefix "/" }; upstream "up" }
}
upstreams { upstream "up" { target "${up.address}" } }
`));
  base = `http://127.0.0.1:${port}`;
}, 60_000);

afterAll(async () => {
  await stopAll(proxy, up);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('curl as a peer (HTTP/1.1)', () => {
  it('GET through the proxy: 200, Via, X-Request-Id', async () => {
    const r = await curl(['-D', '-', `${base}/hello`]);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.toString();
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toMatch(/\r\nvia: 1\.1 sentinel\r\n/i);
    expect(text).toMatch(/\r\nx-request-id: \S+\r\n/i);
  });

  it('POST with Expect: 100-continue within the limit: curl waits for 100, uploads, the upstream gets every byte', async () => {
    const body = Buffer.alloc(40_000, 0x61);
    writeFileSync(join(dir, 'up.bin'), body);
    const r = await curlW(['-H', 'Expect: 100-continue', '--expect100-timeout', '20', '--data-binary', `@${join(dir, 'up.bin')}`, `${base}/small/ok`], '%{http_code} %{size_upload}');
    expect(r.w).toBe('200 40000');
    expect(JSON.parse(r.body.toString())).toMatchObject({ method: 'POST', bytes: 40_000, sha256: createHash('sha256').update(body).digest('hex') });
  });

  it('POST with Expect: 100-continue over the limit: 413 and curl uploads nothing', async () => {
    writeFileSync(join(dir, 'big.bin'), Buffer.alloc(200_000, 0x62));
    const seen = up.seen.length;
    const r = await curlW(['-H', 'Expect: 100-continue', '--expect100-timeout', '20', '--data-binary', `@${join(dir, 'big.bin')}`, `${base}/small/big`], '%{http_code} %{size_upload}');
    expect(r.w).toBe('413 0');
    expect(r.body.toString()).toContain('PAYLOAD_TOO_LARGE');
    expect(up.seen.length).toBe(seen);
  });

  it('a chunked upload is re-framed and arrives whole', async () => {
    const body = Buffer.alloc(300_000, 0x63);
    writeFileSync(join(dir, 'chunked.bin'), body);
    const r = await curlW(['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${join(dir, 'chunked.bin')}`, `${base}/upload`], '%{http_code}');
    expect(r.w).toBe('200');
    expect(JSON.parse(r.body.toString())).toMatchObject({ bytes: 300_000, te: 'chunked' });
  });

  it('a chunked upload over the route limit gets 413', async () => {
    const r = await curlW(['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${join(dir, 'big.bin')}`, `${base}/small/chunked`], '%{http_code}');
    expect(r.w).toBe('413');
  });

  it('--path-as-is: the dot-segments are removed before routing and forwarding', async () => {
    const r = await curl(['--path-as-is', `${base}/a/b/../c/./d`]);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ url: '/a/c/d' });
  });

  it('static file: a 3 MiB download arrives intact; a range resumes it', async () => {
    const full = await curlW([`${base}/files/blob.bin`], '%{http_code}');
    expect(full.w).toBe('200');
    expect(full.body.equals(BLOB)).toBe(true);
    const part = await curlW(['-r', '1000-1999', `${base}/files/blob.bin`], '%{http_code}');
    expect(part.w).toBe('206');
    expect(part.body.equals(BLOB.subarray(1000, 2000))).toBe(true);
  });

  it('static file: --compressed gets a precompressed sibling and decodes it to the original', async () => {
    const r = await curl(['--compressed', '-D', join(dir, 'headers.txt'), `${base}/files/style.css`]);
    expect(r.stdout.toString()).toBe(STYLE);
    const head = readFileSync(join(dir, 'headers.txt'), 'utf8');
    expect(head).toMatch(/\r\ncontent-encoding: (br|gzip)\r\n/i);
    expect(head).toMatch(/\r\nvary: Accept-Encoding\r\n/i);
  });

  it('static file: conditional GET with -z (If-Modified-Since) gets 304 and no body', async () => {
    const r = await curlW(['-z', 'Sun, 01 Jan 2090 00:00:00 GMT', `${base}/files/style.css`], '%{http_code} %{size_download}');
    expect(r.w).toBe('304 0');
  });

  it('static file: HEAD (-I) gets length and validators without a body', async () => {
    const r = await curl(['-I', `${base}/files/blob.bin`]);
    const text = r.stdout.toString();
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toMatch(new RegExp(`\\r\\ncontent-length: ${BLOB.length}\\r\\n`, 'i'));
    expect(text).toMatch(/\r\netag: "[0-9a-f-]+"\r\n/i);
  });
});
