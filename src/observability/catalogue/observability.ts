// Sentinel's own telemetry: logs that could not be written, audit records, exported spans.
import type { MetricSpec } from './spec.ts';

export const OBSERVABILITY_METRICS = {
  logDropped: {
    name: 'sentinel_log_dropped_total',
    type: 'counter',
    help: 'Log records not written because their destination already held 16 MiB waiting to be written (a stalled disk or a reader that stopped reading), by log: access, error, audit.',
    labels: ['log'],
    unit: 'records',
  },
  auditEvents: {
    name: 'sentinel_audit_events_total',
    type: 'counter',
    help: 'Security decisions recorded in the audit log, by deciding component (parser, agent, rate-limit, limits, …) and action (reject, block, …); counted even with audit-log disabled.',
    labels: ['component', 'action'],
    unit: 'events',
  },
  tracingSpans: {
    name: 'sentinel_tracing_spans_total',
    type: 'counter',
    help: 'Sampled spans by result: recorded (ended and queued for export), exported (accepted by the OTLP endpoint), failed (the export failed after its retries). Recorded minus exported minus failed, beyond the 2048-span queue, were dropped.',
    labels: ['result'],
    unit: 'spans',
  },
} as const satisfies Record<string, MetricSpec>;
