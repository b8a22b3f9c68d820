// Process metrics: prom-client's default collectors, registered with the `sentinel_` prefix
// (src/observability/metrics.ts). They are not built from these specs — prom-client owns them —
// but this list is what docs/metrics.md shows and what spec/observability/catalogue.test.ts
// checks the registry against, so an upgrade that adds, renames or drops one fails a test.
// Their labels are bounded by Node itself: V8 heap space names, libuv handle and request types,
// GC kinds, and the Node version.
import type { MetricSpec } from './spec.ts';

const p = (name: string, type: MetricSpec['type'], labels: readonly string[], unit: string, help: string): MetricSpec => ({ name, type, labels, unit, help });

export const PROCESS_METRICS: readonly MetricSpec[] = [
  p('sentinel_process_cpu_user_seconds_total', 'counter', [], 'seconds', 'User CPU time spent.'),
  p('sentinel_process_cpu_system_seconds_total', 'counter', [], 'seconds', 'System CPU time spent.'),
  p('sentinel_process_cpu_seconds_total', 'counter', [], 'seconds', 'User and system CPU time spent.'),
  p('sentinel_process_start_time_seconds', 'gauge', [], 'seconds', 'Start time of the process since the Unix epoch.'),
  p('sentinel_process_resident_memory_bytes', 'gauge', [], 'bytes', 'Resident memory size (RSS): what a container memory limit counts.'),
  p('sentinel_process_virtual_memory_bytes', 'gauge', [], 'bytes', 'Virtual memory size.'),
  p('sentinel_process_heap_bytes', 'gauge', [], 'bytes', 'Process heap size.'),
  p('sentinel_process_open_fds', 'gauge', [], 'descriptors', 'Open file descriptors (sockets included).'),
  p('sentinel_process_max_fds', 'gauge', [], 'descriptors', 'Maximum open file descriptors (the soft limit).'),
  p('sentinel_nodejs_eventloop_lag_seconds', 'gauge', [], 'seconds', 'Event-loop lag measured by a timer at scrape time.'),
  p('sentinel_nodejs_eventloop_lag_min_seconds', 'gauge', [], 'seconds', 'Minimum recorded event-loop delay.'),
  p('sentinel_nodejs_eventloop_lag_max_seconds', 'gauge', [], 'seconds', 'Maximum recorded event-loop delay.'),
  p('sentinel_nodejs_eventloop_lag_mean_seconds', 'gauge', [], 'seconds', 'Mean recorded event-loop delay.'),
  p('sentinel_nodejs_eventloop_lag_stddev_seconds', 'gauge', [], 'seconds', 'Standard deviation of the recorded event-loop delays.'),
  p('sentinel_nodejs_eventloop_lag_p50_seconds', 'gauge', [], 'seconds', '50th percentile of the recorded event-loop delays.'),
  p('sentinel_nodejs_eventloop_lag_p90_seconds', 'gauge', [], 'seconds', '90th percentile of the recorded event-loop delays.'),
  p('sentinel_nodejs_eventloop_lag_p99_seconds', 'gauge', [], 'seconds', '99th percentile of the recorded event-loop delays.'),
  p('sentinel_nodejs_active_resources', 'gauge', ['type'], 'resources', 'Resources keeping the event loop alive, by async resource type.'),
  p('sentinel_nodejs_active_resources_total', 'gauge', [], 'resources', 'Resources keeping the event loop alive.'),
  p('sentinel_nodejs_active_handles', 'gauge', ['type'], 'handles', 'Active libuv handles (sockets, timers, …), by handle type.'),
  p('sentinel_nodejs_active_handles_total', 'gauge', [], 'handles', 'Active libuv handles.'),
  p('sentinel_nodejs_active_requests', 'gauge', ['type'], 'requests', 'Active libuv requests (file system, DNS, …), by request type.'),
  p('sentinel_nodejs_active_requests_total', 'gauge', [], 'requests', 'Active libuv requests.'),
  p('sentinel_nodejs_heap_size_total_bytes', 'gauge', [], 'bytes', 'V8 heap size.'),
  p('sentinel_nodejs_heap_size_used_bytes', 'gauge', [], 'bytes', 'V8 heap used.'),
  p('sentinel_nodejs_external_memory_bytes', 'gauge', [], 'bytes', 'Memory of C++ objects bound to JavaScript (buffers included).'),
  p('sentinel_nodejs_heap_space_size_total_bytes', 'gauge', ['space'], 'bytes', 'V8 heap space size, by space.'),
  p('sentinel_nodejs_heap_space_size_used_bytes', 'gauge', ['space'], 'bytes', 'V8 heap space used, by space.'),
  p('sentinel_nodejs_heap_space_size_available_bytes', 'gauge', ['space'], 'bytes', 'V8 heap space available, by space.'),
  p('sentinel_nodejs_version_info', 'gauge', ['version', 'major', 'minor', 'patch'], 'info', 'Always 1; labels carry the Node.js version.'),
  p('sentinel_nodejs_gc_duration_seconds', 'histogram', ['kind'], 'seconds', 'Garbage-collection pauses, by kind: major, minor, incremental, weakcb.'),
];
