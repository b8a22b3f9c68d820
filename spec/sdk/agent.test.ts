// The Agent SDK: decision helpers, concurrency, cancellation, drain, health and metrics, served
// in-process and driven by the proxy-side client; plus SIGTERM drain of a real agent process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fromAgentToProxy, loadAgentService, toProxyToAgent } from '../../src/protocol/grpc.ts';
import { AgentCallError, AgentClient } from '../../src/protocol/client.ts';
import type { AgentEndpoint } from '../../src/protocol/client.ts';
import type { Agent } from '../../src/sdk/index.ts';
import { allow, block, challenge, createAgent, needsMore, redirect } from '../../src/sdk/index.ts';
import { headersEvent, startAgent, TEST_AGENT_MAIN } from '../protocol/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-sdk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const agents: Agent[] = [];
const clients: AgentClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(agents.splice(0).map((a) => a.close(100)));
});

async function rejection(p: Promise<unknown>): Promise<AgentCallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AgentCallError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Waits for a condition the agent reaches asynchronously (polls; the test's own timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

let lastEndpoint: AgentEndpoint | null = null;

async function serve(agent: Agent, t: 'uds' | 'grpc', name: string): Promise<AgentClient> {
  agents.push(agent);
  const info = await agent.listen(t === 'uds' ? { socket: join(dir, `${name}.sock`) } : { grpc: '127.0.0.1:0' });
  const endpoint: AgentEndpoint = t === 'uds' ? { kind: 'uds', path: info.socket as string } : { kind: 'grpc', address: info.grpc as string };
  lastEndpoint = endpoint;
  const c = new AgentClient({ agentId: name, endpoint, keepaliveIntervalMs: 0 });
  clients.push(c);
  return c;
}

describe('decision helpers', () => {
  it('build the wire shapes of the notes', () => {
    expect(block(403, 'no', { 'x-a': '1' }).response.decision).toEqual({ block: { status: 403, body: 'no', headers: { 'x-a': '1' } } });
    expect(block().response.decision).toEqual({ block: { status: 403 } });
    expect(redirect('/login').response.decision).toEqual({ redirect: { url: '/login', status: 302 } });
    expect(challenge('captcha', { k: 'v' }).response.decision).toEqual({ challenge: { challenge_type: 'captcha', params: { k: 'v' } } });
    const v = allow().setRequestHeader('a', '1').addRequestHeader('b', '2').removeRequestHeader('c').setResponseHeader('d', '4').addResponseHeader('e', '5').removeResponseHeader('f');
    expect(v.response.request_headers).toEqual([{ set: { name: 'a', value: '1' } }, { add: { name: 'b', value: '2' } }, { remove: { name: 'c' } }]);
    expect(v.response.response_headers).toEqual([{ set: { name: 'd', value: '4' } }, { add: { name: 'e', value: '5' } }, { remove: { name: 'f' } }]);
    expect(allow().requestBody(2, 'drop').response.request_body_mutation).toEqual({ data: '', chunk_index: 2 });
    expect(allow().responseBody(0, 'pass').response.response_body_mutation).toEqual({ data: null, chunk_index: 0 });
    expect(allow().responseBody(1, 'hi').response.response_body_mutation).toEqual({ data: 'aGk=', chunk_index: 1 });
    expect(needsMore().response.needs_more).toBe(true);
  });

  it('refuse statuses that are not redirects or HTTP statuses', () => {
    expect(() => redirect('/x', 200)).toThrow(RangeError);
    expect(() => block(42)).toThrow(RangeError);
  });
});

describe.each(['uds', 'grpc'] as const)('SDK agent over %s', (t) => {
  it('a handler error becomes block 500 with reason AGENT_HANDLER_ERROR and is counted', async () => {
    const agent = createAgent({
      name: 'thrower',
      onRequestHeaders: () => {
        throw new Error('secret internal detail');
      },
    });
    const c = await serve(agent, t, `thrower-${t}`);
    const r = await c.call(headersEvent('e1'), { timeoutMs: 5000 });
    expect(r.decision).toEqual({ block: { status: 500 } });
    expect(r.audit.reason_codes).toEqual(['AGENT_HANDLER_ERROR']);
    expect(JSON.stringify(r)).not.toContain('secret');
    expect(agent.metrics().handlerErrors).toBe(1);
    expect(agent.metrics().decisions['block']).toBe(1);
    expect(agent.metrics().events['request_headers']).toBe(1);
  });

  it('the proxy cancelling a call (deadline) aborts the handler signal and no response is sent', async () => {
    const aborted = deferred();
    const agent = createAgent({
      name: 'canceller',
      onRequestHeaders: (_ev, ctx) =>
        new Promise(() => {
          ctx.signal.addEventListener('abort', () => aborted.resolve());
        }),
    });
    const c = await serve(agent, t, `canceller-${t}`);
    expect((await rejection(c.call(headersEvent('x1'), { timeoutMs: 100 }))).code).toBe('AGENT_TIMEOUT');
    await aborted.promise;
    expect(agent.metrics().cancelled).toBe(1);
    // Nobody waits for a cancelled call: it stops counting (drain and maxConcurrency do not wait
    // for a handler that ignores its signal), although that handler never settles.
    expect(agent.health().inFlight).toBe(0);
    // A drain that waited for the abandoned handler would outlast the test's own timeout.
    await agent.close(120_000);
    expect(agent.health().state).toBe('stopped');
  });

  it('reports its health to connected proxies and exposes its own metrics in Prometheus text', async () => {
    const agent = createAgent({ name: 'reporter', healthIntervalMs: 50, onRequestHeaders: () => block(451) });
    agents.push(agent);
    const info = await agent.listen(t === 'uds' ? { socket: join(dir, `reporter-${t}.sock`) } : { grpc: '127.0.0.1:0' });
    const health = deferred();
    const states: number[] = [];
    const c = new AgentClient({
      agentId: 'reporter',
      endpoint: t === 'uds' ? { kind: 'uds', path: info.socket as string } : { kind: 'grpc', address: info.grpc as string },
      keepaliveIntervalMs: 0,
      onHealth: (h) => { states.push(h.state); health.resolve(); },
    });
    clients.push(c);
    await c.call(headersEvent('m1'), { timeoutMs: 5000 });
    await health.promise;
    expect(states[0]).toBe(1); // healthy
    const text = agent.metricsText();
    expect(text).toContain('sentinel_agent_sdk_events_total{agent="reporter",kind="request_headers"} 1');
    expect(text).toContain('sentinel_agent_sdk_decisions_total{agent="reporter",decision="block"} 1');
    expect(text).toContain('sentinel_agent_sdk_up{agent="reporter"} 1');
    expect(text).toMatch(/^# TYPE sentinel_agent_sdk_connections gauge$/m);
  });

  it('processes calls concurrently and answers in completion order', async () => {
    const gate = deferred();
    const agent = createAgent({
      name: 'ordered',
      onRequestHeaders: async (ev) => {
        if (ev.uri === '/slow') await gate.promise;
        return allow().setRequestHeader('x-uri', ev.uri);
      },
    });
    const c = await serve(agent, t, `ordered-${t}`);
    const slow = c.call(headersEvent('s', '/slow'), { timeoutMs: 10_000 });
    const fast = await c.call(headersEvent('f', '/fast'), { timeoutMs: 10_000 });
    expect(fast.request_headers).toEqual([{ set: { name: 'x-uri', value: '/fast' } }]);
    gate.resolve();
    expect((await slow).request_headers).toEqual([{ set: { name: 'x-uri', value: '/slow' } }]);
  });

  it('close() drains: the in-flight call completes, then the agent stops and refuses new connections', async () => {
    const gate = deferred();
    const started = deferred();
    const agent = createAgent({
      name: 'drainer',
      onRequestHeaders: async () => {
        started.resolve();
        await gate.promise;
        return block(429);
      },
    });
    const c = await serve(agent, t, `drainer-${t}`);
    const endpoint = lastEndpoint as AgentEndpoint;
    const inflight = c.call(headersEvent('d1'), { timeoutMs: 10_000 });
    await started.promise;
    const conn = await c.connect();
    const closing = agent.close(10_000);
    expect(agent.health().state).toBe('draining');
    await new Promise<void>((r) => {
      const poll = (): void => (conn.lastHealth !== null ? r() : void setTimeout(poll, 5));
      poll();
    });
    expect(conn.lastHealth?.state).toBe(3); // draining, pushed to connected proxies
    gate.resolve();
    expect((await inflight).decision).toEqual({ block: { status: 429 } });
    await closing;
    expect(agent.health()).toEqual({ state: 'stopped', inFlight: 0, connections: 0 });
    const fresh = new AgentClient({ agentId: 'late', endpoint, connectTimeoutMs: 1000, keepaliveIntervalMs: 0 });
    clients.push(fresh);
    expect((await rejection(fresh.connect())).code).toMatch(/^AGENT_(UNAVAILABLE|CONNECT_TIMEOUT)$/);
  });

  it('a configure event updates ctx.config; a rejected one answers block 500 and keeps the old config', async () => {
    const agent = createAgent({
      name: 'configurable',
      onConfigure: (cfg) => typeof cfg === 'object' && cfg !== null && !Array.isArray(cfg) && cfg['ok'] === true,
      onRequestHeaders: (_ev, ctx) => allow().setRequestHeader('x-config', JSON.stringify(ctx.config)),
    });
    const c = await serve(agent, t, `configurable-${t}`);
    const configure = (id: string, config: Record<string, boolean>) => ({ kind: 'configure' as const, payload: { correlation_id: id, config, is_initial: false, timestamp_ms: 0 } });
    expect((await c.call(configure('c1', { ok: true }), { timeoutMs: 5000 })).decision).toBe('allow');
    expect((await c.call(configure('c2', { ok: false }), { timeoutMs: 5000 })).decision).toEqual({ block: { status: 500, body: 'Configuration rejected' } });
    const r = await c.call(headersEvent('c3'), { timeoutMs: 5000 });
    expect(r.request_headers).toEqual([{ set: { name: 'x-config', value: '{"ok":true}' } }]);
  });

  it('events without a handler are allowed; capabilities list only handled events', async () => {
    const agent = createAgent({ name: 'minimal', onRequestHeaders: () => allow() });
    expect(agent.capabilities.supported_events).toEqual([0, 1]);
    const c = await serve(agent, t, `minimal-${t}`);
    const r = await c.call({ kind: 'response_headers', payload: { correlation_id: 'r1', status: 200, headers: {} } }, { timeoutMs: 5000 });
    expect(r.decision).toBe('allow');
  });

  it('maxConcurrency queues calls in order; a call cancelled while queued never runs and stops counting at once', async () => {
    const gate = deferred();
    const ran: string[] = [];
    const agent = createAgent({
      name: 'queued',
      maxConcurrency: 1,
      onRequestHeaders: async (ev) => {
        ran.push(ev.uri);
        if (ev.uri === '/first') await gate.promise;
        return allow().setRequestHeader('x-uri', ev.uri);
      },
    });
    const c = await serve(agent, t, `queued-${t}`);
    const first = c.call(headersEvent('q1', '/first'), { timeoutMs: 30_000 });
    const ac = new AbortController();
    const second = rejection(c.call(headersEvent('q2', '/second'), { timeoutMs: 30_000, signal: ac.signal }));
    const third = c.call(headersEvent('q3', '/third'), { timeoutMs: 30_000 });
    await until(() => agent.health().inFlight === 3);
    expect(ran).toEqual(['/first']);
    ac.abort();
    expect((await second).code).toBe('AGENT_CANCELLED');
    await until(() => agent.health().inFlight === 2);
    gate.resolve();
    expect((await first).request_headers).toEqual([{ set: { name: 'x-uri', value: '/first' } }]);
    expect((await third).request_headers).toEqual([{ set: { name: 'x-uri', value: '/third' } }]);
    expect(ran).toEqual(['/first', '/third']);
    expect(agent.metrics().cancelled).toBe(1);
    await until(() => agent.health().inFlight === 0);
  });

  it('the ctx a handler gets shows only signal and config', async () => {
    let keys: string[] = [];
    const agent = createAgent({
      name: 'ctx-shape',
      onRequestHeaders: (_ev, ctx) => {
        keys = Object.keys(ctx).sort();
        expect(ctx.signal.aborted).toBe(false);
        return allow();
      },
    });
    const c = await serve(agent, t, `ctx-shape-${t}`);
    expect((await c.call(headersEvent('k1'), { timeoutMs: 5000 })).decision).toBe('allow');
    // signal may be a getter (made on first use): what matters is that nothing else shows.
    expect(keys.filter((k) => k !== 'config' && k !== 'signal')).toEqual([]);
  });

  it('a handler that reads ctx.signal only after its call was cancelled sees it aborted', async () => {
    const gate = deferred();
    const seen = deferred();
    let abortedWhenRead: boolean | null = null;
    const agent = createAgent({
      name: 'late-reader',
      onRequestHeaders: async (_ev, ctx) => {
        await gate.promise;
        abortedWhenRead = ctx.signal.aborted;
        seen.resolve();
        return allow();
      },
    });
    const c = await serve(agent, t, `late-reader-${t}`);
    expect((await rejection(c.call(headersEvent('l1'), { timeoutMs: 100 }))).code).toBe('AGENT_TIMEOUT');
    await until(() => agent.metrics().cancelled === 1);
    gate.resolve();
    await seen.promise;
    expect(abortedWhenRead).toBe(true);
  });

  it('an answer that cannot be serialised, or is not a response, becomes block 500 AGENT_RESPONSE_INVALID; the connection goes on', async () => {
    const agent = createAgent({
      name: 'unserialisable',
      onRequestHeaders: (ev) => {
        if (ev.uri === '/bigint') return allow().custom('n', 10n as unknown as number);
        if (ev.uri === '/garbage') return 42 as never;
        return allow();
      },
    });
    const c = await serve(agent, t, `unserialisable-${t}`);
    for (const [i, uri] of ['/bigint', '/garbage'].entries()) {
      const bad = await c.call(headersEvent(`b${i}`, uri), { timeoutMs: 5000 });
      expect(bad.decision).toEqual({ block: { status: 500 } });
      expect(bad.audit.reason_codes).toEqual(['AGENT_RESPONSE_INVALID']);
    }
    expect(agent.metrics().handlerErrors).toBe(2);
    expect((await c.call(headersEvent('b2', '/ok'), { timeoutMs: 5000 })).decision).toBe('allow');
  });

  it('a deep queue of synchronous calls behind a held one drains without growing the stack', async () => {
    const gate = deferred();
    const agent = createAgent({ name: 'deep', maxConcurrency: 1, onRequestHeaders: (ev) => (ev.uri === '/held' ? gate.promise.then(() => allow()) : allow()) });
    agents.push(agent);
    const info = await agent.listen(t === 'uds' ? { socket: join(dir, `deep-${t}.sock`) } : { grpc: '127.0.0.1:0' });
    const endpoint: AgentEndpoint = t === 'uds' ? { kind: 'uds', path: info.socket as string } : { kind: 'grpc', address: info.grpc as string };
    const n = 20_000;
    const c = new AgentClient({ agentId: 'deep', endpoint, keepaliveIntervalMs: 0, maxConcurrentCalls: n + 1 });
    clients.push(c);
    const held = c.call(headersEvent('held', '/held'), { timeoutMs: 60_000 });
    const queued = Array.from({ length: n }, (_, i) => c.call(headersEvent(`q${i}`, '/q'), { timeoutMs: 60_000 }));
    await until(() => agent.health().inFlight === n + 1);
    gate.resolve();
    const answers = await Promise.all([held, ...queued]);
    expect(answers.filter((r) => r.decision === 'allow')).toHaveLength(n + 1);
    expect(agent.metrics().handlerErrors).toBe(0);
  });
});

describe('SDK robustness and gRPC unary', () => {
  it('garbage on a UDS connection closes that connection only; the agent keeps serving', async () => {
    const agent = createAgent({ name: 'sturdy', onRequestHeaders: () => allow() });
    const c = await serve(agent, 'uds', 'sturdy');
    const path = (lastEndpoint as { path: string }).path;
    const raw = net.createConnection({ path });
    raw.on('error', () => undefined);
    raw.resume();
    const closed = new Promise<void>((r) => raw.once('close', () => r()));
    raw.write(Buffer.from([0, 0, 0, 5, 0x10, 0x7b, 0x7d, 0x7b, 0x7d])); // an event before the handshake
    await closed;
    const raw2 = net.createConnection({ path });
    raw2.on('error', () => undefined);
    raw2.resume();
    const closed2 = new Promise<void>((r) => raw2.once('close', () => r()));
    raw2.write(Buffer.from([0xff, 0xff, 0xff, 0xff])); // oversize declared length
    await closed2;
    expect(agent.metrics().protocolErrors).toBe(2);
    expect((await c.call(headersEvent('ok'), { timeoutMs: 5000 })).decision).toBe('allow');
  });

  it('aborting a call sends cancel (client_disconnect): the handler sees its signal abort', async () => {
    const aborted = deferred();
    const agent = createAgent({ name: 'abortee', onRequestHeaders: (_ev, ctx) => new Promise(() => ctx.signal.addEventListener('abort', () => aborted.resolve())) });
    const c = await serve(agent, 'uds', 'abortee');
    const ac = new AbortController();
    const p = c.call(headersEvent('ab'), { timeoutMs: 30_000, signal: ac.signal });
    const caught = rejection(p);
    await new Promise<void>((r) => {
      const poll = (): void => (agent.health().inFlight > 0 ? r() : void setTimeout(poll, 5));
      poll();
    });
    ac.abort();
    expect((await caught).code).toBe('AGENT_CANCELLED');
    await aborted.promise;
    expect(agent.metrics().cancelled).toBe(1);
  });

  it('close() past its drain timeout aborts calls still running, a unary gRPC call too (it has no session), which answers CANCELLED', async () => {
    const aborted = deferred();
    const started = deferred();
    const agent = createAgent({
      name: 'stuck',
      onRequestHeaders: (_ev, ctx) => new Promise(() => {
        ctx.signal.addEventListener('abort', () => aborted.resolve());
        started.resolve();
      }),
    });
    await serve(agent, 'grpc', 'stuck');
    const Ctor = loadAgentService();
    const g = new Ctor((lastEndpoint as { address: string }).address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { ProcessEvent(req: unknown, cb: (e: (Error & { code?: number }) | null, res: unknown) => void): void };
    try {
      const answer = new Promise<(Error & { code?: number }) | null>((resolve) => g.ProcessEvent(toProxyToAgent(headersEvent('s1', '/stuck')), (e) => resolve(e)));
      await started.promise;
      expect(agent.health().inFlight).toBe(1);
      await agent.close(50);
      await aborted.promise;
      expect((await answer)?.code).toBe(grpc.status.CANCELLED);
      expect(agent.health()).toEqual({ state: 'stopped', inFlight: 0, connections: 0 });
    } finally {
      g.close();
    }
  });

  it('ProcessEvent (unary gRPC) answers one event without a handshake', async () => {
    const agent = createAgent({ name: 'unary', onRequestHeaders: (ev) => allow().setRequestHeader('x-uri', ev.uri) });
    await serve(agent, 'grpc', 'unary');
    const Ctor = loadAgentService();
    const g = new Ctor((lastEndpoint as { address: string }).address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { ProcessEvent(req: unknown, cb: (e: Error | null, res: Record<string, unknown>) => void): void };
    try {
      const res = await new Promise<Record<string, unknown>>((resolve, reject) => g.ProcessEvent(toProxyToAgent(headersEvent('u1', '/unary')), (e, r) => (e === null ? resolve(r) : reject(e))));
      const decoded = fromAgentToProxy(res);
      expect(decoded.ok && decoded.value?.kind === 'agent_response' && decoded.value.payload.request_headers).toEqual([{ set: { name: 'x-uri', value: '/unary' } }]);
      expect(decoded.ok && decoded.value?.kind === 'agent_response' && decoded.value.payload.audit.custom['correlation_id']).toBe('u1');
    } finally {
      g.close();
    }
  });
});

describe('agent process', () => {
  it('SIGTERM drains and exits 0', async () => {
    const a = await startAgent(TEST_AGENT_MAIN, ['--socket', join(dir, 'term.sock')]);
    try {
      const c = new AgentClient({ agentId: 'term', endpoint: { kind: 'uds', path: a.socket as string }, keepaliveIntervalMs: 0 });
      clients.push(c);
      expect((await c.call(headersEvent('t1'), { timeoutMs: 5000 })).decision).toBe('allow');
      a.proc.kill('SIGTERM');
      await a.waitFor('stopped');
      if (a.proc.exitCode === null && a.proc.signalCode === null) await new Promise((r) => a.proc.once('exit', r));
      expect(a.proc.exitCode).toBe(0);
    } finally {
      await a.stop('SIGKILL');
    }
  });
});
