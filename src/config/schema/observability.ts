// `observability { }`: metrics endpoint, logs (process, access, error, audit) and tracing.
import type { AccessLogFormat, LogLevel, TracingConfig } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { suggestionHint } from '../diagnostics.ts';
import {
  checkBlockNode, error, q, readAddress, readBool, readEnum, readInt, readRatio, readString, rejectProps, walkBlock, warning,
} from './reader.ts';
import type { Ctx } from './reader.ts';

export interface ObsAcc {
  metrics: { enabled: boolean; host: string; port: number; path: string };
  metricsAddressNode: LNode | undefined;
  level: LogLevel;
  accessLog: { enabled: boolean; destination: string; format: AccessLogFormat; sampleRate: number; bufferBytes: number };
  errorLog: { enabled: boolean; destination: string; level: LogLevel; bufferBytes: number };
  auditLog: { enabled: boolean; destination: string | null; bufferBytes: number };
  tracing: TracingConfig | null;
}

export function defaultObsAcc(): ObsAcc {
  return {
    metrics: { enabled: true, host: '127.0.0.1', port: 9090, path: '/metrics' },
    metricsAddressNode: undefined,
    level: 'info',
    accessLog: { enabled: true, destination: 'stdout', format: 'json', sampleRate: 1, bufferBytes: 0 },
    errorLog: { enabled: false, destination: 'stderr', level: 'warn', bufferBytes: 0 },
    auditLog: { enabled: true, destination: null, bufferBytes: 0 },
    tracing: null,
  };
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
/** Largest `buffer-size`: what a log may collect before a write. */
export const MAX_LOG_BUFFER_BYTES = 1024 * 1024;

function readLevel(ctx: Ctx, c: LNode, cp: string): LogLevel | undefined {
  const s = readString(ctx, c, cp);
  if (s === undefined) return undefined;
  const lower = s.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(lower)) return lower as LogLevel;
  error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `invalid log level ${q(s)}`, cp, suggestionHint(lower, LOG_LEVELS, 'valid values'));
  return undefined;
}

function readDestination(ctx: Ctx, d: LNode, dp: string, what: string): string | undefined {
  const s = readString(ctx, d, dp);
  if (s === undefined) return undefined;
  if (s === '' || s.includes('\0')) {
    error(ctx, d, d.args[0]?.pos ?? d.pos, 'invalid-value', `${what} file must be "stdout", "stderr" or a file path`, dp);
    return undefined;
  }
  return s;
}

export function readObservability(ctx: Ctx, block: LNode, acc: ObsAcc): void {
  const path = 'observability';
  checkBlockNode(ctx, block, path);
  walkBlock(ctx, block, path, {
    label: 'observability',
    keys: {
      metrics: (n, p) => {
        checkBlockNode(ctx, n, p);
        walkBlock(ctx, n, p, {
          label: 'observability metrics',
          keys: {
            enabled: (c, cp) => {
              acc.metrics.enabled = readBool(ctx, c, cp) ?? acc.metrics.enabled;
            },
            address: (c, cp) => {
              const a = readAddress(ctx, c, cp, 0);
              if (a !== undefined) {
                acc.metrics.host = a.host;
                acc.metrics.port = a.port;
                acc.metricsAddressNode = c;
              }
            },
            path: (c, cp) => {
              const s = readString(ctx, c, cp);
              if (s === undefined) return;
              if (!s.startsWith('/')) error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `metrics path must start with "/", got ${q(s)}`, cp);
              else acc.metrics.path = s;
            },
          },
          notImplemented: ['high-cardinality'],
        });
      },
      logging: (n, p) => readLogging(ctx, n, p, acc),
      tracing: (n, p) => readTracing(ctx, n, p, acc),
    },
  });
}

function readLogging(ctx: Ctx, n: LNode, p: string, acc: ObsAcc): void {
  checkBlockNode(ctx, n, p);
  walkBlock(ctx, n, p, {
    label: 'observability logging',
    keys: {
      level: (c, cp) => {
        const v = readLevel(ctx, c, cp);
        if (v !== undefined) acc.level = v;
      },
      format: (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined || s === 'json') return;
        error(ctx, c, c.args[0]?.pos ?? c.pos, 'not-implemented', `process log format ${q(s)} is not implemented yet (only "json")`, cp,
          'the access log has its own format: access-log { format "combined" }');
      },
      'access-log': (c, cp) => {
        const log = acc.accessLog;
        readLogBlock(ctx, c, cp, 'access-log', log, {
          format: (d, dp) => {
            const v = readEnum<AccessLogFormat>(ctx, d, dp, ['json', 'combined']);
            if (v !== undefined) log.format = v;
          },
          'sample-rate': (d, dp) => {
            const v = readRatio(ctx, d, dp);
            if (v !== undefined) log.sampleRate = v;
          },
        });
      },
      'error-log': (c, cp) => {
        const log = acc.errorLog;
        log.enabled = true;
        readLogBlock(ctx, c, cp, 'error-log', log, {
          level: (d, dp) => {
            const v = readLevel(ctx, d, dp);
            if (v !== undefined) log.level = v;
          },
        });
      },
      'audit-log': (c, cp) => {
        readLogBlock(ctx, c, cp, 'audit-log', acc.auditLog, {}, ['log-blocked', 'log-agent-decisions', 'log-waf-events']);
      },
    },
  });
}

/** The keys every log block has (`enabled`, `file`, `buffer-size`) plus its own. */
function readLogBlock(
  ctx: Ctx, c: LNode, cp: string, name: string,
  log: { enabled: boolean; destination: string | null; bufferBytes: number },
  own: Readonly<Record<string, (child: LNode, path: string) => void>>,
  notImplemented: readonly string[] = [],
): void {
  checkBlockNode(ctx, c, cp);
  walkBlock(ctx, c, cp, {
    label: `observability logging ${name}`,
    keys: {
      enabled: (d, dp) => {
        log.enabled = readBool(ctx, d, dp) ?? log.enabled;
      },
      file: (d, dp) => {
        const s = readDestination(ctx, d, dp, name);
        if (s !== undefined) log.destination = s;
      },
      ...own,
      'buffer-size': (d, dp) => {
        const v = readInt(ctx, d, dp, 0, MAX_LOG_BUFFER_BYTES);
        if (v !== undefined) log.bufferBytes = v;
      },
    },
    notImplemented,
  });
}

/** Parses an OTLP/HTTP endpoint URL; a bare origin gets the standard traces path. */
function checkEndpoint(s: string): { url: string } | { problem: string } {
  let u: URL;
  try { u = new URL(s); } catch { return { problem: `invalid endpoint ${q(s)}: not a URL` }; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { problem: `invalid endpoint ${q(s)}: the scheme must be http or https` };
  if (u.username !== '' || u.password !== '') return { problem: `invalid endpoint ${q(s)}: credentials in the URL are not supported` };
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/traces';
  return { url: u.toString() };
}

function readTracing(ctx: Ctx, n: LNode, p: string, acc: ObsAcc): void {
  checkBlockNode(ctx, n, p);
  let endpoint: string | undefined;
  let sawBackend = false;
  let samplingRate = 0.01;
  let serviceName = 'sentinel';
  walkBlock(ctx, n, p, {
    label: 'observability tracing',
    keys: {
      backend: (c, cp) => {
        sawBackend = true;
        rejectProps(ctx, c, cp);
        const kind = c.args[0];
        if (kind === undefined || typeof kind.value !== 'string') {
          error(ctx, c, kind?.pos ?? c.pos, kind === undefined ? 'missing-argument' : 'invalid-type', 'backend needs a name: backend "otlp" { endpoint "…" }', cp);
          return;
        }
        if (c.args[1] !== undefined) error(ctx, c, c.args[1].pos, 'extra-argument', 'backend takes one name', cp);
        if (kind.value === 'jaeger' || kind.value === 'zipkin') {
          error(ctx, c, kind.pos, 'not-implemented', `tracing backend ${q(kind.value)} is not implemented yet`, cp,
            `use backend "otlp": ${kind.value === 'jaeger' ? 'Jaeger' : 'the OpenTelemetry Collector'} accepts OTLP/HTTP (port 4318)`);
          return;
        }
        if (kind.value !== 'otlp') {
          error(ctx, c, kind.pos, 'invalid-value', `invalid tracing backend ${q(kind.value)}`, cp, suggestionHint(kind.value, ['otlp'], 'valid values'));
          return;
        }
        const bp = `${cp} "otlp"`;
        walkBlock(ctx, c, bp, {
          label: 'tracing backend "otlp"',
          keys: {
            endpoint: (d, dp) => {
              const s = readString(ctx, d, dp);
              if (s === undefined) return;
              const r = checkEndpoint(s);
              const pos = d.args[0]?.pos ?? d.pos;
              if ('problem' in r) { error(ctx, d, pos, 'invalid-value', r.problem, dp, 'e.g. endpoint "http://127.0.0.1:4318/v1/traces"'); return; }
              if (new URL(r.url).port === '4317') {
                warning(ctx, d, pos, 'suspicious-value', 'port 4317 is the OTLP/gRPC port; Sentinel exports OTLP/HTTP (protobuf), usually on port 4318', dp);
              }
              endpoint = r.url;
            },
          },
          notImplemented: ['headers', 'protocol', 'compression'],
        });
        if (endpoint === undefined && !c.children.some((x) => x.name === 'endpoint')) {
          error(ctx, c, c.pos, 'missing-key', 'tracing backend "otlp" has no "endpoint"', bp, 'e.g. backend "otlp" { endpoint "http://127.0.0.1:4318/v1/traces" }');
        }
      },
      'sampling-rate': (c, cp) => {
        const v = readRatio(ctx, c, cp);
        if (v !== undefined) samplingRate = v;
      },
      'service-name': (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined) return;
        if (s.trim() === '' || s.length > 256) error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', 'service-name must be 1 to 256 characters', cp);
        else serviceName = s;
      },
    },
  });
  if (!sawBackend) {
    error(ctx, n, n.pos, 'missing-key', 'tracing has no "backend"', p, 'e.g. tracing { backend "otlp" { endpoint "http://127.0.0.1:4318/v1/traces" } }');
    return;
  }
  if (endpoint !== undefined) acc.tracing = { backend: 'otlp', endpoint, samplingRate, serviceName };
}

// ---------- admin ----------
