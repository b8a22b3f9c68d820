// Multi-process mode (`system { worker-threads N }`, N ≠ 1): the primary owns signals, config
// loading and reload orchestration, the metrics endpoint (aggregating the workers' registries),
// and replaces crashed workers with backoff. Workers run the ordinary single-process proxy on
// listening sockets shared through node:cluster (the primary distributes connections).
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Server } from 'node:http';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../config/types.ts';
import type { Logger, Logs } from '../observability/log.ts';
import { CATALOGUE } from '../observability/catalogue.ts';
import { startProxy } from './proxy-server.ts';
import type { ReloadOutcome, RunningProxy } from './proxy-server.ts';
import { listen } from './http-listener.ts';
import { createMetricsServer } from '../admin/metrics-server.ts';

export type PrimaryMessage =
  | { readonly type: 'start'; readonly config: Config; readonly hash: string }
  | { readonly type: 'reload'; readonly id: number; readonly config: Config; readonly hash: string }
  | { readonly type: 'count-rejected' }
  | { readonly type: 'reopen-logs' }
  | { readonly type: 'shutdown' };

export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'start-failed'; readonly error: string }
  | { readonly type: 'reloaded'; readonly id: number; readonly outcome: ReloadOutcome; readonly hash: string };

/** 0 means one worker per CPU. */
export function workerCount(config: Config): number {
  return config.system.workerThreads === 0 ? availableParallelism() : config.system.workerThreads;
}

/** The workers never serve metrics themselves: the primary aggregates them. */
function forWorker(config: Config): Config {
  return { ...config, observability: { ...config.observability, metrics: { ...config.observability.metrics, enabled: false } } };
}

// ---- worker side -------------------------------------------------------------------------------

export function runWorker(o: { version: string; logs: Logs }): Promise<number> {
  return new Promise((resolve) => {
    let proxy: RunningProxy | null = null;
    let stopping = false;
    const send = (m: WorkerMessage) => { process.send?.(m); };
    const stop = () => {
      if (stopping) return;
      stopping = true;
      if (proxy === null) { resolve(0); return; }
      proxy.shutdown().then(() => resolve(0), () => resolve(1));
    };
    process.on('message', (m: PrimaryMessage) => {
      if (m.type === 'start') {
        startProxy({ config: forWorker(m.config), configHash: m.hash, version: o.version, logger: o.logs.logger, logs: o.logs }).then((p) => {
          proxy = p;
          // Constructing an AggregatorRegistry installs prom-client's worker-side IPC listener.
          new AggregatorRegistry();
          AggregatorRegistry.setRegistries([p.metrics.registry]);
          send({ type: 'ready' });
        }, (err: Error) => {
          send({ type: 'start-failed', error: err.message });
          resolve(1);
        });
      } else if (m.type === 'reload') {
        if (proxy === null) return;
        proxy.reload(forWorker(m.config), m.hash).then((outcome) => send({ type: 'reloaded', id: m.id, outcome, hash: m.hash }));
      } else if (m.type === 'reopen-logs') {
        o.logs.reopen();
      } else if (m.type === 'count-rejected') {
        proxy?.metrics.reloaded('rejected');
      } else if (m.type === 'shutdown') {
        stop();
      }
    });
    // Ctrl-C reaches the whole process group: drain the same way as when the primary asks.
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // Reloads come from the primary over IPC; a terminal hangup reaching the whole process group
    // must not kill (Node's default for SIGHUP) the workers.
    process.on('SIGHUP', () => undefined);
    // logrotate signals the primary, which tells every worker; a SIGUSR1 sent to the whole group
    // reopens here too (harmless), and never starts Node's inspector.
    process.on('SIGUSR1', () => { o.logs.reopen(); });
    // A worker whose primary is gone has nobody to serve for.
    process.on('disconnect', stop);
  });
}

// ---- primary side ------------------------------------------------------------------------------

export interface PrimaryOptions {
  readonly config: Config;
  readonly hash: string;
  readonly logger: Logger;
}

export interface RunningPrimary {
  readonly generation: number;
  /** Sends the config to every worker; the outcome is theirs when they agree, else `rejected`. */
  reload(config: Config, hash: string): Promise<ReloadOutcome>;
  /** Counts a reload rejected before it reached the workers (invalid config). */
  rejected(): void;
  /** Asks every worker to reopen its log files (SIGUSR1). */
  reopenLogs(): void;
  /** Asks every worker to drain and waits until they have all exited. */
  shutdown(): Promise<void>;
  /** Kills every worker at once (second signal). */
  kill(): void;
}

/** `net.ipv4.tcp_migrate_req` of this network namespace, or null where it does not exist. */
export function readMigrateReq(): string | null {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim();
  } catch {
    return null;
  }
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
const STABLE_MS = 30_000;

export async function startPrimary(o: PrimaryOptions): Promise<RunningPrimary> {
  const { logger } = o;
  let config = o.config;
  let hash = o.hash;
  let generation = 1;
  const count = workerCount(config);
  const own = new Registry();
  const restarts = new Counter({ name: CATALOGUE.workerRestarts.name, help: CATALOGUE.workerRestarts.help, registers: [own] });
  const alive = new Gauge({ name: CATALOGUE.workers.name, help: CATALOGUE.workers.help, registers: [own] });
  const mismatches = new Counter({ name: CATALOGUE.workerGenerationMismatch.name, help: CATALOGUE.workerGenerationMismatch.help, registers: [own] });
  const aggregator = new AggregatorRegistry();
  let shuttingDown = false;
  let backoffMs = BACKOFF_MIN_MS;
  const workers = new Set<Worker>();

  const fork = (): Promise<void> => new Promise((resolve, reject) => {
    const w = cluster.fork();
    const startedAt = Date.now();
    workers.add(w);
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') { alive.set(workers.size); resolve(); }
      else if (m.type === 'start-failed') reject(new Error(m.error));
    });
    w.once('online', () => w.send({ type: 'start', config, hash } satisfies PrimaryMessage));
    w.once('exit', (code, signal) => {
      workers.delete(w);
      alive.set(workers.size);
      if (shuttingDown) return;
      reject(new Error(`worker exited during start (${signal ?? code})`));
      restarts.inc();
      if (Date.now() - startedAt > STABLE_MS) backoffMs = BACKOFF_MIN_MS;
      logger.error({ pid: w.process.pid, code, signal, restart_in_ms: backoffMs }, 'worker died; replacing it');
      const delay = backoffMs;
      backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
      setTimeout(() => { if (!shuttingDown) fork().catch((err: Error) => logger.error({ error: err.message }, 'worker replacement failed')); }, delay);
    });
  });

  try {
    await Promise.all(Array.from({ length: count }, fork));
  } catch (err) {
    shuttingDown = true;
    for (const w of workers) w.process.kill('SIGKILL');
    throw err;
  }
  logger.info({ workers: count, reuse_port: config.system.reusePort }, 'workers ready');
  const migrateReq = config.system.reusePort ? readMigrateReq() : null;
  if (config.system.reusePort && migrateReq !== '1') {
    logger.warn({ sysctl: 'net.ipv4.tcp_migrate_req', value: migrateReq ?? 'absent' },
      'reuse-port: connections waiting in the accept queue of a worker that dies are reset; set net.ipv4.tcp_migrate_req=1 (Linux 5.14+) so the kernel moves them to the other workers');
  }

  let metricsServer: Server | null = null;
  const m = config.observability.metrics;
  if (m.enabled) {
    metricsServer = createMetricsServer({
      contentType: aggregator.contentType,
      metrics: () => Promise.all([aggregator.clusterMetrics(), own.metrics()]).then(([workersText, ownText]) => workersText + '\n' + ownText),
    }, m.path);
    const port = await listen(metricsServer, 'metrics', m.host, m.port);
    logger.info({ listener: 'metrics', address: `${m.host.includes(':') ? `[${m.host}]` : m.host}:${port}`, path: m.path }, 'metrics ready');
  }

  let reloadId = 0;
  const reload = async (next: Config, nextHash: string): Promise<ReloadOutcome> => {
    const id = ++reloadId;
    const replies = [...workers].map((w) => new Promise<WorkerMessage & { type: 'reloaded' }>((resolve) => {
      const onMessage = (msg: WorkerMessage) => {
        if (msg.type === 'reloaded' && msg.id === id) { w.off('message', onMessage); resolve(msg); }
      };
      w.on('message', onMessage);
      w.send({ type: 'reload', id, config: next, hash: nextHash } satisfies PrimaryMessage);
    }));
    const results = await Promise.all(replies);
    const applied = results.filter((r) => r.outcome.result !== 'rejected').length;
    const generations = new Set(results.map((r) => r.outcome.generation));
    if (applied === results.length) { config = next; hash = nextHash; }
    const first = results[0]?.outcome ?? { result: 'rejected' as const, generation, errors: ['no workers'] };
    if (generations.size > 1 || (applied > 0 && applied < results.length)) {
      mismatches.inc();
      logger.error({ results: results.map((r) => ({ result: r.outcome.result, generation: r.outcome.generation, errors: r.outcome.errors })) }, 'workers disagree after reload');
      return { result: 'rejected', generation: Math.max(...generations), errors: ['workers disagree after reload'] };
    }
    generation = first.generation;
    logger.info({ result: first.result, generation: first.generation, workers: results.length }, 'workers reloaded');
    return first;
  };

  return {
    get generation() { return generation; },
    reload,
    // The reload counter lives in the workers' registries (aggregated with max): each counts it.
    rejected() { for (const w of workers) w.send({ type: 'count-rejected' } satisfies PrimaryMessage); },
    reopenLogs() { for (const w of workers) if (!w.isDead()) w.send({ type: 'reopen-logs' } satisfies PrimaryMessage); },
    async shutdown() {
      shuttingDown = true;
      logger.info({ workers: workers.size }, 'shutdown: draining workers');
      const exits = [...workers].map((w) => new Promise<void>((r) => {
        if (w.isDead()) { r(); return; }
        w.once('exit', () => r());
        w.send({ type: 'shutdown' } satisfies PrimaryMessage);
      }));
      await Promise.all(exits);
      metricsServer?.closeAllConnections();
      metricsServer?.close();
      logger.info({}, 'shutdown: complete');
    },
    kill() {
      shuttingDown = true;
      for (const w of workers) w.process.kill('SIGKILL');
    },
  };
}
