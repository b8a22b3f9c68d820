// The target's connection is reset after the response head and part of the body went out: a
// reset_peer toxic is added to the live connection while the target holds the rest of the body.
import { randomBytes } from 'node:crypto';
import { DRILL_TIMEOUTS, MARGIN_MS, drillConfig, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { send } from '../lib/http.ts';
import type { Outcome } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

const N = 3;
const BODY_BYTES = 256 * 1024;
const FIRST_BYTES = 16 * 1024;
const BOUND_MS = DRILL_TIMEOUTS.readSecs * 1000 + MARGIN_MS;
const BODY = randomBytes(BODY_BYTES);

export const scenario: Scenario<Drill> = {
  name: 'upstream-reset-mid-response',
  area: 'upstream',
  fault: `the target's connection is reset (RST) after the head and ${FIRST_BYTES / 1024} KiB of a ${BODY_BYTES / 1024} KiB body (toxic reset_peer added to the live connection)`,
  expectation:
    `${N} requests: each gets the 200 head and part of the body, then its connection is aborted (never a complete-looking body), ` +
    `within read-secs ${DRILL_TIMEOUTS.readSecs} s + ${fmtMs(MARGIN_MS)} = ${fmtMs(BOUND_MS)} of the reset; sentinel_errors_total{code="UPSTREAM_RESET"} +${N}; ` +
    `sentinel_upstream_requests_total{outcome="UPSTREAM_RESET"} +${N}; the next request gets the whole body`,
  ci: true,
  timeoutMs: 60_000,
  async run(d) {
    const gates: Array<() => void> = [];
    const up = await d.upstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BODY_BYTES) });
      if (req.url !== '/cut') {
        res.end(BODY);
        return;
      }
      res.write(BODY.subarray(0, FIRST_BYTES));
      gates.push(() => res.end(BODY.subarray(FIRST_BYTES)));
    });
    const proxy = await d.faultProxy(up.address);
    const s = await d.sentinel(drillConfig({ targets: [proxy.listen] }));
    const before = await s.metrics();
    const cut: Outcome[] = [];
    let slowestAbortMs = 0;
    for (let i = 0; i < N; i++) {
      d.progress(`request ${i + 1}/${N}: waiting for the first ${FIRST_BYTES / 1024} KiB`);
      let partial: () => void = () => undefined;
      const arrived = new Promise<void>((r) => (partial = r));
      const pending = send(s.port, '/cut', { onBytes: (n) => n >= FIRST_BYTES && partial() });
      const early = await Promise.race([arrived.then(() => null), pending]);
      if (early !== null) throw new Error(`request ${i + 1} ended before the first bytes arrived: ${early.status ?? early.error}`);
      const toxic = await proxy.addToxic({ type: 'reset_peer', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } } as never);
      const resetAt = performance.now();
      gates.shift()?.();
      const o = await pending;
      slowestAbortMs = Math.max(slowestAbortMs, o.startedAt + o.ms - resetAt);
      cut.push(o);
      await toxic.remove();
    }
    const after = await s.metrics();
    d.expectOutcomes('client saw', `${N}×200 head, then an aborted body (${FIRST_BYTES} ≤ bytes < ${BODY_BYTES})`, cut, (o) => o.status === 200 && !o.complete && o.bytes >= FIRST_BYTES && o.bytes < BODY_BYTES);
    d.expectAtMost('reset → client abort', slowestAbortMs, BOUND_MS);
    d.expectDelta(before, after, 'sentinel_errors_total', { code: 'UPSTREAM_RESET' }, N);
    d.expectDelta(before, after, 'sentinel_upstream_requests_total', { upstream: 'app', outcome: 'UPSTREAM_RESET' }, N);
    d.progress('one more request, no fault');
    const whole = await send(s.port, '/whole', { keepBodyBytes: BODY_BYTES });
    d.check('next request', `200, all ${BODY_BYTES} bytes intact`, `${whole.status ?? whole.error}, ${whole.bytes} bytes${whole.body?.equals(BODY) === true ? ' intact' : ''}`, whole.status === 200 && whole.complete && whole.body?.equals(BODY) === true);
  },
};
