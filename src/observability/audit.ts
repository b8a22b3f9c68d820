// The audit log: one JSON record for every security decision Sentinel makes — an agent's block,
// a rate-limit rejection, a limit that triggered, a request refused as malformed or smuggled.
// Records go to the process log (stderr) with `"audit":true`, so they are never lost even when
// the access log is off; issue 10 adds a dedicated destination.
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

/** Audit records on the process logger. Never throws: an audit write must not fail a request. */
export function createAuditLog(logger: Logger): AuditLog {
  return {
    record(event) {
      try {
        logger.warn({ audit: true, ...event }, 'audit');
      } catch { /* the process log is gone: nothing better to do */ }
    },
  };
}
