// A real 3-master Redis Cluster on loopback ports for integration tests: three redis-server processes
// (containers with Docker, local processes without; see service.ts) with --cluster-enabled, each on an
// ephemeral client port and an ephemeral cluster-bus port (--cluster-port, Redis >= 7), joined with
// `redis-cli --cluster create` (run inside the first container, or locally). No replicas.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, launchRedisServer, rawBulk, redisBackend } from './redis.ts';
import { serviceHandle } from './service.ts';
import type { Backend, ServerProcess, ServiceHandle } from './service.ts';

export const REDIS_CLI_BIN = process.env.REDIS_CLI_BIN ?? 'redis-cli';

export interface RedisClusterHandle {
  readonly backend: Backend;
  /** "127.0.0.1:port" of each master, for ioredis Cluster seeds. */
  readonly nodes: readonly string[];
  readonly ports: readonly number[];
  /** Each master, for chaos (pause, kill, restart). */
  readonly members: readonly ServiceHandle[];
  stop(): Promise<void>;
}

async function waitForClusterOk(ports: readonly number[], deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const infos = await Promise.all(ports.map((port) => rawBulk(port, 'CLUSTER INFO').catch(() => '')));
    if (infos.every((info) => info.includes('cluster_state:ok'))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis cluster did not reach cluster_state:ok');
}

export async function startRedisCluster(masters = 3, options: { backend?: Backend } = {}): Promise<RedisClusterHandle> {
  const backend = options.backend ?? (await redisBackend());
  const root = mkdtempSync(join(tmpdir(), 'sentinel-redis-cluster-'));
  const servers: ServerProcess[] = [];
  const ports: number[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.remove()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    const port = async (): Promise<number> => {
      let p = await freePort();
      while (taken.has(p)) p = await freePort();
      taken.add(p);
      return p;
    };
    for (let i = 0; i < masters; i++) {
      const clientPort = await port();
      const busPort = await port();
      const dir = join(root, String(i));
      mkdirSync(dir);
      // nodes.conf is relative to the working directory (--dir): the temp dir, or /data in a container
      const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort), '--cluster-node-timeout', '2000'];
      servers.push(await launchRedisServer(`redis-cluster-${i}`, clientPort, dir, args, backend));
      ports.push(clientPort);
    }
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    const create = await servers[0]!.exec([backend === 'container' ? 'redis-cli' : REDIS_CLI_BIN, '--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], 30_000);
    if (create.exitCode !== 0) throw new Error(`redis-cli --cluster create failed (${create.exitCode}):\n${create.output}`);
    await waitForClusterOk(ports);
    const members = servers.map((s, i) => serviceHandle(s, ports[i]!, () => s.remove()));
    return { backend, nodes, ports, members, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
