// `haproxy`: HAProxy, 1 thread, http-reuse always (perf-baseline scenario c).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { which } from '../lib/env.ts';
import { LOOPBACK, startListeningProcess } from './common.ts';
import type { BackendAddress, Scenario } from './types.ts';

export function haproxyConf(port: number, backend: BackendAddress): string {
  return `global
  nbthread 1
  maxconn 8000
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
frontend fe
  bind ${LOOPBACK}:${port}
  default_backend be
backend be
  server s1 ${backend.host}:${backend.port}
`;
}

export const haproxyScenario: Scenario = {
  name: 'haproxy',
  description: 'HAProxy, nbthread 1, http-reuse always',
  unavailableReason: () => (which('haproxy') ? null : 'haproxy not installed'),
  start: (ctx) => {
    const conf = path.join(ctx.tmpDir, 'haproxy.cfg');
    return startListeningProcess('haproxy', (port) => {
      writeFileSync(conf, haproxyConf(port, ctx.backend));
      return [...ctx.pinning.proxy, which('haproxy') as string, '-db', '-f', conf];
    });
  },
};
