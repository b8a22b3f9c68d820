// The one entry point for real services in integration tests. Each start function gives a handle with
// an address, dispose(), and the chaos operations (pause/unpause, kill, restart); each service runs in
// a container (Testcontainers, host network, images built from this machine's binaries by
// scripts/ci/build-images.sh) when DOCKER_HOST is set and reachable, else as a local child process.
// Ports are always ephemeral and nothing is shared between suites. See service.ts for the backend
// rules and README "Container-backed suites" for running them locally.
//
//   const redis = await startRedis();                 // redis.url, redis.freeze(), redis.restart() …
//   const cluster = await startRedisCluster(3);       // cluster.nodes, cluster.members[i].kill() …
//   const db = await startMariaDb({ initSql });       // db.url, db.query(), db.stop()/start() …
//   const agent = await startAgent({ kind: 'echo', transport: 'uds' });   // agent.endpoint …
//   console.log(await describeBackends());            // "redis: container, mariadb: local, node: container"

import { serviceBackend, TEST_IMAGES } from './service.ts';
import type { TestImage } from './service.ts';

export { startRedis, redisBackend } from './redis.ts';
export type { RedisHandle } from './redis.ts';
export { startRedisCluster } from './redis-cluster.ts';
export type { RedisClusterHandle } from './redis-cluster.ts';
export { startMariaDb, mariaDbBackend } from './mariadb.ts';
export type { MariaDbHandle } from './mariadb.ts';
export { startAgent, agentBackend, AGENT_MAINS } from './agent.ts';
export type { AgentHandle, AgentKind, AgentOptions, AgentTransport, AgentEndpointSpec } from './agent.ts';
export { freePort, serviceBackend, TEST_IMAGES } from './service.ts';
export type { Backend, ServiceHandle } from './service.ts';

/** "redis: container, mariadb: local, node: container": which backend each service uses here. */
export async function describeBackends(): Promise<string> {
  const images = Object.keys(TEST_IMAGES) as TestImage[];
  const backends = await Promise.all(images.map((image) => serviceBackend(image)));
  return images.map((image, i) => `${image}: ${backends[i]}`).join(', ');
}
