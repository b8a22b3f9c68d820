// A real MariaDB for integration tests, root without password over TCP from 127.0.0.1 only, on a
// loopback port found free by binding 0 (mariadbd cannot bind port 0 itself). With Docker it runs in
// a container (sentinel-test/mariadb, whose data directory was initialised when the image was
// built); without, Debian's mariadbd (apt `mariadb-server`) runs in a throwaway data directory made
// by mariadb-install-db (see service.ts for the choice). A suite that uses it must call destroy() in
// afterAll. stop()/start() take the server down and bring it back on the SAME port with the same
// data; freeze()/thaw() (or pause()/unpause()) suspend it so sockets stay open but nothing answers:
// the way to exercise timeouts rather than refusals.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { launchInTempDir, launchServer, onFreePort, serviceBackend, serviceHandle } from './service.ts';
import type { Backend, ServiceHandle } from './service.ts';

export interface MariaDbHandle extends ServiceHandle {
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
  /** Stops the server and removes its directory (or container); the same as dispose(). */
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

/** The backend startMariaDb() uses in this process. */
export function mariaDbBackend(): Promise<Backend> {
  return serviceBackend('mariadb');
}

async function answers(port: number): Promise<boolean> {
  try {
    const c = await createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
    try {
      await c.query('SELECT 1');
      return true;
    } finally {
      await c.end().catch(() => {});
    }
  } catch {
    return false;
  }
}

const SERVER_ARGS = ['--bind-address=127.0.0.1', '--skip-name-resolve', '--skip-log-bin', '--innodb-buffer-pool-size=16M', '--innodb-log-file-size=4M', '--max-connections=200'];

/** Initialises a data directory (or uses the image's), starts mariadbd, creates `database` and runs `initSql` in it. */
export async function startMariaDb(options: { database?: string; initSql?: string; backend?: Backend } = {}): Promise<MariaDbHandle> {
  const backend = options.backend ?? (await mariaDbBackend());
  const database = options.database ?? 'sentinel';
  const { server, port, dispose: destroy } = await launchInTempDir('sentinel-mariadb-', async (dir) => {
    let argvFor: (port: number) => string[];
    let localProgram = 'mariadbd';
    if (backend === 'container') {
      argvFor = (p) => ['mariadbd', '--no-defaults', '--user=root', '--datadir=/var/lib/mysql', '--socket=/run/mysqld/mysqld.sock', '--pid-file=/run/mysqld/mysqld.pid', `--port=${p}`, ...SERVER_ARGS];
    } else {
      const bins = mariaDbBinaries();
      if (bins === null) throw new Error('mariadbd / mariadb-install-db not found: apt-get install -y mariadb-server (see .ci/run)');
      const dataDir = join(dir, 'data');
      const userArgs = typeof process.getuid === 'function' && process.getuid() === 0 ? ['--user=root'] : [];
      const install = spawnSync(
        bins.installDb,
        ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--innodb-log-file-size=4M', ...userArgs],
        { encoding: 'utf8', timeout: 60_000 },
      );
      if (install.status !== 0) throw new Error(`mariadb-install-db failed (${install.status}): ${install.stderr}`);
      localProgram = bins.server;
      argvFor = (p) => [bins.server, '--no-defaults', `--datadir=${dataDir}`, `--socket=${join(dir, 's')}`, `--pid-file=${join(dir, 'pid')}`, `--port=${p}`, ...SERVER_ARGS, ...userArgs];
    }
    const { port: p, value } = await onFreePort((candidate) =>
      launchServer({ name: 'mariadb', image: 'mariadb', argv: argvFor(candidate), localProgram, probe: () => answers(candidate), readyTimeoutMs: 60_000, stopGraceMs: 20_000 }, backend),
    );
    return { server: value, port: p };
  });
  const query = async (sql: string, params: readonly unknown[], db: string | null): Promise<unknown> => {
    const c = await createConnection({ host: '127.0.0.1', port, user: 'root', ...(db === null ? {} : { database: db }), multipleStatements: true, connectTimeout: 5000 });
    try {
      const [rows] = await c.query(sql, params as unknown[]);
      return rows;
    } finally {
      await c.end().catch(() => {});
    }
  };
  try {
    await query(`CREATE DATABASE IF NOT EXISTS \`${database}\``, [], null);
    if (options.initSql !== undefined) await query(options.initSql, [], database);
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    ...serviceHandle(server, port, destroy),
    url: `mysql://root@127.0.0.1:${port}/${database}`,
    database,
    query: (sql, params) => query(sql, params ?? [], database),
    stop: () => server.stop(),
    start: () => server.start(),
    freeze: () => server.freeze(),
    thaw: () => server.thaw(),
    destroy,
  };
}
