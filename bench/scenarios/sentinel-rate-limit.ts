// `sentinel-rl-local` and `sentinel-rl-redis`: the `sentinel` scenario with one rate-limit filter on
// every request, to measure what a limit costs against no limit in the same run. The limit is never
// reached (every request is admitted), so the figures are the cost of the decision itself:
//   - local: the in-process token bucket (synchronous);
//   - redis: GCRA in a redis-server started for the scenario (not pinned: on the load core it
//     starves behind wrk; on the proxy core it takes the proxy's CPU), one EVALSHA per request over
//     one multiplexed connection, redis-timeout-ms 250 and on-redis-failure "closed", so a Redis
//     that cannot keep up shows as errors (503) rather than as a faster local fallback.
// Both key on client-ip: wrk connects from one address, so every request hits one key (in Redis,
// one hot key: the worst case for a single Redis core).
import { existsSync } from 'node:fs';
import { which } from '../lib/env.ts';
import { freePort, spawnTracked, waitForPort } from '../lib/procs.ts';
import { LOOPBACK } from './common.ts';
import { SENTINEL_CLI as CLI, sentinelBenchConfig, startSentinelProcess } from './sentinel.ts';
import type { BackendAddress, Scenario, ScenarioContext } from './types.ts';

const NEVER = 1_000_000_000;

/** The bench config with a rate-limit filter on the catch-all route. */
export function rateLimitBenchConfig(port: number, backend: BackendAddress, filter: string): string {
  const route = 'matches { path-prefix "/" }; upstream "backend"';
  const base = sentinelBenchConfig(port, backend);
  // An unused filter is valid config: never measure "no limit" under a rate-limit scenario's name.
  if (!base.includes(route)) throw new Error('sentinelBenchConfig changed: attach the rate-limit filter to its route here');
  return base
    .replace(route, 'matches { path-prefix "/" }; filters "rl"; upstream "backend"')
    .concat(`filters { filter "rl" { type "rate-limit"; max-rps ${NEVER}; burst ${NEVER}; key "client-ip"; ${filter} } }\n`);
}

function startSentinelWith(name: string, ctx: ScenarioContext, filter: string) {
  return startSentinelProcess(name, ctx, { config: (port) => rateLimitBenchConfig(port, ctx.backend, filter) });
}

export const sentinelLocalLimitScenario: Scenario = {
  name: 'sentinel-rl-local',
  description: 'Sentinel as `sentinel`, plus a local rate-limit filter (token bucket, client-ip key) on every request, never reached',
  unavailableReason: () => (existsSync(CLI) ? null : `${CLI} not found`),
  start: (ctx) => startSentinelWith('sentinel-rl-local', ctx, 'backend "local"'),
};

export const sentinelRedisLimitScenario: Scenario = {
  name: 'sentinel-rl-redis',
  description: 'Sentinel as `sentinel`, plus a Redis rate-limit filter (GCRA, client-ip key, redis-timeout-ms 250, fail closed) on every request, never reached; redis-server unpinned',
  unavailableReason: () => (!existsSync(CLI) ? `${CLI} not found` : which('redis-server') ? null : 'redis-server not installed'),
  start: async (ctx) => {
    const redisPort = await freePort();
    const redis = spawnTracked('redis-server', [
      which('redis-server') as string, '--port', String(redisPort), '--bind', LOOPBACK, '--save', '', '--appendonly', 'no', '--dir', ctx.tmpDir, '--loglevel', 'warning',
    ]);
    try {
      await waitForPort(LOOPBACK, redisPort, redis, 10_000);
      const s = await startSentinelWith('sentinel-rl-redis', ctx, `backend "redis"; redis-url "redis://${LOOPBACK}:${redisPort}"; redis-timeout-ms 250; on-redis-failure "closed"`);
      return { url: s.url, pids: s.pids, stop: async () => { await s.stop(); await redis.stop(); } };
    } catch (e) {
      await redis.stop();
      throw e;
    }
  },
};
