// The agent flaps: killed and restarted every second while clients keep sending. Clients only ever
// see an inspected 200 or the failure mode's answers, nothing hangs, the breaker opens, and once the
// agent stays up it is used again and the breaker closes.
import {
  AGENT_ID, AGENT_RECOVERY_MS, AGENT_RECOVERY_TEXT, AGENT_TIMEOUT_MS, FAILURE_CODE, FAILURE_MODES, INSPECTED, answerText, endpointKdl, expectAgentOutcomes, expectAgentRecovery,
  expectBaseline, inspected, isAnswer, modeText, recoveryText, startGuarded,
} from '../lib/agent-drill.ts';
import type { AgentFailure, FailureMode } from '../lib/agent-drill.ts';
import { MARGIN_MS, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { maxMs, startLoad } from '../lib/http.ts';
import type { Outcome } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

const CYCLES = 4;
const PERIOD_MS = 1000;
/** Down this long in each period (then restarted, which takes what it takes). */
const DOWN_MS = 250;
const WORKERS = 4;
const BOUND_MS = AGENT_TIMEOUT_MS + MARGIN_MS;
const FAILURES: readonly AgentFailure[] = ['error', 'circuit_open', 'timeout'];

const allowedText = (mode: FailureMode): string =>
  mode === 'closed' ? `200 inspected, or 503 ${FAILURE_CODE.error} / 503 ${FAILURE_CODE.circuit_open} / 504 ${FAILURE_CODE.timeout}` : `200 ${INSPECTED} or ${answerText('open', 'error')}`;
const allowed = (mode: FailureMode) => (o: Outcome): boolean => inspected(o) || FAILURES.some((f) => isAnswer(mode, f)(o));

function flapping(mode: FailureMode): Scenario<Drill> {
  return {
    name: `agent-flapping-${mode}`,
    area: 'agent',
    fault: `the agent (echo, Unix socket) is killed and restarted every ${fmtMs(PERIOD_MS)} (down ${fmtMs(DOWN_MS)}, then restarted), ${CYCLES} times, under ${WORKERS} closed-loop clients; ${modeText(mode)}; then it stays up`,
    expectation:
      `every answer during the flapping is ${allowedText(mode)}, never another status, error or truncated body; each within timeout-ms + ${fmtMs(MARGIN_MS)} = ${fmtMs(BOUND_MS)}; ` +
      `the breaker opens (sentinel_agent_calls_total{outcome="circuit_open"} ≥ +1); sentinel_agent_reconnects_total ≥ +${CYCLES}` +
      (mode === 'open' ? '; sentinel_errors_total +0 (no client ever sees an error)' : '') +
      `; ${recoveryText('the agent stays up', AGENT_RECOVERY_TEXT)}`,
    ci: false,
    timeoutMs: 120_000,
    async run(d) {
      const agent = await d.agent({ kind: 'echo', transport: 'uds' });
      const s = await startGuarded(d, { mode, endpoint: endpointKdl(agent) });
      await expectBaseline(d, s);

      const before = await s.metrics();
      const load = startLoad(s.port, '/flap', WORKERS, { timeoutMs: BOUND_MS + 10_000, pauseMs: 5 });
      let outcomes: Outcome[] | null = null;
      d.defer(async () => {
        if (outcomes === null) await load.stop();
      });
      for (let i = 1; i <= CYCLES && !d.signal.aborted; i++) {
        const cycle = performance.now();
        d.progress(`flap ${i}/${CYCLES}: kill, restart`);
        await agent.kill();
        await new Promise((r) => setTimeout(r, DOWN_MS));
        await agent.restart();
        const rest = PERIOD_MS - (performance.now() - cycle);
        if (rest > 0) await new Promise((r) => setTimeout(r, rest));
      }
      outcomes = await load.stop();
      const after = await s.metrics();
      d.progress(`${outcomes.length} requests during the flapping`);
      expectAgentOutcomes(d, 'answers while flapping', allowedText(mode), outcomes, allowed(mode));
      d.expectAtMost('slowest answer', maxMs(outcomes), BOUND_MS);
      d.expectDelta(before, after, 'sentinel_agent_calls_total', { agent: AGENT_ID, outcome: 'circuit_open' }, { atLeast: 1 });
      d.expectDelta(before, after, 'sentinel_agent_reconnects_total', { agent: AGENT_ID }, { atLeast: CYCLES });
      if (mode === 'open') d.expectDelta(before, after, 'sentinel_errors_total', {}, 0);

      await expectAgentRecovery(d, s, AGENT_RECOVERY_MS);
    },
  };
}

export const scenarios: Scenario<Drill>[] = FAILURE_MODES.map(flapping);
