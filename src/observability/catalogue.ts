// The metric catalogue: every metric Sentinel exposes is declared here and nowhere else.
// docs/metrics.md is rendered from this file (scripts/render-metrics-doc.ts) and a test checks
// that the running proxy's /metrics exposes exactly these names.
//
// Each area keeps its entries in its own file under catalogue/; this file joins them.
import { CORE_METRICS } from './catalogue/core.ts';
import { UPSTREAM_METRICS } from './catalogue/upstream.ts';
import { AGENT_METRICS } from './catalogue/agents.ts';
import { RATELIMIT_METRICS } from './catalogue/ratelimit.ts';
import { SERVER_METRICS } from './catalogue/server.ts';
import { DEPLOYMENT_METRICS } from './catalogue/deployments.ts';
import { OBSERVABILITY_METRICS } from './catalogue/observability.ts';
import type { MetricSpec } from './catalogue/spec.ts';
import { PROCESS_METRICS } from './catalogue/process.ts';

export { PROCESS_METRICS };

export type { MetricSpec, MetricType } from './catalogue/spec.ts';
export { LATENCY_BUCKETS } from './catalogue/spec.ts';

export const CATALOGUE = {
  ...CORE_METRICS,
  ...SERVER_METRICS,
  ...UPSTREAM_METRICS,
  ...AGENT_METRICS,
  ...RATELIMIT_METRICS,
  ...DEPLOYMENT_METRICS,
  ...OBSERVABILITY_METRICS,
} as const satisfies Record<string, MetricSpec>;

/** prom-client's default process collectors are registered under this prefix… */
export const PROCESS_METRICS_PREFIX = 'sentinel_';
/** …and so their names match this (sentinel_process_*, sentinel_nodejs_*). */
export const PROCESS_METRIC_RE = /^sentinel_(process|nodejs)_/;

export const CATALOGUE_LIST: readonly MetricSpec[] = Object.values(CATALOGUE);
