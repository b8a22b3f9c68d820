// Test helpers: spawn a real agent process and wait for its "listening" line; build events.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { CallMessage, HeaderOp, RequestHeadersEvent } from '../../src/protocol/types.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ECHO_MAIN = `${ROOT}agents/echo/main.ts`;
export const DENYLIST_MAIN = `${ROOT}agents/denylist/main.ts`;
export const TEST_AGENT_MAIN = `${ROOT}spec/protocol/fixtures/test-agent.ts`;

export interface RunningAgent {
  proc: ChildProcess;
  socket?: string;
  grpc?: string;
  lines: Record<string, unknown>[];
  stderr: string;
  waitFor(event: string): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startAgent(main: string, args: string[]): Promise<RunningAgent> {
  const proc = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve(l: Record<string, unknown>): void }[] = [];
  let buf = '';
  const agent: RunningAgent = {
    proc,
    lines,
    stderr: '',
    waitFor(event) {
      const seen = lines.find((l) => l['event'] === event);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ event, resolve });
        proc.once('exit', (code) => reject(new Error(`agent exited (${code}) before "${event}": ${agent.stderr}`)));
      });
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill(signal);
      await exited;
    },
  };
  proc.stderr?.on('data', (d: Buffer) => (agent.stderr += d.toString()));
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of waiters.filter((x) => x.event === line['event'])) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const l = await agent.waitFor('listening');
  if (typeof l['socket'] === 'string') agent.socket = l['socket'];
  if (typeof l['grpc'] === 'string') agent.grpc = l['grpc'];
  return agent;
}

export function headersEvent(cid: string, uri = '/', extra: Partial<RequestHeadersEvent> = {}, clientIp = '192.0.2.10'): CallMessage {
  return {
    kind: 'request_headers',
    payload: {
      correlation_id: cid,
      metadata: { correlation_id: cid, request_id: `req-${cid}`, client_ip: clientIp, client_port: 40000, protocol: 'HTTP/1.1', timestamp: '2026-11-23T14:00:00.000Z' },
      method: 'GET',
      uri,
      headers: { host: ['example.test'] },
      ...extra,
    },
  };
}

export function headerValue(ops: readonly HeaderOp[], name: string): string | undefined {
  for (const op of ops) if ('set' in op && op.set.name.toLowerCase() === name.toLowerCase()) return op.set.value;
  return undefined;
}
