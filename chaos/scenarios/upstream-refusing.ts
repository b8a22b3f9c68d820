// The target accepts connections but resets each one as soon as the request arrives (reset_peer).
import { DRILL_TIMEOUTS, MARGIN_MS, drillConfig, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { maxMs, send, sendMany, timeToRecover } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

const N = 20;
const BOUND_MS = DRILL_TIMEOUTS.headersSecs * 1000 + MARGIN_MS;
const RECOVERY_MS = 2000;

export const scenario: Scenario<Drill> = {
  name: 'upstream-refusing',
  area: 'upstream',
  fault: 'the target accepts TCP, then resets the connection when the request arrives (toxic reset_peer, upstream stream, timeout 0)',
  expectation:
    `${N} requests: all 502 UPSTREAM_RESET, each answered within headers-secs ${DRILL_TIMEOUTS.headersSecs} s + ${fmtMs(MARGIN_MS)} = ${fmtMs(BOUND_MS)}; ` +
    `sentinel_errors_total{code="UPSTREAM_RESET"} +${N}; toxic removed → 200 within ${fmtMs(RECOVERY_MS)}`,
  ci: false,
  timeoutMs: 60_000,
  async run(d) {
    const up = await d.upstream((_req, res) => res.end('ok'));
    const proxy = await d.faultProxy(up.address);
    const s = await d.sentinel(drillConfig({ targets: [proxy.listen] }));
    const baseline = await send(s.port, '/');
    d.check('baseline', '200', String(baseline.status ?? baseline.error), baseline.status === 200);

    d.progress('adding reset_peer (upstream stream)');
    const toxic = await proxy.addToxic({ type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } } as never);
    const before = await s.metrics();
    d.progress(`sending ${N} requests`);
    const outcomes = await sendMany(s.port, '/', N, 4);
    const after = await s.metrics();
    d.expectOutcomes('status', 'all 502 UPSTREAM_RESET', outcomes, (o) => o.status === 502 && o.code === 'UPSTREAM_RESET');
    d.expectAtMost('slowest answer', maxMs(outcomes), BOUND_MS);
    d.expectDelta(before, after, 'sentinel_errors_total', { code: 'UPSTREAM_RESET' }, N);

    d.progress('removing the toxic');
    await toxic.remove();
    d.expectRecovery(await timeToRecover(s.port, '/', RECOVERY_MS, d.signal), RECOVERY_MS);
  },
};
