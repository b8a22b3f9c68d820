// Deployment routing (issue 9, docs/deployments.md): requests by status, Unkey error_type and
// region; routing decisions; instance responses; store queries; lookup caches; instance pools.
// Labels are bounded: route ids, regions and store kinds come from config, outcomes from fixed lists.
import { LATENCY_BUCKETS } from './spec.ts';
import type { MetricSpec } from './spec.ts';

export const DEPLOYMENT_METRICS = {
  deploymentRequests: {
    name: 'sentinel_deployments_requests_total',
    type: 'counter',
    help: 'Requests on deployments routes, by route id, region, status code (499: the client went away) and Unkey error_type (none, user, platform, customer; a relayed instance status >= 400 is customer).',
    labels: ['route', 'region', 'status', 'error_type'],
    unit: 'requests',
  },
  deploymentRequestDuration: {
    name: 'sentinel_deployments_request_duration_seconds',
    type: 'histogram',
    help: 'Time from the request head arriving to the last response byte on deployments routes, by route id, region and error_type.',
    labels: ['route', 'region', 'error_type'],
    unit: 'seconds',
    buckets: LATENCY_BUCKETS,
  },
  deploymentRouting: {
    name: 'sentinel_deployments_routing_total',
    type: 'counter',
    help: 'Routing decisions by route id and outcome: proxied, missing_header, not_found, environment_mismatch (answered as not_found), no_instances, no_running_instances, store_error, invalid_address.',
    labels: ['route', 'outcome'],
    unit: 'decisions',
  },
  deploymentUpstreamResponses: {
    name: 'sentinel_deployments_upstream_responses_total',
    type: 'counter',
    help: 'Response heads received from instances, by route id and status class (2xx, 3xx, 4xx, 5xx). Transport failures are in sentinel_errors_total.',
    labels: ['route', 'status_class'],
    unit: 'responses',
  },
  deploymentUpstreamDuration: {
    name: 'sentinel_deployments_upstream_duration_seconds',
    type: 'histogram',
    help: 'Time from sending the request to an instance to its response head (time to first byte), by route id and status class.',
    labels: ['route', 'status_class'],
    unit: 'seconds',
    buckets: LATENCY_BUCKETS,
  },
  deploymentStoreQueries: {
    name: 'sentinel_deployments_store_queries_total',
    type: 'counter',
    help: 'Store lookups by store kind (static, mysql), operation (get_deployment, get_instances, ping) and result (ok, or the failure: unavailable, timeout, aborted, closed, query).',
    labels: ['store', 'operation', 'result'],
    unit: 'queries',
  },
  deploymentStoreDuration: {
    name: 'sentinel_deployments_store_query_duration_seconds',
    type: 'histogram',
    help: 'Store lookup latency by store kind and operation, failures included.',
    labels: ['store', 'operation'],
    unit: 'seconds',
    buckets: LATENCY_BUCKETS,
  },
  deploymentCacheLookups: {
    name: 'sentinel_deployments_cache_lookups_total',
    type: 'counter',
    help: 'Lookup-cache results by cache (deployment, instances) and result: fresh, stale (served, refreshed in the background), miss, refresh_error (the stale entry stayed), evicted.',
    labels: ['cache', 'result'],
    unit: 'lookups',
  },
  deploymentCacheEntries: {
    name: 'sentinel_deployments_cache_entries',
    type: 'gauge',
    help: 'Entries held by the lookup caches (not-found entries included), by cache.',
    labels: ['cache'],
    unit: 'entries',
  },
  deploymentInstancePools: {
    name: 'sentinel_deployments_instance_pools',
    type: 'gauge',
    help: 'Instance addresses with an open connection pool (bounded by connection-pool max-instances; idle ones are closed).',
    labels: [],
    unit: 'pools',
  },
} as const satisfies Record<string, MetricSpec>;
