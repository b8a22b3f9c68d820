// Open-model load generator (k6 `ramping-arrival-rate` semantics) on an undici Pool. Requests start at
// the schedule's arrival times whatever the latency of earlier ones; at most `maxInFlight` (k6 maxVUs)
// run at once, and an arrival while at that cap is dropped and counted (k6 `dropped_iterations`).
// After the last stage, in-flight requests get `gracefulStopMs` to finish, then are aborted and counted
// as interrupted (failed). Everything is bounded: arrivals by the schedule, time by schedule + grace.
import { Pool } from 'undici';
import type { RateSchedule } from './schedule.ts';
import { arrivalTimesMs, scheduleDurationMs, stageIndexAt, rateAt, validateSchedule } from './schedule.ts';

export interface LoadOptions {
  /** `http://127.0.0.1:PORT` (origin only). */
  readonly origin: string;
  readonly path: string;
  readonly schedule: RateSchedule;
  readonly maxInFlight: number;
  readonly gracefulStopMs: number;
  /** Per-request timeout (k6's default is 60 s). */
  readonly requestTimeoutMs?: number;
}

/** A snapshot of the counters, for progress lines. */
export interface LiveStats {
  readonly elapsedMs: number;
  readonly stage: number;
  readonly targetRps: number;
  readonly scheduled: number;
  readonly sent: number;
  readonly completed: number;
  readonly failed: number;
  readonly dropped: number;
  readonly inFlight: number;
  /** Durations (ms) of the responses completed since the previous call of `takeWindow`. */
  readonly windowDurationsMs: number[];
}

export interface LoadResult {
  readonly durationMs: number;
  /** Arrivals due by the schedule (= sent + dropped, unless aborted early). */
  readonly scheduled: number;
  readonly sent: number;
  /** Responses received in full (any status). */
  readonly completed: number;
  /** k6 http_req_failed numerator: status >= 400, network errors, timeouts, interrupted. */
  readonly failed: number;
  readonly dropped: number;
  readonly interrupted: number;
  readonly statusCounts: Record<string, number>;
  readonly errorCounts: Record<string, number>;
  /** Durations (ms) of completed responses, ascending. */
  readonly durationsMs: Float64Array;
  /** Largest delay between an arrival's due time and its actual start (generator saturation). */
  readonly maxStartLagMs: number;
  readonly aborted: boolean;
}

export interface LoadRun {
  readonly done: Promise<LoadResult>;
  /** Counters now; `takeWindow` resets the windowed durations. */
  live(takeWindow?: boolean): LiveStats;
  /** Stops scheduling now; in-flight requests still get the graceful stop. */
  abort(): void;
}

export function startLoad(o: LoadOptions): LoadRun {
  validateSchedule(o.schedule);
  if (!(Number.isInteger(o.maxInFlight) && o.maxInFlight > 0)) throw new RangeError('maxInFlight must be a positive integer');
  const timeoutMs = o.requestTimeoutMs ?? 60_000;
  const pool = new Pool(o.origin, {
    connections: o.maxInFlight,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const arrivals = arrivalTimesMs(o.schedule);
  const totalMs = scheduleDurationMs(o.schedule);
  const controller = new AbortController();
  let durations = new Float64Array(1 << 14);
  let nDur = 0;
  let windowDur: number[] = [];
  let scheduled = 0;
  let sent = 0;
  let completed = 0;
  let failed = 0;
  let dropped = 0;
  let interrupted = 0;
  let inFlight = 0;
  let maxStartLagMs = 0;
  let aborted = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const statusCounts: Record<string, number> = {};
  const errorCounts: Record<string, number> = {};
  let onIdle: (() => void) | null = null;
  const t0 = performance.now();

  const record = (ms: number): void => {
    if (nDur === durations.length) {
      const next = new Float64Array(durations.length * 2);
      next.set(durations);
      durations = next;
    }
    durations[nDur++] = ms;
    if (windowDur.length < 100_000) windowDur.push(ms);
  };

  const settle = (): void => {
    inFlight--;
    if (inFlight === 0 && onIdle !== null) onIdle();
  };

  const fire = (): void => {
    sent++;
    inFlight++;
    const start = performance.now();
    pool.request({ path: o.path, method: 'GET', signal: controller.signal }).then(
      async (res) => {
        try {
          await res.body.dump({ limit: 1 << 30 });
          completed++;
          record(performance.now() - start);
          const key = String(res.statusCode);
          statusCounts[key] = (statusCounts[key] ?? 0) + 1;
          if (res.statusCode >= 400) failed++;
        } catch (err) {
          countError(err);
        }
        settle();
      },
      (err: unknown) => {
        countError(err);
        settle();
      },
    );
  };

  const countError = (err: unknown): void => {
    failed++;
    if (controller.signal.aborted) {
      interrupted++;
      return;
    }
    const code = (err as { code?: string }).code ?? (err as Error).name ?? 'ERROR';
    errorCounts[code] = (errorCounts[code] ?? 0) + 1;
  };

  let next = arrivals.next();
  let resolveScheduled!: () => void;
  const scheduledDone = new Promise<void>((resolve) => { resolveScheduled = resolve; });

  const tick = (): void => {
    timer = null;
    const now = performance.now() - t0;
    while (!aborted && !next.done && next.value <= now) {
      scheduled++;
      maxStartLagMs = Math.max(maxStartLagMs, now - next.value);
      if (inFlight >= o.maxInFlight) dropped++;
      else fire();
      next = arrivals.next();
    }
    if (aborted || next.done) {
      resolveScheduled();
      return;
    }
    timer = setTimeout(tick, Math.max(0, next.value - (performance.now() - t0)));
  };
  tick();

  const done = (async (): Promise<LoadResult> => {
    await scheduledDone;
    if (inFlight > 0) {
      let graceTimer: ReturnType<typeof setTimeout> | null = null;
      await new Promise<void>((resolve) => {
        onIdle = resolve;
        graceTimer = setTimeout(resolve, o.gracefulStopMs);
      });
      if (graceTimer !== null) clearTimeout(graceTimer);
      onIdle = null;
    }
    if (inFlight > 0) {
      controller.abort();
      await new Promise<void>((resolve) => {
        onIdle = resolve;
        setTimeout(resolve, 5000).unref();
      });
    }
    await pool.destroy().catch(() => undefined);
    const sorted = durations.slice(0, nDur).sort();
    return {
      durationMs: performance.now() - t0,
      scheduled, sent, completed, failed, dropped, interrupted,
      statusCounts, errorCounts,
      durationsMs: sorted,
      maxStartLagMs,
      aborted,
    };
  })();

  return {
    done,
    live(takeWindow = false): LiveStats {
      const elapsedMs = performance.now() - t0;
      const w = windowDur;
      if (takeWindow) windowDur = [];
      return {
        elapsedMs,
        stage: stageIndexAt(o.schedule, Math.min(elapsedMs, totalMs - 1e-6)),
        targetRps: rateAt(o.schedule, elapsedMs),
        scheduled, sent, completed, failed, dropped, inFlight,
        windowDurationsMs: w,
      };
    },
    abort(): void {
      if (aborted) return;
      aborted = true;
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
        resolveScheduled();
      }
    },
  };
}
