// The agent is down when Sentinel starts: the proxy starts and serves anyway, every request gets the
// failure mode's answer (first "no connection", then the open breaker's), and once the agent comes
// up the pool connects by itself and the agent is used, without a proxy restart.
import {
  AGENT_ID, AGENT_RECOVERY_MS, AGENT_RECOVERY_TEXT, AGENT_TIMEOUT_MS, FAILURE_MODES, FAILURE_THRESHOLD, answerText, endpointKdl, expectAgentOutcomes,
  expectAgentRecovery, expectFailureMetrics, failureMetricsText, isAnswer, modeText, recoveryText, sendInTurn, startGuarded,
} from '../lib/agent-drill.ts';
import type { FailureMode } from '../lib/agent-drill.ts';
import { MARGIN_MS, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { maxMs } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

const OPEN_N = 3;
const N = FAILURE_THRESHOLD + OPEN_N;
/** A call may wait for a connecting pool slot, at most timeout-ms. */
const BOUND_MS = AGENT_TIMEOUT_MS + MARGIN_MS;

function downAtStart(mode: FailureMode): Scenario<Drill> {
  return {
    name: `agent-down-at-start-${mode}`,
    area: 'agent',
    fault: `the agent (echo, gRPC) is not running when Sentinel starts (connection refused); ${modeText(mode)}; then it starts`,
    expectation:
      `Sentinel starts and serves, sentinel_agent_healthy 0; ${N} requests one after the other: the first ${FAILURE_THRESHOLD} (failure-threshold) ${answerText(mode, 'error')}, ` +
      `the next ${OPEN_N} ${answerText(mode, 'circuit_open')} (breaker open, no call), each within timeout-ms + ${fmtMs(MARGIN_MS)} = ${fmtMs(BOUND_MS)}; ` +
      `${failureMetricsText(mode, 'error', FAILURE_THRESHOLD)}; ${failureMetricsText(mode, 'circuit_open', OPEN_N)}; ` +
      recoveryText('the agent started', AGENT_RECOVERY_TEXT),
    ci: mode === 'open',
    timeoutMs: 90_000,
    async run(d) {
      const agent = await d.agent({ kind: 'echo', transport: 'grpc' });
      d.progress('stopping the agent before Sentinel starts');
      await agent.kill();
      const s = await startGuarded(d, { mode, endpoint: endpointKdl(agent), waitConnected: false });
      const before = await s.metrics();
      d.expectValue(before, 'sentinel_agent_healthy', { agent: AGENT_ID }, 0);

      d.progress(`sending ${N} requests`);
      const outcomes = await sendInTurn(s.port, '/down', N);
      const after = await s.metrics();
      const first = outcomes.slice(0, FAILURE_THRESHOLD);
      const rest = outcomes.slice(FAILURE_THRESHOLD);
      expectAgentOutcomes(d, `first ${FAILURE_THRESHOLD}`, `all ${answerText(mode, 'error')}`, first, isAnswer(mode, 'error'));
      expectAgentOutcomes(d, `next ${OPEN_N}`, `all ${answerText(mode, 'circuit_open')}`, rest, isAnswer(mode, 'circuit_open'));
      d.expectAtMost('slowest answer', maxMs(outcomes), BOUND_MS);
      expectFailureMetrics(d, mode, before, after, 'error', FAILURE_THRESHOLD);
      expectFailureMetrics(d, mode, before, after, 'circuit_open', OPEN_N);

      d.progress('starting the agent');
      await agent.restart();
      await expectAgentRecovery(d, s, AGENT_RECOVERY_MS);
    },
  };
}

export const scenarios: Scenario<Drill>[] = FAILURE_MODES.map(downAtStart);
