// The target's responses trickle through a bandwidth toxic: slow but within the request budget, then
// so slow that the budget (request-secs) runs out mid-body.
import { randomBytes } from 'node:crypto';
import { DRILL_TIMEOUTS, MARGIN_MS, drillConfig, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { maxMs, minMs, send, sendMany } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

const N = 3;
const BODY_BYTES = 96_000;
const RATE_KBPS = 64; // Toxiproxy KB = 1000 B: 96 000 B take 1.5 s
const STARVED_KBPS = 8; // 12 s: beyond request-secs
const REQUEST_MS = DRILL_TIMEOUTS.requestSecs * 1000;
const THROTTLED_MS = (BODY_BYTES / (RATE_KBPS * 1000)) * 1000;
const BODY = randomBytes(BODY_BYTES);

export const scenario: Scenario<Drill> = {
  name: 'upstream-bandwidth',
  area: 'upstream',
  fault: `responses limited to ${RATE_KBPS} KB/s, then starved to ${STARVED_KBPS} KB/s (toxic bandwidth, downstream); request-secs ${DRILL_TIMEOUTS.requestSecs} s, read-secs ${DRILL_TIMEOUTS.readSecs} s`,
  expectation:
    `at ${RATE_KBPS} KB/s: ${N} concurrent ${BODY_BYTES / 1000} kB responses all 200 and intact, none faster than 0.8 × ${fmtMs(THROTTLED_MS)} (the throttle held) and all within request-secs; ` +
    `at ${STARVED_KBPS} KB/s: all ${N} get the 200 head and are then aborted between 0.9 × request-secs = ${fmtMs(REQUEST_MS * 0.9)} and request-secs + ${fmtMs(MARGIN_MS)} = ${fmtMs(REQUEST_MS + MARGIN_MS)}; ` +
    `sentinel_errors_total{code="REQUEST_TIMEOUT"} +${N}`,
  ci: false,
  timeoutMs: 90_000,
  async run(d) {
    const up = await d.upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BODY_BYTES) });
      res.end(BODY);
    });
    const proxy = await d.faultProxy(up.address);
    const s = await d.sentinel(drillConfig({ targets: [proxy.listen] }));
    d.progress(`bandwidth ${RATE_KBPS} KB/s`);
    const toxic = await proxy.addToxic({ type: 'bandwidth', stream: 'downstream', toxicity: 1, attributes: { rate: RATE_KBPS } } as never);
    const slow = await sendMany(s.port, '/', N, N, { keepBodyBytes: BODY_BYTES });
    d.expectOutcomes('throttled', `all 200, ${BODY_BYTES} bytes intact`, slow, (o) => o.status === 200 && o.complete && o.body?.equals(BODY) === true);
    d.expectAtLeast('throttled: fastest', minMs(slow), THROTTLED_MS * 0.8);
    d.expectAtMost('throttled: slowest', maxMs(slow), REQUEST_MS);

    d.progress(`bandwidth ${STARVED_KBPS} KB/s`);
    await toxic.update({ attributes: { rate: STARVED_KBPS } } as never);
    const before = await s.metrics();
    const starved = await Promise.all(Array.from({ length: N }, () => send(s.port, '/')));
    const after = await s.metrics();
    d.expectOutcomes('starved', '200 head, then aborted mid-body', starved, (o) => o.status === 200 && !o.complete && o.bytes < BODY_BYTES);
    d.expectAtLeast('starved: first abort', minMs(starved), REQUEST_MS * 0.9);
    d.expectAtMost('starved: last abort', maxMs(starved), REQUEST_MS + MARGIN_MS);
    d.expectDelta(before, after, 'sentinel_errors_total', { code: 'REQUEST_TIMEOUT' }, N);
  },
};
