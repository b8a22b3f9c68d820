// What a listener hands to every request it accepts. One object per bound listener, shared by its
// requests; the fields that a reload may change are updated in place.
import type { RuntimeState } from '../runtime/state.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AccessLog } from '../observability/log.ts';
import type { AuditLog } from '../observability/audit.ts';

export interface ListenerContext {
  readonly listenerId: string;
  /** `http` or `https`, for X-Forwarded-Proto. */
  readonly scheme: string;
  readonly state: RuntimeState;
  readonly metrics: Metrics;
  readonly accessLog: AccessLog | null;
  /** Every security decision (block, reject, limit triggered) is recorded here. */
  readonly audit: AuditLog;
  readonly version: string;
  readonly startedAtMs: number;
  /** Set while the process drains: new requests get 503 SHUTTING_DOWN with Connection: close. */
  draining: boolean;
  /** Requests allowed per keep-alive connection (0 = unlimited); updated in place on reload. */
  keepaliveMaxRequests: number;
}
