// The agent's circuit breaker: failure-threshold failed calls open it, then requests are answered
// without calling the agent; once the (restarted) agent answers a half-open probe, success-threshold
// successes close it, with no proxy restart. The transitions are in the process log.
import {
  AGENT_ID, AGENT_RECOVERY_MS, AGENT_RECOVERY_TEXT, BREAKER_OPEN_MS, FAILURE_THRESHOLD, POOL_SIZE, SUCCESS_THRESHOLD, answerText, endpointKdl,
  expectAgentOutcomes, expectAgentRecovery, expectBaseline, failureMetricsText, isAnswer, recoveryText, sendInTurn, startGuarded,
} from '../lib/agent-drill.ts';
import type { Drill } from '../lib/drill.ts';
import type { Scenario } from '../lib/scenario.ts';

const OPEN_N = 5;
const isTransition = (line: string, to: string): boolean => line.includes('"msg":"agent circuit breaker') && line.includes(`"to":"${to}"`);
const transitions = (stderr: string, to: string): number => stderr.split('\n').filter((l) => isTransition(l, to)).length;

export const scenario: Scenario<Drill> = {
  name: 'agent-breaker-recovers',
  area: 'agent',
  fault: `the agent (echo, gRPC) is killed; circuit-breaker { failure-threshold ${FAILURE_THRESHOLD}; success-threshold ${SUCCESS_THRESHOLD}; timeout-secs ${BREAKER_OPEN_MS / 1000}; half-open-max-requests 1 }, failure-mode "closed"; then restarted`,
  expectation:
    `${FAILURE_THRESHOLD} requests all ${answerText('closed', 'error')} (${failureMetricsText('closed', 'error', FAILURE_THRESHOLD)}); ` +
    `the breaker is then open: sentinel_agent_breaker_state 2, sentinel_agent_healthy 0, "agent circuit breaker opened" in the log; ` +
    `the next ${OPEN_N} all ${answerText('closed', 'circuit_open')} without a call (calls_total{outcome="circuit_open"} +${OPEN_N}, {outcome="error"} +0); ` +
    `${recoveryText('restarted', AGENT_RECOVERY_TEXT)}; sentinel_agent_pool_connections{state="ready"} ${POOL_SIZE}; the log shows the breaker half-open, then closed`,
  ci: true,
  timeoutMs: 90_000,
  async run(d) {
    const agent = await d.agent({ kind: 'echo', transport: 'grpc' });
    const s = await startGuarded(d, { mode: 'closed', endpoint: endpointKdl(agent) });
    await expectBaseline(d, s);

    d.progress('killing the agent');
    await agent.kill();
    const m0 = await s.metrics();
    const failing = await sendInTurn(s.port, '/breaker', FAILURE_THRESHOLD);
    const m1 = await s.metrics();
    expectAgentOutcomes(d, `first ${FAILURE_THRESHOLD}`, `all ${answerText('closed', 'error')}`, failing, isAnswer('closed', 'error'));
    d.expectDelta(m0, m1, 'sentinel_agent_calls_total', { agent: AGENT_ID, outcome: 'error' }, FAILURE_THRESHOLD);
    d.expectDelta(m0, m1, 'sentinel_errors_total', { code: 'AGENT_UNAVAILABLE' }, FAILURE_THRESHOLD);
    d.expectValue(m1, 'sentinel_agent_breaker_state', { agent: AGENT_ID }, 2, 'open');
    d.expectValue(m1, 'sentinel_agent_healthy', { agent: AGENT_ID }, 0);
    const opened = transitions(s.stderr(), 'open');
    d.check('log', '"agent circuit breaker opened"', `${opened} line(s)`, opened >= 1);

    const refused = await sendInTurn(s.port, '/breaker', OPEN_N);
    const m2 = await s.metrics();
    expectAgentOutcomes(d, `next ${OPEN_N}`, `all ${answerText('closed', 'circuit_open')}`, refused, isAnswer('closed', 'circuit_open'));
    d.expectDelta(m1, m2, 'sentinel_agent_calls_total', { agent: AGENT_ID, outcome: 'circuit_open' }, OPEN_N);
    d.expectDelta(m1, m2, 'sentinel_agent_calls_total', { agent: AGENT_ID, outcome: 'error' }, 0);

    d.progress('restarting the agent');
    await agent.restart();
    await expectAgentRecovery(d, s, AGENT_RECOVERY_MS);
    const m3 = await s.metrics();
    d.expectValue(m3, 'sentinel_agent_pool_connections', { agent: AGENT_ID, state: 'ready' }, POOL_SIZE);
    const lines = s.stderr().split('\n');
    const half = lines.findIndex((l) => isTransition(l, 'half-open'));
    const closed = lines.findIndex((l, i) => i > half && isTransition(l, 'closed'));
    d.check('log', 'breaker half-open, then closed', half < 0 ? 'never half-open' : closed < 0 ? 'half-open, never closed' : 'half-open, then closed', half >= 0 && closed > half);
  },
};
