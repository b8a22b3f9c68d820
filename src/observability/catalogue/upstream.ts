// Upstream resilience: health, breakers, outlier ejection, retries, pools, discovery (issue 3).
// Labels are the upstream id from the config and the target as host:port: bounded by the config
// and by discovery's cap on targets per upstream. In multi-worker mode each worker keeps its own
// health state; the primary shows a target healthy/available only when every worker does (min),
// the worst breaker state (max), and sums the counts.
import type { MetricSpec } from './spec.ts';

export const UPSTREAM_METRICS = {
  upstreamTargetHealthy: {
    name: 'sentinel_upstream_target_healthy',
    type: 'gauge',
    help: 'Active health verdict per target: 1 healthy (or no active check), 0 unhealthy or not checked yet.',
    labels: ['upstream', 'target'],
    unit: 'boolean',
    aggregator: 'min',
  },
  upstreamTargetAvailable: {
    name: 'sentinel_upstream_target_available',
    type: 'gauge',
    help: 'Whether selection may pick the target now: healthy, not ejected and its circuit breaker admits requests (1) or not (0).',
    labels: ['upstream', 'target'],
    unit: 'boolean',
    aggregator: 'min',
  },
  upstreamBreakerState: {
    name: 'sentinel_upstream_breaker_state',
    type: 'gauge',
    help: 'Circuit breaker state per target: 0 closed, 1 half-open, 2 open. Only targets of upstreams with a circuit-breaker.',
    labels: ['upstream', 'target'],
    unit: 'state',
    aggregator: 'max',
  },
  upstreamBreakerTransitions: {
    name: 'sentinel_upstream_breaker_transitions_total',
    type: 'counter',
    help: 'Circuit breaker state changes per target, by the state entered (open, half-open, closed).',
    labels: ['upstream', 'target', 'state'],
    unit: 'transitions',
  },
  upstreamEjections: {
    name: 'sentinel_upstream_ejections_total',
    type: 'counter',
    help: 'Passive outlier detection per target: ejections enforced, and ejections refused because max-ejection-percent was reached.',
    labels: ['upstream', 'target', 'result'],
    unit: 'ejections',
  },
  upstreamHealthChecks: {
    name: 'sentinel_upstream_health_checks_total',
    type: 'counter',
    help: 'Active health checks per target, by result (ok, fail).',
    labels: ['upstream', 'target', 'result'],
    unit: 'checks',
  },
  upstreamInflight: {
    name: 'sentinel_upstream_inflight_requests',
    type: 'gauge',
    help: 'Requests in flight to a target (sent, or waiting for one of its connections).',
    labels: ['upstream', 'target'],
    unit: 'requests',
  },
  upstreamQueueDepth: {
    name: 'sentinel_upstream_queue_depth',
    type: 'gauge',
    help: 'Requests waiting for a free connection to a target: in flight beyond connection-pool max-connections.',
    labels: ['upstream', 'target'],
    unit: 'requests',
  },
  upstreamRetries: {
    name: 'sentinel_upstream_retries_total',
    type: 'counter',
    help: 'Retries made, by upstream and by the failure retried (an error code such as UPSTREAM_CONNECT_FAILED, or status_NNN).',
    labels: ['upstream', 'reason'],
    unit: 'retries',
  },
  upstreamRetryBudgetExhausted: {
    name: 'sentinel_upstream_retry_budget_exhausted_total',
    type: 'counter',
    help: 'Retries the policy allowed but the upstream retry budget refused (a retry storm held back).',
    labels: ['upstream'],
    unit: 'retries',
  },
  upstreamUnavailable: {
    name: 'sentinel_upstream_unavailable_total',
    type: 'counter',
    help: 'Requests answered 503 because no target could take them: reason no_healthy (UPSTREAM_NO_HEALTHY) or queue_full (UPSTREAM_QUEUE_FULL).',
    labels: ['upstream', 'reason'],
    unit: 'requests',
  },
  upstreamDiscoveryRefreshes: {
    name: 'sentinel_upstream_discovery_refreshes_total',
    type: 'counter',
    help: 'Discovery refreshes (dns, file) by result: changed, unchanged, or failed (the last known good targets stay).',
    labels: ['upstream', 'result'],
    unit: 'refreshes',
  },
  upstreamRoutes: {
    name: 'sentinel_upstream_routes',
    type: 'gauge',
    help: 'Routes of the running config that forward to the upstream; 0 for an upstream no route uses (an unused-upstream warning). Lets alerts ignore unused upstreams.',
    labels: ['upstream'],
    unit: 'routes',
    aggregator: 'max',
  },
  upstreamDiscoveredTargets: {
    name: 'sentinel_upstream_discovered_targets',
    type: 'gauge',
    help: 'Targets the discovery source of an upstream currently provides (dns, file).',
    labels: ['upstream'],
    unit: 'targets',
    aggregator: 'max',
  },
} as const satisfies Record<string, MetricSpec>;
