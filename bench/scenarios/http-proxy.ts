// `http-proxy`: node-http-proxy with a keep-alive agent, the common Node alternative (perf-baseline scenario d).
import { createRequire } from 'node:module';
import path from 'node:path';
import { BENCH_DIR, nodeBin } from '../lib/env.ts';
import { startListeningProcess } from './common.ts';
import type { Scenario } from './types.ts';

function installed(): boolean {
  try {
    createRequire(import.meta.url).resolve('http-proxy');
    return true;
  } catch {
    return false;
  }
}

export const httpProxyScenario: Scenario = {
  name: 'http-proxy',
  description: 'node-http-proxy 1.18 + http.Agent keep-alive, one process',
  unavailableReason: () => (installed() ? null : 'npm package http-proxy not installed'),
  start: (ctx) =>
    startListeningProcess('http-proxy', (port) => [
      ...ctx.pinning.proxy,
      nodeBin(),
      path.join(BENCH_DIR, 'scenarios', 'http-proxy-server.ts'),
      String(port),
      `http://${ctx.backend.host}:${ctx.backend.port}`,
    ]),
};
