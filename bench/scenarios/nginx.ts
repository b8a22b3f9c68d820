// `nginx`: nginx 1 worker as a reverse proxy, upstream keepalive 64 (perf-baseline scenario b).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { nginxTempPaths } from '../lib/backend.ts';
import { which } from '../lib/env.ts';
import { LOOPBACK, startListeningProcess } from './common.ts';
import type { BackendAddress, Scenario } from './types.ts';

export function nginxProxyConf(dir: string, port: number, backend: BackendAddress, workers = 1): string {
  return `worker_processes ${workers}; daemon off; worker_rlimit_nofile 65536; pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 8192; }
http { access_log off; sendfile on; tcp_nodelay on; keepalive_requests 100000000; keepalive_timeout 120s;
  ${nginxTempPaths(dir)}
  upstream backend { server ${backend.host}:${backend.port}; keepalive 64; keepalive_requests 100000000; keepalive_timeout 120s; }
  server { listen ${LOOPBACK}:${port} backlog=4096;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`;
}

export const nginxScenario: Scenario = {
  name: 'nginx',
  description: 'nginx, 1 worker, upstream keepalive 64',
  unavailableReason: () => (which('nginx') ? null : 'nginx not installed'),
  start: (ctx) => {
    const conf = path.join(ctx.tmpDir, 'proxy.conf');
    return startListeningProcess('nginx proxy', (port) => {
      writeFileSync(conf, nginxProxyConf(ctx.tmpDir, port, ctx.backend));
      return [...ctx.pinning.proxy, which('nginx') as string, '-p', `${ctx.tmpDir}/`, '-c', conf, '-e', path.join(ctx.tmpDir, 'error.log')];
    });
  },
};

/** `nginx-2w`: nginx with 2 workers, unpinned; the scaling reference for `sentinel-2w`. */
export const nginxTwoWorkersScenario: Scenario = {
  name: 'nginx-2w',
  description: 'nginx, 2 workers, upstream keepalive 64, unpinned',
  unavailableReason: () => (which('nginx') ? null : 'nginx not installed'),
  start: (ctx) => {
    const conf = path.join(ctx.tmpDir, 'proxy-2w.conf');
    return startListeningProcess('nginx proxy 2w', (port) => {
      writeFileSync(conf, nginxProxyConf(ctx.tmpDir, port, ctx.backend, 2));
      return [which('nginx') as string, '-p', `${ctx.tmpDir}/`, '-c', conf, '-e', path.join(ctx.tmpDir, 'error.log')];
    });
  },
};
