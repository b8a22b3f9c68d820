// External agents: calls, latency, timeouts, bypasses, breakers, health, pool connections (issue 5).
// Label values are bounded: `agent` is an id from the config, `event` one of five lifecycle events,
// `outcome`, `reason`, `direction` and `state` small fixed sets (docs/agents.md).
import type { MetricSpec } from './spec.ts';

/** Agent round trips are sub-millisecond on loopback and bounded by timeout-ms: 100 µs to 5 s. */
export const AGENT_LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

export const AGENT_METRICS = {
  agentCalls: {
    name: 'sentinel_agent_calls_total',
    type: 'counter',
    help: 'Agent calls, by agent id, event and outcome (allow, block, redirect, challenge, timeout, error, circuit_open, overloaded, cancelled).',
    labels: ['agent', 'event', 'outcome'],
    unit: 'calls',
  },
  agentDuration: {
    name: 'sentinel_agent_duration_seconds',
    type: 'histogram',
    help: 'Time from sending an event to the agent\'s answer (or its failure), by agent id and event.',
    labels: ['agent', 'event'],
    unit: 'seconds',
    buckets: AGENT_LATENCY_BUCKETS,
  },
  agentTimeouts: {
    name: 'sentinel_agent_timeouts_total',
    type: 'counter',
    help: 'Agent calls that got no answer within their deadline (timeout-ms, or chunk-timeout-ms for streamed body chunks), by agent id and event.',
    labels: ['agent', 'event'],
    unit: 'calls',
  },
  agentBypasses: {
    name: 'sentinel_agent_bypasses_total',
    type: 'counter',
    help: 'Requests that continued without an agent\'s verdict because its failure mode is open, by agent id and reason (timeout, error, circuit_open, overloaded, body_too_large).',
    labels: ['agent', 'reason'],
    unit: 'requests',
  },
  agentBreakerState: {
    name: 'sentinel_agent_breaker_state',
    type: 'gauge',
    help: 'Circuit breaker of each agent: 0 closed, 1 half-open, 2 open. Multi-worker: the worst worker\'s state.',
    labels: ['agent'],
    unit: 'state',
    aggregator: 'max',
  },
  agentHealthy: {
    name: 'sentinel_agent_healthy',
    type: 'gauge',
    help: '1 when the agent has a ready connection, its breaker is not open and it does not report itself unhealthy or draining; else 0. Multi-worker: 1 only when every worker\'s view is healthy.',
    labels: ['agent'],
    unit: 'boolean',
    aggregator: 'min',
  },
  agentPoolConnections: {
    name: 'sentinel_agent_pool_connections',
    type: 'gauge',
    help: 'Connections to each agent, by state (ready: handshaken and usable; connecting; down: waiting to reconnect).',
    labels: ['agent', 'state'],
    unit: 'connections',
  },
  agentReconnects: {
    name: 'sentinel_agent_reconnects_total',
    type: 'counter',
    help: 'Connections to an agent that were lost or failed to connect and are retried with backoff, by agent id.',
    labels: ['agent'],
    unit: 'connections',
  },
  agentMutationsRejected: {
    name: 'sentinel_agent_header_mutations_rejected_total',
    type: 'counter',
    help: 'Header operations from agents that were refused (protected or invalid header), by agent id and direction (request, response).',
    labels: ['agent', 'direction'],
    unit: 'operations',
  },
} as const satisfies Record<string, MetricSpec>;
