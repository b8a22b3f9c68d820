// TLS and HTTP/2 to upstreams, against real TLS servers on loopback with certificates generated
// at test time: verification is on by default, `ca-file` and `sni` decide what is trusted,
// `client-cert`/`client-key` give mTLS, `insecure-skip-verify` turns verification off (loudly), and
// `http-version { max-version 2 }` speaks HTTP/2 (ALPN over TLS, prior knowledge for h2c).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import { createSecureServer, createServer as createH2cServer } from 'node:http2';
import type { Http2SecureServer, Http2Server, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { startSentinel } from '../helpers/sentinel-process.ts';
import { seriesValue } from '../helpers/http.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { generateTestPki } from '../helpers/certs.ts';
import type { TestPki } from '../helpers/certs.ts';

let pki: TestPki;
let plainTls: HttpsServer;
let mtls: HttpsServer;
let h2tls: Http2SecureServer;
let h2c: Http2Server;
let proxy: SentinelProcess;

function answer(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const sock = req.socket as TLSSocket;
  const peer = typeof sock.getPeerX509Certificate === 'function' ? sock.getPeerX509Certificate()?.subject ?? null : null;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ version: req.httpVersion, url: req.url, host: req.headers.host ?? req.headers[':authority'], clientCert: peer, servername: (sock as TLSSocket & { servername?: string }).servername ?? null }));
}

async function listening(s: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }): Promise<number> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

const ports: Record<string, number> = {};

beforeAll(async () => {
  pki = generateTestPki();
  const cert = pki.read(pki.server.cert);
  const key = pki.read(pki.server.key);
  plainTls = createHttpsServer({ cert, key }, answer);
  mtls = createHttpsServer({ cert, key, ca: pki.read(pki.ca), requestCert: true, rejectUnauthorized: true }, answer);
  h2tls = createSecureServer({ cert, key, allowHTTP1: true }, answer);
  h2c = createH2cServer(answer);
  ports.tls = await listening(plainTls);
  ports.mtls = await listening(mtls);
  ports.h2tls = await listening(h2tls);
  ports.h2c = await listening(h2c);
  const ca = pki.ca;
  proxy = await startSentinel(`
listeners { listener "main" { address "127.0.0.1:0" } }
routes {
    route "default-verify" { matches { path-prefix "/default-verify" }; upstream "default-verify" }
    route "with-ca" { matches { path-prefix "/with-ca" }; upstream "with-ca" }
    route "wrong-sni" { matches { path-prefix "/wrong-sni" }; upstream "wrong-sni" }
    route "right-sni" { matches { path-prefix "/right-sni" }; upstream "right-sni" }
    route "insecure" { matches { path-prefix "/insecure" }; upstream "insecure" }
    route "mtls-without" { matches { path-prefix "/mtls-without" }; upstream "mtls-without" }
    route "mtls-with" { matches { path-prefix "/mtls-with" }; upstream "mtls-with" }
    route "h1-only" { matches { path-prefix "/h1-only" }; upstream "h1-only" }
    route "h2-alpn" { matches { path-prefix "/h2-alpn" }; upstream "h2-alpn" }
    route "h2c" { matches { path-prefix "/h2c" }; upstream "h2c" }
    route "checked" { matches { path-prefix "/checked" }; upstream "checked" }
    route "checked-bad-ca" { matches { path-prefix "/unverified" }; upstream "checked-bad-ca" }
}
upstreams {
    upstream "default-verify" { target "127.0.0.1:${ports.tls}"; tls { } }
    upstream "with-ca" { target "127.0.0.1:${ports.tls}"; tls { ca-file "${ca}" } }
    upstream "wrong-sni" { target "127.0.0.1:${ports.tls}"; tls { ca-file "${ca}"; sni "api.example.com" } }
    upstream "right-sni" { target "127.0.0.1:${ports.tls}"; tls { ca-file "${ca}"; sni "default.test" } }
    upstream "insecure" { target "127.0.0.1:${ports.tls}"; tls { insecure-skip-verify #true } }
    upstream "mtls-without" { target "127.0.0.1:${ports.mtls}"; tls { ca-file "${ca}" } }
    upstream "mtls-with" { target "127.0.0.1:${ports.mtls}"; tls { ca-file "${ca}"; client-cert "${pki.client.cert}"; client-key "${pki.client.key}" } }
    upstream "h1-only" { target "127.0.0.1:${ports.h2tls}"; tls { ca-file "${ca}" } }
    upstream "h2-alpn" { target "127.0.0.1:${ports.h2tls}"; tls { ca-file "${ca}" }; http-version { max-version 2 } }
    upstream "h2c" { target "127.0.0.1:${ports.h2c}"; http-version { min-version 2; max-version 2 } }
    upstream "checked" {
        target "127.0.0.1:${ports.tls}"; tls { ca-file "${ca}" }
        health-check { type "http" { path "/health" }; interval-secs 0.2; timeout-secs 0.2; initial-state "unknown" }
    }
    upstream "checked-bad-ca" {
        target "127.0.0.1:${ports.tls}"; tls { }
        health-check { type "http" { path "/health" }; interval-secs 0.2; timeout-secs 0.2; initial-state "unknown" }
    }
}
observability { metrics { address "127.0.0.1:0" }; logging { access-log { enabled #false } } }
`, { listeners: ['main'], metrics: true });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  for (const s of [plainTls, mtls, h2tls, h2c]) s?.close();
  pki?.cleanup();
});

interface Seen { version: string; url: string; host: string; clientCert: string | null; servername: string | null }

async function get(path: string): Promise<{ status: number; seen: Seen | null; code: string | null }> {
  const r = await fetch(`http://127.0.0.1:${proxy.ports.get('main') as number}${path}`);
  const body = await r.json() as Seen & { error?: { code: string } };
  return { status: r.status, seen: body.error === undefined ? body : null, code: body.error?.code ?? null };
}

describe('upstream TLS', () => {
  it('verifies the target by default: a certificate from an unknown CA is a 502 UPSTREAM_TLS_ERROR', async () => {
    expect(await get('/default-verify')).toMatchObject({ status: 502, code: 'UPSTREAM_TLS_ERROR' });
    // The TLS error itself is in the process log for the operator (never in the client's answer).
    while (!/TLS to upstream "default-verify" target 127\.0\.0\.1:\d+ failed/.test(proxy.stderr())) await new Promise((r) => setTimeout(r, 20));
  });

  it('ca-file trusts the CA; the name checked is the target host (an IP SAN here)', async () => {
    const r = await get('/with-ca/x');
    expect(r.status).toBe(200);
    expect(r.seen).toMatchObject({ url: '/with-ca/x', clientCert: null });
  });

  it('the client\'s Host never becomes the TLS server name (no SNI from a client-controlled value)', async () => {
    // preserve-host is on: the upstream sees the client's Host, but TLS verified the target's IP.
    const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: proxy.ports.get('main'), path: '/with-ca/host', headers: { host: 'evil.example' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as Seen;
    expect(seen.host).toBe('evil.example');
    expect(seen.servername).toBe(false); // no SNI was sent for an IP target
  });

  it('sni sets the name sent and verified: a name the certificate lacks fails, a name it has works', async () => {
    expect(await get('/wrong-sni')).toMatchObject({ status: 502, code: 'UPSTREAM_TLS_ERROR' });
    const r = await get('/right-sni');
    expect(r.status).toBe(200);
    expect(r.seen?.servername).toBe('default.test');
  });

  it('insecure-skip-verify accepts any certificate', async () => {
    expect((await get('/insecure')).status).toBe(200);
  });

  it('mTLS to the upstream: without client-cert the target refuses; with it the target sees the client identity', async () => {
    expect(await get('/mtls-without')).toMatchObject({ status: 502 });
    const r = await get('/mtls-with');
    expect(r.status).toBe(200);
    expect(r.seen?.clientCert).toBe('CN=client-1\nO=Sentinel Tests');
  });

  it('active health checks of a TLS upstream go over TLS and verify the target like its requests', async () => {
    const series = (u: string, result: string) => `sentinel_upstream_health_checks_total{upstream="${u}",target="127.0.0.1:${ports.tls}",result="${result}"}`;
    let m = '';
    while (seriesValue(m, series('checked', 'ok')) < 2 || seriesValue(m, series('checked-bad-ca', 'fail')) < 2) {
      await new Promise((r) => setTimeout(r, 100));
      m = await (await fetch(`http://127.0.0.1:${proxy.metricsPort as number}/metrics`)).text();
    }
    expect(seriesValue(m, series('checked', 'fail'))).toBe(0);
    expect(seriesValue(m, series('checked-bad-ca', 'ok'))).toBe(0);
    expect((await get('/checked/x')).status).toBe(200);
    expect((await get('/unverified/x')).status).toBe(503);
  });

  it('HTTP/1.1 by default even when the target offers h2; HTTP/2 with max-version 2 (ALPN) and for h2c (prior knowledge)', async () => {
    expect((await get('/h1-only')).seen?.version).toBe('1.1');
    const alpn = await get('/h2-alpn/a');
    expect(alpn.status).toBe(200);
    expect(alpn.seen).toMatchObject({ version: '2.0', url: '/h2-alpn/a' });
    const clear = await get('/h2c/b');
    expect(clear.status).toBe(200);
    expect(clear.seen).toMatchObject({ version: '2.0', url: '/h2c/b' });
  });
});
