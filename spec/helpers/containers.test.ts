// The service abstraction itself: every chaos operation has the effect it claims, on each backend
// available here (containers under CI, where the suite runs twice: container and local; local
// processes elsewhere). A broken pause, kill or restart would make the chaos and failure-mode suites
// that rely on it pass for the wrong reason, so each one is checked against the real server.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AgentClient, AgentCallError } from '../../src/protocol/client.ts';
import { headersEvent, headerValue } from '../protocol/helpers.ts';
import { agentBackend, describeBackends, redisBackend, startAgent, startRedis } from './containers.ts';
import type { AgentHandle, AgentTransport, Backend, RedisHandle } from './containers.ts';
import { rawCommand } from './redis.ts';
import { demuxDockerLogs } from './service.ts';

const backends = async (primary: Promise<Backend>): Promise<Backend[]> => [...new Set<Backend>([await primary, 'local'])];
const redisBackends = await backends(redisBackend());
const agentBackends = await backends(agentBackend());

async function ping(port: number, timeoutMs = 500): Promise<string> {
  return rawCommand(port, 'PING', timeoutMs).then(
    (reply) => reply.trim(),
    (error: NodeJS.ErrnoException) => (error.code ?? error.message.replace(/.* did not answer .*/, 'no answer')),
  );
}

describe(`service backends here: ${await describeBackends()}`, () => {
  it('demuxes docker log frames', () => {
    const frame = (stream: number, text: string): Buffer => {
      const head = Buffer.alloc(8);
      head.writeUInt8(stream, 0);
      head.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([head, Buffer.from(text)]);
    };
    expect(demuxDockerLogs(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, '')]))).toBe('out\nerr\n');
    expect(demuxDockerLogs(Buffer.alloc(0))).toBe('');
  });
});

describe.each(redisBackends)('redis handle (%s): pause, kill and restart act on the real server', (backend) => {
  let redis: RedisHandle;
  afterAll(async () => {
    await redis?.stop();
  });

  it('answers, stops answering while paused or frozen, refuses once killed, and comes back on the same port', async () => {
    redis = await startRedis([], { backend });
    expect(redis.backend).toBe(backend);
    expect(redis.address).toBe(`127.0.0.1:${redis.port}`);
    expect(await ping(redis.port)).toBe('+PONG');

    await redis.pause();
    expect(await ping(redis.port)).toBe('no answer'); // accepted by the kernel, never answered
    await redis.unpause();
    expect(await ping(redis.port)).toBe('+PONG');

    redis.freeze();
    expect(await ping(redis.port)).toBe('no answer');
    redis.thaw();
    expect(await ping(redis.port)).toBe('+PONG');

    await rawCommand(redis.port, 'SET k v');
    await redis.kill();
    expect(await ping(redis.port)).toBe('ECONNREFUSED');
    await redis.restart();
    expect(await ping(redis.port)).toBe('+PONG');
    expect((await rawCommand(redis.port, 'GET k')).trim()).toBe('$-1'); // empty dataset after restart

    await redis.stop();
    expect(await ping(redis.port)).toBe('ECONNREFUSED');
  });
});

describe.each(agentBackends.flatMap((backend) => (['uds', 'grpc'] as AgentTransport[]).map((transport) => ({ backend, transport }))))(
  'agent handle ($backend, $transport)',
  ({ backend, transport }) => {
    const agents: AgentHandle[] = [];
    const clients: AgentClient[] = [];
    afterEach(() => {
      for (const c of clients.splice(0)) c.close();
    });
    afterAll(async () => {
      await Promise.all(agents.map((a) => a.dispose()));
    });
    const client = (a: AgentHandle, agentId: string): AgentClient => {
      const c = new AgentClient({ agentId, endpoint: a.endpoint, keepaliveIntervalMs: 0, connectTimeoutMs: 5000 });
      clients.push(c);
      return c;
    };
    const start = async (...args: Parameters<typeof startAgent>): Promise<AgentHandle> => {
      const a = await startAgent({ ...args[0], backend });
      agents.push(a);
      return a;
    };

    it('echo agent: answers; paused → calls time out; killed → unavailable; restarted → answers at the same address', async () => {
      const a = await start({ kind: 'echo', transport });
      expect(a.backend).toBe(backend);
      expect(a.address).toBe(transport === 'uds' ? `unix:${a.socket}` : a.grpc);
      const r = await client(a, 'echo').call(headersEvent('c1', '/p'), { timeoutMs: 5000 });
      expect(headerValue(r.request_headers, 'x-echo-correlation-id')).toBe('c1');

      const held = client(a, 'echo');
      await held.connect();
      await a.pause();
      const timedOut = await held.call(headersEvent('c2', '/p'), { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(timedOut).toBeInstanceOf(AgentCallError);
      expect((timedOut as AgentCallError).code).toBe('AGENT_TIMEOUT');
      await a.unpause();
      expect(headerValue((await held.call(headersEvent('c3', '/p'), { timeoutMs: 5000 })).request_headers, 'x-echo-correlation-id')).toBe('c3');

      await a.kill();
      const down = await client(a, 'echo').call(headersEvent('c4', '/p'), { timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(down).toBeInstanceOf(AgentCallError);
      expect(['AGENT_UNAVAILABLE', 'AGENT_CONNECT_TIMEOUT']).toContain((down as AgentCallError).code);

      await a.restart();
      const back = await client(a, 'echo').call(headersEvent('c5', '/p'), { timeoutMs: 5000 });
      expect(headerValue(back.request_headers, 'x-echo-correlation-id')).toBe('c5');
      expect(await a.logs()).toMatch(/"event":"listening"/);
    });

    it('denylist agent: config file, rewritten and reloaded with SIGHUP', async () => {
      const a = await start({ kind: 'denylist', transport, config: { paths: ['/old'], status: 403, body: 'no' } });
      const c = client(a, 'denylist');
      expect((await c.call(headersEvent('d1', '/old/x'), { timeoutMs: 5000 })).decision).toEqual({ block: { status: 403, body: 'no' } });
      expect((await c.call(headersEvent('d2', '/new'), { timeoutMs: 5000 })).decision).toBe('allow');
      a.writeConfig({ paths: ['/new'], status: 451, body: 'gone' });
      a.reload();
      expect(await a.waitForLog(/"event":"reloaded"/)).toMatch(/"ok":true/);
      expect((await c.call(headersEvent('d3', '/new'), { timeoutMs: 5000 })).decision).toEqual({ block: { status: 451, body: 'gone' } });
      expect((await c.call(headersEvent('d4', '/old/x'), { timeoutMs: 5000 })).decision).toBe('allow');
    });
  },
);
