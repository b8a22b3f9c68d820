// Sentinel / Agents: calls by outcome, latency, timeouts, bypasses, blocks, breaker, health and
// pool connections of external agents. Metrics: catalogue/agents.ts; behaviour: docs/agents.md.
import { BREAKER_STATES, UP_DOWN, labelValues, row, stateTimeline, target, timeseries } from './grafana.ts';
import type { DashboardSpec } from './grafana.ts';

const A = 'agent=~"$agent"';
/** Calls that wait for an answer: request_complete is a notification, counted "allow" with 0 s. */
const CALLS = `${A},event!="request_complete"`;

/** Share of answered-or-failed calls that got no verdict (the SentinelAgentFailing ratio), by agent. */
export function noVerdictShare(selector: string, window: string): string {
  const calls = `sentinel_agent_calls_total{${selector},event!="request_complete"`;
  return `(sum by (agent) (rate(${calls},outcome=~"timeout|error|circuit_open|overloaded"}[${window}])) or 0 * sum by (agent) (rate(${calls}}[${window}])))`
    + ` / sum by (agent) (rate(${calls},outcome!="cancelled"}[${window}]))`;
}

function quantile(q: number): string {
  return `histogram_quantile(${q}, sum by (agent, le) (rate(sentinel_agent_duration_seconds_bucket{${CALLS}}[$__rate_interval])))`;
}

export const AGENTS: DashboardSpec = {
  uid: 'sentinel-agents',
  title: 'Sentinel / Agents',
  description: 'External agents: calls by outcome, latency, timeouts, bypasses, blocks, circuit breaker, health and pool connections. Metrics: docs/metrics.md; behaviour: docs/agents.md.',
  tags: ['sentinel', 'agents'],
  variables: [labelValues('agent', 'Agent', 'sentinel_agent_healthy')],
  rows: [
    row('Calls', [
      timeseries({
        title: 'Calls by outcome',
        description: 'Agent calls per second (request_complete notifications left out), by outcome: the verdict (allow, block, redirect, challenge) or the failure (timeout, error, circuit_open: refused by the open breaker without a call, overloaded: max-concurrent-calls and its queue full, cancelled: the client left).',
        unit: 'ops', width: 12,
        targets: [target(`sum by (agent, outcome) (rate(sentinel_agent_calls_total{${CALLS}}[$__rate_interval]))`, '{{agent}} {{outcome}}')],
      }),
      timeseries({
        title: 'Calls without a verdict',
        description: 'Share of calls that ended in timeout, error, circuit_open or overloaded (cancelled calls left out). Each such call failed the request (failure-mode closed: 503/504) or skipped the agent (open). Alert SentinelAgentFailing above 5%.',
        unit: 'percentunit', width: 12,
        thresholds: ['green', ['red', 0.05]],
        targets: [target(noVerdictShare(A, '$__rate_interval'), '{{agent}}')],
      }),
      timeseries({
        title: 'Blocks, redirects and challenges',
        description: 'Verdicts that stopped the request, per second, by agent (each one is in the audit log with the agent\'s rule ids).',
        unit: 'ops', width: 12,
        targets: [target(`sum by (agent, outcome) (rate(sentinel_agent_calls_total{${A},outcome=~"block|redirect|challenge"}[$__rate_interval]))`, '{{agent}} {{outcome}}')],
      }),
      timeseries({
        title: 'Calls by event',
        description: 'Calls per second by agent and event (request_headers, request_body, response_headers, response_body; request_complete notifications included here).',
        unit: 'ops', width: 12,
        targets: [target(`sum by (agent, event) (rate(sentinel_agent_calls_total{${A}}[$__rate_interval]))`, '{{agent}} {{event}}')],
      }),
    ]),
    row('Latency and timeouts', [
      timeseries({
        title: 'Call latency p50 / p90 / p99',
        description: 'From sending an event to the answer or the failure, per agent (request_complete notifications left out). Timeouts land at timeout-ms, calls refused by an open breaker near 0.',
        unit: 's', width: 12,
        targets: [target(quantile(0.5), 'p50 {{agent}}'), target(quantile(0.9), 'p90 {{agent}}'), target(quantile(0.99), 'p99 {{agent}}')],
      }),
      timeseries({
        title: 'Call latency p99 by event',
        description: 'p99 per agent and event: body events carry the body and take longer than header events.',
        unit: 's', width: 12,
        targets: [target(`histogram_quantile(0.99, sum by (agent, event, le) (rate(sentinel_agent_duration_seconds_bucket{${CALLS}}[$__rate_interval])))`, '{{agent}} {{event}}')],
      }),
      timeseries({
        title: 'Timeouts',
        description: 'Calls with no answer within timeout-ms (chunk-timeout-ms for streamed chunks), per second, by agent and event. A cancel is sent to the agent for each.',
        unit: 'ops', width: 12,
        targets: [target(`sum by (agent, event) (rate(sentinel_agent_timeouts_total{${A}}[$__rate_interval]))`, '{{agent}} {{event}}')],
      }),
      timeseries({
        title: 'Bypasses (failure-mode open)',
        description: 'Requests that went on without the agent\'s verdict because its failure mode is open, by reason (timeout, error, circuit_open, overloaded, body_too_large). Each is a request the agent did not inspect.',
        unit: 'reqps', width: 12,
        targets: [target(`sum by (agent, reason) (rate(sentinel_agent_bypasses_total{${A}}[$__rate_interval]))`, '{{agent}} {{reason}}')],
      }),
    ]),
    row('Breaker and health', [
      stateTimeline({
        title: 'Breaker state',
        description: 'Circuit breaker per agent (worst instance): open after failure-threshold consecutive failed calls, half-open after timeout-secs, closed after success-threshold good probes. Alert SentinelAgentUnavailable when it does not close for 5 minutes.',
        unit: 'short', width: 12, values: BREAKER_STATES,
        targets: [target(`max by (agent) (sentinel_agent_breaker_state{${A}})`, '{{agent}}')],
      }),
      stateTimeline({
        title: 'Healthy',
        description: '"yes" while the agent has a ready connection, a breaker that is not open, and does not report itself unhealthy or draining (minimum over instances).',
        unit: 'short', width: 12, values: UP_DOWN,
        targets: [target(`min by (agent) (sentinel_agent_healthy{${A}})`, '{{agent}}')],
      }),
    ]),
    row('Connections', [
      timeseries({
        title: 'Pool connections by state',
        description: 'Connections to each agent: ready (handshaken), connecting, down (waiting to reconnect with backoff). pool-size per agent and per worker.',
        unit: 'short', width: 8,
        targets: [target(`sum by (agent, state) (sentinel_agent_pool_connections{${A}})`, '{{agent}} {{state}}')],
      }),
      timeseries({
        title: 'Reconnects',
        description: 'Connections lost (agent restarted, health-check ping unanswered within timeout-ms) or failed to connect, per second, by agent.',
        unit: 'ops', width: 8,
        targets: [target(`sum by (agent) (rate(sentinel_agent_reconnects_total{${A}}[$__rate_interval]))`, '{{agent}}')],
      }),
      timeseries({
        title: 'Header operations refused',
        description: 'Header changes an agent asked for and Sentinel refused (protected fields such as Host or X-Forwarded-For not in allow-header-mutation, hop-by-hop fields, invalid names or values), by direction. The request goes on without them.',
        unit: 'ops', width: 8,
        targets: [target(`sum by (agent, direction) (rate(sentinel_agent_header_mutations_rejected_total{${A}}[$__rate_interval]))`, '{{agent}} {{direction}}')],
      }),
    ]),
  ],
};
