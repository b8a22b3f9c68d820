// Structured JSON logs (pino). The access log is a separate logger so it can go to its own
// destination and be turned off without touching the error log.
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { LogLevel } from '../config/types.ts';

export type { Logger };

function destinationFor(destination: string) {
  if (destination === 'stdout') return pino.destination({ dest: 1, sync: false });
  if (destination === 'stderr') return pino.destination({ dest: 2, sync: false });
  return pino.destination({ dest: destination, sync: false, mkdir: true });
}

/** The process log: lifecycle, config diagnostics, errors. Always JSON on stderr. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { svc: 'sentinel' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}

export interface AccessRecord {
  readonly request_id: string;
  readonly trace_id: string;
  readonly listener: string;
  readonly client_ip: string;
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly route: string;
  readonly upstream: string;
  readonly target: string;
  /** Upstream attempts (0 when the request never reached one; more than 1 after retries). */
  readonly attempts: number;
  readonly status: number;
  readonly error_code: string | undefined;
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly duration_ms: number;
  readonly upstream_ms: number;
}

export interface AccessLog {
  write(record: AccessRecord): void;
  flush(): void;
}

export function createAccessLog(destination: string): AccessLog {
  const dest = destinationFor(destination);
  const logger = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, dest);
  return {
    write(record) { logger.info(record, 'access'); },
    // Called on shutdown, right before exit: write what is buffered now, synchronously.
    flush() {
      try { dest.flushSync(); } catch { /* nothing buffered, or the destination is gone */ }
    },
  };
}
