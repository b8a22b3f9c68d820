// The agent is killed (SIGKILL) while it holds requests: the connection drops, and the calls in flight
// fail at once with the failure mode's answer, not at their deadline. Restarted, the agent is
// reconnected and used again without a proxy restart.
import {
  AGENT_RECOVERY_MS, AGENT_RECOVERY_TEXT, FAILURE_MODES, answerText, endpointKdl, expectAgentOutcomes, expectAgentRecovery, expectBaseline,
  expectFailureMetrics, failureMetricsText, isAnswer, modeText, recoveryText, startGuarded, AGENT_ID,
} from '../lib/agent-drill.ts';
import type { FailureMode } from '../lib/agent-drill.ts';
import { MARGIN_MS, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { send } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

/** A long deadline, so that an answer "at once" cannot be the deadline's. */
const TIMEOUT_MS = 10_000;
const IN_FLIGHT = 3;
/** Time given to the held requests to reach the agent before the kill. */
const SETTLE_MS = 500;

function killed(mode: FailureMode): Scenario<Drill> {
  return {
    name: `agent-killed-mid-request-${mode}`,
    area: 'agent',
    fault: `the agent (test agent, Unix socket) holds ${IN_FLIGHT} requests (it never answers /hang) and is killed with SIGKILL; timeout-ms ${fmtMs(TIMEOUT_MS)}, ${modeText(mode)}; then restarted`,
    expectation:
      `the ${IN_FLIGHT} held requests: none answered before the kill, then all ${answerText(mode, 'error')} within ${fmtMs(MARGIN_MS)} of the kill ` +
      `(the lost connection fails its calls at once, not at timeout-ms ${fmtMs(TIMEOUT_MS)}); ${failureMetricsText(mode, 'error', IN_FLIGHT)}, sentinel_agent_timeouts_total +0, ` +
      `sentinel_agent_reconnects_total ≥ +1; ${recoveryText('restarted', AGENT_RECOVERY_TEXT)}`,
    ci: mode === 'open',
    timeoutMs: 90_000,
    async run(d) {
      const agent = await d.agent({ kind: 'test', transport: 'uds' });
      const s = await startGuarded(d, { mode, endpoint: endpointKdl(agent), timeoutMs: TIMEOUT_MS });
      await expectBaseline(d, s);

      const before = await s.metrics();
      d.progress(`${IN_FLIGHT} requests held by the agent`);
      let answered = 0;
      const held = Promise.all(
        Array.from({ length: IN_FLIGHT }, (_, i) =>
          send(s.port, `/held/${i}/hang`, { timeoutMs: TIMEOUT_MS + 10_000 }).then((o) => {
            answered++;
            return o;
          }),
        ),
      );
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      d.check('held before the kill', `${IN_FLIGHT} in flight, none answered`, `${IN_FLIGHT - answered} in flight, ${answered} answered`, answered === 0);

      d.progress('killing the agent');
      const killedAt = performance.now();
      await agent.kill();
      const outcomes = await held;
      const after = await s.metrics();
      expectAgentOutcomes(d, 'held requests', `all ${answerText(mode, 'error')}`, outcomes, isAnswer(mode, 'error'));
      const lastAnswer = Math.max(...outcomes.map((o) => o.startedAt + o.ms)) - killedAt;
      d.expectAtMost('answered after the kill', lastAnswer, MARGIN_MS);
      expectFailureMetrics(d, mode, before, after, 'error', IN_FLIGHT);
      d.expectDelta(before, after, 'sentinel_agent_timeouts_total', { agent: AGENT_ID }, 0);
      d.expectDelta(before, after, 'sentinel_agent_reconnects_total', { agent: AGENT_ID }, { atLeast: 1 });

      d.progress('restarting the agent');
      await agent.restart();
      await expectAgentRecovery(d, s, AGENT_RECOVERY_MS);
    },
  };
}

export const scenarios: Scenario<Drill>[] = FAILURE_MODES.map(killed);
