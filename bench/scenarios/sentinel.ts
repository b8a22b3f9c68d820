// `sentinel`: this project's proxy, started through its CLI (`node bin/sentinel.js run -c FILE.kdl`).
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, nodeBin } from '../lib/env.ts';
import { LOOPBACK, startListeningProcess } from './common.ts';
import type { BackendAddress, Scenario } from './types.ts';

const CLI = path.join(REPO_ROOT, 'bin', 'sentinel.js');

/** The benchmark config: one listener, one catch-all route, one upstream; metrics and access log off. */
export function sentinelBenchConfig(port: number, backend: BackendAddress): string {
  return `listeners { listener "bench" { address "${LOOPBACK}:${port}" } }
routes { route "all" { matches { path-prefix "/" }; upstream "backend" } }
upstreams { upstream "backend" { target "${backend.host}:${backend.port}"; connection-pool { max-connections 128 } } }
observability { metrics { enabled #false }; logging { access-log { enabled #false } } }
`;
}

export const sentinelScenario: Scenario = {
  name: 'sentinel',
  description: 'Sentinel, one process, bench config (pool of 128 upstream connections, no metrics, no access log)',
  unavailableReason: () => (existsSync(CLI) ? null : `${CLI} not found`),
  start: (ctx) => {
    const conf = path.join(ctx.tmpDir, 'sentinel.kdl');
    return startListeningProcess(
      'sentinel',
      (port) => {
        writeFileSync(conf, sentinelBenchConfig(port, ctx.backend));
        return [...ctx.pinning.proxy, nodeBin(), CLI, 'run', '-c', conf];
      },
      { cwd: REPO_ROOT, startTimeoutMs: 20_000 },
    );
  },
};
