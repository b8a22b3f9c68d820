// The target answers, but later than the configured headers timeout (latency toxic on the response).
import { DRILL_TIMEOUTS, MARGIN_MS, drillConfig, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { maxMs, minMs, send, sendMany, timeToRecover } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

const N = 8;
const HEADERS_MS = DRILL_TIMEOUTS.headersSecs * 1000;
const LATENCY_MS = HEADERS_MS + 2000;
const BOUND_MS = HEADERS_MS + MARGIN_MS;
const RECOVERY_MS = 2000;

export const scenario: Scenario<Drill> = {
  name: 'upstream-slow',
  area: 'upstream',
  fault: `the target's response is delayed ${fmtMs(LATENCY_MS)}, beyond headers-secs ${DRILL_TIMEOUTS.headersSecs} s (toxic latency, downstream)`,
  expectation:
    `${N} concurrent requests: all 504 UPSTREAM_HEADERS_TIMEOUT, none before 0.9 × headers-secs = ${fmtMs(HEADERS_MS * 0.9)}, ` +
    `each within headers-secs + ${fmtMs(MARGIN_MS)} = ${fmtMs(BOUND_MS)}; sentinel_errors_total{code="UPSTREAM_HEADERS_TIMEOUT"} +${N}; ` +
    `toxic removed → 200 within ${fmtMs(RECOVERY_MS)}`,
  ci: true,
  timeoutMs: 60_000,
  async run(d) {
    const up = await d.upstream((_req, res) => res.end('ok'));
    const proxy = await d.faultProxy(up.address);
    const s = await d.sentinel(drillConfig({ targets: [proxy.listen] }));
    const baseline = await send(s.port, '/');
    d.check('baseline', '200', String(baseline.status ?? baseline.error), baseline.status === 200);

    d.progress(`adding latency ${fmtMs(LATENCY_MS)} (downstream)`);
    const toxic = await proxy.addToxic({ type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: LATENCY_MS, jitter: 0 } } as never);
    const before = await s.metrics();
    d.progress(`sending ${N} requests at once`);
    const outcomes = await sendMany(s.port, '/', N, N);
    const after = await s.metrics();
    d.expectOutcomes('status', 'all 504 UPSTREAM_HEADERS_TIMEOUT', outcomes, (o) => o.status === 504 && o.code === 'UPSTREAM_HEADERS_TIMEOUT');
    d.expectAtLeast('fastest answer', minMs(outcomes), HEADERS_MS * 0.9);
    d.expectAtMost('slowest answer', maxMs(outcomes), BOUND_MS);
    d.expectDelta(before, after, 'sentinel_errors_total', { code: 'UPSTREAM_HEADERS_TIMEOUT' }, N);

    d.progress('removing the toxic');
    await toxic.remove();
    d.expectRecovery(await timeToRecover(s.port, '/', RECOVERY_MS, d.signal), RECOVERY_MS);
  },
};
