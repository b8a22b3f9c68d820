// A real Prometheus (Debian package `prometheus`) on 127.0.0.1 with an ephemeral port and a temp
// data dir, plus promtool, for the dashboard and rules checks.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from '../helpers/upstream.ts';

export interface RunResult { readonly code: number | null; readonly stdout: string; readonly stderr: string }

export function run(cmd: string, args: readonly string[], cwd?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.once('error', (err) => reject(new Error(`cannot run ${cmd} (Debian package "prometheus" installs it): ${err.message}`)));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface PromSample { readonly metric: Record<string, string>; readonly value: [number, string] }
export type QueryResult =
  | { readonly status: 'success'; readonly data: { readonly resultType: string; readonly result: PromSample[] | [number, string] } }
  | { readonly status: 'error'; readonly errorType: string; readonly error: string };

export interface PromRangeSeries { readonly metric: Record<string, string>; readonly values: [number, string][] }
export type RangeResult =
  | { readonly status: 'success'; readonly data: { readonly resultType: 'matrix'; readonly result: PromRangeSeries[] } }
  | { readonly status: 'error'; readonly errorType: string; readonly error: string };

export interface PrometheusProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  stderr(): string;
  query(expr: string): Promise<QueryResult>;
  /** `/api/v1/query_range` from startS to endS (Unix seconds) every stepS. */
  queryRange(expr: string, startS: number, endS: number, stepS: number): Promise<RangeResult>;
  api<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  readonly scrapeTargets: readonly string[];
  readonly ruleFiles: readonly string[];
  readonly jobName?: string;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-prom-'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    ...options.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`),
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(options.jobName ?? 'sentinel')}`,
    '    static_configs:',
    `      - targets: [${options.scrapeTargets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  // The port is found free then released; if another process takes it first Prometheus exits and we retry.
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await closedPort();
    const child = spawn('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (err) => { stderr += `spawn error: ${err.message} (install the Debian package "prometheus")\n`; resolve(); });
    });
    let running = true;
    void exited.then(() => { running = false; });
    const url = `http://127.0.0.1:${port}`;
    const stop = async (): Promise<void> => {
      if (running) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    };
    // Wait for readiness (or an early exit). A Prometheus that never gets ready is killed here, so a
    // failed start leaves no process behind (the caller has no handle to stop it).
    const readyBy = Date.now() + 45_000;
    while (running) {
      try {
        const res = await fetch(`${url}/-/ready`);
        if (res.ok) break;
      } catch { /* not listening yet */ }
      if (Date.now() > readyBy) {
        await stop();
        throw new Error(`prometheus did not become ready:\n${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!running) {
      lastErr = stderr;
      if (/address already in use/.test(stderr)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`prometheus exited early:\n${stderr}`);
    }
    const api = async <T>(path: string): Promise<T> => (await (await fetch(`${url}${path}`)).json()) as T;
    const post = async <T>(path: string, params: Record<string, string>): Promise<T> => {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
      });
      return (await res.json()) as T;
    };
    return {
      child, port, url,
      stderr: () => stderr,
      api,
      query: (expr: string) => post<QueryResult>('/api/v1/query', { query: expr }),
      queryRange: (expr: string, startS: number, endS: number, stepS: number) =>
        post<RangeResult>('/api/v1/query_range', { query: expr, start: String(startS), end: String(endS), step: String(stepS) }),
      stop,
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`prometheus could not bind a port:\n${lastErr}`);
}

/** Every finite value of a range query's result (all series, all steps). */
export function rangeValues(r: RangeResult): number[] {
  if (r.status !== 'success') return [];
  return r.data.result.flatMap((s) => s.values.map(([, v]) => Number(v))).filter(Number.isFinite);
}

/** True when an instant query returned at least one sample with a finite value. */
export function hasData(r: QueryResult): boolean {
  if (r.status !== 'success') return false;
  const { resultType, result } = r.data;
  if (resultType === 'scalar') return Number.isFinite(Number((result as [number, string])[1]));
  return (result as PromSample[]).some((s) => Number.isFinite(Number(s.value[1])));
}
