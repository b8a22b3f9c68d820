// The agent answers late: a gRPC agent behind a Toxiproxy proxy whose `latency` toxic delays its
// answers, first below timeout-ms (allowed, the latency shows in the request), then beyond it (the
// failure mode applies, as for a frozen agent); the toxic removed, the agent is used again.
import {
  AGENT_ID, AGENT_TIMEOUT_MS, BREAKER_RECOVERY_MS, BREAKER_RECOVERY_TEXT, FAILURE_MODES, INSPECTED, expectAgentOutcomes, expectAgentRecovery,
  expectBaseline, expectTimeoutBurst, inspected, modeText, recoveryText, sendInTurn, startGuarded, timeoutBurstText,
} from '../lib/agent-drill.ts';
import type { FailureMode } from '../lib/agent-drill.ts';
import { fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { maxMs, minMs } from '../lib/http.ts';
import type { Scenario } from '../lib/scenario.ts';

/** Below the deadline: a third of timeout-ms added to every answer. */
const BELOW_MS = Math.round(AGENT_TIMEOUT_MS * 0.3);
const BELOW_N = 3;
/** Beyond it: a second past timeout-ms. */
const BEYOND_MS = AGENT_TIMEOUT_MS + 1000;

function latency(ms: number) {
  return { type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: ms, jitter: 0 } } as never;
}

function slow(mode: FailureMode): Scenario<Drill> {
  return {
    name: `agent-slow-${mode}`,
    area: 'agent',
    fault: `the agent (echo, gRPC) answers through a Toxiproxy proxy with a latency toxic on its answers: ${fmtMs(BELOW_MS)}, then ${fmtMs(BEYOND_MS)}; timeout-ms ${AGENT_TIMEOUT_MS}, ${modeText(mode)}`,
    expectation:
      `at ${fmtMs(BELOW_MS)}: ${BELOW_N} requests all 200 ${INSPECTED}, none before 0.9 × ${fmtMs(BELOW_MS)} (the latency is added), each within timeout-ms ${fmtMs(AGENT_TIMEOUT_MS)}, ` +
      `sentinel_agent_calls_total{outcome="allow"} +${BELOW_N}, timeouts +0; ` +
      `at ${fmtMs(BEYOND_MS)}: ${timeoutBurstText(mode)}; breaker open (2); ` +
      recoveryText('toxic removed', BREAKER_RECOVERY_TEXT),
    ci: false,
    timeoutMs: 90_000,
    async run(d) {
      const agent = await d.agent({ kind: 'echo', transport: 'grpc' });
      if (agent.grpc === null) throw new Error('gRPC agent without an address');
      const proxy = await d.faultProxy(agent.grpc);
      const s = await startGuarded(d, { mode, endpoint: `grpc "${proxy.listen}"` });
      await expectBaseline(d, s);

      d.progress(`latency ${fmtMs(BELOW_MS)} on the agent's answers`);
      let toxic = await proxy.addToxic(latency(BELOW_MS));
      const m0 = await s.metrics();
      const below = await sendInTurn(s.port, '/slow', BELOW_N);
      const m1 = await s.metrics();
      expectAgentOutcomes(d, `below timeout-ms`, `all 200 ${INSPECTED}`, below, inspected);
      d.expectAtLeast('fastest answer (latency added)', minMs(below), BELOW_MS * 0.9);
      d.expectAtMost('slowest answer (no timeout)', maxMs(below), AGENT_TIMEOUT_MS);
      d.expectDelta(m0, m1, 'sentinel_agent_calls_total', { agent: AGENT_ID, event: 'request_headers', outcome: 'allow' }, BELOW_N);
      d.expectDelta(m0, m1, 'sentinel_agent_timeouts_total', { agent: AGENT_ID }, 0);

      d.progress(`latency ${fmtMs(BEYOND_MS)}, beyond timeout-ms`);
      await toxic.remove();
      toxic = await proxy.addToxic(latency(BEYOND_MS));
      await expectTimeoutBurst(d, s, mode, m1, 'beyond timeout-ms', '/slow');

      d.progress('removing the toxic');
      await toxic.remove();
      await expectAgentRecovery(d, s, BREAKER_RECOVERY_MS);
    },
  };
}

export const scenarios: Scenario<Drill>[] = FAILURE_MODES.map(slow);
