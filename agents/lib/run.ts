// Shared command line for reference agents: --socket PATH, --grpc HOST:PORT, --config FILE,
// --metrics HOST:PORT (GET /metrics: the SDK's Prometheus metrics; GET /health: 200 while serving,
// 503 while draining). Prints one JSON line {"event":"listening",...} on stdout once bound;
// SIGTERM/SIGINT drain and exit; SIGHUP re-reads --config. This file is the agents' composition
// root: it alone reads process.*.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import type { Agent, JsonValue } from '../../src/sdk/index.ts';

export interface AgentArgs {
  socket?: string;
  grpc?: string;
  config?: string;
  metrics?: string;
}

export function parseAgentArgs(argv: string[]): AgentArgs {
  const { values } = parseArgs({
    args: argv,
    options: { socket: { type: 'string' }, grpc: { type: 'string' }, config: { type: 'string' }, metrics: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help === true || (values.socket === undefined && values.grpc === undefined)) {
    throw new Error('usage: --socket PATH and/or --grpc HOST:PORT [--config FILE] [--metrics HOST:PORT]');
  }
  const out: AgentArgs = {};
  if (values.socket !== undefined) out.socket = values.socket;
  if (values.grpc !== undefined) out.grpc = values.grpc;
  if (values.config !== undefined) out.config = values.config;
  if (values.metrics !== undefined) out.metrics = values.metrics;
  return out;
}

export function readConfigFile(path: string): JsonValue {
  return JSON.parse(readFileSync(path, 'utf8')) as JsonValue;
}

/** The agent's own observability endpoint: /metrics (Prometheus text) and /health. */
function serveMetrics(agent: Agent, address: string): Promise<{ server: Server; address: string }> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(agent.metricsText());
    } else if (req.url === '/health') {
      const h = agent.health();
      res.writeHead(h.state === 'healthy' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h));
    } else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as { port: number };
      resolve({ server, address: `${host.includes(':') ? `[${host}]` : host}:${a.port}` });
    });
  });
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
  let metricsServer: Server | null = null;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void agent.close().then(() => {
      metricsServer?.close();
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
  const info: Record<string, string> = { ...(await agent.listen(listenOpts)) };
  if (args.metrics !== undefined) {
    const m = await serveMetrics(agent, args.metrics);
    metricsServer = m.server;
    info['metrics'] = m.address;
  }
  log({ event: 'listening', agent: agent.name, ...info });
}
