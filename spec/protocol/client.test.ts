// The proxy-side client against REAL agent processes (echo and a test agent), over a Unix socket
// in a temp dir and over gRPC on 127.0.0.1 port 0.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/protocol/codec.ts';
import type { AgentEndpoint } from '../../src/protocol/client.ts';
import { AgentCallError, AgentClient } from '../../src/protocol/client.ts';
import type { AgentResponse } from '../../src/protocol/types.ts';
import { allowResponse, responseCorrelationId } from '../../src/protocol/types.ts';
import type { RunningAgent } from './helpers.ts';
import { ECHO_MAIN, headersEvent, headerValue, startAgent, TEST_AGENT_MAIN } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-agent-client-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rejection(p: Promise<unknown>): Promise<AgentCallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AgentCallError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

type Transport = 'uds' | 'grpc';

function endpointOf(a: RunningAgent, t: Transport): AgentEndpoint {
  return t === 'uds' ? { kind: 'uds', path: a.socket as string } : { kind: 'grpc', address: a.grpc as string };
}

function argsFor(t: Transport, name: string, extra: string[] = []): string[] {
  return t === 'uds' ? ['--socket', join(dir, `${name}.sock`), ...extra] : ['--grpc', '127.0.0.1:0', ...extra];
}

describe.each<Transport>(['uds', 'grpc'])('AgentClient over %s', (t) => {
  let echo: RunningAgent;
  let tester: RunningAgent;
  const clients: AgentClient[] = [];
  const extraAgents: RunningAgent[] = [];

  function client(a: RunningAgent, opts: Partial<ConstructorParameters<typeof AgentClient>[0]> = {}): AgentClient {
    const c = new AgentClient({ agentId: a === echo ? 'echo' : 'test-agent', endpoint: endpointOf(a, t), keepaliveIntervalMs: 0, connectTimeoutMs: 5000, ...opts });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    [echo, tester] = await Promise.all([startAgent(ECHO_MAIN, argsFor(t, `echo-${t}`)), startAgent(TEST_AGENT_MAIN, argsFor(t, `tester-${t}`))]);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await Promise.all([echo, tester, ...extraAgents].map((a) => a.stop('SIGKILL')));
  });

  it('handshakes and learns the capabilities', async () => {
    const c = client(echo);
    const conn = await c.connect();
    expect(conn.capabilities.name).toBe('echo');
    expect(conn.capabilities.supported_events).toContain(1);
    expect(conn.capabilities.features.cancellation).toBe(true);
  });

  it('allow with request header mutations (echo agent)', async () => {
    const r = await client(echo).call(headersEvent('cid-1', '/a/b?q=1', { method: 'POST' }), { timeoutMs: 5000 });
    expect(r.decision).toBe('allow');
    expect(responseCorrelationId(r)).toBe('cid-1');
    expect(headerValue(r.request_headers, 'x-echo-correlation-id')).toBe('cid-1');
    expect(headerValue(r.request_headers, 'x-echo-method')).toBe('POST');
    expect(headerValue(r.request_headers, 'x-echo-path')).toBe('/a/b');
    expect(headerValue(r.request_headers, 'x-echo-client-ip')).toBe('192.0.2.10');
  });

  it('block with status, body, headers and audit', async () => {
    const r = await client(tester).call(headersEvent('cid-b', '/block'), { timeoutMs: 5000 });
    expect(r.decision).toEqual({ block: { status: 403, body: 'denied', headers: { 'x-blocked-by': 'test-agent' } } });
    expect(r.audit.rule_ids).toEqual(['r1']);
  });

  it('redirect and challenge', async () => {
    const c = client(tester);
    expect((await c.call(headersEvent('cid-r', '/redirect'), { timeoutMs: 5000 })).decision).toEqual({ redirect: { url: 'https://example.test/login', status: 307 } });
    expect((await c.call(headersEvent('cid-c', '/challenge'), { timeoutMs: 5000 })).decision).toEqual({ challenge: { challenge_type: 'captcha', params: { site: 'k' } } });
  });

  it('body chunks: replace mutation and needs_more, then a block on the last chunk', async () => {
    const c = client(tester);
    const chunk = (i: number, text: string, last: boolean) => ({ kind: 'request_body_chunk' as const, payload: { correlation_id: 'cid-body', data: Buffer.from(text).toString('base64'), is_last: last, chunk_index: i, bytes_received: 0 } });
    const r0 = await c.call(chunk(0, 'hello', false), { timeoutMs: 5000 });
    expect(r0.needs_more).toBe(true);
    expect(Buffer.from(r0.request_body_mutation?.data ?? '', 'base64').toString()).toBe('HELLO');
    const r1 = await c.call(chunk(1, 'evil', true), { timeoutMs: 5000 });
    expect(r1.decision).toEqual({ block: { status: 400, body: 'bad body' } });
  });

  it('pushes the agent config as JSON in the handshake', async () => {
    const c = client(tester, { config: { mode: 'strict', n: 3 } });
    const r = await c.call(headersEvent('cid-cfg', '/config'), { timeoutMs: 5000 });
    expect(JSON.parse(headerValue(r.request_headers, 'x-config') ?? 'null')).toEqual({ mode: 'strict', n: 3 });
  });

  it('a refused config fails the handshake with AGENT_HANDSHAKE', async () => {
    const e = await rejection(client(tester, { config: { reject: true } }).connect());
    expect(e.code).toBe('AGENT_HANDSHAKE');
  });

  it('multiplexes 100 concurrent calls on one connection, matched by correlation id', async () => {
    const c = client(tester, { maxConcurrentCalls: 100 });
    const ids = Array.from({ length: 100 }, (_, i) => `mux-${i}`);
    const results = await Promise.all(ids.map((id) => c.call(headersEvent(id, '/jitter'), { timeoutMs: 10_000 })));
    results.forEach((r: AgentResponse, i) => {
      expect(responseCorrelationId(r)).toBe(ids[i]);
      expect(headerValue(r.request_headers, 'x-cid')).toBe(ids[i]);
    });
    expect(c.inFlight).toBe(0);
  });

  it('a call the agent never answers fails with AGENT_TIMEOUT, and the connection stays usable', async () => {
    const c = client(tester);
    const e = await rejection(c.call(headersEvent('cid-hang', '/hang'), { timeoutMs: 150 }));
    expect(e.code).toBe('AGENT_TIMEOUT');
    expect(c.inFlight).toBe(0);
    const r = await c.call(headersEvent('cid-after', '/'), { timeoutMs: 5000 });
    expect(responseCorrelationId(r)).toBe('cid-after');
    expect(c.connected).toBe(true);
  });

  it('aborting the signal cancels the call with AGENT_CANCELLED', async () => {
    const c = client(tester);
    const ac = new AbortController();
    const p = c.call(headersEvent('cid-abort', '/hang'), { timeoutMs: 30_000, signal: ac.signal });
    await c.connect();
    ac.abort();
    expect((await rejection(p)).code).toBe('AGENT_CANCELLED');
    expect(c.inFlight).toBe(0);
  });

  it('bounds calls in flight by maxConcurrentCalls (AGENT_OVERLOADED) and refuses duplicate ids', async () => {
    const c = client(tester, { maxConcurrentCalls: 2 });
    await c.connect();
    const ac = new AbortController();
    const hung = [c.call(headersEvent('h1', '/hang'), { timeoutMs: 30_000, signal: ac.signal }), c.call(headersEvent('h2', '/hang'), { timeoutMs: 30_000, signal: ac.signal })];
    expect((await rejection(c.call(headersEvent('h3', '/'), { timeoutMs: 5000 }))).code).toBe('AGENT_OVERLOADED');
    ac.abort();
    await Promise.allSettled(hung);
    const c2 = client(tester);
    await c2.connect();
    const ac2 = new AbortController();
    const first = c2.call(headersEvent('dup', '/hang'), { timeoutMs: 30_000, signal: ac2.signal });
    expect((await rejection(c2.call(headersEvent('dup', '/'), { timeoutMs: 5000 }))).code).toBe('AGENT_BAD_CALL');
    ac2.abort();
    await Promise.allSettled([first]);
  });

  it('ping/pong keepalive measures a round trip', async () => {
    const rtt = await client(echo).ping(5000);
    expect(rtt).toBeGreaterThanOrEqual(0);
  });

  it('agent killed mid-call: pending calls fail with AGENT_UNAVAILABLE (not a timeout); reconnects after restart', async () => {
    const name = `victim-${t}`;
    let victim = await startAgent(TEST_AGENT_MAIN, argsFor(t, name));
    extraAgents.push(victim);
    const c = client(victim);
    await c.connect();
    // Handlers are attached at once: the rejections may arrive before stop() resolves.
    const pending = [c.call(headersEvent('k1', '/hang'), { timeoutMs: 60_000 }), c.call(headersEvent('k2', '/hang'), { timeoutMs: 60_000 })].map(rejection);
    await victim.stop('SIGKILL');
    for (const e of await Promise.all(pending)) expect(e.code).toBe('AGENT_UNAVAILABLE');
    expect(c.connected).toBe(false);
    expect((await rejection(c.call(headersEvent('k3', '/'), { timeoutMs: 2000 }))).code).toMatch(/^AGENT_(UNAVAILABLE|CONNECT_TIMEOUT)$/);
    // Restart on the same address; the same client reconnects on its next call.
    const again = t === 'uds' ? ['--socket', victim.socket as string] : ['--grpc', victim.grpc as string];
    victim = await startAgent(TEST_AGENT_MAIN, again);
    extraAgents.push(victim);
    const r = await c.call(headersEvent('k4', '/'), { timeoutMs: 5000 });
    expect(responseCorrelationId(r)).toBe('k4');
    expect(c.connected).toBe(true);
  });
});

describe('AgentClient against misbehaving peers (UDS)', () => {
  const servers: net.Server[] = [];
  const clients: AgentClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  });

  async function serve(name: string, onConn: (s: net.Socket) => void): Promise<string> {
    const path = join(dir, `${name}.sock`);
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      onConn(s);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(path, () => r()));
    return path;
  }

  function okHandshake(): Buffer {
    const f = encodeFrame({
      kind: 'handshake_response',
      payload: {
        protocol_version: 2,
        success: true,
        encoding: 'json',
        capabilities: { agent_id: 'x', name: 'x', version: '1', supported_events: [1], features: { streaming_body: false, websocket: false, guardrails: false, config_push: false, metrics_export: false, concurrent_requests: 1, cancellation: false, flow_control: false, health_reporting: false }, limits: { max_body_size: 0, max_concurrency: 1, preferred_chunk_size: 0 } },
      },
    });
    if (!f.ok) throw new Error('encode');
    return f.value;
  }

  it('an agent that never answers the handshake gives AGENT_CONNECT_TIMEOUT', async () => {
    const path = await serve('silent', (s) => s.resume());
    const c = new AgentClient({ agentId: 'silent', endpoint: { kind: 'uds', path }, connectTimeoutMs: 100, keepaliveIntervalMs: 0 });
    clients.push(c);
    expect((await rejection(c.connect())).code).toBe('AGENT_CONNECT_TIMEOUT');
  });

  it('garbage after the handshake resets the connection and fails pending calls with AGENT_PROTOCOL', async () => {
    let sock: net.Socket | null = null;
    const path = await serve('garbage', (s) => {
      sock = s;
      s.once('data', () => s.write(okHandshake()));
    });
    const c = new AgentClient({ agentId: 'garbage', endpoint: { kind: 'uds', path }, keepaliveIntervalMs: 0 });
    clients.push(c);
    await c.connect();
    const p = c.call(headersEvent('g1'), { timeoutMs: 30_000 });
    (sock as unknown as net.Socket).write(Buffer.from([0, 0, 0, 3, 0x99, 0, 0]));
    expect((await rejection(p)).code).toBe('AGENT_PROTOCOL');
    expect(c.connected).toBe(false);
  });

  it('a frame declaring more than 16 MiB is a protocol error, not an allocation', async () => {
    let sock: net.Socket | null = null;
    const path = await serve('huge', (s) => {
      sock = s;
      s.once('data', () => s.write(okHandshake()));
    });
    const c = new AgentClient({ agentId: 'huge', endpoint: { kind: 'uds', path }, keepaliveIntervalMs: 0 });
    clients.push(c);
    await c.connect();
    const p = c.call(headersEvent('h1'), { timeoutMs: 30_000 });
    (sock as unknown as net.Socket).write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x20]));
    expect((await rejection(p)).code).toBe('AGENT_PROTOCOL');
  });

  it('a proxy-only message from the agent is a protocol error; unmatched responses are ignored', async () => {
    let sock: net.Socket | null = null;
    const path = await serve('confused', (s) => {
      sock = s;
      s.once('data', () => s.write(okHandshake()));
    });
    const c = new AgentClient({ agentId: 'confused', endpoint: { kind: 'uds', path }, keepaliveIntervalMs: 0 });
    clients.push(c);
    const conn = await c.connect();
    const p = c.call(headersEvent('m1'), { timeoutMs: 30_000 });
    const stray = allowResponse();
    stray.audit.custom['correlation_id'] = 'nobody';
    const f1 = encodeFrame({ kind: 'agent_response', payload: stray });
    const f2 = encodeFrame({ kind: 'cancel', payload: { correlation_id: 'm1', reason: 0, timestamp_ms: 0 } });
    if (!f1.ok || !f2.ok) throw new Error('encode');
    const s = sock as unknown as net.Socket;
    s.write(f1.value);
    s.write(f2.value);
    const e = await rejection(p);
    expect(e.code).toBe('AGENT_PROTOCOL');
    expect(conn.unmatchedResponses).toBe(1);
  });

  it('answers a ping from the agent with a pong echoing its payload', async () => {
    const got: Buffer[] = [];
    const pongSeen = new Promise<void>((resolve) => {
      void serve('pinger', (s) => {
        s.once('data', () => {
          s.write(okHandshake());
          const f = encodeFrame({ kind: 'ping', payload: { sequence: 99, timestamp_ms: 1 } });
          if (f.ok) s.write(f.value);
          s.on('data', (d: Buffer) => {
            got.push(d);
            if (Buffer.concat(got).includes(Buffer.from('"sequence":99'))) resolve();
          });
        });
      }).then((path) => {
        const c = new AgentClient({ agentId: 'pinger', endpoint: { kind: 'uds', path }, keepaliveIntervalMs: 0 });
        clients.push(c);
        return c.connect();
      });
    });
    await pongSeen;
    const all = Buffer.concat(got);
    expect(all[4]).toBe(0x42);
    expect(JSON.parse(all.subarray(5, 4 + all.readUInt32BE(0)).toString())).toEqual({ sequence: 99, timestamp_ms: 1 });
  });

  it('keepalive: an unanswered ping resets the connection', async () => {
    const path = await serve('deaf', (s) => s.once('data', () => s.write(okHandshake())));
    const c = new AgentClient({ agentId: 'deaf', endpoint: { kind: 'uds', path }, keepaliveIntervalMs: 20, keepaliveTimeoutMs: 50 });
    clients.push(c);
    const conn = await c.connect();
    const p = conn.call(headersEvent('d1'), { timeoutMs: 30_000 });
    expect((await rejection(p)).code).toBe('AGENT_UNAVAILABLE');
  });
});
