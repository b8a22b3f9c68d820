// What a listener hands to every request it accepts. One object per bound listener, shared by its
// requests; the fields that a reload may change are updated in place.
import type { RuntimeState } from '../runtime/state.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AccessLog, ErrorLog } from '../observability/log.ts';
import type { Tracer } from '../observability/tracing.ts';
import type { AuditLog } from '../observability/audit.ts';

export interface ListenerContext {
  readonly listenerId: string;
  /** `http` or `https`, for X-Forwarded-Proto. */
  readonly scheme: string;
  readonly state: RuntimeState;
  readonly metrics: Metrics;
  /** null: `access-log { enabled #false }`. Its format and sample rate change in place on reload. */
  readonly accessLog: AccessLog | null;
  /** Failed requests (one record each); null without `error-log`. */
  readonly errorLog: ErrorLog | null;
  /** null: tracing off (no OpenTelemetry code loaded); one null check per request. */
  readonly tracer: Tracer | null;
  /** Every security decision (block, reject, limit triggered) is recorded here. */
  readonly audit: AuditLog;
  readonly version: string;
  readonly startedAtMs: number;
  /** Set while the process drains: new requests get 503 SHUTTING_DOWN with Connection: close. */
  draining: boolean;
  /** Requests allowed per keep-alive connection (0 = unlimited); updated in place on reload. */
  keepaliveMaxRequests: number;
}
