// Logs: the process log (lifecycle, config diagnostics, errors; JSON on stderr), the access log
// (one line per request, JSON or Apache combined, sampled), the error log (a copy of the process
// log's serious records plus one record per failed request) and the audit log (audit.ts). Each
// writes to a destination of log-destinations.ts; `Logs` owns them for the whole process and
// reopens the files on SIGUSR1.
import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { AccessLogConfig, AccessLogFormat, AuditLogConfig, ErrorLogConfig, LogLevel } from '../config/types.ts';
import { LogDestinations, isStdio } from './log-destinations.ts';
import type { LogDestination } from './log-destinations.ts';
import { createAuditLog } from './audit.ts';
import type { AuditLog } from './audit.ts';

export type { Logger };

const LEVEL_VALUES: Readonly<Record<LogLevel, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** Which log a record belongs to, for the dropped-records counter. */
export type LogKind = 'access' | 'error' | 'audit';

// ---- process log ------------------------------------------------------------------------------

/**
 * The process logger's stream: every record at or above the process level goes to stderr
 * (synchronously, so lifecycle lines are never lost on exit), and a copy of each record at or
 * above the error-log level to the error log's destination.
 */
class ProcessLogStream {
  readonly [pino.symbols.needsMetadataGsym] = true;
  /** Set by pino before each write. */
  lastLevel = 0;
  stderrLevel: number;
  errorLevel = Infinity;
  /** The error log's destination for copies; null when there is none or it is stderr itself. */
  errorDest: LogDestination | null = null;
  /** The error log is stderr: a record goes there once, if either level wants it. */
  errorOnStderr = false;
  onErrorDrop: (() => void) | null = null;
  readonly stderr = pino.destination({ dest: 2, sync: true });

  constructor(level: LogLevel) {
    this.stderrLevel = LEVEL_VALUES[level];
  }

  write(line: string): void {
    const level = this.lastLevel;
    if (level >= this.stderrLevel) this.stderr.write(line);
    else if (this.errorOnStderr && level >= this.errorLevel) this.stderr.write(line);
    if (level >= this.errorLevel && this.errorDest !== null && !this.errorDest.write(line)) this.onErrorDrop?.();
  }

  /** The logger must let through what either side wants. */
  minLevel(): LogLevel {
    const min = Math.min(this.stderrLevel, this.errorLevel);
    const found = (Object.keys(LEVEL_VALUES) as LogLevel[]).find((k) => LEVEL_VALUES[k] === min);
    return found ?? 'silent';
  }
}

// ---- access log -------------------------------------------------------------------------------

export interface AccessRecord {
  readonly request_id: string;
  readonly trace_id: string;
  readonly listener: string;
  readonly client_ip: string;
  readonly method: string;
  /** Path as routed, without the query string (queries often carry tokens). */
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
  /** Time spent waiting for external agents. */
  readonly agents_ms: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const UNSAFE_RE = /["\\\x00-\x1f\x7f-\uffff]/;

/** Apache's escaping for quoted log fields: `"` and `\` backslashed, other bytes outside printable ASCII as \xhh. */
export function escapeLogField(s: string): string {
  if (!UNSAFE_RE.test(s)) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b === 0x22) out += '\\"';
    else if (b === 0x5c) out += '\\\\';
    else if (b < 0x20 || b >= 0x7f) out += `\\x${b.toString(16).padStart(2, '0')}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `[10/Oct/2000:13:55:36 +0000]` in UTC, as in Apache's %t. */
export function clfTime(ms: number): string {
  const d = new Date(ms);
  return `[${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000]`;
}

/**
 * One JSON line, in the shape of the process log's records (`level`, `time`, the fields, `msg`).
 * Built directly rather than through pino (a fixed field list, strings escaped one by one), which
 * is several times cheaper per request than pino's generic serialisation. A new AccessRecord field
 * must be added here too (the unit test compares the keys with the record's).
 */
export function formatJson(r: AccessRecord, nowMs: number, extra: ExtraLogFields = null): string {
  const q = JSON.stringify;
  return `{"level":30,"time":"${new Date(nowMs).toISOString()}","request_id":${q(r.request_id)},"trace_id":${q(r.trace_id)},"listener":${q(r.listener)}`
    + `,"client_ip":${q(r.client_ip)},"method":${q(r.method)},"path":${q(r.path)},"host":${q(r.host)},"route":${q(r.route)}`
    + `,"upstream":${q(r.upstream)},"target":${q(r.target)},"attempts":${r.attempts},"status":${r.status}`
    + `${r.error_code === undefined ? '' : `,"error_code":${q(r.error_code)}`},"bytes_in":${r.bytes_in},"bytes_out":${r.bytes_out}`
    + `,"duration_ms":${r.duration_ms},"upstream_ms":${r.upstream_ms},"agents_ms":${r.agents_ms}${extraJson(extra)},"msg":"access"}\n`;
}

/**
 * One combined-format line: Apache's `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"`
 * followed by Sentinel's fields as key=value pairs (ids never contain spaces).
 */
/** Extra fields a route handler adds (`ex.logFields`); a name of a standard field is ignored. */
export type ExtraLogFields = Readonly<Record<string, string | number>> | null;

const STANDARD_FIELDS: ReadonlySet<string> = new Set(['level', 'time', 'msg', 'request_id', 'trace_id', 'listener', 'client_ip', 'method', 'path', 'host',
  'route', 'upstream', 'target', 'attempts', 'status', 'error_code', 'bytes_in', 'bytes_out', 'duration_ms', 'upstream_ms', 'agents_ms']);

function extraJson(extra: ExtraLogFields): string {
  if (extra === null) return '';
  let out = '';
  for (const k of Object.keys(extra)) if (!STANDARD_FIELDS.has(k)) out += `,${JSON.stringify(k)}:${JSON.stringify(extra[k])}`;
  return out;
}

/** ` key=value` for each extra field (values escaped; spaces as \x20 so a field stays one token). */
function extraCombined(extra: ExtraLogFields): string {
  if (extra === null) return '';
  let out = '';
  for (const k of Object.keys(extra)) if (!STANDARD_FIELDS.has(k)) out += ` ${escapeLogField(k)}=${escapeLogField(String(extra[k])).replaceAll(' ', '\\x20')}`;
  return out;
}

export function formatCombined(r: AccessRecord, req: IncomingMessage, nowMs: number, extra: ExtraLogFields = null): string {
  const referer = req.headers.referer;
  const agent = req.headers['user-agent'];
  return `${r.client_ip === '' ? '-' : r.client_ip} - - ${clfTime(nowMs)} "${escapeLogField(r.method)} ${escapeLogField(r.path)} HTTP/${req.httpVersion}" ${r.status} ${r.bytes_out === 0 ? '-' : r.bytes_out}`
    + ` "${referer === undefined ? '-' : escapeLogField(referer)}" "${agent === undefined ? '-' : escapeLogField(agent)}"`
    + ` request_id=${escapeLogField(r.request_id)} trace_id=${r.trace_id} route=${escapeLogField(r.route)} upstream=${escapeLogField(r.upstream)} target=${escapeLogField(r.target)}`
    + ` attempts=${r.attempts} error=${r.error_code ?? '-'} duration_ms=${r.duration_ms} upstream_ms=${r.upstream_ms} agents_ms=${r.agents_ms}${extraCombined(extra)}\n`;
}

export class AccessLog {
  format: AccessLogFormat;
  /** Share of successful requests logged; errors always are. */
  sampleRate: number;
  private readonly dest: LogDestination;
  onDrop: (() => void) | null = null;

  constructor(dest: LogDestination, cfg: AccessLogConfig) {
    this.dest = dest;
    this.format = cfg.format;
    this.sampleRate = cfg.sampleRate;
  }

  /** The reloadable settings. */
  configure(cfg: AccessLogConfig): void {
    this.format = cfg.format;
    this.sampleRate = cfg.sampleRate;
  }

  /** Whether a request that ended without an error is logged (decided before the record is built). */
  sampled(): boolean {
    const rate = this.sampleRate;
    return rate >= 1 || (rate > 0 && Math.random() < rate);
  }

  /** `extra`: fields a route handler added (deployments: deployment and instance ids). */
  write(record: AccessRecord, req: IncomingMessage, extra: ExtraLogFields = null): void {
    const line = this.format === 'json' ? formatJson(record, Date.now(), extra) : formatCombined(record, req, Date.now(), extra);
    if (!this.dest.write(line)) this.onDrop?.();
  }
}

// ---- error log --------------------------------------------------------------------------------

export interface RequestFailure {
  readonly request_id: string;
  readonly trace_id: string;
  readonly listener: string;
  readonly route: string;
  readonly upstream: string;
  readonly target: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly error_code: string;
  readonly attempts: number;
  readonly duration_ms: number;
}

/** Failed requests, one record each: `error` for a 5xx, `info` otherwise (client errors, 499). */
export class ErrorLog {
  private readonly logger: Logger;
  private threshold: number;

  constructor(dest: LogDestination, level: LogLevel, onDrop: () => void) {
    const sink = { write: (line: string) => { if (!dest.write(line)) onDrop(); } };
    this.logger = pino({ level, base: { svc: 'sentinel' }, timestamp: pino.stdTimeFunctions.isoTime }, sink);
    this.threshold = LEVEL_VALUES[level];
  }

  setLevel(level: LogLevel): void {
    this.logger.level = level;
    this.threshold = LEVEL_VALUES[level];
  }

  /** Whether a failure with this status would be written (checked before the record is built). */
  wants(status: number): boolean {
    return (status >= 500 ? 50 : 30) >= this.threshold;
  }

  request(f: RequestFailure): void {
    if (f.status >= 500) this.logger.error(f, 'request failed');
    else this.logger.info(f, 'request failed');
  }
}

// ---- the process's logs -----------------------------------------------------------------------

export interface LogCounters {
  dropped(log: LogKind): void;
}

/**
 * Every log of one process. Created once (main.ts) with the process log on stderr; `configure`
 * attaches the error log at start and applies the reloadable levels afterwards.
 */
export class Logs {
  readonly destinations = new LogDestinations();
  readonly logger: Logger;
  private readonly stream: ProcessLogStream;
  private errorLog: ErrorLog | null = null;
  private errorLogConfigured = false;
  counters: LogCounters | null = null;

  constructor(level: LogLevel) {
    this.stream = new ProcessLogStream(level);
    this.logger = pino({ level, base: { svc: 'sentinel' }, timestamp: pino.stdTimeFunctions.isoTime }, this.stream);
    this.stream.onErrorDrop = () => this.counters?.dropped('error');
    this.destinations.onError = (target, err) => {
      // Straight to stderr: the failing destination may be the error log itself.
      this.logger.warn({ destination: target, error: err.message, code: (err as NodeJS.ErrnoException).code }, 'log destination failed');
    };
  }

  /**
   * Applies the process-level settings: the process log level (reloadable), and the error log
   * (its destination is opened on the first call; later calls change its level only).
   */
  configure(level: LogLevel, errorLog: ErrorLogConfig): void {
    this.stream.stderrLevel = LEVEL_VALUES[level];
    if (!this.errorLogConfigured) {
      this.errorLogConfigured = true;
      if (errorLog.enabled) {
        const dest = this.destinations.get(errorLog.destination, errorLog.bufferBytes);
        if (errorLog.destination === 'stderr') this.stream.errorOnStderr = true;
        else this.stream.errorDest = dest;
        this.errorLog = new ErrorLog(dest, errorLog.level, () => this.counters?.dropped('error'));
      }
    }
    if (this.errorLog !== null) {
      this.errorLog.setLevel(errorLog.level);
      this.stream.errorLevel = LEVEL_VALUES[errorLog.level];
    }
    this.logger.level = this.stream.minLevel();
  }

  /** The error log's request records, or null when there is no error log. */
  get requestErrors(): ErrorLog | null {
    return this.errorLog;
  }

  openAccessLog(cfg: AccessLogConfig): AccessLog | null {
    if (!cfg.enabled) return null;
    const log = new AccessLog(this.destinations.get(cfg.destination, cfg.bufferBytes), cfg);
    log.onDrop = () => this.counters?.dropped('access');
    return log;
  }

  /** The audit log: its own destination, the process log (no `file`), or nothing (`enabled #false`). */
  openAuditLog(cfg: AuditLogConfig, onRecord: ((component: string, action: string) => void) | null): AuditLog {
    if (!cfg.enabled) return createAuditLog(null, onRecord);
    const options = { base: { svc: 'sentinel' }, timestamp: pino.stdTimeFunctions.isoTime };
    // On the process log's stderr, but whatever its level: an audit record is never filtered out.
    if (cfg.destination === null) return createAuditLog(pino(options, this.stream.stderr), onRecord);
    const dest = this.destinations.get(cfg.destination, cfg.bufferBytes);
    const sink = { write: (line: string) => { if (!dest.write(line)) this.counters?.dropped('audit'); } };
    return createAuditLog(pino(options, sink), onRecord);
  }

  /** SIGUSR1: reopens every log file (logrotate renamed them). */
  reopen(): string[] {
    const files = this.destinations.reopen();
    this.logger.info({ files }, 'log files reopened');
    return files;
  }

  /** Shutdown: writes out what every destination holds (waiting at most `timeoutMs`). */
  flush(timeoutMs = 2_000): Promise<void> {
    return this.destinations.drain(timeoutMs);
  }
}

/** A process log on stderr without the rest (tools and tests). */
export function createLogger(level: LogLevel): Logger {
  return new Logs(level).logger;
}

export { isStdio };
