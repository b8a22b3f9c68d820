// The drills' HTTP client: every request ends in an Outcome (it never rejects), with the status, the
// error code from Sentinel's JSON error body, the bytes received, whether the body was complete, and
// the latency. A client-side deadline bounds every request, so a drill never hangs on a fault.
import { request } from 'node:http';
import type { Agent, IncomingHttpHeaders } from 'node:http';

export interface Outcome {
  /** Response status, null when no response head arrived. */
  readonly status: number | null;
  /** `error.code` of a Sentinel error body (e.g. "UPSTREAM_CONNECT_FAILED"), else null. */
  readonly code: string | null;
  /** Body bytes received. */
  readonly bytes: number;
  /** True when the whole body arrived (Content-Length or chunked end seen). */
  readonly complete: boolean;
  /** Socket or client error (ECONNREFUSED, ECONNRESET, "aborted", "client-timeout"), else null. */
  readonly error: string | null;
  /** performance.now() when the request started, and its duration. */
  readonly startedAt: number;
  readonly ms: number;
  readonly headers: IncomingHttpHeaders;
  /** The body, kept when it is at most keepBodyBytes (default 64 KiB). */
  readonly body: Buffer | null;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** Client-side deadline; the request is abandoned with error "client-timeout". Default 30 s. */
  readonly timeoutMs?: number;
  /** A keep-alive agent; default: a fresh connection per request (agent: false). */
  readonly agent?: Agent;
  readonly keepBodyBytes?: number;
  /** Called once the response head arrived. */
  readonly onResponse?: () => void;
  /** Called with the running byte count as body data arrives. */
  readonly onBytes?: (bytes: number) => void;
}

export function send(port: number, path: string, options: SendOptions = {}): Promise<Outcome> {
  const startedAt = performance.now();
  const keep = options.keepBodyBytes ?? 64 * 1024;
  return new Promise((resolve) => {
    let status: number | null = null;
    let headers: IncomingHttpHeaders = {};
    let bytes = 0;
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (complete: boolean, error: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const body = bytes <= keep ? Buffer.concat(chunks) : null;
      resolve({ status, code: errorCode(headers, body), bytes, complete, error, startedAt, ms: performance.now() - startedAt, headers, body });
    };
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      status = res.statusCode ?? null;
      headers = res.headers;
      options.onResponse?.();
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        if (bytes <= keep) chunks.push(d);
        options.onBytes?.(bytes);
      });
      res.on('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
      res.on('close', () => finish(res.complete, res.complete ? null : 'aborted'));
    });
    const timer = setTimeout(() => {
      finish(false, 'client-timeout');
      req.destroy();
    }, options.timeoutMs ?? 30_000);
    req.on('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
    req.end();
  });
}

function errorCode(headers: IncomingHttpHeaders, body: Buffer | null): string | null {
  if (body === null || !String(headers['content-type'] ?? '').startsWith('application/json')) return null;
  try {
    const code = (JSON.parse(body.toString('utf8')) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}

/** "200", "502 UPSTREAM_CONNECT_FAILED", "200 truncated (aborted)", or the socket error. */
export function outcomeKey(o: Outcome): string {
  if (o.status === null) return o.error ?? 'no response';
  const base = o.code === null ? String(o.status) : `${o.status} ${o.code}`;
  return o.complete ? base : `${base} truncated (${o.error ?? 'aborted'})`;
}

/** "18×502 UPSTREAM_CONNECT_FAILED, 2×ECONNRESET", most frequent first; `key` names an outcome (default outcomeKey). */
export function tally(outcomes: readonly Outcome[], key: (o: Outcome) => string = outcomeKey): string {
  if (outcomes.length === 0) return 'no requests';
  const counts = new Map<string, number>();
  for (const o of outcomes) {
    const k = key(o);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, n]) => `${n}×${k}`).join(', ');
}

export function maxMs(outcomes: readonly Outcome[]): number {
  return outcomes.reduce((m, o) => Math.max(m, o.ms), 0);
}

export function minMs(outcomes: readonly Outcome[]): number {
  return outcomes.length === 0 ? 0 : outcomes.reduce((m, o) => Math.min(m, o.ms), Infinity);
}

/** `n` requests, at most `concurrency` at a time. */
export async function sendMany(port: number, path: string, n: number, concurrency: number, options: SendOptions = {}): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      out.push(await send(port, path, options));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

export interface Load {
  /** Requests finished so far. */
  count(): number;
  /** Stops the workers after their current request; resolves with every outcome. */
  stop(): Promise<Outcome[]>;
}

/** Closed-loop load: `workers` clients each sending one request after the other (`pauseMs` apart) until stop(). */
export function startLoad(port: number, path: string, workers: number, options: SendOptions & { pauseMs?: number } = {}): Load {
  const outcomes: Outcome[] = [];
  let stopping = false;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopping) {
      outcomes.push(await send(port, path, options));
      if (options.pauseMs !== undefined && !stopping) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  });
  return {
    count: () => outcomes.length,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

/**
 * ms until a request to `path` is answered the way `ok` wants (default: 200 with a complete body),
 * polling every 50 ms; null if not within `withinMs`.
 */
export async function timeToRecover(port: number, path: string, withinMs: number, signal?: AbortSignal, ok: (o: Outcome) => boolean = (o) => o.status === 200 && o.complete): Promise<number | null> {
  const start = performance.now();
  while (performance.now() - start <= withinMs && signal?.aborted !== true) {
    const o = await send(port, path, { timeoutMs: Math.max(100, withinMs - (performance.now() - start)) });
    if (ok(o)) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

/** ms until `probe` resolves true, asking every `intervalMs`; null if not within `withinMs` (or aborted). A probe that throws counts as false. */
export async function timeUntil(probe: () => Promise<boolean>, withinMs: number, signal?: AbortSignal, intervalMs = 50): Promise<number | null> {
  const start = performance.now();
  while (performance.now() - start <= withinMs && signal?.aborted !== true) {
    if (await probe().catch(() => false)) return performance.now() - start;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return null;
}
