// Upstream resilience blocks: `health-check`, `circuit-breaker`, `outlier-detection`,
// `retry-policy`. Key names follow Zentinel where it has them (see docs/config.md). Each reader
// reports what is wrong and returns undefined; defaults are applied here, never in compile/.
import type { CircuitBreakerConfig, HealthCheckConfig, OutlierDetectionConfig, RetryPolicyConfig } from '../types.ts';
import type { LNode, LValue } from '../kdl.ts';
import {
  HOSTNAME_RE, MAX_DURATION_SECS, checkBlockNode, checkInt, error, hasErrorsUnder, q, readBool, readEnum, readInt,
  readSecsAsMs, readString, rejectBlock, rejectProps, single, typeName, walkBlock, where,
} from './reader.ts';
import type { Ctx } from './reader.ts';

const DURATION_RE = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/**
 * A duration: a number of seconds (fractions allowed) or a string with a unit, `"100ms"`, `"2s"`,
 * `"1m"` (Zentinel writes `backoff "100ms"`). Returned in milliseconds, `minMs`..MAX.
 */
export function readDurationMs(ctx: Ctx, n: LNode, p: string, minMs = 1): number | undefined {
  const v = single(ctx, n, p);
  if (v === undefined) return undefined;
  let ms: number;
  if (typeof v.value === 'number' && Number.isFinite(v.value)) {
    ms = Math.round(v.value * 1000);
  } else if (typeof v.value === 'string') {
    const m = DURATION_RE.exec(v.value.trim());
    if (m === null) {
      error(ctx, n, v.pos, 'invalid-value', `invalid duration ${q(v.value)}`, p, 'use a number of seconds (0.1) or a string with a unit: "100ms", "2s", "1m"');
      return undefined;
    }
    ms = Math.round(Number(m[1]) * (UNIT_MS[m[2] as string] as number));
  } else {
    error(ctx, n, v.pos, 'invalid-type', `expected a duration (seconds, or a string such as "100ms"), got ${typeName(v.value)}`, p);
    return undefined;
  }
  const maxMs = MAX_DURATION_SECS * 1000;
  if (ms < minMs || ms > maxMs) {
    error(ctx, n, v.pos, 'invalid-value', `${q(n.name)} must be between ${minMs} ms and ${MAX_DURATION_SECS} s, got ${typeof v.value === 'string' ? q(v.value) : String(v.value)}`, p);
    return undefined;
  }
  return ms;
}

/** A finite number in [min, max] (integers and fractions). */
export function readNumber(ctx: Ctx, n: LNode, p: string, min: number, max: number): number | undefined {
  const v = single(ctx, n, p);
  if (v === undefined) return undefined;
  if (typeof v.value !== 'number' || !Number.isFinite(v.value)) {
    error(ctx, n, v.pos, 'invalid-type', `expected a number, got ${typeName(v.value)}`, p);
    return undefined;
  }
  if (v.value < min || v.value > max) {
    error(ctx, n, v.pos, 'invalid-value', `${q(n.name)} must be between ${min} and ${max}, got ${v.value}`, p);
    return undefined;
  }
  return v.value;
}

// ---------- health-check ----------

const STATUS_RANGE_RE = /^([1-5][0-9][0-9])-([1-5][0-9][0-9])$/;
const STATUS_CLASS_RE = /^([1-5])xx$/i;

function readExpectedStatus(ctx: Ctx, n: LNode, p: string): { min: number; max: number } | undefined {
  const v: LValue | undefined = single(ctx, n, p);
  if (v === undefined) return undefined;
  if (typeof v.value === 'number') {
    const s = checkInt(ctx, n, v, p, 100, 599, 'expected-status');
    return s === undefined ? undefined : { min: s, max: s };
  }
  if (typeof v.value === 'string') {
    const range = STATUS_RANGE_RE.exec(v.value);
    if (range !== null) {
      const min = Number(range[1]);
      const max = Number(range[2]);
      if (min <= max) return { min, max };
    }
    const cls = STATUS_CLASS_RE.exec(v.value);
    if (cls !== null) {
      const c = Number(cls[1]) * 100;
      return { min: c, max: c + 99 };
    }
  }
  error(ctx, n, v.pos, 'invalid-value', `invalid expected-status ${typeof v.value === 'string' ? q(v.value) : String(v.value)}`, p,
    'use a status (200), an inclusive range ("200-399") or a class ("2xx")');
  return undefined;
}

/** `health-check { type "http" { path; expected-status; host } | type "tcp"; interval-secs; … }`. */
export function readHealthCheck(ctx: Ctx, node: LNode, p: string, upstreamLabel: string): HealthCheckConfig | undefined {
  checkBlockNode(ctx, node, p);
  const label = `health-check of ${upstreamLabel}`;
  let type: 'http' | 'tcp' | undefined;
  let path = '/';
  let host: string | null = null;
  let expectedStatus = { min: 200, max: 299 };
  let intervalMs = 10_000;
  let timeoutMs = 5_000;
  let healthyThreshold = 2;
  let unhealthyThreshold = 3;
  let initialState: 'healthy' | 'unknown' = 'healthy';
  let timeoutNode: LNode | undefined;
  let intervalNode: LNode | undefined;
  walkBlock(ctx, node, p, {
    label,
    keys: {
      type: (n, tp) => {
        rejectProps(ctx, n, tp);
        const first = n.args[0];
        if (first === undefined) {
          error(ctx, n, n.pos, 'missing-argument', '"type" needs a check type', tp, 'e.g. type "http" { path "/health" } or type "tcp"');
          return;
        }
        const extra = n.args[1];
        if (extra !== undefined) error(ctx, n, extra.pos, 'extra-argument', `"type" takes one check type, got ${n.args.length}`, tp);
        const kind = typeof first.value === 'string' ? first.value : undefined;
        if (kind === 'grpc' || kind === 'inference') {
          error(ctx, n, first.pos, 'not-implemented', `health-check type ${q(kind)} is not implemented yet`, tp, 'supported: "http", "tcp"');
          return;
        }
        if (kind !== 'http' && kind !== 'tcp') {
          error(ctx, n, first.pos, 'invalid-value', `invalid health-check type ${typeof first.value === 'string' ? q(first.value) : String(first.value)}`, tp, 'valid values: "http", "tcp"');
          return;
        }
        if (kind === 'tcp') {
          rejectBlock(ctx, n, tp);
          type = 'tcp';
          return;
        }
        type = 'http';
        if (!n.hasBlock) return;
        walkBlock(ctx, n, tp, {
          label: `health-check type "http" of ${upstreamLabel}`,
          keys: {
            path: (c, cp) => {
              const s = readString(ctx, c, cp);
              if (s === undefined) return;
              // eslint-disable-next-line no-control-regex -- rejecting control characters and spaces is the point
              if (!s.startsWith('/') || /[\s\u0000-\u001f\u007f#]/.test(s)) {
                error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `health-check path ${q(s)} must start with "/" and contain no spaces, control characters or "#"`, cp);
                return;
              }
              path = s;
            },
            'expected-status': (c, cp) => {
              const r = readExpectedStatus(ctx, c, cp);
              if (r !== undefined) expectedStatus = r;
            },
            host: (c, cp) => {
              const s = readString(ctx, c, cp);
              if (s === undefined) return;
              const bare = s.replace(/:[0-9]{1,5}$/, '');
              if (!HOSTNAME_RE.test(bare)) {
                error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `health-check host ${q(s)} is not a valid host name`, cp);
                return;
              }
              host = s;
            },
          },
        });
      },
      'interval-secs': (n, np) => { intervalNode = n; intervalMs = readSecsAsMs(ctx, n, np) ?? intervalMs; },
      'timeout-secs': (n, np) => { timeoutNode = n; timeoutMs = readSecsAsMs(ctx, n, np) ?? timeoutMs; },
      'healthy-threshold': (n, np) => { healthyThreshold = readInt(ctx, n, np, 1, 1000) ?? healthyThreshold; },
      'unhealthy-threshold': (n, np) => { unhealthyThreshold = readInt(ctx, n, np, 1, 1000) ?? unhealthyThreshold; },
      'initial-state': (n, np) => { initialState = readEnum(ctx, n, np, ['healthy', 'unknown'] as const) ?? initialState; },
    },
  });
  if (type === undefined && !hasErrorsUnder(ctx, `${p}/type`)) {
    error(ctx, node, node.pos, 'missing-key', `${label} has no "type"`, p, 'e.g. type "http" { path "/health" } or type "tcp"');
  }
  if (timeoutMs > intervalMs) {
    const at = timeoutNode ?? intervalNode ?? node;
    error(ctx, at, at.pos, 'conflict', `${label}: timeout-secs (${timeoutMs / 1000}) is longer than interval-secs (${intervalMs / 1000})`, p,
      'a check must finish before the next one starts; lower timeout-secs or raise interval-secs');
  }
  if (type === undefined || hasErrorsUnder(ctx, p)) return undefined;
  return { type, path, host, expectedStatus, intervalMs, timeoutMs, healthyThreshold, unhealthyThreshold, initialState };
}

// ---------- circuit-breaker ----------

/** `circuit-breaker { failure-threshold 5; success-threshold 2; timeout-seconds 30; half-open-max-requests 1 }`. */
export function readCircuitBreaker(ctx: Ctx, node: LNode, p: string, upstreamLabel: string): CircuitBreakerConfig | undefined {
  checkBlockNode(ctx, node, p);
  const c = {
    failureThreshold: 5, successThreshold: 2, openMs: 30_000, halfOpenMaxRequests: 1,
    failureRatio: null as number | null, windowMs: 10_000, minRequests: 20, include5xx: false,
  };
  walkBlock(ctx, node, p, {
    label: `circuit-breaker of ${upstreamLabel}`,
    keys: {
      'failure-threshold': (n, np) => { c.failureThreshold = readInt(ctx, n, np, 1, 1_000_000) ?? c.failureThreshold; },
      'success-threshold': (n, np) => { c.successThreshold = readInt(ctx, n, np, 1, 10_000) ?? c.successThreshold; },
      'timeout-seconds': (n, np) => { c.openMs = readSecsAsMs(ctx, n, np) ?? c.openMs; },
      'half-open-max-requests': (n, np) => { c.halfOpenMaxRequests = readInt(ctx, n, np, 1, 10_000) ?? c.halfOpenMaxRequests; },
      'failure-ratio': (n, np) => {
        const v = readNumber(ctx, n, np, 0, 1);
        if (v === undefined) return;
        if (v === 0) {
          error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', 'failure-ratio must be greater than 0', np, 'omit it to open on consecutive failures only');
          return;
        }
        c.failureRatio = v;
      },
      'window-secs': (n, np) => {
        const v = readSecsAsMs(ctx, n, np);
        if (v === undefined) return;
        if (v < 100) { error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', 'window-secs must be at least 0.1', np); return; }
        c.windowMs = v;
      },
      'min-requests': (n, np) => { c.minRequests = readInt(ctx, n, np, 1, 1_000_000) ?? c.minRequests; },
      'include-5xx': (n, np) => { c.include5xx = readBool(ctx, n, np) ?? c.include5xx; },
    },
  });
  return hasErrorsUnder(ctx, p) ? undefined : c;
}

// ---------- outlier-detection ----------

/** `outlier-detection { consecutive-5xx 5; consecutive-failures 5; base-ejection-secs 30; … }`. */
export function readOutlierDetection(ctx: Ctx, node: LNode, p: string, upstreamLabel: string): OutlierDetectionConfig | undefined {
  checkBlockNode(ctx, node, p);
  const o = { consecutive5xx: 5, consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 50 };
  let baseNode: LNode | undefined;
  let maxNode: LNode | undefined;
  walkBlock(ctx, node, p, {
    label: `outlier-detection of ${upstreamLabel}`,
    keys: {
      'consecutive-5xx': (n, np) => { o.consecutive5xx = readInt(ctx, n, np, 1, 1_000_000) ?? o.consecutive5xx; },
      'consecutive-failures': (n, np) => { o.consecutiveFailures = readInt(ctx, n, np, 1, 1_000_000) ?? o.consecutiveFailures; },
      'base-ejection-secs': (n, np) => { baseNode = n; o.baseEjectionMs = readSecsAsMs(ctx, n, np) ?? o.baseEjectionMs; },
      'max-ejection-secs': (n, np) => { maxNode = n; o.maxEjectionMs = readSecsAsMs(ctx, n, np) ?? o.maxEjectionMs; },
      'max-ejection-percent': (n, np) => { o.maxEjectionPercent = readInt(ctx, n, np, 0, 100) ?? o.maxEjectionPercent; },
    },
  });
  if (o.maxEjectionMs < o.baseEjectionMs) {
    const at = maxNode ?? baseNode ?? node;
    error(ctx, at, at.pos, 'conflict', `outlier-detection of ${upstreamLabel}: max-ejection-secs (${o.maxEjectionMs / 1000}) is shorter than base-ejection-secs (${o.baseEjectionMs / 1000})`, p);
  }
  return hasErrorsUnder(ctx, p) ? undefined : o;
}

// ---------- retry-policy ----------

/** `retry-policy { max-attempts 3; retryable-status-codes 502 503 504; backoff "100ms"; … }`. */
export function readRetryPolicy(ctx: Ctx, node: LNode, p: string, upstreamLabel: string): RetryPolicyConfig | undefined {
  checkBlockNode(ctx, node, p);
  const label = `retry-policy of ${upstreamLabel}`;
  const r = {
    maxAttempts: 3, retryableStatusCodes: [] as number[], backoffMs: 100, maxBackoffMs: 2_000,
    perAttemptTimeoutMs: null as number | null, retryNonIdempotent: false, budgetRatio: 0.2, budgetMinPerSecond: 10,
    maxBufferBytes: 64 * 1024,
  };
  let backoffNode: LNode | undefined;
  let maxBackoffNode: LNode | undefined;
  walkBlock(ctx, node, p, {
    label,
    keys: {
      'max-attempts': (n, np) => { r.maxAttempts = readInt(ctx, n, np, 1, 10) ?? r.maxAttempts; },
      'retryable-status-codes': (n, np) => {
        rejectProps(ctx, n, np);
        rejectBlock(ctx, n, np);
        if (n.args.length === 0) {
          error(ctx, n, n.pos, 'missing-argument', '"retryable-status-codes" needs at least one status', np, 'e.g. retryable-status-codes 502 503 504');
          return;
        }
        const seen = new Set<number>();
        for (const a of n.args) {
          const s = checkInt(ctx, n, a, np, 500, 599, 'a retryable status');
          if (s === undefined) continue;
          if (seen.has(s)) error(ctx, n, a.pos, 'invalid-value', `status ${s} is listed twice`, np);
          seen.add(s);
        }
        r.retryableStatusCodes = [...seen].sort((a, b) => a - b);
      },
      backoff: (n, np) => { backoffNode = n; r.backoffMs = readDurationMs(ctx, n, np, 0) ?? r.backoffMs; },
      'max-backoff': (n, np) => { maxBackoffNode = n; r.maxBackoffMs = readDurationMs(ctx, n, np, 0) ?? r.maxBackoffMs; },
      'per-attempt-timeout': (n, np) => { r.perAttemptTimeoutMs = readDurationMs(ctx, n, np, 1) ?? r.perAttemptTimeoutMs; },
      'retry-non-idempotent': (n, np) => { r.retryNonIdempotent = readBool(ctx, n, np) ?? r.retryNonIdempotent; },
      'budget-ratio': (n, np) => { r.budgetRatio = readNumber(ctx, n, np, 0, 10) ?? r.budgetRatio; },
      'budget-min-per-sec': (n, np) => { r.budgetMinPerSecond = readNumber(ctx, n, np, 0, 100_000) ?? r.budgetMinPerSecond; },
      'max-buffer-bytes': (n, np) => { r.maxBufferBytes = readInt(ctx, n, np, 0, 64 * 1024 * 1024) ?? r.maxBufferBytes; },
    },
  });
  if (r.backoffMs > r.maxBackoffMs) {
    const at = backoffNode ?? maxBackoffNode ?? node;
    error(ctx, at, at.pos, 'conflict', `${label}: backoff (${r.backoffMs} ms) is longer than max-backoff (${r.maxBackoffMs} ms)`, p,
      maxBackoffNode !== undefined ? `see max-backoff at ${where(maxBackoffNode)}` : 'raise max-backoff (default "2s")');
  }
  return hasErrorsUnder(ctx, p) ? undefined : r;
}
