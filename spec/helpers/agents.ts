// Every agent a test needs is started here, and only here: one function, `startTestAgent`, returns
// a handle with the operations the suites use (stop, kill, freeze/thaw, restart on the same
// address). Today agents run as local child processes (the reference agents' bin entries and the
// test agent); the Testcontainers mode (agents as containers, Unix sockets in a bind-mounted
// directory, gRPC on loopback with host networking, freeze = container pause) plugs in behind the
// same handle without touching the suites.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The programs a test can run as an agent. */
export const AGENT_PROGRAMS = {
  echo: `${ROOT}agents/echo/main.ts`,
  denylist: `${ROOT}agents/denylist/main.ts`,
  /** spec/protocol/fixtures/test-agent.ts: behaviour chosen by the request path (see that file). */
  test: `${ROOT}spec/protocol/fixtures/test-agent.ts`,
} as const;

export type AgentProgram = keyof typeof AGENT_PROGRAMS;
export type AgentTransportKind = 'uds' | 'grpc';

export interface AgentHandle {
  readonly program: AgentProgram;
  readonly transport: AgentTransportKind;
  /** Socket path (uds) or host:port (grpc). */
  readonly address: string;
  /** The transport line of a Sentinel `agent { }` block reaching this agent. */
  readonly kdl: string;
  /** JSON lines the agent printed on stdout (`listening`, `stopped`, …). */
  readonly lines: Record<string, unknown>[];
  stderr(): string;
  /** Graceful stop (SIGTERM: the SDK drains), resolved when the process is gone. */
  stop(): Promise<void>;
  /** Immediate death (SIGKILL), as a crash. */
  kill(): Promise<void>;
  /** Stops the agent without closing its connections (SIGSTOP; a container pause). */
  freeze(): void;
  thaw(): void;
  /** Starts it again on the same address (after stop or kill). */
  restart(): Promise<void>;
}

export interface StartAgentOptions {
  readonly transport: AgentTransportKind;
  /** Extra arguments (e.g. ['--config', file]). */
  readonly args?: readonly string[];
}

interface Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
}

function spawnAgent(program: AgentProgram, addressArgs: readonly string[], args: readonly string[], lines: Record<string, unknown>[], errs: { text: string }): Promise<{ proc: Proc; listening: Record<string, unknown> }> {
  const child = spawn(process.execPath, [AGENT_PROGRAMS[program], ...addressArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  let buf = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { errs.text += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`agent ${program} did not report listening: ${errs.text}`));
    }, 20_000);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (line['event'] === 'listening') {
          clearTimeout(timer);
          resolve({ proc: { child, exited }, listening: line });
        }
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`agent ${program} exited before listening: ${errs.text}`));
    });
  });
}

/** Starts an agent; the caller stops it (`stop`/`kill`) in its cleanup. */
export async function startTestAgent(program: AgentProgram, options: StartAgentOptions): Promise<AgentHandle> {
  const lines: Record<string, unknown>[] = [];
  const errs = { text: '' };
  const args = options.args ?? [];
  let dir: string | null = null;
  let addressArgs: string[];
  if (options.transport === 'uds') {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-agent-'));
    addressArgs = ['--socket', join(dir, `${program}.sock`)];
  } else addressArgs = ['--grpc', '127.0.0.1:0'];
  let { proc, listening } = await spawnAgent(program, addressArgs, args, lines, errs);
  const address = options.transport === 'uds' ? String(listening['socket']) : String(listening['grpc']);
  // A restart must come back on the same address (the proxy keeps reconnecting to it).
  if (options.transport === 'grpc') addressArgs = ['--grpc', address];
  const gone = async (signal: NodeJS.Signals): Promise<void> => {
    const c = proc.child;
    if (c.exitCode === null && c.signalCode === null) {
      if (signal === 'SIGKILL') c.kill('SIGCONT');
      c.kill(signal);
    }
    await proc.exited;
  };
  return {
    program,
    transport: options.transport,
    address,
    kdl: options.transport === 'uds' ? `unix-socket "${address}"` : `grpc "${address}"`,
    lines,
    stderr: () => errs.text,
    async stop() {
      await gone('SIGTERM');
      if (dir !== null) rmSync(dir, { recursive: true, force: true });
    },
    kill: () => gone('SIGKILL'),
    freeze() { proc.child.kill('SIGSTOP'); },
    thaw() { proc.child.kill('SIGCONT'); },
    async restart() {
      await gone('SIGKILL');
      ({ proc, listening } = await spawnAgent(program, addressArgs, args, lines, errs));
    },
  };
}
