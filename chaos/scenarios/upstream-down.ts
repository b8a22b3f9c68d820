// The only target goes away: its Toxiproxy proxy is disabled, so its port refuses connections.
import { DRILL_TIMEOUTS, MARGIN_MS, drillConfig, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { maxMs, send, sendMany, timeToRecover } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

const N = 20;
const BOUND_MS = DRILL_TIMEOUTS.connectSecs * 1000 + MARGIN_MS;
const RECOVERY_MS = 2000;

export const scenario: Scenario<Drill> = {
  name: 'upstream-down',
  area: 'upstream',
  fault: 'the only target is down: Toxiproxy proxy disabled (listener closed, connections refused)',
  expectation:
    `${N} requests: all 502 UPSTREAM_CONNECT_FAILED, each answered within connect-secs ${DRILL_TIMEOUTS.connectSecs} s + ${fmtMs(MARGIN_MS)} = ${fmtMs(BOUND_MS)}; ` +
    `sentinel_errors_total{code="UPSTREAM_CONNECT_FAILED"} +${N}; sentinel_upstream_requests_total{outcome="UPSTREAM_CONNECT_FAILED"} +${N}; ` +
    `proxy enabled again → 200 within ${fmtMs(RECOVERY_MS)}`,
  ci: true,
  timeoutMs: 60_000,
  async run(d) {
    const up = await d.upstream((_req, res) => res.end('ok'));
    const proxy = await d.faultProxy(up.address);
    const s = await d.sentinel(drillConfig({ targets: [proxy.listen] }));
    const baseline = await send(s.port, '/');
    d.check('baseline', '200', String(baseline.status ?? baseline.error), baseline.status === 200);

    d.progress('disabling the Toxiproxy proxy');
    await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    const before = await s.metrics();
    d.progress(`sending ${N} requests`);
    const outcomes = await sendMany(s.port, '/', N, 4);
    const after = await s.metrics();
    d.expectOutcomes('status', 'all 502 UPSTREAM_CONNECT_FAILED', outcomes, (o) => o.status === 502 && o.code === 'UPSTREAM_CONNECT_FAILED');
    d.expectAtMost('slowest answer', maxMs(outcomes), BOUND_MS);
    d.expectDelta(before, after, 'sentinel_errors_total', { code: 'UPSTREAM_CONNECT_FAILED' }, N);
    d.expectDelta(before, after, 'sentinel_upstream_requests_total', { upstream: 'app', outcome: 'UPSTREAM_CONNECT_FAILED' }, N);

    d.progress('enabling the proxy again');
    await proxy.update({ enabled: true, listen: proxy.listen, upstream: proxy.upstream });
    d.expectRecovery(await timeToRecover(s.port, '/', RECOVERY_MS, d.signal), RECOVERY_MS);
  },
};
