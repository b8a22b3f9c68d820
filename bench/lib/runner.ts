// Orchestrates a benchmark invocation: one backend, scenarios interleaved over passes, saturated cells then
// paced (equal-load) runs, with proxy CPU and RSS read from /proc. Used by run.ts and gate.ts.
import http from 'node:http';
import os from 'node:os';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startBackend } from './backend.ts';
import type { Backend } from './backend.ts';
import { REPO_ROOT, detectPinning, makeTempDir, removeDir, toolVersion, which } from './env.ts';
import type { Pinning } from './env.ts';
import { PACED_CONNECTIONS, pickLoadTool, runLoad } from './load.ts';
import type { LoadTool } from './load.ts';
import { childrenTicks, clkTck, coreBusyPct, processTicks, readCoreTimes, snapshotTicks, ticksBetween, totalBusyTicks, treeRssMb } from './proc-stats.ts';
import { sleep } from './procs.ts';
import { cpuUsPerRequest, summarizeCells, summarizeLb, summarizePaced } from './stats.ts';
import type { CellSummary, LbSummary, PacedSummary } from './stats.ts';
import { BODY_BYTES, BODY_LABELS, BODY_PATHS } from './types.ts';
import type { BodyKind, RunRecord, ScenarioError } from './types.ts';
import { totalErrors } from './wrk-parse.ts';
import { findScenario } from '../scenarios/index.ts';
import { sentinelPoolScenario } from '../scenarios/sentinel.ts';
import { runProtocols } from './protocols.ts';
import type { ProtocolOptions, ProtocolResults } from './protocols.ts';
import type { RunningScenario, Scenario } from '../scenarios/types.ts';

export interface RunnerOptions {
  readonly scenarios: readonly string[];
  readonly durationS: number;
  readonly warmupS: number;
  readonly passes: number;
  readonly connections: readonly number[];
  readonly bodies: readonly BodyKind[];
  readonly paced: boolean;
  readonly pacedScenarios: readonly string[];
  readonly pacedDurationS?: number;
  /** Passes of the paced runs; defaults to `passes`. */
  readonly pacedPasses?: number;
  /**
   * Load-balancing runs: Sentinel over a pool of three targets (the backend's three ports), one
   * run per algorithm and pass, 13 B body, the first connection count. Empty or absent: none.
   */
  readonly lbAlgorithms?: readonly string[];
  readonly lbDurationS?: number;
  readonly quietWaitMs: number;
  readonly loadTool: 'auto' | LoadTool;
  readonly backend?: 'auto' | 'node';
  /** HTTPS / HTTP/2 and idle-connection measurements (protocols.ts); absent = skipped. */
  readonly protocols?: Omit<ProtocolOptions, 'log'>;
  readonly log: (line: string) => void;
}

export interface BenchMeta {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly node: string;
  readonly cpu: string;
  readonly cores: number;
  readonly kernel: string;
  readonly pinning: string;
  readonly loadTool: string;
  readonly backend: string;
  readonly versions: Readonly<Record<string, string | null>>;
}

export interface BenchResult {
  readonly meta: BenchMeta;
  readonly options: Omit<RunnerOptions, 'log'>;
  readonly cells: readonly CellSummary[];
  readonly paced: readonly PacedSummary[];
  /** Load-balancing runs summarised per algorithm, with ratios against round_robin. */
  readonly lb: readonly LbSummary[];
  readonly runs: readonly RunRecord[];
  readonly lbRuns: readonly RunRecord[];
  readonly errors: readonly ScenarioError[];
  readonly skipped: readonly { readonly scenario: string; readonly reason: string }[];
  /** Present when the protocol benchmarks ran. */
  readonly protocols?: ProtocolResults;
}

/** GETs `url` once with a fresh connection; throws unless it answers 200 with exactly `bytes` body bytes. */
export function probe(url: string, bytes: number, timeoutMs = 5000, headers?: Readonly<Record<string, string>>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs, headers }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`probe ${url}: status ${res.statusCode}`));
        else if (n !== bytes) reject(new Error(`probe ${url}: ${n} body bytes, expected ${bytes}`));
        else resolve();
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`probe ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Waits (at most `maxWaitMs`) until every core is below `thresholdPct` busy; returns the last busy figures. */
export async function waitForQuiet(maxWaitMs: number, thresholdPct = 25): Promise<{ quiet: boolean; busyPct: number[] }> {
  const deadline = Date.now() + maxWaitMs;
  let busy: number[];
  do {
    const before = readCoreTimes();
    await sleep(500);
    busy = coreBusyPct(before, readCoreTimes());
    if (busy.every((b) => b < thresholdPct)) return { quiet: true, busyPct: busy };
  } while (Date.now() < deadline);
  return { quiet: false, busyPct: busy };
}

interface Measured {
  readonly scenario: string;
  readonly pass: number;
  readonly body: BodyKind;
  readonly connections: number;
  readonly paced: boolean;
  readonly warmupS: number;
  readonly durationS: number;
  readonly idleRssMb: number | null;
}

function packageVersion(pkg: string): string | null {
  try {
    const file = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

function sentinelVersion(): string | null {
  try {
    return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

/** Rotates a list so each pass starts with a different scenario (interleaving without a fixed order bias). */
export function rotate<T>(items: readonly T[], by: number): T[] {
  if (items.length === 0) return [];
  const k = ((by % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export async function runBench(opts: RunnerOptions): Promise<BenchResult> {
  const startedAt = new Date().toISOString();
  const log = opts.log;
  const pinning: Pinning = detectPinning();
  const tool = pickLoadTool(opts.loadTool);
  const clk = clkTck();
  const runs: RunRecord[] = [];
  const lbRuns: RunRecord[] = [];
  const errors: ScenarioError[] = [];
  const skipped: { scenario: string; reason: string }[] = [];
  const active: Scenario[] = [];
  for (const name of opts.scenarios) {
    const s = findScenario(name);
    const reason = s ? s.unavailableReason() : 'unknown scenario';
    if (!s || reason !== null) {
      skipped.push({ scenario: name, reason: reason ?? 'unknown' });
      log(`skip ${name}: ${reason}`);
    } else active.push(s);
  }
  let protocols: ProtocolResults | undefined;
  const failed = new Set<string>();
  log(`pinning: ${pinning.note}; load generator: ${tool}`);
  const backend: Backend = await startBackend(pinning, opts.backend ?? 'auto');
  log(`backend: ${backend.kind} on ${backend.host}:${backend.ports.join(',')}`);
  const backends = backend.ports.map((port) => ({ host: backend.host, port }));

  const measureOne = async (running: RunningScenario, m: Measured): Promise<RunRecord> => {
    const url = running.url + BODY_PATHS[m.body];
    const spec = { url, connections: m.connections, paced: m.paced, headers: running.requestHeaders };
    const q = await waitForQuiet(opts.quietWaitMs);
    if (!q.quiet) log(`  machine busy (cores ${q.busyPct.map((b) => `${b.toFixed(0)}%`).join(', ')}), measuring anyway`);
    if (m.warmupS > 0) await runLoad(tool, { ...spec, durationS: m.warmupS }, pinning);
    const proxyBefore = snapshotTicks(running.pids);
    const backendBefore = snapshotTicks(backend.pids);
    const selfBefore = processTicks(process.pid) + childrenTicks(process.pid);
    const coresBefore = readCoreTimes();
    const t0 = performance.now();
    const load = await runLoad(tool, { ...spec, durationS: m.durationS }, pinning);
    const elapsedS = (performance.now() - t0) / 1000;
    const coresAfter = readCoreTimes();
    const selfTicks = processTicks(process.pid) + childrenTicks(process.pid) - selfBefore;
    const proxyTicks = ticksBetween(proxyBefore, snapshotTicks(running.pids));
    const backendTicks = ticksBetween(backendBefore, snapshotTicks(backend.pids));
    const hasProxy = running.pids.length > 0;
    const rssMb = hasProxy ? treeRssMb(running.pids) : null;
    if (hasProxy && rssMb === null) throw new Error(`${m.scenario} exited during the run`);
    const foreign = totalBusyTicks(coresAfter) - totalBusyTicks(coresBefore) - proxyTicks - backendTicks - selfTicks;
    const rec: RunRecord = {
      pass: m.pass,
      scenario: m.scenario,
      body: m.body,
      connections: m.connections,
      paced: m.paced,
      load,
      proxyCpuUsPerReq: hasProxy ? cpuUsPerRequest(proxyTicks, clk, load.requests) : null,
      proxyCpuPct: hasProxy ? (proxyTicks / clk / elapsedS) * 100 : null,
      rssMb,
      idleRssMb: m.idleRssMb,
      foreignCpuPct: (Math.max(0, foreign) / clk / elapsedS) * 100,
    };
    const errs = totalErrors(load);
    log(
      `  ${m.paced ? 'paced' : `${BODY_LABELS[m.body]} c${m.connections}`}: ${Math.round(load.rps).toLocaleString('en-US')} req/s, ` +
        `p50 ${load.p50Ms.toFixed(3)} ms, p99 ${load.p99Ms.toFixed(3)} ms` +
        (rec.proxyCpuUsPerReq !== null ? `, ${rec.proxyCpuUsPerReq.toFixed(1)} µs/req` : '') +
        (rssMb !== null ? `, RSS ${rssMb.toFixed(0)} MB` : '') +
        `, other load ${(rec.foreignCpuPct ?? 0).toFixed(0)}% of a core` +
        (errs > 0 ? `, ${errs} ERRORS (non-2xx ${load.non2xx})` : ''),
    );
    return rec;
  };

  const session = async (s: Scenario, pass: number, what: string, body: (running: RunningScenario, idleRssMb: number | null) => Promise<void>): Promise<void> => {
    if (failed.has(s.name)) return;
    log(`[${what}] ${s.name}`);
    const tmpDir = makeTempDir(s.name);
    let running: RunningScenario | null = null;
    try {
      running = await s.start({ backend: { host: backend.host, port: backend.port }, backends, tmpDir, pinning });
      await probe(running.url + BODY_PATHS.small, BODY_BYTES.small, undefined, running.requestHeaders);
      if (opts.bodies.includes('large')) await probe(running.url + BODY_PATHS.large, BODY_BYTES.large, undefined, running.requestHeaders);
      const idle = running.pids.length > 0 ? treeRssMb(running.pids) : null;
      await body(running, idle);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      errors.push({ scenario: s.name, pass, message });
      failed.add(s.name);
      log(`  ERROR ${s.name}: ${message}`);
    } finally {
      if (running) await running.stop();
      removeDir(tmpDir);
    }
  };

  try {
    for (let pass = 1; pass <= opts.passes; pass++) {
      for (const s of rotate(active, pass - 1)) {
        await session(s, pass, `pass ${pass}/${opts.passes}`, async (running, idleRssMb) => {
          for (const body of opts.bodies) {
            for (const connections of opts.connections) {
              runs.push(await measureOne(running, { scenario: s.name, pass, body, connections, paced: false, warmupS: opts.warmupS, durationS: opts.durationS, idleRssMb }));
            }
          }
        });
      }
    }
    if (opts.paced) {
      const pacedActive = active.filter((s) => opts.pacedScenarios.includes(s.name));
      const pacedPasses = opts.pacedPasses ?? opts.passes;
      for (let pass = 1; pass <= pacedPasses; pass++) {
        for (const s of rotate(pacedActive, pass - 1)) {
          await session(s, pass, `paced ${pass}/${pacedPasses}`, async (running, idleRssMb) => {
            runs.push(
              await measureOne(running, {
                scenario: s.name,
                pass,
                body: 'small',
                connections: PACED_CONNECTIONS,
                paced: true,
                warmupS: Math.min(opts.warmupS, 2),
                durationS: opts.pacedDurationS ?? opts.durationS,
                idleRssMb,
              }),
            );
          });
        }
      }
    }
    const lbAlgorithms = opts.lbAlgorithms ?? [];
    const connections = opts.connections[0] ?? 50;
    for (let pass = 1; lbAlgorithms.length > 0 && pass <= opts.passes; pass++) {
      for (const algorithm of rotate(lbAlgorithms, pass - 1)) {
        await session(sentinelPoolScenario(algorithm), pass, `load-balancing ${pass}/${opts.passes}`, async (running, idleRssMb) => {
          lbRuns.push(
            await measureOne(running, {
              scenario: algorithm,
              pass,
              body: 'small',
              connections,
              paced: false,
              warmupS: Math.min(opts.warmupS, 2),
              durationS: opts.lbDurationS ?? opts.durationS,
              idleRssMb,
            }),
          );
        });
      }
    }
    if (opts.protocols !== undefined) {
      protocols = await runProtocols({ host: backend.host, port: backend.port }, pinning, { ...opts.protocols, log });
    }
  } finally {
    await backend.stop();
  }

  const { log: _log, ...options } = opts;
  const versions: Record<string, string | null> = {
    sentinel: sentinelVersion(),
    'http-proxy': packageVersion('http-proxy'),
    undici: packageVersion('undici'),
  };
  for (const [name, args] of [['nginx', ['-v']], ['haproxy', ['-v']], ['wrk', ['-v']]] as const) {
    const bin = which(name);
    if (bin && (name !== 'wrk' || tool === 'wrk')) versions[name] = toolVersion(bin, args);
  }
  return {
    meta: {
      startedAt,
      finishedAt: new Date().toISOString(),
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      kernel: `${os.type()} ${os.release()}`,
      pinning: pinning.note,
      loadTool: tool,
      backend: backend.kind,
      versions,
    },
    options,
    cells: summarizeCells(runs),
    paced: summarizePaced(runs),
    lb: summarizeLb(lbRuns),
    runs,
    lbRuns,
    errors,
    skipped,
    ...(protocols !== undefined ? { protocols } : {}),
  };
}
