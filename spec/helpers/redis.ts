// A real redis-server for integration tests: the local binary (Debian's redis-server) on an
// ephemeral loopback port, in a temp dir, with persistence off. No Docker needed; a suite that uses
// it must call stop() in afterAll. restart() brings it back on the SAME port (same URL), and
// freeze()/thaw() suspend it with SIGSTOP/SIGCONT, so the socket stays open but nothing answers:
// the way to exercise timeouts rather than connection refusals.

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

export interface RedisHandle {
  readonly url: string;
  readonly port: number;
  readonly host: '127.0.0.1';
  /** Stop the server (SIGTERM, SIGKILL after 5 s); idempotent. */
  stop(): Promise<void>;
  /** Stop if running, then start again on the same port with an empty dataset. */
  restart(): Promise<void>;
  /** Suspend the process (SIGSTOP): connections stay open, nothing is answered. */
  freeze(): void;
  /** Resume after freeze(). */
  thaw(): void;
}

/** True when a redis-server binary is on PATH (or at REDIS_SERVER_BIN). */
export function hasRedisServer(): boolean {
  const r = spawnSync(REDIS_SERVER_BIN, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
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

export function spawnRedis(port: number, dir: string, extraArgs: readonly string[] = []): ChildProcess {
  const child = spawn(
    REDIS_SERVER_BIN,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes', '--loglevel', 'warning', ...extraArgs],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  child.on('error', () => {
    // surfaced by waitForPing through exitCode / no answer
  });
  return child;
}

export async function startRedis(extraArgs: readonly string[] = []): Promise<RedisHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-redis-'));
  let port = 0;
  let child: ChildProcess | null = null;
  // A port found free can be taken before redis binds it: retry a few times.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    child = spawnRedis(port, dir, extraArgs);
    try {
      await waitForPing(port, child);
      break;
    } catch (error) {
      await stopChild(child);
      if (attempt >= 2) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const stop = async (): Promise<void> => {
    await stopChild(child);
    child = null;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    host: '127.0.0.1',
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stop();
      mkdirSync(dir, { recursive: true });
      child = spawnRedis(port, dir, extraArgs);
      await waitForPing(port, child);
    },
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
  };
}
