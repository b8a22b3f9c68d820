// Composition root: the only module that reads process.argv, process.env and installs signal
// handlers. Everything below it takes plain values.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { loadConfigIsolated } from '../config/isolated.ts';
import { DEFAULT_CONFIG_FILE, DEFAULT_CONFIG_KDL } from '../config/default-kdl.ts';
import { formatDiagnostics } from '../config/format.ts';
import { configHash } from '../config/hash.ts';
import type { LoadResult, LogLevel } from '../config/types.ts';
import { runWorker, startPrimary, workerCount } from '../server/cluster.ts';
import type { Config } from '../config/types.ts';
import type { ReloadOutcome } from '../server/proxy-server.ts';
import type { Server } from 'node:http';
import { createAdminServer } from '../admin/admin-server.ts';
import type { ReloadReport } from '../admin/admin-server.ts';
import { watchConfigFiles } from '../runtime/watch.ts';
import type { ConfigWatcher } from '../runtime/watch.ts';
import { listen } from '../server/http-listener.ts';
import { Logs } from '../observability/log.ts';
import { startProxy } from '../server/proxy-server.ts';

const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const USAGE = `Usage:
  sentinel [run] [-c FILE]      start the proxy (config from -c, $SENTINEL_CONFIG, or the embedded default)
  sentinel validate -c FILE     check a config; exit 0 if valid, 1 with diagnostics otherwise
  sentinel --version            print the version
  sentinel --help               print this help
`;

interface Args { command: 'run' | 'validate' | 'version' | 'help'; config: string | null }

function parseArgs(argv: readonly string[]): Args | string {
  let command: Args['command'] | null = null;
  let config: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--version' || a === '-V') command = 'version';
    else if (a === '--help' || a === '-h') command = 'help';
    else if (a === '-c' || a === '--config') {
      const v = argv[++i];
      if (v === undefined) return `${a} needs a file path`;
      config = v;
    } else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if ((a === 'run' || a === 'validate') && command === null) command = a;
    else return `unknown argument "${a}"`;
  }
  return { command: command ?? 'run', config };
}

async function load(path: string | null): Promise<{ result: LoadResult; source: string }> {
  if (path === null) return { result: await loadConfigIsolated({ kind: 'text', text: DEFAULT_CONFIG_KDL, file: DEFAULT_CONFIG_FILE }), source: DEFAULT_CONFIG_FILE };
  return { result: await loadConfigIsolated({ kind: 'file', path }), source: path };
}

async function main(): Promise<number> {
  // A multi-worker child: it gets its config from the primary over IPC.
  if (cluster.isWorker) {
    const logs = new Logs((process.env.SENTINEL_LOG_LEVEL as LogLevel | undefined) ?? 'info');
    return runWorker({ version: VERSION, logs });
  }
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`sentinel: ${args}\n\n${USAGE}`);
    return 2;
  }
  if (args.command === 'version') { process.stdout.write(`sentinel ${VERSION}\n`); return 0; }
  if (args.command === 'help') { process.stdout.write(USAGE); return 0; }

  const path = args.config ?? (process.env.SENTINEL_CONFIG !== undefined && process.env.SENTINEL_CONFIG !== '' ? process.env.SENTINEL_CONFIG : null);
  if (args.command === 'validate') {
    if (path === null) { process.stderr.write('sentinel: validate needs -c FILE (or SENTINEL_CONFIG)\n'); return 2; }
    const { result } = await load(path);
    if (result.diagnostics.length > 0) process.stderr.write(formatDiagnostics(result.diagnostics) + '\n');
    if (result.config === null) return 1;
    process.stdout.write(`${path}: configuration is valid (hash ${configHash(result.config)})\n`);
    return 0;
  }

  const { result, source } = await load(path);
  if (result.config === null) {
    process.stderr.write(formatDiagnostics(result.diagnostics) + '\n');
    process.stderr.write(`sentinel: refusing to start: ${source} is not valid\n`);
    return 1;
  }
  if (result.diagnostics.length > 0) process.stderr.write(formatDiagnostics(result.diagnostics) + '\n');
  const config = result.config;
  const logs = new Logs(config.observability.logging.level);
  const logger = logs.logger;
  const hash = configHash(config);
  const multi = workerCount(config) !== 1;
  if (multi) process.env.SENTINEL_LOG_LEVEL = config.observability.logging.level;

  // One handle over both modes: a single process, or a primary in front of workers.
  let target: {
    readonly generation: number;
    reload(c: Config, h: string): Promise<ReloadOutcome>;
    rejected(): void;
    /** SIGUSR1: the workers reopen their log files too. */
    reopenLogs(): void;
    shutdown(): Promise<unknown>;
    kill(): void;
  };
  try {
    if (multi) {
      logger.info({ version: VERSION, config: source, config_hash: hash, pid: process.pid, workers: workerCount(config) }, 'sentinel primary starting');
      // The primary's own records (worker deaths, reloads) go to the error log too.
      logs.configure(config.observability.logging.level, config.observability.logging.errorLog);
      target = await startPrimary({ config, hash, logger });
    } else {
      const proxy = await startProxy({ config, configHash: hash, version: VERSION, logger, logs });
      target = {
        get generation() { return proxy.generation; },
        reload: (c, h) => proxy.reload(c, h),
        rejected: () => proxy.metrics.reloaded('rejected'),
        reopenLogs: () => undefined,
        shutdown: () => proxy.shutdown(),
        kill: () => undefined,
      };
    }
  } catch (err) {
    process.stderr.write(`sentinel: ${(err as Error).message}\n`);
    return 1;
  }

  // Reload: the same pipeline for SIGHUP, the file watch and the admin endpoint. The loader runs
  // in a child process; a rejected config's diagnostics go to the log and the running config stays.
  let lastReload: { at: string; trigger: string; report: ReloadReport } | null = null;
  let files: readonly string[] = config.files;
  let chain: Promise<unknown> = Promise.resolve();
  const reload = (trigger: string): Promise<ReloadReport> => {
    const run = chain.then(async (): Promise<ReloadReport> => {
      logger.info({ config: source, trigger }, 'config reload requested');
      let next: LoadResult;
      try {
        next = (await load(path)).result;
      } catch (err) {
        target.rejected();
        const message = (err as Error).message;
        logger.error({ error: message }, 'config reload rejected: the loader failed; the running config stays');
        return { result: 'rejected', generation: target.generation, errors: [message] };
      }
      if (next.config === null) {
        target.rejected();
        const text = formatDiagnostics(next.diagnostics);
        logger.error({ diagnostics: next.diagnostics, text }, 'config reload rejected: invalid config; the running config stays');
        return { result: 'rejected', generation: target.generation, errors: next.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file}:${d.line}:${d.column}: ${d.code}: ${d.message}`) };
      }
      const outcome = await target.reload(next.config, configHash(next.config));
      if (outcome.result === 'applied') {
        files = next.config.files;
        watcher?.setFiles(files);
        if (next.diagnostics.length > 0) logger.warn({ diagnostics: next.diagnostics }, 'config reloaded with warnings');
      }
      return outcome;
    }).then((report) => { lastReload = { at: new Date().toISOString(), trigger, report }; return report; });
    chain = run.catch(() => undefined);
    return run;
  };
  const onHup = () => { void reload('SIGHUP'); };
  process.on('SIGHUP', onHup);
  // logrotate: rename the files, then SIGUSR1; every log file is reopened (workers included).
  // A listener also keeps Node from starting its inspector on SIGUSR1.
  process.on('SIGUSR1', () => {
    logs.reopen();
    target.reopenLogs();
  });

  const watcher: ConfigWatcher | null = config.system.autoReload && path !== null
    ? watchConfigFiles(files, () => { void reload('file-watch'); }, { debounceMs: 250, pollIntervalMs: 1000 })
    : null;
  if (watcher !== null) logger.info({ files, mode: watcher.mode }, 'watching config files for changes');

  let admin: Server | null = null;
  const a = config.admin;
  if (a.enabled) {
    admin = createAdminServer({
      reload,
      status: () => ({ version: VERSION, pid: process.pid, config: source, generation: target.generation, last_reload: lastReload }),
    });
    try {
      const port = await listen(admin, 'admin', a.host, a.port);
      logger.info({ listener: 'admin', address: `${a.host.includes(':') ? `[${a.host}]` : a.host}:${port}` }, 'admin ready');
    } catch (err) {
      logger.error({ error: (err as Error).message }, 'admin listener failed; shutting down');
      await target.shutdown();
      process.stderr.write(`sentinel: ${(err as Error).message}\n`);
      return 1;
    }
  }

  return await new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal: sig }, 'second signal: exiting now');
        target.kill();
        resolve(1);
        return;
      }
      logger.info({ signal: sig }, 'shutdown requested');
      process.off('SIGHUP', onHup);
      watcher?.close();
      admin?.closeAllConnections();
      admin?.close();
      // Then the primary's own log files (the error log) are written out before exit.
      target.shutdown().then(() => logs.flush()).then(() => resolve(0), (err: Error) => { logger.error({ err }, 'shutdown failed'); resolve(1); });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // Announced only now: every signal handler is installed, so a SIGHUP sent on this line cannot
    // hit Node's default action (terminate).
    logger.info({ version: VERSION, config: source, config_hash: hash, pid: process.pid, workers: workerCount(config) }, 'sentinel started');
  });
}

main().then((code) => { process.exit(code); }, (err: unknown) => {
  process.stderr.write(`sentinel: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(70);
});
