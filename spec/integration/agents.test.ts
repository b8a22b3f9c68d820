// External agents end to end: the real CLI, a real upstream, and real agents (the echo and
// denylist agents and the test agent, spec/protocol/fixtures/test-agent.ts) over a Unix socket and
// over gRPC on loopback. Every agent starts through startAgent (spec/helpers/containers.ts): a
// container where Docker answers (socket in a bind-mounted dir, gRPC on the host network, freeze =
// container pause), a local child process otherwise.
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/containers.ts';
import type { AgentHandle, AgentKind, AgentTransport } from '../helpers/containers.ts';
import { startUpstream } from '../helpers/upstream.ts';
import { generateTestPki } from '../helpers/certs.ts';
import type { TestPki } from '../helpers/certs.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';

interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(port: number, path: string, opts: { method?: string; body?: string | string[]; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false, signal: opts.signal }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const b = opts.body;
    if (Array.isArray(b)) {
      // Chunked upload, one write per element with a pause between them (stream mode).
      let i = 0;
      const next = (): void => {
        if (i === b.length) { req.end(); return; }
        req.write(b[i++]);
        setTimeout(next, 20);
      };
      next();
    } else req.end(b);
  });
}

/** What the upstream saw: it answers with the request's headers and body as JSON. */
function seen(r: Res): { headers: Record<string, string>; body: string } {
  return JSON.parse(r.body) as { headers: Record<string, string>; body: string };
}

function errorCode(r: Res): string | undefined {
  try {
    return (JSON.parse(r.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(['uds', 'grpc'] as AgentTransport[])('agents over %s', { timeout: 60_000 }, (transport) => {
  let upstream: Upstream;
  let proxy: SentinelProcess;
  let port: number;
  let pki: TestPki;
  const agents: Record<string, AgentHandle> = {};
  /** The transport line of an `agent { }` block reaching a started agent. */
  const kdl = (name: string): string => {
    const a = agents[name] as AgentHandle;
    return a.socket !== null ? `unix-socket "${a.socket}"` : `grpc "${a.grpc}"`;
  };
  /** The JSON lines an agent printed (listening, configured, complete, cancelled, …). */
  const lines = async (name: string): Promise<Record<string, unknown>[]> =>
    (await (agents[name] as AgentHandle).logs()).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

  const configFor = (extraRoute = ''): string => `
listeners {
  listener "h" { address "127.0.0.1:0" }
  listener "tls" { address "127.0.0.1:0"; protocol "https"; tls { cert-file "${pki.server.cert}"; key-file "${pki.server.key}" } }
}
observability { metrics { address "127.0.0.1:0" } }
upstreams { upstream "u" { target "${upstream.address}" } }
agents {
  agent "echo" { ${kdl('echo')}; pool-size 1 }
  agent "t" {
    ${kdl('t')}
    events "request_headers" "request_body" "request_complete"
    timeout-ms 3000
    pool-size 1
    config { mode "test"; lists { - "a"; - "b" } }
  }
  agent "stream" { ${kdl('stream')}; events "request_body"; body { mode "stream"; max-bytes 64; chunk-timeout-ms 3000 }; pool-size 1 }
  agent "victim" { ${kdl('victim')}; timeout-ms 20000; pool-size 1; circuit-breaker { failure-threshold 3; timeout-secs 0.5 } }
  agent "frozen" { ${kdl('frozen')}; timeout-ms 400; pool-size 1; circuit-breaker { enabled #false }; health-check { enabled #false } }
  agent "resp" { ${kdl('resp')}; events "request_body" "response_headers" "response_body"; body { mode "buffer"; max-bytes 100 }; pool-size 1 }
  agent "rstream" { ${kdl('rstream')}; events "response_body"; body { mode "stream" }; pool-size 1 }
  agent "deny" { ${kdl('deny')}; pool-size 1; config { paths "/deny/admin"; user_agents "sqlmap" "nikto"; status 451 } }
}
filters {
  filter "echo" { type "agent"; agent "echo" }
  filter "t" { type "agent"; agent "t" }
  filter "stream" { type "agent"; agent "stream"; failure-mode "closed" }
  filter "victim" { type "agent"; agent "victim" }
  filter "frozen-closed" { type "agent"; agent "frozen" }
  filter "frozen-open" { type "agent"; agent "frozen"; failure-mode "open" }
  filter "resp" { type "agent"; agent "resp" }
  filter "rstream" { type "agent"; agent "rstream" }
  filter "resp-open" { type "agent"; agent "resp"; failure-mode "open" }
  filter "deny" { type "agent"; agent "deny" }
}
routes {
  route "echo" { matches { path-prefix "/echo" }; upstream "u"; filters "echo" }
  route "t" { matches { path-prefix "/t/" }; upstream "u"; filters "echo" "t" }
  route "stream" { matches { path-prefix "/stream/" }; upstream "u"; filters "stream" }
  route "victim" { matches { path-prefix "/victim/" }; upstream "u"; filters "victim" }
  route "frozen-closed" { matches { path-prefix "/frozen/closed" }; upstream "u"; filters "frozen-closed" }
  route "frozen-open" { matches { path-prefix "/frozen/open" }; upstream "u"; filters "frozen-open" }
  route "resp" { matches { path-prefix "/resp/" }; upstream "u"; filters "resp" }
  route "rstream" { matches { path-prefix "/rstream/" }; upstream "u"; filters "rstream" }
  route "deny" { matches { path-prefix "/deny/" }; upstream "u"; filters "deny" }
  route "bodyopen" { matches { path-prefix "/bodyopen/" }; upstream "u"; filters "resp-open" }
  route "limited" { matches { path-prefix "/limited/" }; upstream "u"; filters "t"; policies { max-body-size-bytes 16 } }
  route "limited-stream" { matches { path-prefix "/limited-stream/" }; upstream "u"; filters "stream"; policies { max-body-size-bytes 16 } }
  ${extraRoute}
}
`;

  async function metrics(): Promise<string> {
    return (await send(proxy.metricsPort as number, '/metrics')).body;
  }

  async function metric(series: string): Promise<number> {
    const line = (await metrics()).split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  }

  function auditRecords(): Record<string, unknown>[] {
    return proxy.stderr().split('\n').filter((l) => l.includes('"audit":true')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  beforeAll(async () => {
    pki = generateTestPki();
    upstream = await startUpstream((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.startsWith('/resp/') || url.pathname.startsWith('/rstream/')) {
        // Response-phase routes: the body given as comma-separated chunks, written 15 ms apart.
        if (url.searchParams.has('hdr')) res.setHeader('x-block-response', '1');
        res.setHeader('content-type', 'text/plain');
        const chunks = (url.searchParams.get('body') ?? '').split(',');
        if (url.searchParams.has('length')) res.setHeader('content-length', String(chunks.join('').length));
        let i = 0;
        const next = (): void => {
          if (i === chunks.length) { res.end(); return; }
          res.write(chunks[i++]);
          setTimeout(next, 15);
        };
        next();
        return;
      }
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => { body += d; });
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ headers: req.headers, body }));
      });
    });
    const kinds: [string, AgentKind][] = [['echo', 'echo'], ['t', 'test'], ['stream', 'test'], ['victim', 'test'], ['frozen', 'test'], ['resp', 'test'], ['rstream', 'test'], ['deny', 'denylist']];
    const started = await Promise.all(kinds.map(([, kind]) => startAgent({ kind, transport })));
    kinds.forEach(([name], i) => { agents[name] = started[i] as AgentHandle; });
    proxy = await startSentinel(configFor(), { listeners: ['h', 'tls'], metrics: true });
    port = proxy.ports.get('h') as number;
    // Every agent connected (the proxy connects eagerly; gRPC handshakes take a moment).
    await until('agents connected', async () => {
      const m = await metrics();
      return ['echo', 't', 'stream', 'victim', 'frozen', 'resp', 'rstream', 'deny'].every((a) => m.includes(`sentinel_agent_healthy{agent="${a}"} 1`)) ? true : undefined;
    });
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all(Object.values(agents).map((a) => a.stop()));
    await upstream?.close();
    pki?.cleanup();
  });

  it('allow: the echo agent\'s X-Echo-* headers reach the upstream', async () => {
    const r = await send(port, '/echo/a?x=1');
    expect(r.status).toBe(200);
    const h = seen(r).headers;
    expect(h['x-echo-method']).toBe('GET');
    expect(h['x-echo-path']).toBe('/echo/a');
    expect(h['x-echo-client-ip']).toBe('127.0.0.1');
    expect(h['x-echo-correlation-id']).toMatch(/^[0-9a-z]+-[0-9a-z]+$/);
  });

  it('the denylist agent, configured from the proxy\'s config { } block, blocks by path prefix and User-Agent', async () => {
    expect((await send(port, '/deny/ok')).status).toBe(200);
    const byPath = await send(port, '/deny/admin/users');
    expect(byPath.status).toBe(451);
    expect(byPath.body).toBe('Forbidden');
    expect((await send(port, '/deny/ok', { headers: { 'user-agent': 'Mozilla/5.0 sqlmap/1.7' } })).status).toBe(451);
    const rid = byPath.headers['x-request-id'];
    const rec = await until('audit record', async () => auditRecords().find((a) => a['request_id'] === rid));
    expect(rec).toMatchObject({ action: 'block', decided_by: 'deny', rule_ids: ['denylist.path'], reason: 'DENYLIST_PATH' });
  });

  it('request metadata: ids, client address, route and upstream; TLS version, cipher and SNI on a TLS listener', async () => {
    const plain = JSON.parse(seen(await send(port, '/t/meta')).headers['x-meta'] as string) as Record<string, unknown>;
    expect(plain).toMatchObject({ client_ip: '127.0.0.1', protocol: 'HTTP/1.1', route_id: 't', upstream_id: 'u' });
    expect(plain['tls_version']).toBeUndefined();
    const tlsPort = proxy.ports.get('tls') as number;
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: tlsPort, path: '/t/meta', servername: 'localhost', ca: pki.read(pki.ca), agent: false }, (res) => {
        let b = '';
        res.setEncoding('utf8').on('data', (d: string) => { b += d; });
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      req.end();
    });
    const meta = JSON.parse((JSON.parse(body) as { headers: Record<string, string> }).headers['x-meta'] as string) as Record<string, unknown>;
    expect(meta).toMatchObject({ server_name: 'localhost', route_id: 't' });
    expect(meta['tls_version']).toMatch(/^TLSv1\.[23]$/);
    expect(typeof meta['tls_cipher']).toBe('string');
  });

  it('two agents on one route: both are asked (in parallel) and both mutations apply', async () => {
    const r = await send(port, '/t/anything', { method: 'PUT' });
    expect(r.status).toBe(200);
    const h = seen(r).headers;
    expect(h['x-echo-path']).toBe('/t/anything');
    expect(h['x-method']).toBe('PUT');
    // One correlation id per request, shared by the agents of the route.
    expect(h['x-cid']).toBe(h['x-echo-correlation-id']);
  });

  it('the agent\'s config { } block is pushed as JSON in the handshake', async () => {
    const r = await send(port, '/t/config');
    expect(JSON.parse(seen(r).headers['x-config'] as string)).toEqual({ mode: 'test', lists: ['a', 'b'] });
  });

  it('block: the agent\'s status, body and header; audited with the agent, rule ids and reason', async () => {
    const r = await send(port, '/t/block');
    expect(r.status).toBe(403);
    expect(r.body).toBe('denied');
    expect(r.headers['x-blocked-by']).toBe('test-agent');
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    const rid = r.headers['x-request-id'];
    const rec = await until('audit record', async () => auditRecords().find((a) => a['request_id'] === rid));
    expect(rec).toMatchObject({ component: 'agent', action: 'block', decided_by: 't', rule_ids: ['r1'], reason: 'TEST_BLOCK', status: 403, route: 't' });
    expect(upstream.seen.some((q) => q.url === '/t/block')).toBe(false);
  });

  it('redirect and challenge', async () => {
    const r = await send(port, '/t/redirect');
    expect(r.status).toBe(307);
    expect(r.headers.location).toBe('https://example.test/login');
    const c = await send(port, '/t/challenge');
    expect(c.status).toBe(403);
    expect(JSON.parse(c.body)).toMatchObject({ error: { code: 'AGENT_CHALLENGE' }, challenge: { type: 'captcha', params: { site: 'k' } } });
  });

  it('a redirect the proxy must not send (javascript: URL) is an agent failure: fail-closed 503', async () => {
    const r = await send(port, '/t/bad-redirect');
    expect(r.status).toBe(503);
    expect(errorCode(r)).toBe('AGENT_UNAVAILABLE');
  });

  it('header mutation rules: Host, X-Forwarded-For, X-Request-Id and hop-by-hop are protected; rejections are counted', async () => {
    const series = 'sentinel_agent_header_mutations_rejected_total{agent="t",direction="request"}';
    const before = await metric(series);
    const beforeResp = await metric('sentinel_agent_header_mutations_rejected_total{agent="t",direction="response"}');
    const r = await send(port, '/t/protected');
    expect(r.status).toBe(200);
    const h = seen(r).headers;
    expect(h['x-ok']).toBe('yes');
    expect(h.host).not.toBe('evil.test');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-request-id']).toBe(r.headers['x-request-id']);
    expect(h.connection).not.toBe('close');
    expect(r.headers['x-agent-response']).toBe('yes');
    expect(r.headers['x-request-id']).not.toBe('forged');
    expect(await metric(series)).toBe(before + 4);
    expect(await metric('sentinel_agent_header_mutations_rejected_total{agent="t",direction="response"}')).toBe(beforeResp + 1);
  });

  it('body inspection (buffer mode): the whole body in one event; mutation replaces it with a fixed Content-Length', async () => {
    const r = await send(port, '/t/upload', { method: 'POST', body: 'hello agent' });
    expect(r.status).toBe(200);
    const s = seen(r);
    expect(s.body).toBe('HELLO AGENT');
    expect(s.headers['content-length']).toBe('11');
    const bad = await send(port, '/t/upload', { method: 'POST', body: 'something evil here' });
    expect(bad.status).toBe(400);
    expect(bad.body).toBe('bad body');
  });

  it('body inspection (stream mode): chunks are inspected and forwarded one by one; a block mid-stream stops the request', async () => {
    const r = await send(port, '/stream/up', { method: 'POST', body: ['abc-', 'def-', 'ghi'] });
    expect(r.status).toBe(200);
    expect(seen(r).body).toBe('ABC-DEF-GHI');
    // The end of the body arrives while a slow chunk is still being inspected: chunks are still
    // inspected one at a time, in order (never two calls for one request at once).
    const slow = await send(port, '/stream/up', { method: 'POST', body: ['slow-', 'a', 'b'] });
    expect(slow.status).toBe(200);
    expect(seen(slow).body).toBe('SLOW-AB');
    const bad = await send(port, '/stream/up', { method: 'POST', body: ['fine ', 'evil ', 'never seen'] });
    expect(bad.status).toBe(400);
    expect(bad.body).toBe('bad body');
  });

  it('a body over the agent\'s max-bytes is refused with 413 when the filter fails closed', async () => {
    const r = await send(port, '/stream/up', { method: 'POST', body: 'x'.repeat(200), headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(413);
    expect(errorCode(r)).toBe('AGENT_BODY_TOO_LARGE');
  });

  it('response headers: the agent sees the upstream head first; its response header operations apply', async () => {
    const r = await send(port, '/resp/ok?body=a-b,-c&length=1');
    expect(r.status).toBe(200);
    expect(r.headers['x-agent-saw-status']).toBe('200');
    // Buffer mode: the whole body in one event, replaced, sent with its new Content-Length.
    expect(r.body).toBe('a+b+c');
    expect(r.headers['content-length']).toBe('5');
  });

  it('response headers: a block replaces the upstream response', async () => {
    const r = await send(port, '/resp/x?hdr=1&body=upstream-body');
    expect(r.status).toBe(451);
    expect(r.body).toBe('unavailable for legal reasons');
    const rid = r.headers['x-request-id'];
    const rec = await until('audit record', async () => auditRecords().find((a) => a['request_id'] === rid));
    expect(rec).toMatchObject({ action: 'block', decided_by: 'resp', event: 'response_headers', rule_ids: ['resp'] });
  });

  it('response body (buffer mode): a block is a clean local reply; a body over max-bytes fails closed with 502', async () => {
    const r = await send(port, '/resp/x?body=top,secret,data');
    expect(r.status).toBe(403);
    expect(r.body).toBe('leak');
    const big = await send(port, `/resp/x?body=${'y'.repeat(60)},${'z'.repeat(60)}`);
    expect(big.status).toBe(502);
    expect(errorCode(big)).toBe('AGENT_RESPONSE_TOO_LARGE');
  });

  it('response body (stream mode): chunks are inspected and relayed one by one; a block after the head aborts the connection', async () => {
    const r = await send(port, '/rstream/x?body=a-,b-,c&length=1');
    expect(r.status).toBe(200);
    expect(r.body).toBe('a+b+c');
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.headers['transfer-encoding']).toBe('chunked');
    await expect(send(port, '/rstream/x?body=start-,secret,end')).rejects.toThrow();
  });

  it('a body over max-bytes with failure-mode open is skipped: it reaches the upstream whole and uninspected (chunked or declared)', async () => {
    const series = 'sentinel_agent_bypasses_total{agent="resp",reason="body_too_large"}';
    const before = await metric(series);
    const chunked = await send(port, '/bodyopen/x', { method: 'POST', body: ['a'.repeat(80), 'b'.repeat(80), 'c'.repeat(80)] });
    expect(chunked.status).toBe(200);
    expect(seen(chunked).body).toBe(`${'a'.repeat(80)}${'b'.repeat(80)}${'c'.repeat(80)}`);
    const declared = await send(port, '/bodyopen/y', { method: 'POST', body: 'd'.repeat(300) });
    expect(declared.status).toBe(200);
    expect(seen(declared).body).toBe('d'.repeat(300));
    // A skipped agent is not asked again for that request (no response-side bypass for these two).
    expect(await metric(series)).toBe(before + 2);
    // Within the limit it is inspected (the test agent upper-cases it); the upstream's JSON answer
    // is itself over 100 bytes, so the agent is skipped on the response side.
    expect(seen(await send(port, '/bodyopen/z', { method: 'POST', body: 'small' })).body).toBe('SMALL');
    expect(await metric(series)).toBe(before + 3);
  });

  it('the route\'s body limit comes before any agent: over it is 413 PAYLOAD_TOO_LARGE, buffered or streamed', async () => {
    for (const path of ['/limited/x', '/limited-stream/x']) {
      const declared = await send(port, path, { method: 'POST', body: 'x'.repeat(40) });
      expect(declared.status, path).toBe(413);
      expect(errorCode(declared)).toBe('PAYLOAD_TOO_LARGE');
      const chunked = await send(port, path, { method: 'POST', body: ['a'.repeat(10), 'b'.repeat(10), 'c'.repeat(10)] });
      expect(chunked.status, path).toBe(413);
      expect(errorCode(chunked)).toBe('PAYLOAD_TOO_LARGE');
      const ok = await send(port, path, { method: 'POST', body: ['sm', 'all'] });
      expect(ok.status, path).toBe(200);
      expect(seen(ok).body).toBe('SMALL');
    }
  });

  it('100 concurrent requests on one connection are answered by correlation id, never mixed up', async () => {
    const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => send(port, `/t/jitter?i=${i}`)));
    rs.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(seen(r).headers['x-uri']).toBe(`/t/jitter?i=${i}`);
    });
    expect(new Set(rs.map((r) => seen(r).headers['x-cid'])).size).toBe(100);
    expect(await metric('sentinel_agent_pool_connections{agent="t",state="ready"}')).toBe(1);
  });

  it('request_complete reaches a subscribed agent after the response, with the status', async () => {
    const r = await send(port, '/t/done');
    const cid = seen(r).headers['x-cid'];
    const line = await until('complete event', async () => (await lines('t')).find((l) => l['event'] === 'complete' && l['cid'] === cid));
    expect(line).toMatchObject({ status: 200, error: null });
  });

  it('a client that goes away cancels the agent call (the agent receives a cancel)', async () => {
    const ac = new AbortController();
    const pending = send(port, '/t/hang?who=client-gone', { signal: ac.signal }).catch(() => 'aborted');
    await until('call in flight', async () => ((await metrics()).includes('sentinel_agent_calls_total') ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    expect(await pending).toBe('aborted');
    await until('cancel received by the agent', async () => (await lines('t')).find((l) => l['event'] === 'cancelled' && l['uri'] === '/t/hang?who=client-gone'));
  });

  it('agent frozen: calls time out and the failure mode applies (closed 504, open bypass); it recovers when thawed', async () => {
    const bypassed = 'sentinel_agent_bypasses_total{agent="frozen",reason="timeout"}';
    const before = await metric(bypassed);
    agents['frozen']?.freeze();
    try {
      const closed = await send(port, '/frozen/closed/x');
      expect(closed.status).toBe(504);
      expect(errorCode(closed)).toBe('AGENT_TIMEOUT');
      const open = await send(port, '/frozen/open/x');
      expect(open.status).toBe(200);
      expect(await metric(bypassed)).toBe(before + 1);
      expect(await metric('sentinel_agent_timeouts_total{agent="frozen",event="request_headers"}')).toBeGreaterThanOrEqual(2);
    } finally {
      agents['frozen']?.thaw();
    }
    const back = await until('frozen agent answers again', async () => {
      const r = await send(port, '/frozen/closed/y');
      return r.status === 200 ? r : undefined;
    });
    expect(seen(back).headers['x-method']).toBe('GET');
  });

  it('agent killed mid-request: the call fails at once (not at its 20 s deadline), the breaker opens, a restarted agent is reconnected and the breaker recovers', { timeout: 90_000 }, async () => {
    const victim = agents['victim'] as AgentHandle;
    const inFlight = send(port, '/victim/hang');
    await new Promise((r) => setTimeout(r, 300));
    await victim.kill();
    const r = await inFlight;
    expect(r.status).toBe(503);
    expect(errorCode(r)).toBe('AGENT_UNAVAILABLE');
    // Two more failures reach failure-threshold 3: the breaker opens and calls are not even tried.
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) codes.push(errorCode(await send(port, '/victim/x')));
    expect(codes).toEqual(['AGENT_UNAVAILABLE', 'AGENT_UNAVAILABLE', 'AGENT_CIRCUIT_OPEN']);
    expect(await metric('sentinel_agent_breaker_state{agent="victim"}')).toBe(2);
    expect(await metric('sentinel_agent_healthy{agent="victim"}')).toBe(0);
    const restartsBefore = proxy.child.pid;
    await victim.restart();
    // No proxy restart: the pool reconnects with backoff, the breaker half-opens after 0.5 s and a
    // successful probe closes it.
    const ok = await until('victim answering again', async () => {
      const x = await send(port, '/victim/back');
      return x.status === 200 ? x : undefined;
    });
    expect(seen(ok).headers['x-method']).toBe('GET');
    expect(proxy.child.pid).toBe(restartsBefore);
    // success-threshold (default 2) successful probes close it.
    await until('breaker closed', async () => {
      expect((await send(port, '/victim/more')).status).toBe(200);
      return (await metric('sentinel_agent_breaker_state{agent="victim"}')) === 0 ? true : undefined;
    });
    expect(await metric('sentinel_agent_healthy{agent="victim"}')).toBe(1);
    expect(await metric('sentinel_agent_reconnects_total{agent="victim"}')).toBeGreaterThanOrEqual(1);
  });

  it('a reload that leaves an agent unchanged keeps its connections (no new handshake)', async () => {
    const configured = async (): Promise<number> => (await lines('t')).filter((l) => l['event'] === 'configured').length;
    const before = await configured();
    expect(before).toBeGreaterThanOrEqual(1);
    const stderrBefore = proxy.stderr().length;
    writeFileSync(join(proxy.dir, 'sentinel.kdl'), configFor('route "extra" { matches { path "/extra" }; builtin-handler "health" }'));
    proxy.child.kill('SIGHUP');
    await until('reload applied', async () => (proxy.stderr().slice(stderrBefore).includes('"msg":"config reloaded"') ? true : undefined));
    expect((await send(port, '/extra')).status).toBe(200);
    const r = await send(port, '/t/after-reload');
    expect(r.status).toBe(200);
    expect(await configured()).toBe(before);
  });
});
