// `sentinel`: this project's proxy, started through its CLI (`node bin/sentinel.js run -c FILE.kdl`).
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, nodeBin } from '../lib/env.ts';
import { LOOPBACK, startListeningProcess } from './common.ts';
import type { BackendAddress, RunningScenario, Scenario, ScenarioContext } from './types.ts';

const CLI = path.join(REPO_ROOT, 'bin', 'sentinel.js');

/** Metrics and access log off: the plain `sentinel` scenario. */
export const OBSERVABILITY_OFF = 'metrics { enabled #false }; logging { access-log { enabled #false } }';

/**
 * The benchmark config: one listener, one catch-all route, one upstream; metrics and access log
 * off unless `observability` (the inside of `observability { }`) says otherwise.
 */
export function sentinelBenchConfig(port: number, backend: BackendAddress, workers = 1, observability: string = OBSERVABILITY_OFF, reusePort = true): string {
  return `system { worker-threads ${workers}${workers === 1 ? '' : `; reuse-port #${reusePort}`} }
listeners { listener "bench" { address "${LOOPBACK}:${port}" } }
routes { route "all" { matches { path-prefix "/" }; upstream "backend" } }
upstreams { upstream "backend" { target "${backend.host}:${backend.port}"; connection-pool { max-connections 128 } } }
observability { ${observability} }
`;
}

/**
 * The load-balancing benchmark config: the bench config with a pool of targets (the backend's
 * ports) and `algorithm`. Sticky cookies are not sent back by the load generator, so every
 * request takes sticky's first-visit path (fallback pick and a Set-Cookie).
 */
export function sentinelPoolConfig(port: number, backends: readonly BackendAddress[], algorithm: string): string {
  const targets = backends.map((b) => `target "${b.host}:${b.port}"`).join('; ');
  const options = algorithm === 'sticky' ? ' { cookie-secure #false; secret "bench-sticky-secret-0123456789" }' : '';
  return `listeners { listener "bench" { address "${LOOPBACK}:${port}" } }
routes { route "all" { matches { path-prefix "/" }; upstream "pool" } }
upstreams { upstream "pool" { ${targets}; load-balancing "${algorithm}"${options}; connection-pool { max-connections 128 } } }
observability { metrics { enabled #false }; logging { access-log { enabled #false } } }
`;
}

/** Sentinel (one process, pinned like `sentinel`) balancing over the backend's ports with `algorithm`. */
export function sentinelPoolScenario(algorithm: string): Scenario {
  return {
    name: algorithm,
    description: `Sentinel, one process, ${algorithm} over a pool of three targets`,
    unavailableReason: () => (existsSync(CLI) ? null : `${CLI} not found`),
    start: (ctx) => startSentinelProcess(`sentinel-${algorithm}`, ctx, { config: (port) => sentinelPoolConfig(port, ctx.backends, algorithm) }),
  };
}

/**
 * Starts `bin/sentinel.js` on a free port (pinned to the proxy CPU unless `pinned` is false) with the
 * bench config, or with `config(port)` when given (`workers` and `observability` then do not apply).
 */
export function startSentinelProcess(
  name: string,
  ctx: ScenarioContext,
  opts: { readonly workers?: number; readonly reusePort?: boolean; readonly pinned?: boolean; readonly observability?: string; readonly config?: (port: number) => string } = {},
): Promise<RunningScenario> {
  const conf = path.join(ctx.tmpDir, `${name}.kdl`);
  return startListeningProcess(
    name,
    (port) => {
      writeFileSync(conf, opts.config !== undefined ? opts.config(port) : sentinelBenchConfig(port, ctx.backend, opts.workers ?? 1, opts.observability, opts.reusePort));
      return [...(opts.pinned === false ? [] : ctx.pinning.proxy), nodeBin(), CLI, 'run', '-c', conf];
    },
    { cwd: REPO_ROOT, startTimeoutMs: 20_000 },
  );
}

export const SENTINEL_CLI = CLI;

export const sentinelScenario: Scenario = {
  name: 'sentinel',
  description: 'Sentinel, one process, bench config (pool of 128 upstream connections, no metrics, no access log)',
  unavailableReason: () => (existsSync(CLI) ? null : `${CLI} not found`),
  start: (ctx) => startSentinelProcess('sentinel', ctx),
};

/**
 * `sentinel-2w`: two worker processes behind the cluster primary. Not pinned: the point is scaling
 * across both cores, so it shares them with the backend and the load generator (compare it with
 * `nginx-2w`, never with the pinned one-process figures).
 */
export const sentinelTwoWorkersScenario: Scenario = twoWorkers('sentinel-2w', true, false);

/**
 * The listener-sharing comparison behind the `reuse-port` default (docs/design.md, "Multi-worker
 * mode"): two workers with the primary accepting for them (`-primary`), and both modes with every
 * request on a new connection (`-close`: the client sends `Connection: close`), where accepting is
 * the cost that differs.
 */
export const sentinelTwoWorkersSharingScenarios: readonly Scenario[] = [
  twoWorkers('sentinel-2w-primary', false, false),
  twoWorkers('sentinel-2w-close', true, true),
  twoWorkers('sentinel-2w-primary-close', false, true),
];

function twoWorkers(name: string, reusePort: boolean, close: boolean): Scenario {
  return {
    name,
    description: `Sentinel, 2 worker processes (node:cluster, ${reusePort ? 'reuse-port: each worker binds the listener' : 'the primary accepts for the workers'}), unpinned${close ? ', every request on a new connection (Connection: close)' : ''}`,
    unavailableReason: () => (existsSync(CLI) ? null : `${CLI} not found`),
    start: async (ctx) => {
      const running = await startSentinelProcess(name, ctx, { workers: 2, reusePort, pinned: false });
      return close ? { ...running, requestHeaders: { connection: 'close' } } : running;
    },
  };
}
