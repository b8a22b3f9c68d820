// A real 3-master Redis Cluster on loopback ports for integration tests: three local redis-server
// processes with --cluster-enabled, each on an ephemeral client port and an ephemeral cluster-bus
// port (--cluster-port, Redis >= 7), joined with `redis-cli --cluster create`. No replicas.

import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, spawnRedis, stopChild, waitForPing } from './redis.ts';

const execFileAsync = promisify(execFile);
export const REDIS_CLI_BIN = process.env.REDIS_CLI_BIN ?? 'redis-cli';

export interface RedisClusterHandle {
  /** "127.0.0.1:port" of each master, for ioredis Cluster seeds. */
  readonly nodes: readonly string[];
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

async function waitForClusterOk(ports: readonly number[], deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const infos = await Promise.all(ports.map((port) => bulk(port, 'CLUSTER INFO').catch(() => '')));
    if (infos.every((info) => info.includes('cluster_state:ok'))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis cluster did not reach cluster_state:ok');
}

async function bulk(port: number, command: string): Promise<string> {
  const { stdout } = await execFileAsync(REDIS_CLI_BIN, ['-h', '127.0.0.1', '-p', String(port), ...command.split(' ')], { timeout: 5000 });
  return stdout;
}

export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const root = mkdtempSync(join(tmpdir(), 'sentinel-redis-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((child) => stopChild(child)));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      let busPort = await freePort();
      while (busPort === port) busPort = await freePort();
      const dir = join(root, String(i));
      mkdirSync(dir);
      const child = spawnRedis(port, dir, ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-port', String(busPort), '--cluster-node-timeout', '2000']);
      children.push(child);
      ports.push(port);
      await waitForPing(port, child);
    }
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    await execFileAsync(REDIS_CLI_BIN, ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    await waitForClusterOk(ports);
    return { nodes, ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
