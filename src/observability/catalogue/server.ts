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
  header_bytes: 'A request head larger than the listener\'s `max-header-bytes` (431). Also HTTP/1.1 heads with more than twice `max-header-count` fields, which the parser refuses with the same error.',
  header_count: 'More header fields than the listener\'s `max-header-count` (431).',
  client_timeout: 'The client did not send its head (`headers-timeout-secs`) or its whole request (`request-timeout-secs`) in time (408).',
  h2_concurrent_streams: 'HTTP/2: a session reached `max-concurrent-streams` open streams (further streams wait at the client, or are refused if it does not wait).',
  h2_rapid_reset: 'HTTP/2: a session closed with GOAWAY for cancelling streams faster than `h2-max-resets-per-10s`.',
  websocket_idle: 'WebSocket: a tunnel closed after `websocket-idle-timeout-secs` with no traffic in either direction.',
  uri_bytes: 'A request-target longer than the listener\'s `max-uri-bytes` (414).',
  body_bytes: 'A request body over the route\'s `policies { max-body-size-bytes }`, declared (refused before forwarding) or counted while it streams (cut off) (413).',
  route_concurrency: 'A request over the route\'s `policies { max-concurrent-requests }` (503 at once).',
  upstream_response_header_bytes: 'A response head from a target larger than the upstream\'s `max-response-header-bytes` (502).',
  connection_evicted: 'At a connection cap, a connection that was not serving anything (sending its head, in its TLS handshake, or idle between requests) closed to admit a new one.',
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
  connectionsTotal: {
    name: 'sentinel_connections_total',
    type: 'counter',
    help: 'Client connections accepted, by listener id and protocol (http1, h2 over TLS, h2c, or tls_failed when the TLS handshake did not complete).',
    labels: ['listener', 'protocol'],
    unit: 'connections',
  },
  tlsHandshakes: {
    name: 'sentinel_tls_handshakes_total',
    type: 'counter',
    help: 'Completed TLS handshakes, by listener id, TLS version and whether a verified client certificate was presented (client_cert: verified, unverified, none).',
    labels: ['listener', 'version', 'client_cert'],
    unit: 'handshakes',
  },
  tlsHandshakeErrors: {
    name: 'sentinel_tls_handshake_errors_total',
    type: 'counter',
    help: 'TLS handshakes that failed, by listener id and reason (timeout, not_tls, protocol_version, no_shared_cipher, client_certificate, reset, other).',
    labels: ['listener', 'reason'],
    unit: 'handshakes',
  },
  http2StreamResets: {
    name: 'sentinel_http2_client_resets_total',
    type: 'counter',
    help: 'HTTP/2 streams the client cancelled (RST_STREAM) before the response was complete, by listener id.',
    labels: ['listener'],
    unit: 'streams',
  },
  websocketConnections: {
    name: 'sentinel_websocket_upgrades_total',
    type: 'counter',
    help: 'WebSocket upgrade requests forwarded, by route id and result (upgraded: the upstream answered 101; refused: it answered anything else; failed: no answer).',
    labels: ['route', 'result'],
    unit: 'upgrades',
  },
  websocketActive: {
    name: 'sentinel_websocket_tunnels',
    type: 'gauge',
    help: 'WebSocket tunnels open right now, by route id.',
    labels: ['route'],
    unit: 'tunnels',
  },
  websocketBytes: {
    name: 'sentinel_websocket_bytes_total',
    type: 'counter',
    help: 'Bytes relayed through WebSocket tunnels (frames are not parsed), by route id and direction (upstream: client to upstream, downstream: upstream to client).',
    labels: ['route', 'direction'],
    unit: 'bytes',
  },
} as const satisfies Record<string, MetricSpec>;
