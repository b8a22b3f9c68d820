// The target accepts connections but resets each one as soon as the request arrives (reset_peer).
import { DRILL_TIMEOUTS, MARGIN_MS, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { errorDrillExpectation, runErrorDrill } from '../lib/error-drill.ts';
import type { ErrorDrill } from '../lib/error-drill.ts';
import type { Scenario } from '../lib/scenario.ts';

const DRILL: ErrorDrill = {
  requests: 20,
  concurrency: 4,
  status: 502,
  code: 'UPSTREAM_RESET',
  bound: { text: `headers-secs ${DRILL_TIMEOUTS.headersSecs} s + ${fmtMs(MARGIN_MS)}`, ms: DRILL_TIMEOUTS.headersSecs * 1000 + MARGIN_MS },
  upstreamOutcome: true,
  recoveryMs: 2000,
  undoText: 'toxic removed',
  async inject(proxy) {
    const toxic = await proxy.addToxic({ type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } } as never);
    return () => toxic.remove();
  },
};

export const scenario: Scenario<Drill> = {
  name: 'upstream-refusing',
  area: 'upstream',
  fault: 'the target accepts TCP, then resets the connection when the request arrives (toxic reset_peer, upstream stream, timeout 0)',
  expectation: errorDrillExpectation(DRILL),
  ci: false,
  timeoutMs: 60_000,
  run: (d) => runErrorDrill(d, DRILL),
};
