// What this machine offers the harness: tools on PATH, CPU pinning, temp dirs.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BENCH_DIR = path.join(REPO_ROOT, 'bench');

const SEARCH_EXTRA = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

/** Absolute path of an executable on PATH (plus the sbin dirs, where nginx and haproxy live), or null. */
export function which(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...SEARCH_EXTRA].filter((d) => d !== '');
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return null;
}

/** Command prefixes that pin a process to a core (and raise its priority when allowed). */
export interface Pinning {
  /** Proxies under test: CPU 0. */
  readonly proxy: readonly string[];
  /** Backend and load generator: CPU 1. */
  readonly load: readonly string[];
  readonly pinned: boolean;
  readonly niced: boolean;
  readonly note: string;
}

export function detectPinning(): Pinning {
  const taskset = which('taskset');
  const cores = os.availableParallelism();
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const nice = root && which('nice') ? [which('nice') as string, '-n', '-10'] : [];
  if (!taskset || cores < 2) {
    return { proxy: nice, load: nice, pinned: false, niced: nice.length > 0, note: !taskset ? 'taskset not found: nothing pinned' : `${cores} core(s): nothing pinned` };
  }
  return {
    proxy: [...nice, taskset, '-c', '0'],
    load: [...nice, taskset, '-c', '1'],
    pinned: true,
    niced: nice.length > 0,
    note: `proxy on CPU 0, backend + load generator on CPU 1${nice.length > 0 ? ', nice -10' : ''}`,
  };
}

const tempDirs = new Set<string>();

/** A fresh world-readable temp dir (nginx workers may run as another user and must read its files). */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `sentinel-bench-${prefix}-`));
  chmodSync(dir, 0o755);
  tempDirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Removes every temp dir made by makeTempDir and not yet removed (called at exit). */
export function removeAllTempDirs(): void {
  for (const d of [...tempDirs]) removeDir(d);
}

/** First non-empty line of `cmd args` output (stdout, then stderr), or null if it cannot run. */
export function toolVersion(cmd: string, args: readonly string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  if (r.error) return null;
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim();
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? null;
}

export function nodeBin(): string {
  return process.execPath;
}
