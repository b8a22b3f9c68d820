// The connection to Redis is reset: a reset_peer toxic RSTs the connection at the first command, and
// every reconnect after it, until removed. Each filter switches to its fallback at the first error
// (no waiting, no per-request reconnect storm) and back to Redis once a probe succeeds.
import type { Drill } from '../lib/drill.ts';
import { faultExpectation, runRedisFaultDrill } from '../lib/redis-drill.ts';
import type { RedisFault } from '../lib/redis-drill.ts';
import type { Scenario } from '../lib/scenario.ts';

const FAULT: RedisFault = {
  kind: 'error',
  failedCalls: 1,
  // The command is dropped with the connection: it never reaches Redis.
  countedInRedis: 0,
  waits: false,
  undoText: 'toxic removed',
  async inject(proxy) {
    const toxic = await proxy.addToxic({ type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } } as never);
    return () => toxic.remove();
  },
};

export const scenario: Scenario<Drill> = {
  name: 'redis-reset',
  area: 'redis',
  fault: 'every connection to Redis is reset at its first command (reset_peer toxic, upstream, on the live connection and each reconnect), for three rate-limit filters: on-redis-failure fallback-to-local, open, closed',
  expectation: faultExpectation(FAULT),
  ci: true,
  timeoutMs: 90_000,
  run: (d) => runRedisFaultDrill(d, FAULT),
};
