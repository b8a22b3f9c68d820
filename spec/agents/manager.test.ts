// The agent manager against a real SDK agent on a Unix socket (in-process): registry identity,
// the max-concurrent-calls semaphore and its bounded queue, the breaker driven by a manual clock,
// connection affinity, and reconnection.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AgentManager, agentKey } from '../../src/agents/manager.ts';
import { registerAgentMetrics } from '../../src/agents/metrics.ts';
import type { AgentConfig } from '../../src/config/types.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { createManualClock } from '../../src/upstream/health/clock.ts';
import type { Agent } from '../../src/sdk/index.ts';
import { allow, createAgent } from '../../src/sdk/index.ts';
import { headersEvent } from '../protocol/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-manager-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const metrics = registerAgentMetrics(new Metrics({ processMetrics: false }));
const running: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

function agentConfig(over: Partial<AgentConfig> & { path: string }): AgentConfig {
  const { path, ...rest } = over;
  return {
    id: 'a',
    transport: { kind: 'uds', path },
    events: ['request_headers'],
    timeoutMs: 1000,
    connectTimeoutMs: 2000,
    failureMode: 'closed',
    maxConcurrentCalls: 100,
    poolSize: 1,
    body: { mode: 'buffer', maxBytes: 1024, chunkTimeoutMs: 1000 },
    circuitBreaker: { enabled: false, failureThreshold: 3, successThreshold: 1, openMs: 1000, halfOpenMaxRequests: 1 },
    healthCheck: { enabled: false, intervalMs: 10_000, timeoutMs: 5000 },
    allowHeaderMutations: [],
    config: null,
    loc: { file: 't', line: 1, column: 1 },
    ...rest,
  };
}

async function serve(agent: Agent, name: string): Promise<string> {
  const path = join(dir, `${name}.sock`);
  await agent.listen({ socket: path });
  running.push({ close: () => agent.close(50) });
  return path;
}

function manager(cfg: AgentConfig, clock = createManualClock(0)): AgentManager {
  const m = new AgentManager({ config: cfg, metrics, logger: null, proxyVersion: 'test', clock });
  running.push(m);
  return m;
}

async function ready(m: AgentManager): Promise<void> {
  for (let i = 0; i < 400 && m.connections().ready === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(m.connections().ready).toBeGreaterThan(0);
}

describe('registry identity (agentKey)', () => {
  const base = agentConfig({ path: '/run/a.sock' });
  it('per-call settings keep the key: connections survive a reload that changes them', () => {
    for (const over of [{ timeoutMs: 5 }, { failureMode: 'open' as const }, { events: ['request_body' as const] }, { body: { mode: 'stream' as const, maxBytes: 1, chunkTimeoutMs: 1 } }, { allowHeaderMutations: ['host'] }]) {
      expect(agentKey({ ...base, ...over })).toBe(agentKey(base));
    }
  });
  it('connection settings and the pushed config make a new key', () => {
    for (const over of [{ poolSize: 2 }, { connectTimeoutMs: 1 }, { maxConcurrentCalls: 7 }, { config: { x: 1 } }, { id: 'b' }, { transport: { kind: 'uds' as const, path: '/run/b.sock' } }, { healthCheck: { enabled: true, intervalMs: 100, timeoutMs: 100 } }]) {
      expect(agentKey({ ...base, ...over })).not.toBe(agentKey(base));
    }
    expect(agentKey(base)).toMatch(/^agent\|uds\|\/run\/a\.sock\|a\|[0-9a-f]{16}$/);
  });
});

describe('AgentManager', () => {
  it('max-concurrent-calls: calls beyond it wait in a queue of the same size; beyond that they fail at once (overloaded)', async () => {
    const gates: (() => void)[] = [];
    const agent = createAgent({ name: 'slow', onRequestHeaders: () => new Promise((r) => gates.push(() => r(allow()))) });
    const m = manager(agentConfig({ path: await serve(agent, 'slow'), maxConcurrentCalls: 2, timeoutMs: 10_000 }));
    await ready(m);
    const ac = new AbortController();
    const calls = [1, 2, 3, 4].map((i) => m.call(headersEvent(`c${i}`), 10_000, ac.signal, null));
    const fifth = await m.call(headersEvent('c5'), 10_000, ac.signal, null);
    expect(fifth).toMatchObject({ ok: false, failure: 'overloaded' });
    expect(m.inFlight).toBe(2);
    // Answering frees slots for the queued calls, in order.
    for (let done = 0; done < 4;) {
      if (gates.length > 0) { gates.shift()?.(); done++; }
      await new Promise((r) => setTimeout(r, 5));
    }
    const results = await Promise.all(calls);
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true]);
    expect(m.inFlight).toBe(0);
  });

  it('calls go to the connection with the fewest in flight, ties to the first: sequential calls share one connection, concurrent ones spread', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const agent = createAgent({ name: 'pool', onRequestHeaders: async (ev) => (ev.uri === '/held' ? gate.then(() => allow()) : allow()) });
    const m = manager(agentConfig({ path: await serve(agent, 'pool'), poolSize: 3 }));
    while (m.connections().ready < 3) await new Promise((r) => setTimeout(r, 10));
    const signal = new AbortController().signal;
    const conns = new Set<unknown>();
    for (let i = 0; i < 5; i++) {
      const r = await m.call(headersEvent(`seq-${i}`), 1000, signal, null);
      expect(r.ok).toBe(true);
      if (r.ok) conns.add(r.conn);
    }
    expect(conns.size).toBe(1);
    // Each call takes its connection when it is made: with the first two held, the third goes to the last idle one.
    const calls = [0, 1, 2].map((i) => m.call(headersEvent(`held-${i}`, '/held'), 5000, signal, null));
    while (agent.health().inFlight < 3) await new Promise((r) => setTimeout(r, 5));
    release();
    const held = await Promise.all(calls);
    expect(held.every((r) => r.ok)).toBe(true);
    expect(new Set(held.map((r) => (r.ok ? r.conn : null))).size).toBe(3);
  });

  it('a queued call that reaches its deadline while waiting fails as overloaded, not as an agent timeout', async () => {
    const agent = createAgent({ name: 'stuck', onRequestHeaders: () => new Promise(() => undefined) });
    const m = manager(agentConfig({ path: await serve(agent, 'stuck'), maxConcurrentCalls: 1 }));
    await ready(m);
    const ac = new AbortController();
    const first = m.call(headersEvent('s1'), 300, ac.signal, null);
    const queued = await m.call(headersEvent('s2'), 100, ac.signal, null);
    expect(queued).toMatchObject({ ok: false, failure: 'overloaded' });
    expect(await first).toMatchObject({ ok: false, failure: 'timeout' });
  });

  it('the breaker opens after failure-threshold failed calls, refuses without calling, and half-opens when its time is up', async () => {
    const clock = createManualClock(0);
    const m = manager(agentConfig({ path: join(dir, 'nobody.sock'), circuitBreaker: { enabled: true, failureThreshold: 3, successThreshold: 1, openMs: 1000, halfOpenMaxRequests: 1 } }), clock);
    const signal = new AbortController().signal;
    for (let i = 0; i < 3; i++) expect(await m.call(headersEvent(`b${i}`), 500, signal, null)).toMatchObject({ ok: false, failure: 'unavailable' });
    expect(m.breakerState()).toBe(2);
    expect(m.healthy()).toBe(false);
    expect(await m.call(headersEvent('b3'), 500, signal, null)).toMatchObject({ ok: false, failure: 'circuit_open' });
    clock.advance(1000);
    expect(m.breakerState()).toBe(1);
    // The probe fails (still nobody there): open again.
    expect(await m.call(headersEvent('b4'), 500, signal, null)).toMatchObject({ ok: false, failure: 'unavailable' });
    expect(m.breakerState()).toBe(2);
  });

  it('reconnects after the agent goes away and comes back on the same socket; a pinned call on a lost connection fails', async () => {
    const path = join(dir, 'phoenix.sock');
    const first = createAgent({ name: 'phoenix', onRequestHeaders: () => allow().setRequestHeader('x-gen', '1') });
    await first.listen({ socket: path });
    const m = manager(agentConfig({ path }));
    await ready(m);
    const signal = new AbortController().signal;
    const r1 = await m.call(headersEvent('p1'), 1000, signal, null);
    expect(r1.ok).toBe(true);
    await first.close(10);
    for (let i = 0; i < 200 && m.connections().ready > 0; i++) await new Promise((r) => setTimeout(r, 10));
    if (r1.ok) expect(await m.call(headersEvent('p2'), 1000, signal, r1.conn)).toMatchObject({ ok: false, failure: 'unavailable' });
    const second = createAgent({ name: 'phoenix', onRequestHeaders: () => allow().setRequestHeader('x-gen', '2') });
    await serve(second, 'phoenix');
    await ready(m);
    const r3 = await m.call(headersEvent('p3'), 1000, signal, null);
    expect(r3.ok && r3.res.request_headers).toEqual([{ set: { name: 'x-gen', value: '2' } }]);
  });
});
