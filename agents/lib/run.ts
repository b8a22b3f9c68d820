// Shared command line for reference agents: --socket PATH, --grpc HOST:PORT, --config FILE.
// Prints one JSON line {"event":"listening",...} on stdout once bound; SIGTERM/SIGINT drain and
// exit; SIGHUP re-reads --config. This file is the agents' composition root: it alone reads process.*.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Agent, JsonValue } from '../../src/sdk/index.ts';

export interface AgentArgs {
  socket?: string;
  grpc?: string;
  config?: string;
}

export function parseAgentArgs(argv: string[]): AgentArgs {
  const { values } = parseArgs({
    args: argv,
    options: { socket: { type: 'string' }, grpc: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help === true || (values.socket === undefined && values.grpc === undefined)) {
    throw new Error('usage: --socket PATH and/or --grpc HOST:PORT [--config FILE]');
  }
  const out: AgentArgs = {};
  if (values.socket !== undefined) out.socket = values.socket;
  if (values.grpc !== undefined) out.grpc = values.grpc;
  if (values.config !== undefined) out.config = values.config;
  return out;
}

export function readConfigFile(path: string): JsonValue {
  return JSON.parse(readFileSync(path, 'utf8')) as JsonValue;
}

function log(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

export async function runAgent(agent: Agent, argv: string[] = process.argv.slice(2)): Promise<void> {
  let args: AgentArgs;
  try {
    args = parseAgentArgs(argv);
  } catch (e) {
    process.stderr.write(`${agent.name}: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const loadFile = async (): Promise<boolean> => {
    if (args.config === undefined) return true;
    try {
      return await agent.configure(readConfigFile(args.config));
    } catch (e) {
      process.stderr.write(`${agent.name}: cannot read ${args.config}: ${(e as Error).message}\n`);
      return false;
    }
  };
  if (!(await loadFile())) {
    process.stderr.write(`${agent.name}: configuration rejected\n`);
    process.exit(1);
  }
  const listenOpts: { socket?: string; grpc?: string } = {};
  if (args.socket !== undefined) listenOpts.socket = args.socket;
  if (args.grpc !== undefined) listenOpts.grpc = args.grpc;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void agent.close().then(() => {
      log({ event: 'stopped', agent: agent.name });
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    void loadFile().then((ok) => log({ event: 'reloaded', agent: agent.name, ok }));
  });
  // Handlers are in place before "listening" is announced, so a signal sent right after it is handled.
  const info = await agent.listen(listenOpts);
  log({ event: 'listening', agent: agent.name, ...info });
}
