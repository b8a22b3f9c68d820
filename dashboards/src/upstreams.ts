// Sentinel / Upstreams: per-target availability, health checks, breakers, ejections, retries and
// the retry budget, in-flight requests and pool queues, discovery. Metrics: catalogue/upstream.ts.
import { BREAKER_STATES, UP_DOWN, labelValues, row, stateTimeline, table, target, timeseries } from './grafana.ts';
import type { DashboardSpec } from './grafana.ts';

const U = 'upstream=~"$upstream"';

/**
 * Usable targets per Sentinel instance and upstream: available to selection (healthy, not ejected,
 * breaker admitting) with the breaker closed. A breaker that has waited out `timeout-seconds` reads
 * half-open (and so available) at the next scrape even when its target is still dead, so half-open
 * does not count as usable here; the same expression is `instance_upstream:sentinel_upstream_usable_targets:count`
 * in the rules. Upstreams with no usable target are kept with 0.
 */
export function usableTargets(selector: string): string {
  const m = selector === '' ? '' : `{${selector}}`;
  return `sum by (job, instance, upstream) ((sentinel_upstream_target_available${m} == 1) unless on (job, instance, upstream, target) (sentinel_upstream_breaker_state${m} > 0))`
    + ` or 0 * count by (job, instance, upstream) (sentinel_upstream_target_available${m})`;
}

export const UPSTREAMS: DashboardSpec = {
  uid: 'sentinel-upstreams',
  title: 'Sentinel / Upstreams',
  description: 'Upstream targets: availability, active health checks, circuit breakers, outlier ejections, retries and the retry budget, in-flight requests and pool queues, discovery. Metrics: docs/metrics.md; behaviour: docs/upstreams.md.',
  tags: ['sentinel', 'upstreams'],
  variables: [labelValues('upstream', 'Upstream', 'sentinel_upstream_target_available')],
  rows: [
    row('Availability', [
      timeseries({
        title: 'Usable targets by upstream (worst instance)',
        description: 'Targets selection may pick with their breaker closed, on the Sentinel instance that has the fewest. 0 on an upstream a route uses = every request to it gets 503 UPSTREAM_NO_HEALTHY (alert SentinelUpstreamAllDown). A half-open breaker does not count: it reads half-open at the first scrape after timeout-seconds even when the target is still dead.',
        unit: 'short', width: 12,
        thresholds: ['red', ['green', 1]],
        targets: [target(`min by (upstream) (${usableTargets(U)})`, '{{upstream}}')],
      }),
      stateTimeline({
        title: 'Target available to selection',
        description: 'Per target: healthy (active checks), not ejected (outlier detection) and the breaker admits requests. "no" on any Sentinel instance shows "no" (minimum over instances).',
        unit: 'short', width: 12, values: UP_DOWN,
        targets: [target(`min by (upstream, target) (sentinel_upstream_target_available{${U}})`, '{{upstream}} {{target}}')],
      }),
      stateTimeline({
        title: 'Active health verdict',
        description: 'The health-check verdict per target: "yes" healthy (or the upstream has no health-check), "no" unhealthy (unhealthy-threshold failures in a row) or not checked yet with initial-state "unknown".',
        unit: 'short', width: 12, values: UP_DOWN,
        targets: [target(`min by (upstream, target) (sentinel_upstream_target_healthy{${U}})`, '{{upstream}} {{target}}')],
      }),
      timeseries({
        title: 'Failed health checks',
        description: 'Active checks per second that failed (refused, timed out after timeout-secs, or a status outside expected-status), by target. Only upstreams with a health-check block.',
        unit: 'ops', width: 12,
        targets: [target(`sum by (upstream, target) (rate(sentinel_upstream_health_checks_total{${U},result="fail"}[$__rate_interval]))`, '{{upstream}} {{target}}')],
      }),
    ]),
    row('Circuit breakers and outlier ejection', [
      stateTimeline({
        title: 'Breaker state',
        description: 'Circuit breaker per target (worst instance): closed; open (failure-threshold consecutive connect failures, resets or timeouts: the target gets no traffic for timeout-seconds); half-open (probes let through). Only upstreams with a circuit-breaker block.',
        unit: 'short', width: 12, values: BREAKER_STATES,
        targets: [target(`max by (upstream, target) (sentinel_upstream_breaker_state{${U}})`, '{{upstream}} {{target}}')],
      }),
      timeseries({
        title: 'Breaker transitions',
        description: 'Breaker state changes per second, by target and the state entered. A target cycling open → half-open → open is still failing its probes.',
        unit: 'ops', width: 12,
        targets: [target(`sum by (upstream, target, state) (rate(sentinel_upstream_breaker_transitions_total{${U}}[$__rate_interval]))`, '{{upstream}} {{target}} → {{state}}')],
      }),
      timeseries({
        title: 'Outlier ejections',
        description: 'Passive outlier detection per target: "enforced" ejections (consecutive 5xx or local failures), and "refused" ones that max-ejection-percent held back (the target stayed in selection because too many others were already out).',
        unit: 'ops', width: 12,
        targets: [target(`sum by (upstream, target, result) (rate(sentinel_upstream_ejections_total{${U}}[$__rate_interval]))`, '{{upstream}} {{target}} {{result}}')],
      }),
      timeseries({
        title: 'Requests refused: no target could take them',
        description: 'Requests answered 503 at once without an attempt: no_healthy (UPSTREAM_NO_HEALTHY: every target unhealthy, ejected or with an open breaker) or queue_full (UPSTREAM_QUEUE_FULL: every healthy target has max-connections + max-pending-requests in flight).',
        unit: 'reqps', width: 12,
        targets: [target(`sum by (upstream, reason) (rate(sentinel_upstream_unavailable_total{${U}}[$__rate_interval]))`, '{{upstream}} {{reason}}')],
      }),
    ]),
    row('Retries', [
      timeseries({
        title: 'Retries by reason',
        description: 'Retries started per second, by the failure retried: an error code (UPSTREAM_CONNECT_FAILED, UPSTREAM_RESET, UPSTREAM_ATTEMPT_TIMEOUT, …) or status_NNN for a status in retryable-status-codes.',
        unit: 'ops', width: 8,
        targets: [target(`sum by (upstream, reason) (rate(sentinel_upstream_retries_total{${U}}[$__rate_interval]))`, '{{upstream}} {{reason}}')],
      }),
      timeseries({
        title: 'Retry share of attempts',
        description: 'Retries / all attempts sent to the upstream. The retry budget (budget-ratio, default 0.2 retries per request) caps it near ratio / (1 + ratio) under sustained failure.',
        unit: 'percentunit', width: 8,
        targets: [target(`(sum by (upstream) (rate(sentinel_upstream_retries_total{${U}}[$__rate_interval])) or 0 * sum by (upstream) (rate(sentinel_upstream_requests_total{${U}}[$__rate_interval]))) / sum by (upstream) (rate(sentinel_upstream_requests_total{${U}}[$__rate_interval]))`, '{{upstream}}')],
      }),
      timeseries({
        title: 'Retries refused by the retry budget',
        description: 'Retries the policy allowed but the upstream retry budget refused: the failure went to the client instead. Sustained = the upstream fails more often than the budget covers (alert SentinelUpstreamRetryBudgetExhausted).',
        unit: 'ops', width: 8,
        targets: [target(`sum by (upstream) (rate(sentinel_upstream_retry_budget_exhausted_total{${U}}[$__rate_interval]))`, '{{upstream}}')],
      }),
    ]),
    row('Load and queues', [
      timeseries({
        title: 'Attempts by target and outcome',
        description: 'Requests sent to each target per second (retries included), by outcome: success (any response head) or the error code of the failed attempt.',
        unit: 'reqps', width: 12,
        targets: [target(`sum by (upstream, target, outcome) (rate(sentinel_upstream_requests_total{${U}}[$__rate_interval]))`, '{{upstream}} {{target}} {{outcome}}')],
      }),
      timeseries({
        title: 'Failed attempts share by target',
        description: 'Share of the attempts to each target that failed (connect failure, timeout, reset, …; 5xx responses are successes here).',
        unit: 'percentunit', width: 12,
        targets: [target(`(sum by (upstream, target) (rate(sentinel_upstream_requests_total{${U},outcome!="success"}[$__rate_interval])) or 0 * sum by (upstream, target) (rate(sentinel_upstream_requests_total{${U}}[$__rate_interval]))) / sum by (upstream, target) (rate(sentinel_upstream_requests_total{${U}}[$__rate_interval]))`, '{{upstream}} {{target}}')],
      }),
      timeseries({
        title: 'In flight by target',
        description: 'Requests sent to each target, or waiting for one of its connections, right now (summed over instances).',
        unit: 'short', width: 12,
        targets: [target(`sum by (upstream, target) (sentinel_upstream_inflight_requests{${U}})`, '{{upstream}} {{target}}')],
      }),
      timeseries({
        title: 'Waiting for a connection',
        description: 'Requests queued for a free connection to each target (in flight beyond connection-pool max-connections). At max-pending-requests the target is full and new requests go elsewhere or get 503 UPSTREAM_QUEUE_FULL.',
        unit: 'short', width: 12,
        targets: [target(`sum by (upstream, target) (sentinel_upstream_queue_depth{${U}})`, '{{upstream}} {{target}}')],
      }),
    ]),
    row('Discovery and config', [
      timeseries({
        title: 'Discovered targets',
        description: 'Targets the discovery source (dns, file) of each upstream provides now. A drop to a handful is worth a look even when refreshes succeed.',
        unit: 'short', width: 8,
        targets: [target(`max by (upstream) (sentinel_upstream_discovered_targets{${U}})`, '{{upstream}}')],
      }),
      timeseries({
        title: 'Discovery refreshes by result',
        description: 'Refreshes per second: changed, unchanged, failed (DNS error, unreadable or invalid file: the last known good targets stay; alert SentinelUpstreamDiscoveryFailing).',
        unit: 'ops', width: 8,
        targets: [target(`sum by (upstream, result) (rate(sentinel_upstream_discovery_refreshes_total{${U}}[$__rate_interval]))`, '{{upstream}} {{result}}')],
      }),
      table({
        title: 'Routes per upstream',
        description: 'Routes of the running config that forward to each upstream; 0 = no route uses it (unused-upstream warning), so its availability alerts stay silent.',
        unit: 'short', width: 8,
        targets: [target(`max by (upstream) (sentinel_upstream_routes{${U}})`, '{{upstream}}')],
      }),
    ]),
  ],
};
