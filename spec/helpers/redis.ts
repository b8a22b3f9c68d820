// A real redis-server for integration tests, on an ephemeral loopback port with persistence off: in a
// container (sentinel-test/redis, host network) when Docker is available, else Debian's local
// redis-server in a temp dir (see service.ts for the choice). A suite that uses it must call stop()
// in afterAll. restart() brings it back on the SAME port (same URL) with an empty dataset;
// freeze()/thaw() (or pause()/unpause()) suspend it, so the socket stays open but nothing answers:
// the way to exercise timeouts rather than connection refusals; kill() drops it at once.

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { freePort, launchInTempDir, launchServer, onFreePort, serviceBackend, serviceHandle } from './service.ts';
import type { Backend, ServerProcess, ServiceHandle } from './service.ts';

export { freePort };
export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

export interface RedisHandle extends ServiceHandle {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** The same as dispose(): stop the server and clean up (restart() still brings it back). */
  stop(): Promise<void>;
  /** Stop if running, then start again on the same port with an empty dataset. */
  restart(): Promise<void>;
  /** Suspend the process (SIGSTOP), synchronously: connections stay open, nothing is answered. */
  freeze(): void;
  /** Resume after freeze(). */
  thaw(): void;
}

/** True when a redis-server binary is on PATH (or at REDIS_SERVER_BIN). */
export function hasRedisServer(): boolean {
  const r = spawnSync(REDIS_SERVER_BIN, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

/** The backend startRedis() uses in this process. */
export function redisBackend(): Promise<Backend> {
  return serviceBackend('redis');
}

/** Send one inline command and return the first reply line; rejects on error or after timeoutMs. */
export function rawCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis on ${port} did not answer "${command}"`));
    }, timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (data.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(data);
      }
    });
    socket.write(command + '\r\n');
  });
}

/** Send one inline command whose reply is a bulk string (e.g. CLUSTER INFO); resolves with its text. */
export function rawBulk(port: number, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    const done = (error: Error | null, value = ''): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error === null) resolve(value);
      else reject(error);
    };
    const timer = setTimeout(() => done(new Error(`redis on ${port} did not answer "${command}"`)), timeoutMs);
    socket.once('error', (error) => done(error));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const nl = data.indexOf('\r\n');
      if (nl < 0) return;
      const head = data.subarray(0, nl).toString('latin1');
      if (!head.startsWith('$')) return done(new Error(`redis on ${port}: "${command}" answered ${head}`));
      const size = Number(head.slice(1));
      if (data.length >= nl + 2 + size) done(null, data.subarray(nl + 2, nl + 2 + size).toString('utf8'));
    });
    socket.write(command + '\r\n');
  });
}

/** True when the server on `port` answers PING with PONG. */
export async function pingRedis(port: number): Promise<boolean> {
  return (await rawCommand(port, 'PING', 500).catch(() => '')).startsWith('+PONG');
}

export async function waitForPing(port: number, child: ChildProcess | null, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  let lastError: unknown;
  while (Date.now() < until) {
    if (child !== null && child.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${child.exitCode}`);
    try {
      const reply = await rawCommand(port, 'PING', 500);
      if (reply.startsWith('+PONG')) return;
      lastError = new Error(reply);
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`redis-server on ${port} not ready: ${String(lastError)}`);
}

export function stopChild(child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGCONT'); // a frozen server cannot handle SIGTERM
    child.kill('SIGTERM');
  });
}

/** redis-server arguments for a loopback server without persistence, writing into `dir`. */
export function redisArgs(port: number, dir: string, extraArgs: readonly string[] = []): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes', '--loglevel', 'warning', ...extraArgs];
}

/** A bare local redis-server child process (no readiness wait); prefer startRedis(). */
export function spawnRedis(port: number, dir: string, extraArgs: readonly string[] = []): ChildProcess {
  const child = spawn(REDIS_SERVER_BIN, redisArgs(port, dir, extraArgs), { stdio: ['ignore', 'ignore', 'inherit'] });
  child.on('error', () => {
    // surfaced by waitForPing through exitCode / no answer
  });
  return child;
}

/** A redis-server process (container or local) on `port`, ready; `dir` is its working directory. */
export async function launchRedisServer(name: string, port: number, dir: string, extraArgs: readonly string[], backend: Backend): Promise<ServerProcess> {
  return launchServer(
    {
      name,
      image: 'redis',
      argv: ['redis-server', ...redisArgs(port, backend === 'container' ? '/data' : dir, extraArgs)],
      localProgram: REDIS_SERVER_BIN,
      probe: () => pingRedis(port),
      readyTimeoutMs: 15_000,
    },
    backend,
  );
}

export async function startRedis(extraArgs: readonly string[] = [], options: { backend?: Backend } = {}): Promise<RedisHandle> {
  const backend = options.backend ?? (await redisBackend());
  const { port, server, dir, dispose } = await launchInTempDir('sentinel-redis-', async (d) => {
    const { port: p, value } = await onFreePort((candidate) => launchRedisServer('redis', candidate, d, extraArgs, backend));
    return { port: p, server: value };
  });
  return {
    ...serviceHandle(server, port, dispose),
    url: `redis://127.0.0.1:${port}`,
    stop: dispose,
    async restart() {
      await server.stop();
      mkdirSync(dir, { recursive: true });
      await server.start();
    },
    freeze: () => server.freeze(),
    thaw: () => server.thaw(),
  };
}
