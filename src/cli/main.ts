// Composition root: the only module that reads process.argv, process.env and installs signal
// handlers. Everything below it takes plain values.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { loadConfigIsolated } from '../config/isolated.ts';
import { DEFAULT_CONFIG_FILE, DEFAULT_CONFIG_KDL } from '../config/default-kdl.ts';
import { formatDiagnostics } from '../config/format.ts';
import { configHash } from '../config/hash.ts';
import type { LoadResult, LogLevel } from '../config/types.ts';
import { runPrimary, runWorker, workerCount } from '../server/cluster.ts';
import { createLogger } from '../observability/log.ts';
import { startProxy } from '../server/proxy-server.ts';
import type { RunningProxy } from '../server/proxy-server.ts';

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
    const logger = createLogger((process.env.SENTINEL_LOG_LEVEL as LogLevel | undefined) ?? 'info');
    return runWorker({ version: VERSION, logger });
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
  const logger = createLogger(config.observability.logging.level);
  const hash = configHash(config);
  if (workerCount(config) !== 1) {
    process.env.SENTINEL_LOG_LEVEL = config.observability.logging.level;
    logger.info({ version: VERSION, config: source, config_hash: hash, pid: process.pid, workers: workerCount(config) }, 'sentinel primary starting');
    try {
      const code = await runPrimary({
        config, hash, logger,
        reloadConfig: async () => {
          logger.info({ config: source }, 'config reload requested');
          const next = (await load(path)).result;
          if (next.config === null) {
            logger.error({ diagnostics: next.diagnostics, text: formatDiagnostics(next.diagnostics) }, 'config reload rejected: invalid config; the running config stays');
            return null;
          }
          return { config: next.config, hash: configHash(next.config) };
        },
      });
      return code;
    } catch (err) {
      process.stderr.write(`sentinel: ${(err as Error).message}\n`);
      return 1;
    }
  }
  let proxy: RunningProxy;
  try {
    proxy = await startProxy({ config, configHash: hash, version: VERSION, logger });
  } catch (err) {
    process.stderr.write(`sentinel: ${(err as Error).message}\n`);
    return 1;
  }
  logger.info({ version: VERSION, config: source, config_hash: hash, pid: process.pid }, 'sentinel started');

  // SIGHUP: reload from the same source. The loader runs in a child process, the diagnostics of a
  // rejected config go to the log, and the running config stays.
  let reloading: Promise<void> = Promise.resolve();
  const onReload = () => {
    reloading = reloading.then(async () => {
      logger.info({ config: source }, 'config reload requested');
      let next: LoadResult;
      try {
        next = (await load(path)).result;
      } catch (err) {
        proxy.metrics.reloaded('rejected');
        logger.error({ error: (err as Error).message }, 'config reload rejected: the loader failed; the running config stays');
        return;
      }
      if (next.config === null) {
        proxy.metrics.reloaded('rejected');
        logger.error({ diagnostics: next.diagnostics, text: formatDiagnostics(next.diagnostics) }, 'config reload rejected: invalid config; the running config stays');
        return;
      }
      const outcome = await proxy.reload(next.config, configHash(next.config));
      if (outcome.result === 'applied' && next.diagnostics.length > 0) logger.warn({ diagnostics: next.diagnostics }, 'config reloaded with warnings');
    });
  };
  process.on('SIGHUP', onReload);

  return await new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal: sig }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      logger.info({ signal: sig }, 'shutdown requested');
      process.off('SIGHUP', onReload);
      proxy.shutdown().then(() => resolve(0), (err: Error) => { logger.error({ err }, 'shutdown failed'); resolve(1); });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

main().then((code) => { process.exit(code); }, (err: unknown) => {
  process.stderr.write(`sentinel: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(70);
});
