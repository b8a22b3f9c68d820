// The only target goes away: its Toxiproxy proxy is disabled, so its port refuses connections.
import { DRILL_TIMEOUTS, MARGIN_MS, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { errorDrillExpectation, runErrorDrill } from '../lib/error-drill.ts';
import type { ErrorDrill } from '../lib/error-drill.ts';
import type { Scenario } from '../lib/scenario.ts';

const DRILL: ErrorDrill = {
  requests: 20,
  concurrency: 4,
  status: 502,
  code: 'UPSTREAM_CONNECT_FAILED',
  bound: { text: `connect-secs ${DRILL_TIMEOUTS.connectSecs} s + ${fmtMs(MARGIN_MS)}`, ms: DRILL_TIMEOUTS.connectSecs * 1000 + MARGIN_MS },
  upstreamOutcome: true,
  recoveryMs: 2000,
  undoText: 'proxy enabled again',
  async inject(proxy) {
    await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    return () => proxy.update({ enabled: true, listen: proxy.listen, upstream: proxy.upstream });
  },
};

export const scenario: Scenario<Drill> = {
  name: 'upstream-down',
  area: 'upstream',
  fault: 'the only target is down: Toxiproxy proxy disabled (listener closed, connections refused)',
  expectation: errorDrillExpectation(DRILL),
  ci: true,
  timeoutMs: 60_000,
  run: (d) => runErrorDrill(d, DRILL),
};
