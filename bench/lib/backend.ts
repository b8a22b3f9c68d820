// The origin every scenario proxies to: nginx (1 worker, as in perf-baseline) when installed, else a Node origin.
// Pinned with the load generator (CPU 1).
import { randomBytes } from 'node:crypto';
import { writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, makeTempDir, nodeBin, removeDir, which } from './env.ts';
import type { Pinning } from './env.ts';
import { freePort, spawnTracked, waitForPort } from './procs.ts';

export interface Backend {
  readonly kind: 'nginx' | 'node';
  readonly host: string;
  readonly port: number;
  /** Every port it serves on: `port` first, then the extra ones (the load-balancing pool's targets). */
  readonly ports: readonly number[];
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** nginx temp paths inside `dir`, so nginx never touches /var/lib/nginx. */
export function nginxTempPaths(dir: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `${k}_temp_path ${path.join(dir, k)};`).join(' ');
}

export function nginxBackendConf(dir: string, port: number, bigFile: string, extraPorts: readonly number[] = []): string {
  return `worker_processes 1; daemon off; worker_rlimit_nofile 65536; pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 8192; }
http { access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 100000000; keepalive_timeout 120s; default_type text/plain;
  open_file_cache max=100 inactive=600s; ${nginxTempPaths(dir)}
  server { listen 127.0.0.1:${port} backlog=4096;${extraPorts.map((p) => ` listen 127.0.0.1:${p} backlog=4096;`).join('')}
    location = /    { return 200 'Hello, world!'; }
    location = /big { alias ${bigFile}; } } }
`;
}

/**
 * Starts the origin. It also listens on `extraPorts` more ports (same process, same content), so a
 * proxy can be given a pool of several targets without more backend processes.
 */
export async function startBackend(pinning: Pinning, prefer: 'auto' | 'node' = 'auto', extraPorts = 2): Promise<Backend> {
  const host = '127.0.0.1';
  const port = await freePort();
  const extra: number[] = [];
  while (extra.length < extraPorts) {
    const p = await freePort();
    if (p !== port && !extra.includes(p)) extra.push(p);
  }
  const ports = [port, ...extra];
  const nginx = prefer === 'auto' ? which('nginx') : null;
  if (nginx) {
    const dir = makeTempDir('backend');
    const big = path.join(dir, 'big.bin');
    writeFileSync(big, randomBytes(65536));
    chmodSync(big, 0o644);
    const conf = path.join(dir, 'backend.conf');
    writeFileSync(conf, nginxBackendConf(dir, port, big, extra));
    const proc = spawnTracked('backend nginx', [...pinning.load, nginx, '-p', `${dir}/`, '-c', conf, '-e', path.join(dir, 'error.log')]);
    try {
      for (const p of ports) await waitForPort(host, p, proc, 10_000);
    } catch (e) {
      await proc.stop();
      removeDir(dir);
      throw e;
    }
    return {
      kind: 'nginx',
      host,
      port,
      ports,
      pids: [proc.pid],
      stop: async () => {
        await proc.stop();
        removeDir(dir);
      },
    };
  }
  const proc = spawnTracked('backend node', [...pinning.load, nodeBin(), path.join(BENCH_DIR, 'backends', 'node-origin.ts'), ...ports.map(String)]);
  for (const p of ports) await waitForPort(host, p, proc, 10_000);
  return { kind: 'node', host, port, ports, pids: [proc.pid], stop: () => proc.stop() };
}
