// The target answers, but later than the configured headers timeout (latency toxic on the response).
import { DRILL_TIMEOUTS, MARGIN_MS, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { errorDrillExpectation, runErrorDrill } from '../lib/error-drill.ts';
import type { ErrorDrill } from '../lib/error-drill.ts';
import type { Scenario } from '../lib/scenario.ts';

const HEADERS_MS = DRILL_TIMEOUTS.headersSecs * 1000;
const LATENCY_MS = HEADERS_MS + 2000;

const DRILL: ErrorDrill = {
  requests: 8,
  concurrency: 8,
  status: 504,
  code: 'UPSTREAM_HEADERS_TIMEOUT',
  waitsFor: { text: `headers-secs ${DRILL_TIMEOUTS.headersSecs} s`, ms: HEADERS_MS },
  bound: { text: `headers-secs + ${fmtMs(MARGIN_MS)}`, ms: HEADERS_MS + MARGIN_MS },
  upstreamOutcome: true,
  recoveryMs: 2000,
  undoText: 'toxic removed',
  async inject(proxy) {
    const toxic = await proxy.addToxic({ type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: LATENCY_MS, jitter: 0 } } as never);
    return () => toxic.remove();
  },
};

export const scenario: Scenario<Drill> = {
  name: 'upstream-slow',
  area: 'upstream',
  fault: `the target's response is delayed ${fmtMs(LATENCY_MS)}, beyond headers-secs ${DRILL_TIMEOUTS.headersSecs} s (toxic latency, downstream)`,
  expectation: errorDrillExpectation(DRILL),
  ci: true,
  timeoutMs: 60_000,
  run: (d) => runErrorDrill(d, DRILL),
};
