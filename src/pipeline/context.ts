// What a listener hands to every request it accepts. One object per bound listener, shared by its
// requests; the fields that a reload may change are updated in place.
import type { RuntimeState } from '../runtime/state.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AccessLog, ErrorLog } from '../observability/log.ts';
import type { Tracer } from '../observability/tracing.ts';
import type { AuditLog } from '../observability/audit.ts';

/** A verified client certificate: who the client is (mTLS). */
export interface ClientIdentity {
  /** Subject DN as Node prints it, one `key=value` per line (`CN=client-1\nO=…`). */
  readonly subject: string;
  /** Subject alternative names as Node prints them (`DNS:a, URI:spiffe://…`), or ''. */
  readonly san: string;
  readonly issuer: string;
  /** SHA-256 fingerprint, colon-separated upper-case hex. */
  readonly fingerprint256: string;
  readonly serialNumber: string;
  readonly validTo: string;
}

/** What a TLS connection negotiated; every exchange it carries sees it as `ex.tls`. */
export interface TlsInfo {
  /** `TLSv1.3`, `TLSv1.2`. */
  readonly version: string;
  readonly cipher: string;
  /** `h2`, `http/1.1`, or '' when the client offered no ALPN. */
  readonly alpn: string;
  /** The server name the client asked for (SNI), or ''. */
  readonly sni: string;
  /** A client certificate that verified against the listener's ca-file, or null. */
  readonly client: ClientIdentity | null;
  /** Why a presented client certificate did not verify (client-auth "optional"), or null. */
  readonly clientError: string | null;
}

/** Set by the server on a TLS socket once its handshake completed. */
export const kTlsInfo = Symbol('sentinel.tlsInfo');

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
