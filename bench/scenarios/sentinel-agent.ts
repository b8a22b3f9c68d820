// `sentinel-agent`: the `sentinel` scenario with one external agent on the route: the echo agent
// (agents/echo, the smallest useful round trip: it adds four X-Echo-* request headers) over a Unix
// socket, called on every request's headers. Same config as `sentinel` otherwise, so the difference
// between the two rows of one run is the cost of an agent round trip. The agent process shares the
// proxy's pinning (its CPU is the proxy's cost) and is counted in the scenario's CPU and RSS.
import net from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, nodeBin } from '../lib/env.ts';
import { sleep, spawnTracked } from '../lib/procs.ts';
import type { Tracked } from '../lib/procs.ts';
import { startListeningProcess } from './common.ts';
import { sentinelBenchConfig } from './sentinel.ts';
import type { BackendAddress, Scenario } from './types.ts';

/** The sentinel bench config plus the echo agent attached to the catch-all route. */
export function sentinelAgentBenchConfig(port: number, backend: BackendAddress, socket: string): string {
  return sentinelBenchConfig(port, backend).replace(
    'routes { route "all" { matches { path-prefix "/" }; upstream "backend" } }',
    `routes { route "all" { matches { path-prefix "/" }; upstream "backend"; filters "echo" } }
agents { agent "echo" { unix-socket "${socket}"; events "request_headers"; timeout-ms 1000 } }
filters { filter "echo" { type "agent"; agent "echo" } }`,
  );
}

function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path: socket }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function waitForSocket(socket: string, proc: Tracked, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.alive) throw new Error(`echo agent exited before listening on ${socket}\n${proc.stderrTail.trim()}`);
    if (await canConnect(socket)) return;
    await sleep(50);
  }
  throw new Error(`echo agent not listening on ${socket} after ${timeoutMs} ms`);
}

/**
 * The scenario, with the proxy and the echo agent taken from the checkout at `root` (default: this
 * one). `node bench/agent-latency.ts --baseline DIR` runs a second copy from another checkout in the
 * same interleaved rounds, so a change to the agent path is measured against its baseline, same run.
 */
export function sentinelAgentScenarioAt(root: string = REPO_ROOT, name = 'sentinel-agent'): Scenario {
  const CLI = path.join(root, 'bin', 'sentinel.js');
  const ECHO = path.join(root, 'agents', 'echo', 'main.ts');
  return {
    name,
    description: `Sentinel as \`sentinel\`, plus the echo agent on request headers over a Unix socket (pinned with the proxy)${root === REPO_ROOT ? '' : `, from ${root}`}`,
    unavailableReason: () => (existsSync(CLI) && existsSync(ECHO) ? null : `${CLI} or ${ECHO} not found`),
    start: async (ctx) => {
      const socket = path.join(ctx.tmpDir, 'echo.sock');
      const agent = spawnTracked('echo-agent', [...ctx.pinning.proxy, nodeBin(), ECHO, '--socket', socket], { cwd: root });
      try {
        await waitForSocket(socket, agent, 20_000);
        const conf = path.join(ctx.tmpDir, 'sentinel-agent.kdl');
        const proxy = await startListeningProcess(
          name,
          (port) => {
            writeFileSync(conf, sentinelAgentBenchConfig(port, ctx.backend, socket));
            return [...ctx.pinning.proxy, nodeBin(), CLI, 'run', '-c', conf];
          },
          { cwd: root, startTimeoutMs: 20_000 },
        );
        // The proxy connects to the agent eagerly; give the pool its handshakes before load starts.
        await sleep(500);
        return {
          url: proxy.url,
          pids: [...proxy.pids, agent.pid],
          stop: async () => {
            await proxy.stop();
            await agent.stop();
          },
        };
      } catch (e) {
        await agent.stop();
        throw e;
      }
    },
  };
}

export const sentinelAgentScenario: Scenario = sentinelAgentScenarioAt();
