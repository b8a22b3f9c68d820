// The agent freezes (container paused, or SIGSTOP for a local process): its connections stay open
// and nothing answers, so calls run into timeout-ms; the failure mode decides what clients get, the
// breaker opens after failure-threshold timeouts, and the thawed agent is used again.
import {
  AGENT_ID, AGENT_TIMEOUT_MS, BREAKER_RECOVERY_MS, BREAKER_RECOVERY_TEXT, FAILURE_MODES, answerText, endpointKdl, expectAgentOutcomes, expectAgentRecovery,
  expectBaseline, expectFailureMetrics, expectTimeoutBurst, failureMetricsText, isAnswer, modeText, recoveryText, startGuarded, timeoutBurstText,
} from '../lib/agent-drill.ts';
import type { FailureMode } from '../lib/agent-drill.ts';
import type { Drill } from '../lib/drill.ts';
import { send } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

function frozen(mode: FailureMode): Scenario<Drill> {
  return {
    name: `agent-frozen-${mode}`,
    area: 'agent',
    fault: `the agent (echo, Unix socket) is frozen: container paused, or SIGSTOP locally; its connections stay open and nothing answers; timeout-ms ${AGENT_TIMEOUT_MS}, ${modeText(mode)}`,
    expectation:
      `${timeoutBurstText(mode)}; the breaker is then open (sentinel_agent_breaker_state 2) and the next request gets ${answerText(mode, 'circuit_open')} ` +
      `before timeout-ms, without a call (${failureMetricsText(mode, 'circuit_open', 1)}, timeouts +0); ` +
      recoveryText('thawed', BREAKER_RECOVERY_TEXT),
    ci: mode === 'closed',
    timeoutMs: 90_000,
    async run(d) {
      const agent = await d.agent({ kind: 'echo', transport: 'uds' });
      const s = await startGuarded(d, { mode, endpoint: endpointKdl(agent) });
      await expectBaseline(d, s);

      d.progress('freezing the agent');
      const before = await s.metrics();
      await agent.pause();
      let thawed = false;
      d.defer(() => (thawed ? undefined : agent.unpause()));
      const mid = await expectTimeoutBurst(d, s, mode, before, 'status', '/frozen');

      const open = await send(s.port, '/frozen/breaker');
      const after = await s.metrics();
      expectAgentOutcomes(d, 'while the breaker is open', answerText(mode, 'circuit_open'), [open], isAnswer(mode, 'circuit_open'));
      d.expectAtMost('answer while open (no call, no wait)', open.ms, AGENT_TIMEOUT_MS);
      expectFailureMetrics(d, mode, mid, after, 'circuit_open', 1);
      d.expectDelta(mid, after, 'sentinel_agent_timeouts_total', { agent: AGENT_ID }, 0);

      d.progress('thawing the agent');
      await agent.unpause();
      thawed = true;
      await expectAgentRecovery(d, s, BREAKER_RECOVERY_MS);
    },
  };
}

export const scenarios: Scenario<Drill>[] = FAILURE_MODES.map(frozen);
