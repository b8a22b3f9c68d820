// The audit log: one JSON record for every security decision Sentinel makes — an agent's block,
// a rate-limit rejection, a limit that triggered, a request refused as malformed or smuggled.
// Records are JSON lines with `"audit":true` and `"msg":"audit"`: on the process log's stderr by
// default (whatever the log level), or in their own file with `audit-log { file "…" }`
// (reopened on SIGUSR1 like every log file). Each record is also counted in
// sentinel_audit_events_total{component,action}.
import type { Logger } from './log.ts';

export interface AuditEvent {
  /** Who decided: `agent`, `rate-limit`, `limits`, `parser`, `tls`, `deployments`, … */
  readonly component: string;
  /** What it decided: `block`, `reject`, `redirect`, `challenge`, `limit`, `log-only`, … */
  readonly action: string;
  /** Why, for an operator: a short stable phrase (`max-body-bytes exceeded`). */
  readonly reason: string;
  readonly request_id?: string;
  readonly trace_id?: string;
  readonly route?: string;
  readonly listener?: string;
  readonly client_ip?: string;
  readonly method?: string;
  readonly path?: string;
  readonly status?: number;
  /** Rule ids from the deciding component (an agent's audit.rule_ids, a filter id). */
  readonly rule_ids?: readonly string[];
  /** The deciding agent or filter id. */
  readonly decided_by?: string;
  readonly [extra: string]: unknown;
}

export interface AuditLog {
  record(event: AuditEvent): void;
}

/**
 * Audit records on `logger` (null: `audit-log { enabled #false }`, counted but not written).
 * `onRecord` counts each one. Never throws: an audit write must not fail a request.
 */
export function createAuditLog(logger: Logger | null, onRecord: ((component: string, action: string) => void) | null): AuditLog {
  return {
    record(event) {
      try {
        onRecord?.(event.component, event.action);
        logger?.warn({ audit: true, ...event }, 'audit');
      } catch { /* the log is gone: nothing better to do */ }
    },
  };
}
