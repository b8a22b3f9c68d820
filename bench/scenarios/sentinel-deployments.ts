// `sentinel-deployments`: the same process as `sentinel`, but the catch-all route does deployment
// routing (Unkey Sentinel parity, docs/deployments.md): every request carries X-Deployment-Id, the
// deployment and its instances come from a static store through the warm lookup caches, and the
// one running instance is the backend. Compared with `sentinel` (a plain upstream route) in the
// same run, it prices the routing decision, the header rewriting and the instance pool lookup.
import { existsSync } from 'node:fs';
import { LOOPBACK } from './common.ts';
import { SENTINEL_CLI as CLI, startSentinelProcess } from './sentinel.ts';
import type { BackendAddress, Scenario } from './types.ts';

export const BENCH_DEPLOYMENT_ID = 'd_bench';

/** One listener, one catch-all deployments route, a static store with one deployment; metrics and access log off. */
export function deploymentsBenchConfig(port: number, backend: BackendAddress): string {
  return `listeners { listener "bench" { address "${LOOPBACK}:${port}" } }
routes {
  route "all" {
    matches { path-prefix "/" }
    deployments {
      environment-id "env_bench"
      region "local:bench"
      connection-pool { max-connections 128 }
      store "static" {
        deployment "${BENCH_DEPLOYMENT_ID}" environment-id="env_bench"
        instance "i_bench" deployment="${BENCH_DEPLOYMENT_ID}" address="${backend.host}:${backend.port}"
      }
    }
  }
}
observability { metrics { enabled #false }; logging { access-log { enabled #false } } }
`;
}

export const sentinelDeploymentsScenario: Scenario = {
  name: 'sentinel-deployments',
  description: 'Sentinel, one process, deployment routing by X-Deployment-Id (static store, warm caches, one instance = the backend)',
  unavailableReason: () => (existsSync(CLI) ? null : `${CLI} not found`),
  start: async (ctx) => {
    const running = await startSentinelProcess('sentinel-deployments', ctx, { config: (port) => deploymentsBenchConfig(port, ctx.backend) });
    return { ...running, requestHeaders: { 'x-deployment-id': BENCH_DEPLOYMENT_ID } };
  },
};
