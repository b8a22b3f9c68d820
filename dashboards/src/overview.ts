// Sentinel / Overview: traffic, errors, latency, saturation, protocols, dependencies, build.
import { row, stat, table, target, timeseries } from './grafana.ts';
import type { DashboardSpec } from './grafana.ts';
import { usableTargets } from './upstreams.ts';

export const OVERVIEW: DashboardSpec = {
  uid: 'sentinel-overview',
  title: 'Sentinel / Overview',
  description: 'Traffic, errors, latency and saturation of Sentinel. Metrics: docs/metrics.md.',
  tags: ['sentinel'],
  rows: [
    row('Traffic', [
      timeseries({
        title: 'Requests per second by route',
        description: 'Requests answered per second, by route id ("-" = matched no route).',
        unit: 'reqps', width: 12,
        targets: [
          target('sum by (route) (rate(sentinel_requests_total{route=~"$route"}[$__rate_interval]))', '{{route}}'),
        ],
      }),
      timeseries({
        title: 'Requests per second by status class',
        description: 'Responses per second grouped into 1xx/2xx/3xx/4xx/5xx.',
        unit: 'reqps', width: 12,
        targets: [
          target('sum by (status_class) (label_replace(rate(sentinel_requests_total{route=~"$route"}[$__rate_interval]), "status_class", "${1}xx", "status", "([0-9]).."))', '{{status_class}}'),
        ],
      }),
    ]),
    row('Errors', [
      stat({
        title: '5xx ratio',
        description: 'Share of responses with a 5xx status.',
        unit: 'percentunit', width: 6,
        thresholds: ['green', ['orange', 0.001], ['red', 0.01]],
        targets: [
          target('(sum(rate(sentinel_requests_total{route=~"$route",status=~"5.."}[$__rate_interval])) or vector(0)) / sum(rate(sentinel_requests_total{route=~"$route"}[$__rate_interval]))', '5xx'),
        ],
      }),
      stat({
        title: '4xx ratio',
        description: 'Share of responses with a 4xx status.',
        unit: 'percentunit', width: 6,
        targets: [
          target('(sum(rate(sentinel_requests_total{route=~"$route",status=~"4.."}[$__rate_interval])) or vector(0)) / sum(rate(sentinel_requests_total{route=~"$route"}[$__rate_interval]))', '4xx'),
        ],
      }),
      timeseries({
        title: 'Error responses by status',
        description: '4xx and 5xx responses per second, by status code.',
        unit: 'reqps', width: 12,
        targets: [
          target('sum by (status) (rate(sentinel_requests_total{route=~"$route",status=~"[45].."}[$__rate_interval]))', '{{status}}'),
        ],
      }),
      timeseries({
        title: 'Local errors by code',
        description: 'Requests that ended in a Sentinel error response or an aborted response, by stable error code (see docs/errors.md).',
        unit: 'reqps', width: 12,
        targets: [
          target('sum by (code) (rate(sentinel_errors_total[$__rate_interval]))', '{{code}}'),
        ],
      }),
      timeseries({
        title: 'Upstream requests by outcome',
        description: 'Requests sent to upstream targets, by upstream id and outcome (success or the error code).',
        unit: 'reqps', width: 12,
        targets: [
          target('sum by (upstream, outcome) (rate(sentinel_upstream_requests_total[$__rate_interval]))', '{{upstream}} {{outcome}}'),
        ],
      }),
    ]),
    row('Latency', [
      timeseries({
        title: 'Request latency p50 / p90 / p99',
        description: 'Quantiles estimated from the request duration histogram (head received to last byte written).',
        unit: 's', width: 12,
        targets: [
          target('histogram_quantile(0.5, sum by (le) (rate(sentinel_request_duration_seconds_bucket{route=~"$route"}[$__rate_interval])))', 'p50'),
          target('histogram_quantile(0.9, sum by (le) (rate(sentinel_request_duration_seconds_bucket{route=~"$route"}[$__rate_interval])))', 'p90'),
          target('histogram_quantile(0.99, sum by (le) (rate(sentinel_request_duration_seconds_bucket{route=~"$route"}[$__rate_interval])))', 'p99'),
        ],
      }),
      timeseries({
        title: 'Request latency p99 by route',
        description: 'p99 request duration per route.',
        unit: 's', width: 12,
        targets: [
          target('histogram_quantile(0.99, sum by (route, le) (rate(sentinel_request_duration_seconds_bucket{route=~"$route"}[$__rate_interval])))', '{{route}}'),
        ],
      }),
    ]),
    row('Saturation', [
      timeseries({
        title: 'Active requests',
        description: 'Requests being handled right now.',
        unit: 'short', width: 8,
        targets: [
          target('sum(sentinel_active_requests)', 'active'),
        ],
      }),
      timeseries({
        title: 'Active connections by listener',
        description: 'Open client connections per listener.',
        unit: 'short', width: 8,
        targets: [
          target('sum by (listener) (sentinel_active_connections)', '{{listener}}'),
        ],
      }),
      timeseries({
        title: 'Rejected connections',
        description: 'Connections closed at accept because system max-connections was reached. Anything above zero means Sentinel is saturated.',
        unit: 'cps', width: 8,
        targets: [
          target('sum by (listener) (rate(sentinel_connections_rejected_total[$__rate_interval]))', '{{listener}}'),
        ],
      }),
      timeseries({
        title: 'Process memory',
        description: 'Resident set size and V8 heap in use.',
        unit: 'bytes', width: 8,
        targets: [
          target('sum by (instance) (sentinel_process_resident_memory_bytes)', 'RSS {{instance}}'),
          target('sum by (instance) (sentinel_nodejs_heap_size_used_bytes)', 'heap used {{instance}}'),
        ],
      }),
      timeseries({
        title: 'Process CPU',
        description: 'CPU time used per second (1 = one full core).',
        unit: 'percentunit', width: 8,
        targets: [
          target('sum by (instance) (rate(sentinel_process_cpu_seconds_total[$__rate_interval]))', '{{instance}}'),
        ],
      }),
      timeseries({
        title: 'Event-loop lag',
        description: 'Event-loop delay percentiles measured by Node; sustained lag delays every request.',
        unit: 's', width: 8,
        thresholds: ['green', ['red', 0.1]],
        targets: [
          target('max by (instance) (sentinel_nodejs_eventloop_lag_p99_seconds)', 'p99 {{instance}}'),
          target('max by (instance) (sentinel_nodejs_eventloop_lag_p50_seconds)', 'p50 {{instance}}'),
        ],
      }),
    ]),
    row('Protocols and WebSocket', [
      timeseries({
        title: 'New connections by protocol',
        description: 'Client connections accepted per second: http1, h2 (HTTP/2 over TLS, by ALPN), h2c, or tls_failed (the TLS handshake did not complete).',
        unit: 'cps', width: 8,
        targets: [
          target('sum by (protocol) (rate(sentinel_connections_total[$__rate_interval]))', '{{protocol}}'),
        ],
      }),
      timeseries({
        title: 'HTTP/2 client resets',
        description: 'HTTP/2 streams the client cancelled (RST_STREAM) before the response was complete, per second. A burst on one listener can be a rapid-reset attack: past max-stream-resets-per-10s the session is closed (limit h2_rapid_reset).',
        unit: 'ops', width: 8,
        targets: [
          target('sum by (listener) (rate(sentinel_http2_client_resets_total[$__rate_interval]))', '{{listener}}'),
        ],
      }),
      timeseries({
        title: 'WebSocket tunnels open',
        description: 'WebSocket tunnels open right now, by route. Each holds a client connection and an upstream connection until either side closes or it idles past websocket-idle-timeout-secs.',
        unit: 'short', width: 8,
        targets: [
          target('sum by (route) (sentinel_websocket_tunnels{route=~"$route"})', '{{route}}'),
        ],
      }),
      timeseries({
        title: 'WebSocket upgrades by result',
        description: 'Upgrade requests forwarded per second: upgraded (the upstream answered 101), refused (it answered anything else, relayed as a response), failed (no answer).',
        unit: 'ops', width: 12,
        targets: [
          target('sum by (route, result) (rate(sentinel_websocket_upgrades_total{route=~"$route"}[$__rate_interval]))', '{{route}} {{result}}'),
        ],
      }),
      timeseries({
        title: 'WebSocket bytes relayed',
        description: 'Bytes per second through WebSocket tunnels (frames are not parsed), by direction: upstream = client to upstream, downstream = upstream to client.',
        unit: 'Bps', width: 12,
        targets: [
          target('sum by (direction) (rate(sentinel_websocket_bytes_total{route=~"$route"}[$__rate_interval]))', '{{direction}}'),
        ],
      }),
    ]),
    row('Dependencies (details: Sentinel / Upstreams, Agents, Security)', [
      stat({
        title: 'Upstreams without a usable target',
        description: 'Upstreams that a route uses and that have no target with a closed breaker available to selection, on some instance: their requests get 503 UPSTREAM_NO_HEALTHY (alert SentinelUpstreamAllDown).',
        unit: 'short', width: 8,
        thresholds: ['green', ['red', 1]],
        targets: [
          target(`count((min by (job, instance, upstream) (${usableTargets('')}) == 0) and on (job, instance, upstream) (sentinel_upstream_routes > 0)) or vector(0)`, 'upstreams'),
        ],
      }),
      stat({
        title: 'Agents not healthy',
        description: 'Agents without a ready connection, with an open breaker, or reporting themselves unhealthy, on some instance (alert SentinelAgentUnavailable).',
        unit: 'short', width: 8,
        thresholds: ['green', ['red', 1]],
        targets: [
          target('count(min by (agent) (sentinel_agent_healthy) == 0) or vector(0)', 'agents'),
        ],
      }),
      stat({
        title: 'Rate limiters deciding without Redis',
        description: 'Redis-backed rate-limit filters on their on-redis-failure fallback on some instance (alert SentinelRateLimitRedisFallback).',
        unit: 'short', width: 8,
        thresholds: ['green', ['orange', 1]],
        targets: [
          target('count(max by (filter) (sentinel_ratelimit_fallback_active) > 0) or vector(0)', 'filters'),
        ],
      }),
    ]),
    row('Build', [
      table({
        title: 'Running versions',
        description: 'Instances per version and config hash: more than one row means a rollout or a config reload is in progress or stuck.',
        unit: 'short', width: 24, height: 5,
        targets: [
          target('count by (version, config_hash) (sentinel_build_info)', '{{version}} {{config_hash}}'),
        ],
      }),
    ]),
  ],
};
