// Sentinel / Security: every security decision Sentinel makes, by who made it. Rate limiting
// (decisions, rejects, backends), agent blocks, limits triggered, requests refused by the parser
// (malformed and smuggling attempts), TLS handshakes and their failures.
import { labelValues, row, stat, stateTimeline, target, timeseries } from './grafana.ts';
import type { DashboardSpec, ValueText } from './grafana.ts';

const L = 'listener=~"$listener"';
const F = 'filter=~"$filter"';
const RATE = '[$__rate_interval]';

/** `sentinel_ratelimit_fallback_active` (clamped to 1: multi-worker primaries sum it). */
const BACKEND: readonly ValueText[] = [
  { value: 0, text: 'redis', color: 'green' },
  { value: 1, text: 'fallback', color: 'red' },
];

export const SECURITY: DashboardSpec = {
  uid: 'sentinel-security',
  title: 'Sentinel / Security',
  description: 'Security decisions: rate-limit rejects and decisions, agent blocks, limits triggered, requests refused by the parser (malformed, smuggling), TLS handshake failures. Each decision is also a record in the audit log (component, action, reason, rule ids). Metrics: docs/metrics.md.',
  tags: ['sentinel', 'security'],
  variables: [
    labelValues('listener', 'Listener', 'sentinel_limits_triggered_total'),
    labelValues('filter', 'Rate-limit filter', 'sentinel_ratelimit_decisions_total'),
  ],
  rows: [
    row('Decisions', [
      stat({
        title: 'Rate-limit rejects',
        description: 'Requests rejected by rate-limit filters per second (429, or 503 with on-redis-failure "closed").',
        unit: 'reqps', width: 4,
        targets: [target(`sum(rate(sentinel_ratelimit_decisions_total{${F},outcome="rejected"}${RATE})) or vector(0)`, 'rejects')],
      }),
      stat({
        title: 'Agent blocks',
        description: 'Requests blocked by agents per second (redirects and challenges not included).',
        unit: 'reqps', width: 4,
        targets: [target(`sum(rate(sentinel_agent_calls_total{outcome="block"}${RATE})) or vector(0)`, 'blocks')],
      }),
      stat({
        title: 'Limits triggered',
        description: 'Configured limits that refused or cut off a client, per second (every limit, every listener selected).',
        unit: 'ops', width: 4,
        targets: [target(`sum(rate(sentinel_limits_triggered_total{${L}}${RATE}))`, 'limits')],
      }),
      stat({
        title: 'Parser refusals',
        description: 'Requests refused as malformed or unsafe per second: smuggling attempts (conflicting Content-Length and Transfer-Encoding, bad chunk sizes, obs-fold, bare CR/LF), malformed heads, oversized header blocks.',
        unit: 'reqps', width: 4,
        targets: [target(`sum(rate(sentinel_audit_events_total{component="parser"}${RATE})) or vector(0)`, 'parser')],
      }),
      stat({
        title: 'TLS handshake failures',
        description: 'TLS handshakes that failed per second, every reason (a plain-HTTP client on a TLS port included).',
        unit: 'ops', width: 4,
        targets: [target(`sum(rate(sentinel_tls_handshake_errors_total{${L}}${RATE})) or vector(0)`, 'failures')],
      }),
      stat({
        title: 'Audited decisions',
        description: 'Every security decision recorded in the audit log, per second (counted even with the audit log disabled).',
        unit: 'ops', width: 4,
        targets: [target(`sum(rate(sentinel_audit_events_total${RATE})) or vector(0)`, 'decisions')],
      }),
      timeseries({
        title: 'Decisions by component and action',
        description: 'Audit records per second by deciding component (rate-limit, agent, limits, parser, tls, static, deployments) and action (reject, block, redirect, challenge, fail-closed, log-only, close). The reason and rule ids of each are in the audit log.',
        unit: 'ops', width: 24,
        targets: [target(`sum by (component, action) (rate(sentinel_audit_events_total${RATE}))`, '{{component}} {{action}}')],
      }),
    ]),
    row('Rate limiting', [
      timeseries({
        title: 'Decisions by filter and outcome',
        description: 'Rate-limit decisions per second: allowed, delayed (admitted after waiting), rejected, log-only (over the limit, let through), skipped (no key).',
        unit: 'ops', width: 12,
        targets: [target(`sum by (filter, outcome) (rate(sentinel_ratelimit_decisions_total{${F}}${RATE}))`, '{{filter}} {{outcome}}')],
      }),
      timeseries({
        title: 'Rejected share by filter',
        description: 'Share of each filter\'s decisions that rejected the request. A sudden rise: an abusive client, or a limit set too low for real traffic.',
        unit: 'percentunit', width: 12,
        targets: [target(`(sum by (filter) (rate(sentinel_ratelimit_decisions_total{${F},outcome="rejected"}${RATE})) or 0 * sum by (filter) (rate(sentinel_ratelimit_decisions_total{${F}}${RATE}))) / sum by (filter) (rate(sentinel_ratelimit_decisions_total{${F}}${RATE}))`, '{{filter}}')],
      }),
      timeseries({
        title: 'Decisions by source',
        description: 'Who decided: local (in-memory bucket), redis, or a Redis filter\'s fallback (fallback-local: per instance; fallback-open: admitted; fallback-closed: refused). "none" = skipped.',
        unit: 'ops', width: 12,
        targets: [target(`sum by (filter, source) (rate(sentinel_ratelimit_decisions_total{${F}}${RATE}))`, '{{filter}} {{source}}')],
      }),
      timeseries({
        title: 'Requests waiting in delay queues',
        description: 'Requests held by filters with on-limit "delay" right now (bounded by max-delayed-requests per process).',
        unit: 'short', width: 12,
        targets: [target(`sum by (filter) (sentinel_ratelimit_delayed_requests{${F}})`, '{{filter}}')],
      }),
    ]),
    row('Rate-limit backends', [
      stateTimeline({
        title: 'Redis filters: deciding without Redis',
        description: '"fallback" while a Redis-backed filter decides without Redis (its on-redis-failure mode) on some instance; it returns on the first successful probe. Alert SentinelRateLimitRedisFallback after 5 minutes.',
        unit: 'short', width: 8, values: BACKEND,
        targets: [target(`clamp_max(max by (filter) (sentinel_ratelimit_fallback_active{${F}}), 1)`, '{{filter}}')],
      }),
      timeseries({
        title: 'Redis call latency p50 / p99',
        description: 'Successful Redis rate-limit decisions (one EVALSHA, or EVALSHA then EVAL after NOSCRIPT), by filter. Calls are bounded by redis-timeout-ms.',
        unit: 's', width: 8,
        targets: [
          target(`histogram_quantile(0.5, sum by (filter, le) (rate(sentinel_ratelimit_redis_duration_seconds_bucket{${F}}${RATE})))`, 'p50 {{filter}}'),
          target(`histogram_quantile(0.99, sum by (filter, le) (rate(sentinel_ratelimit_redis_duration_seconds_bucket{${F}}${RATE})))`, 'p99 {{filter}}'),
        ],
      }),
      timeseries({
        title: 'Redis errors',
        description: 'Failed Redis calls per second, by filter and kind (error: refused, reset, not connected; timeout: no answer within redis-timeout-ms). Each switches the filter to its fallback until a probe succeeds.',
        unit: 'ops', width: 8,
        targets: [target(`sum by (filter, kind) (rate(sentinel_ratelimit_redis_errors_total{${F}}${RATE}))`, '{{filter}} {{kind}}')],
      }),
      timeseries({
        title: 'Keys in local stores',
        description: 'Keys held by in-memory token buckets (local filters, and Redis filters\' fallback stores), summed over instances. Bounded by max-keys per store.',
        unit: 'short', width: 12,
        targets: [target(`sum by (filter) (sentinel_ratelimit_local_keys{${F}})`, '{{filter}}')],
      }),
      timeseries({
        title: 'Keys evicted (max-keys reached)',
        description: 'Least recently used keys dropped from a full local store, per second. An evicted key comes back with a full bucket, so a steady rate means max-keys is too small for the keys in use (or a client is spraying keys).',
        unit: 'ops', width: 12,
        targets: [target(`sum by (filter) (rate(sentinel_ratelimit_local_evictions_total{${F}}${RATE}))`, '{{filter}}')],
      }),
    ]),
    row('Agents', [
      timeseries({
        title: 'Agent blocks by agent',
        description: 'Requests blocked per second by each agent (request or response phase).',
        unit: 'reqps', width: 12,
        targets: [target(`sum by (agent) (rate(sentinel_agent_calls_total{outcome="block"}${RATE}))`, '{{agent}}')],
      }),
      timeseries({
        title: 'Agent decisions in the audit log',
        description: 'Agent records in the audit log per second, by action: block, redirect, challenge, and fail-closed (an agent with failure-mode closed failed, so the request was refused). Bypasses (fail-open) are counted on Sentinel / Agents, not audited.',
        unit: 'ops', width: 12,
        targets: [target(`sum by (action) (rate(sentinel_audit_events_total{component="agent"}${RATE}))`, '{{action}}')],
      }),
    ]),
    row('Limits', [
      timeseries({
        title: 'Limits triggered by limit',
        description: 'Configured limits that refused or cut off a client, per second, by limit name (docs/metrics.md "Limit names": header_bytes, header_count, uri_bytes, body_bytes, client_timeout, route_concurrency, h2_rapid_reset, connection caps, …).',
        unit: 'ops', width: 12,
        targets: [target(`sum by (limit) (rate(sentinel_limits_triggered_total{${L}}${RATE}))`, '{{limit}}')],
      }),
      timeseries({
        title: 'Limits triggered by listener',
        description: 'The same, by listener.',
        unit: 'ops', width: 12,
        targets: [target(`sum by (listener) (rate(sentinel_limits_triggered_total{${L}}${RATE}))`, '{{listener}}')],
      }),
    ]),
    row('Malformed requests and smuggling', [
      timeseries({
        title: 'Requests refused by the parser',
        description: 'Requests refused as malformed or unsafe, per second: request smuggling attempts (conflicting Content-Length / Transfer-Encoding, invalid chunk sizes, obs-fold, bare CR or LF), malformed request heads and targets, oversized header blocks. The counter does not split the reason: the audit log has it ("smuggling rejected", "malformed request", "header block too large", …).',
        unit: 'reqps', width: 12,
        targets: [target(`sum by (action) (rate(sentinel_audit_events_total{component="parser"}${RATE}))`, 'parser {{action}}')],
      }),
      timeseries({
        title: 'Parser refusals per 1000 requests',
        description: 'Parser refusals relative to requests answered: a background of scanners is normal, a jump is a targeted attempt or a broken client.',
        unit: 'short', width: 12,
        targets: [target(`1000 * (sum(rate(sentinel_audit_events_total{component="parser"}${RATE})) or vector(0)) / sum(rate(sentinel_requests_total${RATE}))`, 'per 1000 requests')],
      }),
    ]),
    row('TLS', [
      timeseries({
        title: 'TLS handshake failures by reason',
        description: 'Failed handshakes per second by listener and reason: timeout (handshake-timeout-secs), not_tls (plain HTTP on a TLS port), protocol_version, no_shared_cipher, client_certificate (mTLS refused), reset, other.',
        unit: 'ops', width: 8,
        targets: [target(`sum by (listener, reason) (rate(sentinel_tls_handshake_errors_total{${L}}${RATE}))`, '{{listener}} {{reason}}')],
      }),
      timeseries({
        title: 'TLS handshakes by version',
        description: 'Completed handshakes per second by listener and TLS version.',
        unit: 'ops', width: 8,
        targets: [target(`sum by (listener, version) (rate(sentinel_tls_handshakes_total{${L}}${RATE}))`, '{{listener}} {{version}}')],
      }),
      timeseries({
        title: 'Client certificates',
        description: 'Completed handshakes by client certificate: verified, unverified (client-auth "optional": served as anonymous, audited), none.',
        unit: 'ops', width: 8,
        targets: [target(`sum by (listener, client_cert) (rate(sentinel_tls_handshakes_total{${L}}${RATE}))`, '{{listener}} {{client_cert}}')],
      }),
    ]),
  ],
};
