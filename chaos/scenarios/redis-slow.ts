// Redis answers late: a latency toxic on its replies (Toxiproxy proxy between Sentinel and Redis),
// beyond redis-timeout-ms. No request waits longer than the timeout; after TIMEOUTS_TO_TRIP timeouts
// in a row each filter decides with its fallback without asking Redis, until a probe finds Redis
// fast again.
import { fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { REDIS_TIMEOUT_MS, TIMEOUTS_TO_TRIP, faultExpectation, runRedisFaultDrill } from '../lib/redis-drill.ts';
import type { RedisFault } from '../lib/redis-drill.ts';
import type { Scenario } from '../lib/scenario.ts';

const LATENCY_MS = REDIS_TIMEOUT_MS + 1000;

const FAULT: RedisFault = {
  kind: 'timeout',
  failedCalls: TIMEOUTS_TO_TRIP,
  // Only the replies are delayed: the calls ran in Redis and were counted there.
  countedInRedis: TIMEOUTS_TO_TRIP,
  waits: true,
  undoText: 'toxic removed',
  async inject(proxy) {
    const toxic = await proxy.addToxic({ type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: LATENCY_MS, jitter: 0 } } as never);
    return () => toxic.remove();
  },
};

export const scenario: Scenario<Drill> = {
  name: 'redis-slow',
  area: 'redis',
  fault: `Redis replies are delayed ${fmtMs(LATENCY_MS)}, beyond redis-timeout-ms ${REDIS_TIMEOUT_MS} (latency toxic, downstream), for three rate-limit filters: on-redis-failure fallback-to-local, open, closed`,
  expectation: faultExpectation(FAULT),
  ci: true,
  timeoutMs: 90_000,
  run: (d) => runRedisFaultDrill(d, FAULT),
};
