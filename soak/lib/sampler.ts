// Samples the proxy process once per interval: RSS (/proc/PID/status VmRSS), open fds (/proc/PID/fd
// entries), and from its Prometheus endpoint the used heap and the event-loop lag p99.
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'undici';
import type { ResourceSample } from './stats.ts';

export const HEAP_METRIC = 'sentinel_nodejs_heap_size_used_bytes';
export const LAG_P99_METRIC = 'sentinel_nodejs_eventloop_lag_p99_seconds';

/** VmRSS in kB from a /proc/PID/status text; null when absent. */
export function parseVmRssKb(status: string): number | null {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : null;
}

/** The value of an unlabelled sample `name` (or its first labelled series) in Prometheus text format. */
export function parsePromValue(text: string, name: string): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const valueText = rest[0] === '{' ? rest.slice(rest.indexOf('}') + 1) : rest;
    const v = Number(valueText.trim().split(/\s+/)[0]);
    return Number.isFinite(v) ? v : null;
  }
  return null;
}

export function readRssMb(pid: number): number | null {
  try {
    const kb = parseVmRssKb(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb === null ? null : (kb * 1024) / 1e6;
  } catch {
    return null;
  }
}

export function countFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

async function readMetrics(url: string, timeoutMs: number): Promise<{ heapUsedMb: number | null; lagP99Ms: number | null }> {
  try {
    const res = await request(url, { method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.body.text();
    if (res.statusCode !== 200) return { heapUsedMb: null, lagP99Ms: null };
    const heap = parsePromValue(text, HEAP_METRIC);
    const lag = parsePromValue(text, LAG_P99_METRIC);
    return { heapUsedMb: heap === null ? null : heap / 1e6, lagP99Ms: lag === null ? null : lag * 1000 };
  } catch {
    return { heapUsedMb: null, lagP99Ms: null };
  }
}

export interface SamplerOptions {
  /** The proxy's pid; null when unknown (a --target without --pid): RSS and fds are not sampled. */
  readonly pid: number | null;
  /** Full URL of the Prometheus endpoint; null = no heap/lag samples. */
  readonly metricsUrl: string | null;
  readonly intervalMs: number;
  /** Time origin (performance.now() value) the samples' tMs are relative to. */
  readonly originMs: () => number;
  /** Hard cap on the number of samples kept (bounded memory). */
  readonly maxSamples?: number;
}

/** A periodic sampler: `start()` takes one sample immediately, then one per interval until `stop()`. */
export class ResourceSampler {
  readonly samples: ResourceSample[] = [];
  private readonly o: SamplerOptions;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pending: Promise<void> | null = null;
  private stopped = false;

  constructor(options: SamplerOptions) {
    this.o = options;
  }

  start(): void {
    this.loop();
  }

  /** The most recent sample, if any. */
  latest(): ResourceSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  async sampleOnce(): Promise<ResourceSample> {
    const tMs = performance.now() - this.o.originMs();
    const pid = this.o.pid;
    const rssMb = pid === null ? null : readRssMb(pid);
    const fds = pid === null ? null : countFds(pid);
    const m = this.o.metricsUrl === null ? { heapUsedMb: null, lagP99Ms: null } : await readMetrics(this.o.metricsUrl, Math.max(200, this.o.intervalMs));
    const s: ResourceSample = { tMs, rssMb, heapUsedMb: m.heapUsedMb, fds, eventLoopLagP99Ms: m.lagP99Ms };
    if (this.samples.length < (this.o.maxSamples ?? 100_000)) this.samples.push(s);
    return s;
  }

  private loop(): void {
    if (this.stopped) return;
    const startedAt = performance.now();
    this.pending = this.sampleOnce().then(() => {
      this.pending = null;
      if (this.stopped) return;
      const wait = Math.max(0, this.o.intervalMs - (performance.now() - startedAt));
      this.timer = setTimeout(() => this.loop(), wait);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.pending;
  }
}
