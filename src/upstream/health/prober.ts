// Active health checks: one prober per target, a registry resource (`probe|…`) that lives as long
// as some generation uses the target with these check settings. Each check opens its own
// connection (never one of the pool's, so a saturated pool does not fail its checks), is bounded
// by `timeoutMs`, and reports ok / not ok. The next check starts `intervalMs` after the previous
// one started; the first one after a random fraction of the interval (at most 1 s), so that many
// targets do not probe in lock-step and a fresh `unknown` target is judged quickly.
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ClientRequest } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface ProbeSpec {
  readonly type: 'http' | 'tcp';
  readonly host: string;
  readonly port: number;
  /** `http`: path and Host header; the status must be in [min, max]. */
  readonly path: string;
  readonly hostHeader: string;
  readonly expectedStatus: { readonly min: number; readonly max: number };
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** A TLS upstream: `http` checks go over TLS with these `tls.connect` options (the pool's). */
  readonly tls?: Readonly<Record<string, unknown>>;
}

export interface ProbeResult {
  readonly ok: boolean;
  /** Why it failed (`status 503`, `ECONNREFUSED`, `timeout`), or `ok`. */
  readonly detail: string;
}

interface Running {
  destroy(): void;
}

/** One check. Never rejects; settles within `timeoutMs` (plus a timer tick). */
export function probeOnce(spec: ProbeSpec, track?: (r: Running | null) => void): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    let handle: ClientRequest | Socket;
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      track?.(null);
      handle.destroy();
      resolve({ ok, detail });
    };
    const timer = setTimeout(() => finish(false, 'timeout'), spec.timeoutMs);
    if (spec.type === 'tcp') {
      const socket = connect({ host: spec.host, port: spec.port });
      handle = socket;
      socket.once('connect', () => finish(true, 'ok'));
      socket.once('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
    } else {
      const req = (spec.tls !== undefined ? httpsRequest : request)({
        ...spec.tls,
        host: spec.host,
        port: spec.port,
        path: spec.path,
        method: 'GET',
        agent: false,
        headers: { host: spec.hostHeader, 'user-agent': 'sentinel-health-check', connection: 'close' },
      }, (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= spec.expectedStatus.min && status <= spec.expectedStatus.max;
        finish(ok, ok ? 'ok' : `status ${status}`);
      });
      handle = req;
      req.once('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
      req.end();
    }
    track?.(handle);
  });
}

export class HealthProber {
  readonly spec: ProbeSpec;
  private readonly onResult: (r: ProbeResult) => void;
  private timer: NodeJS.Timeout | null = null;
  private running: Running | null = null;
  private closed = false;

  constructor(spec: ProbeSpec, onResult: (r: ProbeResult) => void) {
    this.spec = spec;
    this.onResult = onResult;
    this.schedule(Math.floor(Math.random() * Math.min(spec.intervalMs, 1_000)));
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => { this.timer = null; this.run(); }, delayMs);
    this.timer.unref();
  }

  private run(): void {
    const started = performance.now();
    void probeOnce(this.spec, (r) => { this.running = r; }).then((r) => {
      if (this.closed) return;
      this.onResult(r);
      this.schedule(Math.max(0, this.spec.intervalMs - (performance.now() - started)));
    });
  }

  /** Stops checking; a check in progress is abandoned (its result is dropped). */
  close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    this.running?.destroy();
    this.running = null;
    return Promise.resolve();
  }
}
