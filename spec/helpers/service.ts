// One server process for an integration test, run either in a container (Testcontainers against a
// private dockerd, see scripts/ci/docker-lib.sh) or as a local child process, behind one interface.
// The service helpers (redis.ts, redis-cluster.ts, mariadb.ts, agent.ts; façade: containers.ts)
// describe the server once (program and arguments, bind mounts, a readiness probe) and get the same
// lifecycle and chaos operations in both backends.
//
// Backend choice (per image, once per test process):
//   SENTINEL_TEST_BACKEND=local      always local processes
//   SENTINEL_TEST_BACKEND=container  containers; an unreachable DOCKER_HOST is an error
//   unset                            containers when DOCKER_HOST is set and answers, else local
// In both container modes a missing image falls back to local with one warning on stderr
// (scripts/ci/build-images.sh skips an image whose binaries are not installed).
//
// Containers use the host's network namespace: each server binds 127.0.0.1 on a port the test chose,
// so addresses are the same in both backends and nothing depends on port mapping (which does not
// exist in host mode: no withExposedPorts/getMappedPort, see shared/research/testcontainers-lab.md).
// Bind mounts use the same path inside and outside, so file and socket paths are the same too.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { WaitStrategy } from 'testcontainers';

export type Backend = 'container' | 'local';

/** Images imported by scripts/ci/build-images.sh from this machine's binaries. */
export const TEST_IMAGES = {
  redis: 'sentinel-test/redis:local',
  mariadb: 'sentinel-test/mariadb:local',
  node: 'sentinel-test/node:local',
} as const;
export type TestImage = keyof typeof TEST_IMAGES;

/** Label on every container the helpers start (scripts/ci/docker-lib.sh removes them by it). */
export const TEST_LABEL = 'org.sentinel.test';

const execFileAsync = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Backend selection

interface DockerEndpoint {
  readonly socketPath?: string;
  readonly host?: string;
  readonly port?: number;
}

function dockerEndpoint(value: string): DockerEndpoint | null {
  if (value.startsWith('unix://')) return { socketPath: value.slice('unix://'.length) };
  const m = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(value);
  return m === null ? null : { host: m[1]!, port: Number(m[2]) };
}

/** GET on the Docker API; resolves with the status code (0 when it does not answer in time). */
function dockerGet(endpoint: DockerEndpoint, path: string, timeoutMs = 3000): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ ...endpoint, path, method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

let dockerCheck: Promise<DockerEndpoint | string> | null = null;

/** The Docker endpoint when DOCKER_HOST is set and answers /_ping, else the reason it is not used. */
function dockerStatus(): Promise<DockerEndpoint | string> {
  dockerCheck ??= (async () => {
    const value = process.env.DOCKER_HOST;
    if (value === undefined || value === '') return 'DOCKER_HOST is not set';
    const endpoint = dockerEndpoint(value);
    if (endpoint === null) return `DOCKER_HOST=${value} is not unix:// or tcp://host:port`;
    const status = await dockerGet(endpoint, '/_ping');
    return status === 200 ? endpoint : `Docker at ${value} does not answer /_ping (${status || 'no answer'})`;
  })();
  return dockerCheck;
}

const imageChecks = new Map<TestImage, Promise<Backend>>();
const warned = new Set<string>();
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`[spec/helpers] ${message}\n`);
}

/** Which backend a service built on `image` runs on in this test process. */
export function serviceBackend(image: TestImage): Promise<Backend> {
  let check = imageChecks.get(image);
  if (check === undefined) {
    check = (async (): Promise<Backend> => {
      const mode = process.env.SENTINEL_TEST_BACKEND ?? '';
      if (mode === 'local') return 'local';
      if (mode !== '' && mode !== 'container') throw new Error(`SENTINEL_TEST_BACKEND=${mode}: expected "container", "local" or unset`);
      const status = await dockerStatus();
      if (typeof status === 'string') {
        if (mode === 'container') throw new Error(`SENTINEL_TEST_BACKEND=container but ${status}`);
        return 'local';
      }
      const name = TEST_IMAGES[image];
      const found = await dockerGet(status, `/images/${encodeURIComponent(name)}/json`);
      if (found !== 200) {
        warnOnce(`image ${name} not found (build it: scripts/ci/build-images.sh ${image}); ${image} services run as local processes`);
        return 'local';
      }
      return 'container';
    })();
    imageChecks.set(image, check);
  }
  return check;
}

// ---------------------------------------------------------------------------------------------
// The server process

export interface Mount {
  /** Host path, mounted at the same path in the container. */
  readonly path: string;
  readonly readOnly?: boolean;
}

export interface ServerSpec {
  /** Short name for messages and the container label, e.g. "redis". */
  readonly name: string;
  readonly image: TestImage;
  /** Program and arguments. In a container the program is looked up on the image's PATH. */
  readonly argv: readonly string[];
  /** The program run by the local backend (an absolute path or a name on PATH). */
  readonly localProgram: string;
  readonly mounts?: readonly Mount[];
  /** Extra environment (local processes also inherit the test's environment). */
  readonly env?: Readonly<Record<string, string>>;
  /** True once the server answers; called repeatedly until then. */
  probe(): Promise<boolean>;
  readonly readyTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace for stop(). */
  readonly stopGraceMs?: number;
}

export interface ServerProcess {
  readonly backend: Backend;
  readonly name: string;
  /** Host pid of the server (the container's init process), null when it is not running. */
  pid(): number | null;
  /** Sends a signal to the server process (e.g. SIGHUP to reload an agent). */
  signal(signal: NodeJS.Signals): void;
  /** SIGSTOP, synchronously: sockets stay open, nothing is answered. */
  freeze(): void;
  thaw(): void;
  /** `docker pause` (cgroup freezer) for a container, SIGSTOP for a local process. */
  pause(): Promise<void>;
  unpause(): Promise<void>;
  /** SIGKILL; resolves once the process is gone. start() brings it back. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after the grace period; resolves once the process is gone. */
  stop(): Promise<void>;
  /** Starts it again with the same arguments (a container keeps its filesystem) and waits until ready. */
  start(): Promise<void>;
  /** Runs a command next to the server (`docker exec`, or a local child process). */
  exec(argv: readonly string[], timeoutMs?: number): Promise<{ exitCode: number; output: string }>;
  /** Everything the server wrote to stdout and stderr (bounded), across restarts. */
  logs(): Promise<string>;
  /** Stops it and removes the container; idempotent. start() creates a new one afterwards. */
  remove(): Promise<void>;
}

const LOG_LIMIT = 256 * 1024;

async function waitUntilReady(spec: ServerSpec, alive: () => Promise<boolean>, logs: () => Promise<string>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let delayMs = 20;
  while (Date.now() < until) {
    if (!(await alive())) throw new Error(`${spec.name} exited before it was ready:\n${tail(await logs())}`);
    if (await spec.probe().catch(() => false)) {
      // the probe may have reached someone else on a port taken in a race: make sure it is ours
      if (await alive()) return;
      throw new Error(`${spec.name} exited right after start:\n${tail(await logs())}`);
    }
    await sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 200);
  }
  throw new Error(`${spec.name} not ready after ${timeoutMs} ms:\n${tail(await logs())}`);
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function appendBounded(current: string, chunk: string): string {
  const next = current + chunk;
  return next.length > LOG_LIMIT ? next.slice(next.length - LOG_LIMIT) : next;
}

/** Starts the server on the backend chosen for its image (or the one given) and waits until ready. */
export async function launchServer(spec: ServerSpec, backend?: Backend): Promise<ServerProcess> {
  const chosen = backend ?? (await serviceBackend(spec.image));
  return chosen === 'container' ? launchContainer(spec) : launchLocal(spec);
}

// --- local child process

async function launchLocal(spec: ServerSpec): Promise<ServerProcess> {
  let child: ChildProcess | null = null;
  let output = '';
  const running = (): boolean => child !== null && child.exitCode === null && child.signalCode === null;
  const exited = (c: ChildProcess): Promise<void> =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));
  const send = (signal: NodeJS.Signals): void => {
    if (running()) child!.kill(signal);
  };
  const spawnIt = (): ChildProcess => {
    const c = spawn(spec.localProgram, spec.argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...spec.env } });
    c.stdout?.setEncoding('utf8').on('data', (d: string) => (output = appendBounded(output, d)));
    c.stderr?.setEncoding('utf8').on('data', (d: string) => (output = appendBounded(output, d)));
    c.on('error', (error) => (output = appendBounded(output, `spawn ${spec.localProgram}: ${error.message}\n`)));
    return c;
  };
  const start = async (): Promise<void> => {
    if (running()) return;
    child = spawnIt();
    try {
      await waitUntilReady(spec, async () => running(), async () => output, spec.readyTimeoutMs ?? 30_000);
    } catch (error) {
      await kill();
      throw error;
    }
  };
  const kill = async (): Promise<void> => {
    const c = child;
    if (c === null || !running()) return;
    c.kill('SIGCONT');
    c.kill('SIGKILL');
    await exited(c);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (c === null || !running()) return;
    const timer = setTimeout(() => c.kill('SIGKILL'), spec.stopGraceMs ?? 5000);
    c.kill('SIGCONT'); // a stopped process cannot handle SIGTERM
    c.kill('SIGTERM');
    await exited(c);
    clearTimeout(timer);
  };
  await start();
  return {
    backend: 'local',
    name: spec.name,
    pid: () => (running() ? (child!.pid ?? null) : null),
    signal: send,
    freeze: () => send('SIGSTOP'),
    thaw: () => send('SIGCONT'),
    pause: async () => send('SIGSTOP'),
    unpause: async () => send('SIGCONT'),
    kill,
    stop,
    start,
    async exec(argv, timeoutMs = 30_000) {
      try {
        const { stdout, stderr } = await execFileAsync(argv[0]!, argv.slice(1), { timeout: timeoutMs, env: { ...process.env, ...spec.env } });
        return { exitCode: 0, output: stdout + stderr };
      } catch (error) {
        const e = error as { code?: unknown; stdout?: string; stderr?: string; message: string };
        return { exitCode: typeof e.code === 'number' ? e.code : 127, output: `${e.stdout ?? ''}${e.stderr ?? e.message}` };
      }
    },
    logs: async () => output,
    remove: stop,
  };
}

// --- container (Testcontainers GenericContainer, host network)

/** Testcontainers wait strategy that polls the spec's probe from the test process. */
function probeWaitStrategy(spec: ServerSpec, logs: (id: string) => Promise<string>): WaitStrategy {
  let timeoutMs = spec.readyTimeoutMs ?? 30_000;
  let set = false;
  return {
    withStartupTimeout(ms: number) {
      timeoutMs = ms;
      set = true;
      return this;
    },
    isStartupTimeoutSet: () => set,
    getStartupTimeout: () => timeoutMs,
    async waitUntilReady(container) {
      const alive = async (): Promise<boolean> => (await container.inspect()).State.Running;
      await waitUntilReady(spec, alive, () => logs(container.id), timeoutMs);
    },
  };
}

/** `docker logs` output is multiplexed (8-byte frame headers) when the container has no TTY. */
export function demuxDockerLogs(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

async function launchContainer(spec: ServerSpec): Promise<ServerProcess> {
  // Ryuk's image cannot be pulled here; /.dockerenv exists, so without the override Testcontainers
  // would look for a bridge gateway. Both are read lazily at the first start().
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
  const { GenericContainer, PullPolicy, getContainerRuntimeClient } = await import('testcontainers');
  const client = await getContainerRuntimeClient();
  const byId = (id: string) => client.container.getById(id);
  const logsOf = async (id: string): Promise<string> => {
    try {
      const raw = (await byId(id).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      return tail(demuxDockerLogs(raw), 400);
    } catch (error) {
      return `(no logs: ${(error as Error).message})`;
    }
  };
  let id: string | null = null;
  let hostPid: number | null = null;
  let paused = false;
  const create = async (): Promise<void> => {
    const started = await new GenericContainer(TEST_IMAGES[spec.image])
      .withPullPolicy(PullPolicy.neverPull())
      .withNetworkMode('host')
      .withCommand([...spec.argv])
      .withEnvironment({ ...spec.env })
      .withBindMounts((spec.mounts ?? []).map((m) => ({ source: m.path, target: m.path, mode: m.readOnly === true ? ('ro' as const) : ('rw' as const) })))
      .withLabels({ [TEST_LABEL]: 'true', [`${TEST_LABEL}.service`]: spec.name, [`${TEST_LABEL}.pid`]: String(process.pid) })
      .withWaitStrategy(probeWaitStrategy(spec, logsOf))
      .start();
    id = started.getId();
    await refreshPid();
  };
  const refreshPid = async (): Promise<void> => {
    const state = (await byId(id!).inspect()).State;
    hostPid = state.Running && state.Pid > 0 ? state.Pid : null;
  };
  const send = (signal: NodeJS.Signals): void => {
    if (hostPid === null) return;
    try {
      process.kill(hostPid, signal);
    } catch (error) {
      throw new Error(`${spec.name}: cannot signal container pid ${hostPid} (${(error as Error).message}); the test must share the Docker host's pid namespace, or use pause()`, { cause: error });
    }
  };
  const wake = async (): Promise<void> => {
    if (id === null) return;
    if (paused) {
      await byId(id).unpause();
      paused = false;
    }
    send('SIGCONT');
  };
  const gone = async (): Promise<void> => {
    hostPid = null;
  };
  const kill = async (): Promise<void> => {
    if (id === null || hostPid === null) return;
    await wake();
    await byId(id).kill({ signal: 'SIGKILL' }).catch(() => undefined);
    await byId(id).wait({ condition: 'not-running' }).catch(() => undefined);
    await gone();
  };
  const stop = async (): Promise<void> => {
    if (id === null || hostPid === null) return;
    await wake();
    await client.container.stop(byId(id), { timeout: spec.stopGraceMs ?? 5000 });
    await gone();
  };
  const start = async (): Promise<void> => {
    if (id === null) return create();
    if (hostPid !== null) return;
    const container = byId(id);
    await client.container.start(container);
    await refreshPid();
    try {
      await waitUntilReady(spec, async () => (await container.inspect()).State.Running, () => logsOf(container.id), spec.readyTimeoutMs ?? 30_000);
    } catch (error) {
      await kill();
      throw error;
    }
    await refreshPid();
  };
  await create();
  return {
    backend: 'container',
    name: spec.name,
    pid: () => hostPid,
    signal: send,
    freeze: () => send('SIGSTOP'),
    thaw: () => send('SIGCONT'),
    async pause() {
      if (id === null || paused || hostPid === null) return;
      await byId(id).pause();
      paused = true;
    },
    async unpause() {
      if (id === null || !paused) return;
      await byId(id).unpause();
      paused = false;
    },
    kill,
    stop,
    start,
    async exec(argv, timeoutMs = 30_000) {
      if (id === null) throw new Error(`${spec.name}: no container`);
      const exec = client.container.exec(byId(id), [...argv]);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${spec.name}: exec ${argv.join(' ')} timed out after ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const r = await Promise.race([exec, timeout]);
        return { exitCode: r.exitCode, output: r.output };
      } finally {
        clearTimeout(timer);
      }
    },
    logs: async () => (id === null ? '' : logsOf(id)),
    async remove() {
      if (id === null) return;
      const container = byId(id);
      id = null;
      hostPid = null;
      paused = false;
      await container.remove({ force: true, v: true }).catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 404) throw error;
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The handle tests hold

/** What every service handle offers (Redis, MariaDB, agents; see containers.ts). */
export interface ServiceHandle {
  readonly backend: Backend;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** "127.0.0.1:<port>" */
  readonly address: string;
  /** Freezes it (`docker pause`, or SIGSTOP for a local process): connections stay open, nothing answers. */
  pause(): Promise<void>;
  unpause(): Promise<void>;
  /** SIGKILL: connections drop at once; it stays down until restart(). */
  kill(): Promise<void>;
  /** Stops it if running, then starts it again on the same port and waits until it answers. */
  restart(): Promise<void>;
  /** What the server wrote to stdout and stderr. */
  logs(): Promise<string>;
  /** Stops it and removes everything it used (container, temp dir); idempotent. */
  dispose(): Promise<void>;
}

/** Retries `launch` on fresh ports: a port found free can be taken before the server binds it. */
export async function onFreePort<T>(launch: (port: number) => Promise<T>, attempts = 3): Promise<{ port: number; value: T }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return { port, value: await launch(port) };
    } catch (error) {
      if (attempt >= attempts) throw error;
    }
  }
}

/**
 * Makes a temp dir and runs `launch` in it; if launch fails the dir is removed. dispose() removes the
 * server (container or process), then the dir.
 */
export async function launchInTempDir<T extends { server: ServerProcess }>(prefix: string, launch: (dir: string) => Promise<T>): Promise<T & { dir: string; dispose: () => Promise<void> }> {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  let launched: T;
  try {
    launched = await launch(dir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const dispose = async (): Promise<void> => {
    await launched.server.remove();
    rmSync(dir, { recursive: true, force: true });
  };
  return { ...launched, dir, dispose };
}

/** Wraps a ServerProcess into the generic handle. */
export function serviceHandle(server: ServerProcess, port: number, dispose: () => Promise<void>): ServiceHandle {
  return {
    backend: server.backend,
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    pause: () => server.pause(),
    unpause: () => server.unpause(),
    kill: () => server.kill(),
    async restart() {
      await server.stop();
      await server.start();
    },
    logs: () => server.logs(),
    dispose,
  };
}

