// Child processes of the harness: spawned in their own process group, tracked, and all killed on exit,
// SIGINT, SIGTERM or a crash. Nothing the harness starts outlives it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { removeAllTempDirs } from './env.ts';

const TAIL_BYTES = 8192;

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started child process. Stateful: owns the process until `stop()`. */
export class Tracked {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  #stderr = '';
  #stdout: string[] = [];
  #exit: ExitInfo | null = null;

  constructor(name: string, child: ChildProcess, captureStdout: boolean) {
    if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
    this.name = name;
    this.pid = child.pid;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-TAIL_BYTES);
    });
    if (captureStdout) {
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (d: string) => this.#stdout.push(d));
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        registry.delete(this);
        resolve(this.#exit);
      });
    });
  }

  get alive(): boolean {
    return this.#exit === null;
  }

  get stdout(): string {
    return this.#stdout.join('');
  }

  get stderrTail(): string {
    return this.#stderr;
  }

  /** SIGTERM to the process group, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.alive) return;
    signalGroup(this.pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        signalGroup(this.pid, 'SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    await this.exited;
    // Grandchildren (e.g. nginx workers) that ignored SIGTERM go with the group.
    signalGroup(this.pid, 'SIGKILL');
  }
}

const registry = new Set<Tracked>();
let aborting = false;

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

export interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly captureStdout?: boolean;
}

/** Spawns `argv` in a new process group and registers it for clean-up. */
export function spawnTracked(name: string, argv: readonly string[], opts: SpawnOptions = {}): Tracked {
  if (aborting) throw new Error(`${name}: not started, the harness is stopping`);
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error(`${name}: empty command`);
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', opts.captureStdout ? 'pipe' : 'ignore', 'pipe'],
  });
  const t = new Tracked(name, child, opts.captureStdout === true);
  registry.add(t);
  return t;
}

/** Stops every tracked process that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...registry].map((t) => t.stop(2000)));
}

function killAllSync(): void {
  for (const t of registry) signalGroup(t.pid, 'SIGKILL');
  registry.clear();
  removeAllTempDirs();
}

let installed = false;

/** Kills all children on process exit, SIGINT/SIGTERM (exit 130/143) and uncaught errors (exit 1). */
export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllSync);
  const onSignal = (sig: NodeJS.Signals, code: number): void => {
    process.stderr.write(`\nbench: ${sig}, stopping child processes…\n`);
    aborting = true;
    void stopAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => onSignal('SIGINT', 130));
  process.once('SIGTERM', () => onSignal('SIGTERM', 143));
  const onCrash = (err: unknown): void => {
    process.stderr.write(`bench: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    aborting = true;
    killAllSync();
    process.exit(1);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tryConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Resolves when `host:port` accepts TCP connections; rejects if `proc` exits first or `timeoutMs` passes. */
export async function waitForPort(host: string, port: number, proc: Tracked, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.alive) {
      const e = await proc.exited;
      throw new Error(`${proc.name} exited (code ${e.code}, signal ${e.signal}) before listening on ${host}:${port}\n${proc.stderrTail.trim()}`);
    }
    if (await tryConnect(host, port)) return;
    await sleep(50);
  }
  throw new Error(`${proc.name} did not listen on ${host}:${port} within ${timeoutMs} ms\n${proc.stderrTail.trim()}`);
}

/** A free loopback port: bind port 0, read the port, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read a free port'))));
    });
  });
}
