// The metric catalogue: every metric Sentinel exposes is declared here and nowhere else.
// docs/metrics.md is rendered from this file (scripts/render-metrics-doc.ts) and a test checks
// that the running proxy's /metrics exposes exactly these names.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly unit: string;
  readonly buckets?: readonly number[];
  /** `primary`: exposed only by the primary process in multi-worker mode (src/server/cluster.ts). */
  readonly scope?: 'primary';
  /** How the primary combines the workers' series in multi-worker mode (prom-client aggregators). */
  readonly aggregator?: 'sum' | 'max' | 'first';
}

/** Latency buckets in seconds: 0.5 ms to 60 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

export const CATALOGUE = {
  requestsTotal: {
    name: 'sentinel_requests_total',
    type: 'counter',
    help: 'Requests answered, by route id, method and status code. Route is "-" for requests that matched no route.',
    labels: ['route', 'method', 'status'],
    unit: 'requests',
  },
  requestDuration: {
    name: 'sentinel_request_duration_seconds',
    type: 'histogram',
    help: 'Time from the request head arriving to the last response byte written, by route id.',
    labels: ['route'],
    unit: 'seconds',
    buckets: LATENCY_BUCKETS,
  },
  activeRequests: {
    name: 'sentinel_active_requests',
    type: 'gauge',
    help: 'Requests being handled right now.',
    labels: [],
    unit: 'requests',
  },
  activeConnections: {
    name: 'sentinel_active_connections',
    type: 'gauge',
    help: 'Open client connections, by listener id.',
    labels: ['listener'],
    unit: 'connections',
  },
  connectionsRejected: {
    name: 'sentinel_connections_rejected_total',
    type: 'counter',
    help: 'Client connections closed at accept because system max-connections was reached, by listener id.',
    labels: ['listener'],
    unit: 'connections',
  },
  upstreamRequestsTotal: {
    name: 'sentinel_upstream_requests_total',
    type: 'counter',
    help: 'Requests sent to upstream targets, by upstream id, target (host:port) and outcome (success, or the error code).',
    labels: ['upstream', 'target', 'outcome'],
    unit: 'requests',
  },
  errorsTotal: {
    name: 'sentinel_errors_total',
    type: 'counter',
    help: 'Requests that ended in a local error response or an aborted response, by error code.',
    labels: ['code'],
    unit: 'requests',
  },
  configReloads: {
    name: 'sentinel_config_reloads_total',
    type: 'counter',
    help: 'Config reloads by result: applied, unchanged (same hash), rejected (invalid or needing a restart; the running config stays).',
    labels: ['result'],
    unit: 'reloads',
    aggregator: 'max',
  },
  configGeneration: {
    name: 'sentinel_config_generation',
    type: 'gauge',
    help: 'Generation number of the config serving new requests; starts at 1 and grows by one per applied reload.',
    labels: [],
    unit: 'generation',
    aggregator: 'max',
  },
  workers: {
    name: 'sentinel_workers',
    type: 'gauge',
    help: 'Worker processes currently running (multi-worker mode only).',
    labels: [],
    unit: 'processes',
    scope: 'primary',
  },
  workerRestarts: {
    name: 'sentinel_worker_restarts_total',
    type: 'counter',
    help: 'Workers that died and were replaced (multi-worker mode only).',
    labels: [],
    unit: 'restarts',
    scope: 'primary',
  },
  workerGenerationMismatch: {
    name: 'sentinel_worker_reload_mismatch_total',
    type: 'counter',
    help: 'Reloads after which the workers did not all serve the same generation (multi-worker mode only).',
    labels: [],
    unit: 'reloads',
    scope: 'primary',
  },
  buildInfo: {
    name: 'sentinel_build_info',
    type: 'gauge',
    help: 'Always 1; labels carry the version and the hash of the running config.',
    labels: ['version', 'config_hash'],
    unit: 'info',
    aggregator: 'max',
  },
} as const satisfies Record<string, MetricSpec>;

/** prom-client's default process collectors are registered under this prefix… */
export const PROCESS_METRICS_PREFIX = 'sentinel_';
/** …and so their names match this (sentinel_process_*, sentinel_nodejs_*). */
export const PROCESS_METRIC_RE = /^sentinel_(process|nodejs)_/;

export const CATALOGUE_LIST: readonly MetricSpec[] = Object.values(CATALOGUE);
