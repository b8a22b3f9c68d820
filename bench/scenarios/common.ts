// Helpers shared by scenarios that run a proxy process.
import { freePort, spawnTracked, waitForPort } from '../lib/procs.ts';
import type { RunningScenario } from './types.ts';

export const LOOPBACK = '127.0.0.1';

/**
 * Spawns `argv(port)` on a free loopback port, waits until the port accepts connections, and returns it as a
 * running scenario whose process tree is the spawned process.
 */
export async function startListeningProcess(
  name: string,
  argv: (port: number) => readonly string[],
  opts: { readonly startTimeoutMs?: number; readonly env?: NodeJS.ProcessEnv; readonly cwd?: string } = {},
): Promise<RunningScenario> {
  const port = await freePort();
  const proc = spawnTracked(name, argv(port), { env: opts.env, cwd: opts.cwd });
  try {
    await waitForPort(LOOPBACK, port, proc, opts.startTimeoutMs ?? 15_000);
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return { url: `http://${LOOPBACK}:${port}`, pids: [proc.pid], stop: () => proc.stop() };
}
