// Real HTTP clients as peers of the built proxy: curl (HTTP/1.1, HTTP/2 over TLS with ALPN, h2c
// with prior knowledge), nghttp (HTTP/2 over TLS and h2c) and h2load (many streams on a few
// connections). Certificates are generated with openssl at test time; curl verifies them against
// the test CA (nghttp and h2load do not verify). Every client must see the response the upstream
// sent, through the same routing, on every protocol.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { startSentinel } from '../../spec/helpers/sentinel-process.ts';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import { startUpstream } from '../../spec/helpers/upstream.ts';
import type { Upstream } from '../../spec/helpers/upstream.ts';
import { generateTestPki } from '../../spec/helpers/certs.ts';
import type { TestPki } from '../../spec/helpers/certs.ts';

let pki: TestPki;
let up: Upstream;
let proxy: SentinelProcess;
let https: number;
let h2c: number;
let http: number;

beforeAll(async () => {
  pki = generateTestPki();
  up = await startUpstream((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; });
    req.on('end', () => {
      res.setHeader('content-type', 'text/plain');
      res.setHeader('x-upstream-saw', `${req.method} ${req.url} body=${n} proto=${String(req.headers['x-forwarded-proto'])}`);
      res.end(req.url === '/big' ? 'x'.repeat(1 << 20) : `hello ${req.method} ${req.url}\n`);
    });
  });
  proxy = await startSentinel(`
listeners {
    listener "http" { address "127.0.0.1:0" }
    listener "https" { address "127.0.0.1:0"; protocol "https"; tls { cert-file "${pki.server.cert}"; key-file "${pki.server.key}" } }
    listener "h2c" { address "127.0.0.1:0"; protocol "h2c" }
}
routes {
    route "health" { priority "high"; matches { path "/health" }; builtin-handler "health" }
    route "all" { matches { path-prefix "/" }; upstream "up" }
}
upstreams { upstream "up" { target "${up.address}" } }
observability { metrics { enabled #false }; logging { access-log { enabled #false } } }
`, { listeners: ['http', 'https', 'h2c'] });
  https = proxy.ports.get('https') as number;
  h2c = proxy.ports.get('h2c') as number;
  http = proxy.ports.get('http') as number;
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await up?.close();
  pki?.cleanup();
});

function run(cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** curl with -i (head and body), the test CA, and localhost resolved to 127.0.0.1. */
function curl(...args: string[]): ReturnType<typeof run> {
  return run('curl', ['-sS', '-i', '--cacert', pki.ca, '--resolve', `localhost:${https}:127.0.0.1`, ...args]);
}

describe('curl', () => {
  it('HTTP/1.1 in cleartext', async () => {
    const r = await curl('--http1.1', `http://127.0.0.1:${http}/a?b=c`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200 /);
    expect(r.stdout).toMatch(/x-upstream-saw: GET \/a\?b=c body=0 proto=http/i);
    expect(r.stdout).toMatch(/via: 1\.1 sentinel/i);
  });

  it('HTTP/1.1 over TLS when the client does not offer h2', async () => {
    const r = await curl('--http1.1', '-d', 'abc', `https://localhost:${https}/tls1`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200 /);
    expect(r.stdout).toMatch(/x-upstream-saw: POST \/tls1 body=3 proto=https/i);
  });

  it('HTTP/2 over TLS (ALPN), with a request body and a 1 MiB response', async () => {
    const r = await curl('--http2', '-d', 'hello h2', `https://localhost:${https}/h2`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/2 200/);
    expect(r.stdout).toMatch(/x-upstream-saw: POST \/h2 body=8 proto=https/i);
    const big = await run('curl', ['-sS', '--http2', '--cacert', pki.ca, '--resolve', `localhost:${https}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_version} %{http_code} %{size_download}', `https://localhost:${https}/big`]);
    expect(big.stdout).toBe(`2 200 ${1 << 20}`);
  });

  it('h2c with prior knowledge', async () => {
    const r = await curl('--http2-prior-knowledge', `http://127.0.0.1:${h2c}/h2c`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/2 200/);
    expect(r.stdout).toMatch(/x-upstream-saw: GET \/h2c body=0 proto=http/i);
  });

  it('a local answer (builtin handler) over every protocol', async () => {
    for (const args of [['--http1.1', `http://127.0.0.1:${http}/health`], ['--http2', `https://localhost:${https}/health`], ['--http2-prior-knowledge', `http://127.0.0.1:${h2c}/health`]]) {
      const r = await curl(...args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^HTTP\/(1\.1|2) 200/);
      expect(r.stdout).toMatch(/x-request-id: /i);
    }
  });
});

describe('nghttp and h2load', () => {
  it('nghttp over TLS negotiates h2 with ALPN and gets the response', async () => {
    const r = await run('nghttp', ['-v', '--no-dep', '-H', `:authority: localhost:${https}`, `https://127.0.0.1:${https}/nghttp`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/negotiated protocol: h2/i);
    expect(r.stdout).toMatch(/:status: 200/);
    expect(r.stdout).toMatch(/x-upstream-saw: GET \/nghttp body=0 proto=https/);
    expect(r.stdout).toContain('hello GET /nghttp');
  });

  it('nghttp h2c with prior knowledge', async () => {
    const r = await run('nghttp', ['-v', `http://127.0.0.1:${h2c}/nghttp-h2c`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/:status: 200/);
    expect(r.stdout).toContain('hello GET /nghttp-h2c');
  });

  it('h2load: 400 requests, 4 connections, 10 streams each, all 2xx, over TLS and h2c', async () => {
    for (const url of [`https://127.0.0.1:${https}/load`, `http://127.0.0.1:${h2c}/load`]) {
      const r = await run('h2load', ['-n', '400', '-c', '4', '-m', '10', url]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored/);
      expect(r.stdout).toMatch(/status codes: 400 2xx/);
    }
  });
});
