// Listeners and protocols: limits triggered, TLS handshakes, HTTP/2, WebSocket (issue 4).
import type { MetricSpec } from './spec.ts';

/**
 * Every value of the `limit` label of `sentinel_limits_triggered_total`, with what it counts. One
 * fixed table keeps the label bounded; each listener starts with a 0 series for every name.
 * Append a row here when a new limit is enforced (docs/metrics.md lists them).
 */
export const LIMITS = {
  max_connections: '`system max-connections`: a connection closed at accept (also in `sentinel_connections_rejected_total`).',
  listener_max_connections: 'Listener `max-connections`: a connection closed at accept.',
  header_bytes: 'A request head larger than the listener\'s `max-header-bytes` (431; on HTTP/2 the stream is reset).',
  header_count: 'More header fields than the listener\'s `max-header-count` (431).',
  client_timeout: 'The client did not send its head (`headers-timeout-secs`) or its whole request (`request-timeout-secs`) in time (408).',
  h2_concurrent_streams: 'HTTP/2: a stream refused because `max-concurrent-streams` were already open on the session.',
  h2_rapid_reset: 'HTTP/2: a session closed with GOAWAY for cancelling streams faster than `h2-max-resets-per-10s`.',
  websocket_idle: 'WebSocket: a tunnel closed after `idle-timeout-secs` with no traffic in either direction.',
  uri_bytes: 'A request-target longer than the listener\'s `max-uri-bytes` (414).',
  body_bytes: 'A request body over the route\'s `policies { max-body-size-bytes }`, declared (refused before forwarding) or counted while it streams (cut off) (413).',
  route_concurrency: 'A request over the route\'s `policies { max-concurrent-requests }` (503 at once).',
  upstream_response_header_bytes: 'A response head from a target larger than the upstream\'s `max-response-header-bytes` (502).',
} as const;

export type LimitName = keyof typeof LIMITS;

export const LIMIT_NAMES = Object.keys(LIMITS) as LimitName[];

export const SERVER_METRICS = {
  limitsTriggered: {
    name: 'sentinel_limits_triggered_total',
    type: 'counter',
    help: 'Times a configured limit refused or cut off a client, by listener id and limit name (see "Limit names" below).',
    labels: ['listener', 'limit'],
    unit: 'events',
  },
} as const satisfies Record<string, MetricSpec>;
