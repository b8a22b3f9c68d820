// Sentinel gets SIGTERM while clients keep sending requests and some requests are in flight.
import { connect } from 'node:net';
import { DRILL_TIMEOUTS, MARGIN_MS, drillConfig, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { send, startLoad } from '../lib/http.ts';
import type { Outcome } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

const IN_FLIGHT = 5;
const HOLD_MS = 1500;
const GRACE_SECS = 10;
const WORKERS = 4;
const EXIT_BOUND_MS = HOLD_MS + MARGIN_MS;
/** The target holds requests longer than the drills' default headers timeout: give it room. */
const TIMEOUTS = { ...DRILL_TIMEOUTS, headersSecs: 10, requestSecs: 20 };

/** After SIGTERM a request may be turned away, but only cleanly: 503 SHUTTING_DOWN, or a connection that never got a response. */
function acceptable(o: Outcome): boolean {
  if (o.status === 200) return o.complete && o.body?.toString('utf8') === 'ok';
  if (o.status === 503) return o.code === 'SHUTTING_DOWN';
  return o.status === null && o.bytes === 0 && (o.error === 'ECONNREFUSED' || o.error === 'ECONNRESET');
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

export const scenario: Scenario<Drill> = {
  name: 'proxy-sigterm-under-load',
  area: 'proxy',
  fault: `SIGTERM with ${IN_FLIGHT} requests in flight (the target holds them ${fmtMs(HOLD_MS)}) and ${WORKERS} clients sending; graceful-shutdown-timeout-secs ${GRACE_SECS}`,
  expectation:
    `the ${IN_FLIGHT} in-flight requests complete 200 with their whole body; exit code 0 within ${fmtMs(HOLD_MS)} + ${fmtMs(MARGIN_MS)} = ${fmtMs(EXIT_BOUND_MS)} of SIGTERM; ` +
    `every other request is 200, 503 SHUTTING_DOWN, or refused before any response byte (never truncated, never another error); the port refuses connections afterwards`,
  ci: true,
  timeoutMs: 90_000,
  async run(d) {
    let arrived = 0;
    const up = await d.upstream((req, res) => {
      if (req.url !== '/held') {
        res.end('ok');
        return;
      }
      arrived++;
      setTimeout(() => res.end('held-done'), HOLD_MS);
    });
    const s = await d.sentinel(drillConfig({ targets: [up.address], timeouts: TIMEOUTS, system: `graceful-shutdown-timeout-secs ${GRACE_SECS}` }));
    d.progress(`load: ${WORKERS} clients, then ${IN_FLIGHT} held requests`);
    const load = startLoad(s.port, '/', WORKERS, { timeoutMs: 10_000, pauseMs: 5 });
    while (load.count() < 20 && !d.signal.aborted) await new Promise((r) => setTimeout(r, 10));
    const held = Array.from({ length: IN_FLIGHT }, () => send(s.port, '/held', { timeoutMs: 20_000 }));
    while (arrived < IN_FLIGHT && !d.signal.aborted) await new Promise((r) => setTimeout(r, 5));

    d.progress('SIGTERM');
    const sentAt = performance.now();
    s.child.kill('SIGTERM');
    const code = await s.exited;
    const exitMs = performance.now() - sentAt;
    const outcomes = await load.stop();
    const inFlight = await Promise.all(held);

    d.expectOutcomes('in flight', `${IN_FLIGHT}×200 held-done`, inFlight, (o) => o.status === 200 && o.complete && o.body?.toString('utf8') === 'held-done');
    d.check('exit code', '0', String(code), code === 0);
    d.expectAtMost('SIGTERM → exit', exitMs, EXIT_BOUND_MS);
    d.expectOutcomes('other requests', '200, 503 SHUTTING_DOWN or refused', outcomes, acceptable);
    d.check('after exit', 'connection refused', (await refused(s.port)) ? 'connection refused' : 'still accepting', await refused(s.port));
  },
};
