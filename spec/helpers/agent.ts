// A real agent process for integration tests: `node bin/sentinel-agent-<kind>.js` (or any agent main
// under the repo) serving on a Unix socket or on gRPC at 127.0.0.1. With Docker it runs in a
// container of the sentinel-test/node image (the Node that runs the tests), with the repo mounted
// read-only and its own temp dir (socket, config file) mounted read-write at the same paths, so the
// socket path is the same inside and out; without Docker it is a local child process (see
// service.ts). For chaos: pause()/unpause() freeze it (calls time out), kill() drops every
// connection, restart() brings it back on the same socket or port, reload() sends SIGHUP.

import { realpathSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchInTempDir, launchServer, onFreePort, serviceBackend, serviceHandle } from './service.ts';
import type { Backend, ServerProcess, ServiceHandle } from './service.ts';

export const REPO_ROOT = realpathSync(fileURLToPath(new URL('../../', import.meta.url)));

/** Agents by name; `{ main }` runs any other agent entry point under the repo. */
export const AGENT_MAINS = {
  echo: join(REPO_ROOT, 'bin/sentinel-agent-echo.js'),
  denylist: join(REPO_ROOT, 'bin/sentinel-agent-denylist.js'),
  /** spec/protocol/fixtures/test-agent.ts: behaviour chosen by the request path (/block, /hang, …). */
  test: join(REPO_ROOT, 'spec/protocol/fixtures/test-agent.ts'),
} as const;
export type AgentKind = keyof typeof AGENT_MAINS;

export type AgentTransport = 'uds' | 'grpc';
/** The same shape as the proxy's agent endpoint (src/protocol/client.ts AgentEndpoint). */
export type AgentEndpointSpec = { kind: 'uds'; path: string } | { kind: 'grpc'; address: string };

export interface AgentOptions {
  readonly kind: AgentKind | { readonly main: string };
  readonly transport: AgentTransport;
  /** Written to a JSON file passed as --config (rewrite it with writeConfig(), apply with reload()). */
  readonly config?: unknown;
  /** Extra command-line arguments. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Force a backend (default: containers when Docker and the node image are available). */
  readonly backend?: Backend;
}

export interface AgentHandle extends ServiceHandle {
  readonly transport: AgentTransport;
  /** The Unix socket path (uds), else null. For uds, `port` is 0 and `address` is "unix:<path>". */
  readonly socket: string | null;
  /** "127.0.0.1:<port>" for gRPC, else null. */
  readonly grpc: string | null;
  readonly endpoint: AgentEndpointSpec;
  /** The agent's temp dir (socket, config file). */
  readonly dir: string;
  /** Rewrites the --config file (reload() makes the agent read it). */
  writeConfig(config: unknown): void;
  /** SIGHUP: the reference agents re-read --config (and print {"event":"reloaded","ok":…}). */
  reload(): void;
  /**
   * Resolves with the `occurrence`-th log line matching `pattern` (default the first; polls logs()),
   * e.g. the second `"event":"reloaded"` after a second reload(); rejects after timeoutMs.
   */
  waitForLog(pattern: RegExp, options?: { occurrence?: number; timeoutMs?: number }): Promise<string>;
  /** Synchronous SIGSTOP / SIGCONT of the agent process. */
  freeze(): void;
  thaw(): void;
  /** The same as dispose(). */
  stop(): Promise<void>;
}

/** The backend startAgent() uses in this process. */
export function agentBackend(): Promise<Backend> {
  return serviceBackend('node');
}

function canConnect(target: { path: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(target as never);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function startAgent(options: AgentOptions): Promise<AgentHandle> {
  const backend = options.backend ?? (await agentBackend());
  const main = typeof options.kind === 'string' ? AGENT_MAINS[options.kind] : options.kind.main;
  const name = `agent-${typeof options.kind === 'string' ? options.kind : 'custom'}`;
  const { server, port, socket, writeConfig, dir, dispose } = await launchInTempDir('sentinel-agent-', async (d) => {
    const configFile = join(d, 'config.json');
    const write = (config: unknown): void => writeFileSync(configFile, JSON.stringify(config));
    if (options.config !== undefined) write(options.config);
    const configArgs = options.config !== undefined ? ['--config', configFile] : [];
    const sock = options.transport === 'uds' ? join(d, 'agent.sock') : null;
    const launch = (p: number): Promise<ServerProcess> =>
      launchServer(
        {
          name,
          image: 'node',
          argv: ['node', main, ...(sock !== null ? ['--socket', sock] : ['--grpc', `127.0.0.1:${p}`]), ...configArgs, ...(options.args ?? [])],
          localProgram: process.execPath,
          mounts: [{ path: REPO_ROOT, readOnly: true }, { path: d }],
          ...(options.env !== undefined ? { env: options.env } : {}),
          probe: () => canConnect(sock !== null ? { path: sock } : { host: '127.0.0.1', port: p }),
          readyTimeoutMs: 30_000,
        },
        backend,
      );
    const common = { socket: sock, writeConfig: write };
    if (sock !== null) return { ...common, server: await launch(0), port: 0 };
    const { port: p, value } = await onFreePort(launch);
    return { ...common, server: value, port: p };
  });
  const base = serviceHandle(server, port, dispose);
  return {
    ...base,
    address: socket !== null ? `unix:${socket}` : base.address,
    transport: options.transport,
    socket,
    grpc: socket === null ? `127.0.0.1:${port}` : null,
    endpoint: socket !== null ? { kind: 'uds', path: socket } : { kind: 'grpc', address: `127.0.0.1:${port}` },
    dir,
    writeConfig,
    reload: () => server.signal('SIGHUP'),
    async waitForLog(pattern, { occurrence = 1, timeoutMs = 10_000 } = {}) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const line = (await server.logs()).split('\n').filter((l) => pattern.test(l))[occurrence - 1];
        if (line !== undefined) return line;
        if (Date.now() > until) throw new Error(`${name}: no log line matching ${pattern} after ${timeoutMs} ms:\n${await server.logs()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    freeze: () => server.freeze(),
    thaw: () => server.thaw(),
    stop: dispose,
  };
}
