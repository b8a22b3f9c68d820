// Starts the real CLI (`bin/sentinel.js`) as a child process with a config written to a temp
// file, and learns the bound ports from its "listener ready" log lines (configs use port 0).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/sentinel.js', import.meta.url));

export interface SentinelProcess {
  readonly child: ChildProcess;
  /** listener id → bound port */
  readonly ports: ReadonlyMap<string, number>;
  readonly metricsPort: number | null;
  readonly dir: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal name) once the process exits. */
  readonly exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  /** Listener ids expected to report ready. */
  readonly listeners?: readonly string[];
  readonly metrics?: boolean;
  readonly env?: Record<string, string>;
  readonly args?: readonly string[];
  /** Node options before the script, e.g. `--inspect=127.0.0.1:0` (the soak runner's heap probe). */
  readonly nodeArgs?: readonly string[];
  /** Start with no -c at all (embedded default, or SENTINEL_CONFIG from env). */
  readonly noConfig?: boolean;
  /** Raise the child's open-file limit to this (`ulimit -n` in a shell before exec; up to the hard limit). */
  readonly nofile?: number;
}

export async function startSentinel(configKdl: string, options: StartOptions = {}): Promise<SentinelProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-spec-'));
  const file = join(dir, 'sentinel.kdl');
  writeFileSync(file, configKdl);
  const configArgs = options.noConfig === true ? [] : ['-c', file];
  const env = { ...process.env, ...options.env };
  if (options.noConfig === true && options.env?.SENTINEL_CONFIG === undefined) delete env.SENTINEL_CONFIG;
  const argv = [...(options.nodeArgs ?? []), BIN, 'run', ...configArgs, ...(options.args ?? [])];
  const child = options.nofile === undefined
    ? spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env })
    : spawn('/bin/sh', ['-c', `ulimit -n ${options.nofile} && exec "$0" "$@"`, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const expected = new Set(options.listeners ?? []);
  const ports = new Map<string, number>();
  let metricsPort: number | null = null;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  // Never leave a child behind: if readiness is not reported in time, kill it and fail.
  const readyTimer = setTimeout(() => { child.kill('SIGKILL'); }, 30_000);
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    const check = () => {
      if ([...expected].every((id) => ports.has(id)) && (options.metrics !== true || metricsPort !== null)) {
        resolve();
      }
    };
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const rec = JSON.parse(line) as { msg?: string; listener?: string; address?: string };
          if ((rec.msg === 'listener ready' || rec.msg === 'metrics ready') && rec.address !== undefined) {
            const port = Number(rec.address.slice(rec.address.lastIndexOf(':') + 1));
            if (rec.msg === 'metrics ready') metricsPort = port;
            else if (rec.listener !== undefined) ports.set(rec.listener, port);
          }
          if (rec.msg === 'sentinel started') check();
        } catch { /* not JSON: diagnostics text */ }
      }
    });
    void exited.then((code) => reject(new Error(`sentinel exited early (${code}):\n${err}`)));
  }).finally(() => clearTimeout(readyTimer));
  return {
    child, ports, metricsPort, dir,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Runs the CLI to completion (validate, --version, failing starts). */
export function runSentinel(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
