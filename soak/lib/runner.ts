// Runs one profile with the Node generator: optionally starts a loopback upstream and the real proxy,
// samples the proxy's resources every second, evaluates the profile's k6 thresholds and the leak bounds,
// and returns (and optionally writes) a report. Traffic goes to loopback addresses only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSentinel } from '../../spec/helpers/sentinel-process.ts';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import type { Profile } from '../profiles.ts';
import { steadyWindowMs, totalDurationMs } from '../profiles.ts';
import { GRACEFUL_STOP_MS, k6Thresholds } from './k6-options.ts';
import { startLoad } from './generator.ts';
import type { LoadResult } from './generator.ts';
import { ResourceSampler, countFds } from './sampler.ts';
import { evaluateThresholds, judgeLeaks, percentileK6 } from './stats.ts';
import type { LeakVerdict, ResourceSample, ThresholdResult } from './stats.ts';
import { startSoakUpstream } from './upstream.ts';
import { HeapProbe, parseInspectorUrl } from './heap-probe.ts';
import type { SoakUpstream } from './upstream.ts';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Parses a URL and refuses anything but http on a loopback host. */
export function loopbackUrl(text: string): URL {
  const u = new URL(text);
  if (u.protocol !== 'http:') throw new Error(`only http:// targets are supported, got ${u.protocol}`);
  if (!LOOPBACK_HOSTS.has(u.hostname)) throw new Error(`target must be on loopback (127.0.0.1, localhost, [::1]), got ${u.hostname}`);
  return u;
}

export interface RunOptions {
  /** The profile to run, already scaled to the wanted duration. */
  readonly profile: Profile;
  /** Base URL of a running proxy on loopback; absent = start an upstream and the proxy here. */
  readonly target?: string | null;
  /** With `target`: the proxy's pid (RSS/fd samples) and its metrics URL (heap/lag samples). */
  readonly pid?: number | null;
  readonly metricsUrl?: string | null;
  readonly sampleIntervalMs?: number;
  readonly progressEveryMs?: number;
  readonly gracefulStopMs?: number;
  readonly log?: (line: string) => void;
  /** Directory for the JSON report; null = do not write. */
  readonly resultsDir?: string | null;
  readonly signal?: AbortSignal;
  /**
   * After the load, how long to wait for the proxy's fds to come back to the baseline (idle connections
   * closing). Default 8 s: the self-started upstream closes idle connections after 2 s.
   */
  readonly settleMs?: number;
  /** Called with the pid of the proxy this run started, so a caller's watchdog can kill it. */
  readonly onProxyStarted?: (pid: number) => void;
}

export interface Check {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

export interface SeriesSummary {
  readonly first: number | null;
  readonly last: number | null;
  readonly min: number | null;
  readonly max: number | null;
}

export interface RunReport {
  readonly profile: string;
  readonly description: string;
  readonly startedAt: string;
  readonly target: string;
  readonly selfStarted: boolean;
  readonly stages: Profile['stages'];
  readonly maxInFlight: number;
  readonly durationMs: number;
  readonly requests: Omit<LoadResult, 'durationsMs' | 'durationMs'> & { readonly achievedRps: number };
  readonly latencyMs: { readonly avg: number; readonly min: number; readonly med: number; readonly p90: number; readonly p95: number; readonly p99: number; readonly max: number };
  readonly thresholds: ThresholdResult[];
  readonly resources: {
    readonly pid: number | null;
    readonly rssMb: SeriesSummary;
    readonly heapUsedMb: SeriesSummary;
    readonly fds: SeriesSummary;
    readonly eventLoopLagP99Ms: SeriesSummary;
    readonly samples: ResourceSample[];
  };
  /** Judged when the profile has leak bounds; informational otherwise; null without a steady phase. */
  readonly leak: LeakVerdict | null;
  readonly checks: Check[];
  readonly proxyExit: number | string | null;
  readonly pass: boolean;
  resultFile: string | null;
}

function series(samples: readonly ResourceSample[], pick: (s: ResourceSample) => number | null): SeriesSummary {
  const vals = samples.map(pick).filter((v): v is number => v !== null);
  if (vals.length === 0) return { first: null, last: null, min: null, max: null };
  return { first: vals[0] as number, last: vals[vals.length - 1] as number, min: Math.min(...vals), max: Math.max(...vals) };
}

/** Polls the fd count every 250 ms until it is <= `limit` or `settleMs` passed; returns the last count. */
async function settleFds(pid: number, limit: number, settleMs: number): Promise<number | null> {
  const deadline = performance.now() + settleMs;
  let fds = countFds(pid);
  while (fds !== null && fds > limit && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    fds = countFds(pid);
  }
  return fds;
}

function fmt(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);
}

function selfConfig(upstreamPort: number): string {
  return `schema-version "1"
listeners { listener "soak" { address "127.0.0.1:0" } }
routes { route "all" { matches { path-prefix "/" }; upstream "echo" } }
upstreams { upstream "echo" { target "127.0.0.1:${upstreamPort}" } }
observability {
    metrics { address "127.0.0.1:0" }
    logging { level "info"; access-log { enabled #false } }
}
`;
}

export async function runProfile(o: RunOptions): Promise<RunReport> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const profile = o.profile;
  const startedAt = new Date().toISOString();
  let upstream: SoakUpstream | null = null;
  let proxy: SentinelProcess | null = null;
  let proxyExit: number | string | null = null;
  let stopping = false;
  let target: URL;
  let pid: number | null;
  let metricsUrl: string | null;
  let probe: HeapProbe | null = null;
  try {
    if (o.target !== undefined && o.target !== null) {
      target = loopbackUrl(o.target);
      pid = o.pid ?? null;
      metricsUrl = o.metricsUrl === undefined || o.metricsUrl === null ? null : loopbackUrl(o.metricsUrl).href;
    } else {
      upstream = await startSoakUpstream();
      // The inspector (loopback, ephemeral port) lets the heap probe read the live heap after a full GC.
      proxy = await startSentinel(selfConfig(upstream.port), { listeners: ['soak'], metrics: true, nodeArgs: profile.leak !== null ? ['--inspect=127.0.0.1:0'] : [] });
      const started = proxy;
      void started.exited.then((code) => {
        proxyExit = code;
        if (!stopping) log(`sentinel exited unexpectedly (${code}); stderr tail:\n${started.stderr().trim().split('\n').slice(-5).join('\n')}`);
      });
      if (proxy.child.pid !== undefined) o.onProxyStarted?.(proxy.child.pid);
      const port = proxy.ports.get('soak');
      if (port === undefined || proxy.metricsPort === null) throw new Error('proxy did not report its ports');
      target = new URL(`http://127.0.0.1:${port}`);
      pid = proxy.child.pid ?? null;
      metricsUrl = `http://127.0.0.1:${proxy.metricsPort}/metrics`;
      log(`started upstream 127.0.0.1:${upstream.port} and sentinel pid ${pid} on ${target.host} (metrics ${metricsUrl})`);
      const inspector = profile.leak !== null ? parseInspectorUrl(proxy.stderr()) : null;
      if (inspector !== null) {
        probe = await HeapProbe.connect(inspector).catch((e: Error) => { log(`heap probe unavailable: ${e.message}`); return null; });
      }
    }

    const sampleIntervalMs = o.sampleIntervalMs ?? 1000;
    const totalMs = totalDurationMs(profile);
    let originMs = performance.now();
    const sampler = new ResourceSampler({ pid, metricsUrl, intervalMs: sampleIntervalMs, originMs: () => originMs, maxSamples: Math.ceil((totalMs + 120_000) / sampleIntervalMs) + 10 });
    const baseline = await sampler.sampleOnce(); // before the load (tMs ≈ 0)
    log(`profile ${profile.name}: ${profile.stages.length} stages, ${(totalMs / 1000).toFixed(1)} s, max ${profile.maxVus} in flight -> ${target.origin}${profile.path}`);

    originMs = performance.now();
    const run = startLoad({
      origin: target.origin,
      path: profile.path,
      schedule: { startRps: profile.startRps, stages: profile.stages },
      maxInFlight: profile.maxVus,
      gracefulStopMs: o.gracefulStopMs ?? GRACEFUL_STOP_MS,
    });
    sampler.start();
    // Live heap after GC at the start of the judged window (warm) and at the end of the load.
    const window = steadyWindowMs(profile);
    const heap: { startMb: number | null; endMb: number | null } = { startMb: null, endMb: null };
    let heapStart: Promise<void> = Promise.resolve();
    const heapTimer = probe === null || window === null ? null : setTimeout(() => {
      const p = probe as HeapProbe;
      heapStart = p.heapAfterGcMb().then((mb) => { heap.startMb = mb; log(`live heap after GC at the start of the judged window: ${mb.toFixed(2)} MB`); },
        (e: Error) => log(`heap probe failed: ${e.message}`));
    }, window.startMs + (window.endMs - window.startMs) * (profile.leak?.warmupFraction ?? 0.25));
    const onAbort = (): void => run.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let lastSent = 0;
    let lastAt = 0;
    const progress = setInterval(() => {
      const s = run.live(true);
      const w = [...s.windowDurationsMs].sort((a, b) => a - b);
      const dt = (s.elapsedMs - lastAt) / 1000;
      const rps = dt > 0 ? (s.sent - lastSent) / dt : 0;
      lastSent = s.sent;
      lastAt = s.elapsedMs;
      const r = sampler.latest();
      log(`[${(s.elapsedMs / 1000).toFixed(0).padStart(5)}s] stage ${s.stage + 1}/${profile.stages.length} target ${s.targetRps.toFixed(0)}/s sent ${rps.toFixed(0)}/s` +
        ` | ok ${s.completed - s.failed} failed ${s.failed} dropped ${s.dropped} in-flight ${s.inFlight} p99 ${fmt(percentileK6(w, 99), 2)} ms` +
        ` | rss ${fmt(r?.rssMb)} MB heap ${fmt(r?.heapUsedMb)} MB fds ${r?.fds ?? '-'} lag p99 ${fmt(r?.eventLoopLagP99Ms)} ms`);
    }, o.progressEveryMs ?? 5000);
    let result: LoadResult;
    try {
      result = await run.done;
    } finally {
      clearInterval(progress);
      o.signal?.removeEventListener('abort', onAbort);
      if (heapTimer !== null) clearTimeout(heapTimer);
      await sampler.stop();
    }
    await heapStart;
    if (probe !== null && heap.startMb !== null) {
      heap.endMb = await probe.heapAfterGcMb().catch((e: Error) => { log(`heap probe failed: ${e.message}`); return null; });
      if (heap.endMb !== null) log(`live heap after GC at the end of the load: ${heap.endMb.toFixed(2)} MB`);
    }
    await sampler.sampleOnce(); // one after the load
    const samples = sampler.samples;
    const fdsAfter = pid === null || baseline.fds === null ? null : await settleFds(pid, baseline.fds + (profile.leak?.maxFdGrowth ?? 8), o.settleMs ?? 8000);
    log(`fds before the load ${baseline.fds ?? '-'}, after it settled ${fdsAfter ?? '-'}`);

    const d = result.durationsMs;
    let sum = 0;
    for (const v of d) sum += v;
    const latencyMs = {
      avg: d.length === 0 ? 0 : sum / d.length,
      min: d.length === 0 ? 0 : (d[0] as number),
      med: percentileK6(d, 50),
      p90: percentileK6(d, 90),
      p95: percentileK6(d, 95),
      p99: percentileK6(d, 99),
      max: d.length === 0 ? 0 : (d[d.length - 1] as number),
    };
    const thresholds = evaluateThresholds(k6Thresholds(profile), {
      http_req_failed: { kind: 'rate', passes: result.failed, total: result.sent },
      http_req_duration: { kind: 'trend', sorted: d },
      dropped_iterations: { kind: 'counter', count: result.dropped, durationS: result.durationMs / 1000 },
    });
    const leak = window === null ? null : judgeLeaks(samples, window, profile.leak, { baseline: baseline.fds, after: fdsAfter }, heap);
    const checks: Check[] = [
      { name: 'requests completed', pass: result.completed > 0, detail: `${result.completed} of ${result.sent} sent` },
      { name: 'run not aborted', pass: !result.aborted, detail: result.aborted ? 'aborted before the last stage' : 'all stages ran' },
    ];
    if (profile.leak !== null) {
      checks.push({ name: 'no leak (heap after GC, RSS slope, fd growth)', pass: leak?.pass === true, detail: leak === null ? 'no steady phase' : leak.reasons.join('; ') || 'within bounds' });
    }
    if (proxy !== null) {
      const alive = proxyExit === null && proxy.child.exitCode === null && proxy.child.signalCode === null;
      checks.push({ name: 'proxy alive at the end', pass: alive, detail: alive ? `pid ${pid}` : `exited ${proxyExit ?? proxy.child.exitCode ?? proxy.child.signalCode}` });
    }
    const { durationsMs: _d, durationMs: _dm, ...counts } = result;
    const report: RunReport = {
      profile: profile.name,
      description: profile.description,
      startedAt,
      target: target.origin,
      selfStarted: proxy !== null,
      stages: profile.stages,
      maxInFlight: profile.maxVus,
      durationMs: result.durationMs,
      requests: { ...counts, achievedRps: result.sent / (Math.min(result.durationMs, totalMs) / 1000) },
      latencyMs,
      thresholds,
      resources: {
        pid,
        rssMb: series(samples, (s) => s.rssMb),
        heapUsedMb: series(samples, (s) => s.heapUsedMb),
        fds: series(samples, (s) => s.fds),
        eventLoopLagP99Ms: series(samples, (s) => s.eventLoopLagP99Ms),
        samples,
      },
      leak,
      checks,
      proxyExit,
      pass: thresholds.every((t) => t.pass) && checks.every((c) => c.pass),
      resultFile: null,
    };
    if (o.resultsDir !== undefined && o.resultsDir !== null) {
      mkdirSync(o.resultsDir, { recursive: true });
      const file = join(o.resultsDir, `${startedAt.replace(/[:.]/g, '-')}-${profile.name}.json`);
      report.resultFile = file;
      writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(join(o.resultsDir, `latest-${profile.name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    }
    return report;
  } finally {
    probe?.close();
    if (proxy !== null) {
      stopping = true;
      await proxy.stop('SIGTERM');
    }
    await upstream?.close();
  }
}

/** The summary table printed at the end of a run. */
export function formatSummary(r: RunReport): string {
  const rows: [string, string, string][] = [];
  const req = r.requests;
  rows.push(['requests', `sent ${req.sent}, completed ${req.completed}, failed ${req.failed}, dropped ${req.dropped}, interrupted ${req.interrupted}`, '']);
  rows.push(['achieved rate', `${req.achievedRps.toFixed(1)}/s (max start lag ${req.maxStartLagMs.toFixed(1)} ms)`, '']);
  rows.push(['http_req_duration', `avg ${fmt(r.latencyMs.avg, 2)} med ${fmt(r.latencyMs.med, 2)} p90 ${fmt(r.latencyMs.p90, 2)} p95 ${fmt(r.latencyMs.p95, 2)} p99 ${fmt(r.latencyMs.p99, 2)} max ${fmt(r.latencyMs.max, 2)} ms`, '']);
  for (const t of r.thresholds) rows.push([`${t.metric} ${t.expr}`, `observed ${t.metric === 'http_req_failed' ? t.observed.toFixed(4) : fmt(t.observed, 2)}`, t.pass ? 'PASS' : 'FAIL']);
  const res = r.resources;
  const span = (s: SeriesSummary, digits = 1): string => `first ${fmt(s.first, digits)} last ${fmt(s.last, digits)} min ${fmt(s.min, digits)} max ${fmt(s.max, digits)}`;
  rows.push(['proxy RSS (MB)', span(res.rssMb), '']);
  rows.push(['proxy heap used (MB)', span(res.heapUsedMb), '']);
  rows.push(['proxy open fds', span(res.fds, 0), '']);
  rows.push(['event-loop lag p99 (ms)', span(res.eventLoopLagP99Ms), '']);
  if (r.leak !== null) {
    const l = r.leak;
    rows.push([`steady window ${(l.fromMs / 1000).toFixed(0)}-${(l.toMs / 1000).toFixed(0)} s`, `${l.samples} samples; live heap after GC ${Number.isNaN(l.heapGrowthAfterGcMb) ? '-' : `${l.heapGrowthAfterGcMb >= 0 ? '+' : ''}${fmt(l.heapGrowthAfterGcMb, 2)}`} MB, RSS slope ${fmt(l.rssSlopeMbPerMin, 2)} MB/min${l.rssJudged ? '' : ' (info: window too short)'}, heap slope ${fmt(l.heapSlopeMbPerMin, 2)} MB/min, fd growth after settle ${fmt(l.fdGrowth, 0)}`, l.pass === null ? 'info' : l.pass ? 'PASS' : 'FAIL']);
  }
  for (const c of r.checks) rows.push([c.name, c.detail, c.pass ? 'PASS' : 'FAIL']);
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  const line = `+-${'-'.repeat(w0)}-+-${'-'.repeat(w1)}-+------+`;
  const out = [line, `| ${'check'.padEnd(w0)} | ${'observed'.padEnd(w1)} | ${'res'.padEnd(4)} |`, line];
  for (const [a, b, c] of rows) out.push(`| ${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c.padEnd(4)} |`);
  out.push(line);
  out.push(`${r.profile}: ${r.pass ? 'PASS' : 'FAIL'}${r.resultFile === null ? '' : ` (${r.resultFile})`}`);
  return out.join('\n');
}
