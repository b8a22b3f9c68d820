// A real MariaDB for integration tests: Debian's mariadbd (apt `mariadb-server`) in a throwaway
// data directory, on a loopback port found free by binding 0 (mariadbd cannot bind port 0 itself),
// root without password over TCP from 127.0.0.1 only. No Docker needed. A suite that uses it must
// call destroy() in afterAll. stop()/start() take the server down and bring it back on the SAME
// port with the same data; freeze()/thaw() suspend it (SIGSTOP/SIGCONT) so sockets stay open but
// nothing answers: the way to exercise timeouts rather than refusals.

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { freePort, stopChild } from './redis.ts';

export interface MariaDbHandle {
  /** `mysql://root@127.0.0.1:<port>/<database>` */
  readonly url: string;
  readonly port: number;
  readonly database: string;
  /** Runs SQL (several statements allowed) on a fresh connection; returns the rows of the last one. */
  query(sql: string, params?: readonly unknown[]): Promise<unknown>;
  /** Stops the server (SIGTERM), keeping the data; idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  freeze(): void;
  thaw(): void;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

function findBinary(candidates: readonly string[]): string | null {
  for (const c of candidates) {
    if (c.includes('/') ? existsSync(c) : spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0) return c;
  }
  return null;
}

export function mariaDbBinaries(): { server: string; installDb: string } | null {
  const server = findBinary([process.env.MARIADBD_BIN ?? '', 'mariadbd', '/usr/sbin/mariadbd', 'mysqld', '/usr/sbin/mysqld'].filter((c) => c !== ''));
  const installDb = findBinary(['mariadb-install-db', '/usr/bin/mariadb-install-db', 'mysql_install_db', '/usr/bin/mysql_install_db']);
  return server === null || installDb === null ? null : { server, installDb };
}

async function waitReady(port: number, child: ChildProcess, logFile: string, deadlineMs = 30_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  let lastError: unknown;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`mariadbd on ${port} exited (${child.exitCode ?? child.signalCode}):\n${log}`);
    }
    try {
      const c = await createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`mariadbd on ${port} not ready: ${String(lastError)}`);
}

/** Initialises a data directory, starts mariadbd, creates `database` and runs `initSql` in it. */
export async function startMariaDb(options: { database?: string; initSql?: string } = {}): Promise<MariaDbHandle> {
  const bins = mariaDbBinaries();
  if (bins === null) throw new Error('mariadbd / mariadb-install-db not found: apt-get install -y mariadb-server (see .ci/run)');
  const database = options.database ?? 'sentinel';
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-mariadb-'));
  const dataDir = join(dir, 'data');
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const userArgs = asRoot ? ['--user=root'] : [];
  const install = spawnSync(
    bins.installDb,
    ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...userArgs],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (install.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${install.status}): ${install.stderr}`);
  }
  const logFile = join(dir, 'error.log');
  let port = 0;
  let child: ChildProcess | null = null;
  const spawnServer = (): ChildProcess => {
    const c = spawn(
      bins.server,
      [
        '--no-defaults', `--datadir=${dataDir}`, `--socket=${join(dir, 's')}`, `--pid-file=${join(dir, 'pid')}`, `--log-error=${logFile}`,
        `--port=${port}`, '--bind-address=127.0.0.1', '--skip-name-resolve', '--skip-log-bin',
        '--innodb-buffer-pool-size=16M', '--max-connections=200', ...userArgs,
      ],
      { stdio: 'ignore' },
    );
    c.on('error', () => {
      // surfaced by waitReady through exitCode / no answer
    });
    return c;
  };
  const startOnPort = async (): Promise<void> => {
    child = spawnServer();
    await waitReady(port, child, logFile);
  };
  // A port found free can be taken before mariadbd binds it: retry a few times.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await startOnPort();
      break;
    } catch (error) {
      await stopChild(child);
      if (attempt >= 2) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const query = async (sql: string, params: readonly unknown[], db: string | null): Promise<unknown> => {
    const c = await createConnection({ host: '127.0.0.1', port, user: 'root', ...(db === null ? {} : { database: db }), multipleStatements: true, connectTimeout: 5000 });
    try {
      const [rows] = await c.query(sql, params as unknown[]);
      return rows;
    } finally {
      await c.end().catch(() => {});
    }
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    await stopChild(c);
  };
  try {
    await query(`CREATE DATABASE IF NOT EXISTS \`${database}\``, [], null);
    if (options.initSql !== undefined) await query(options.initSql, [], database);
  } catch (error) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `mysql://root@127.0.0.1:${port}/${database}`,
    port,
    database,
    query: (sql, params) => query(sql, params ?? [], database),
    stop,
    async start() {
      if (child !== null) return;
      await startOnPort();
    },
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
