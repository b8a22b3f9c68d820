// The agent freezes (container paused, or SIGSTOP for a local process): its connections stay open
// and nothing answers, so calls run into timeout-ms; the failure mode decides what clients get, the
// breaker opens after failure-threshold timeouts, and the thawed agent is used again.
import {
  AGENT_ID, AGENT_TIMEOUT_MS, BREAKER_OPEN_MS, FAILURE_MODES, FAILURE_THRESHOLD, answerText, endpointKdl, expectAgentOutcomes, expectAgentRecovery,
  expectBaseline, expectFailureMetrics, failureMetricsText, isAnswer, modeText, recoveryText, sendAtOnce, startGuarded,
} from '../lib/agent-drill.ts';
import type { FailureMode } from '../lib/agent-drill.ts';
import { MARGIN_MS, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { maxMs, minMs, send } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

const N = FAILURE_THRESHOLD;
const BOUND_MS = AGENT_TIMEOUT_MS + MARGIN_MS;
/** The agent connection stays open: once thawed, only the breaker's open time stands between it and the next request. */
const RECOVERY_MS = BREAKER_OPEN_MS + MARGIN_MS;

function frozen(mode: FailureMode): Scenario<Drill> {
  return {
    name: `agent-frozen-${mode}`,
    area: 'agent',
    fault: `the agent (echo, Unix socket) is frozen: container paused, or SIGSTOP locally; its connections stay open and nothing answers; timeout-ms ${AGENT_TIMEOUT_MS}, ${modeText(mode)}`,
    expectation:
      `${N} requests at once: all ${answerText(mode, 'timeout')}, none before 0.9 × timeout-ms = ${fmtMs(AGENT_TIMEOUT_MS * 0.9)}, each within timeout-ms + ${fmtMs(MARGIN_MS)} = ${fmtMs(BOUND_MS)}; ` +
      `${failureMetricsText(mode, 'timeout', N)}; the breaker is then open (sentinel_agent_breaker_state 2) and the next request gets ${answerText(mode, 'circuit_open')} ` +
      `before timeout-ms, without a call (${failureMetricsText(mode, 'circuit_open', 1)}, timeouts +0); ` +
      recoveryText('thawed', `breaker timeout-secs ${BREAKER_OPEN_MS / 1000} s + ${fmtMs(MARGIN_MS)} = ${fmtMs(RECOVERY_MS)}`),
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
      d.progress(`sending ${N} requests at once`);
      const outcomes = await sendAtOnce(s.port, Array.from({ length: N }, (_, i) => `/frozen/${i}`));
      const mid = await s.metrics();
      expectAgentOutcomes(d, 'status', `all ${answerText(mode, 'timeout')}`, outcomes, isAnswer(mode, 'timeout'));
      d.expectAtLeast('fastest answer', minMs(outcomes), AGENT_TIMEOUT_MS * 0.9);
      d.expectAtMost('slowest answer', maxMs(outcomes), BOUND_MS);
      expectFailureMetrics(d, mode, before, mid, 'timeout', N);
      d.expectValue(mid, 'sentinel_agent_breaker_state', { agent: AGENT_ID }, 2, 'open');

      const open = await send(s.port, '/frozen/breaker');
      const after = await s.metrics();
      expectAgentOutcomes(d, 'while the breaker is open', answerText(mode, 'circuit_open'), [open], isAnswer(mode, 'circuit_open'));
      d.expectAtMost('answer while open (no call, no wait)', open.ms, AGENT_TIMEOUT_MS);
      expectFailureMetrics(d, mode, mid, after, 'circuit_open', 1);
      d.expectDelta(mid, after, 'sentinel_agent_timeouts_total', { agent: AGENT_ID }, 0);

      d.progress('thawing the agent');
      await agent.unpause();
      thawed = true;
      await expectAgentRecovery(d, s, RECOVERY_MS);
    },
  };
}

export const scenarios: Scenario<Drill>[] = FAILURE_MODES.map(frozen);
