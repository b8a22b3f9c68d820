// The development topology of docker-compose.yml, checked without Docker (the project's VM reaches no
// registry, so no image is pulled or built): the compose file validates; every file a service mounts
// exists and is what that service's program accepts, read where the container would see it (a temp
// dir per service with each bind mount copied to its target); the fixed loopback addresses agree
// across the files and never collide; Grafana's provisioning points at files that exist. Then the
// topology runs on loopback from the same files and command lines, with its fixed ports and socket
// directory swapped for ephemeral ones: HAProxy → three Sentinel instances → the denylist and echo
// agents, the rate limit in a real Redis, the echo upstream.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { parsePrometheus, sumOf } from '../../chaos/lib/metrics.ts';
import type { Sample } from '../../chaos/lib/metrics.ts';
import { freePort, hasRedisServer, rawBulk, startRedis } from '../helpers/redis.ts';
import type { RedisHandle } from '../helpers/redis.ts';
import { runSentinel, startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMPOSE_DIR = join(ROOT, 'deploy/compose');
/** The image's WORKDIR (Dockerfile): the repository, so relative paths in commands resolve there. */
const IMAGE_WORKDIR = '/app';

function which(bin: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/usr/bin', '/usr/local/bin'])) {
    if (dir !== '' && existsSync(join(dir, bin))) return join(dir, bin);
  }
  return null;
}

const dockerCompose = which('docker-compose');
const haproxy = which('haproxy');
const promtool = which('promtool');

// --- The compose file, read with YAML merge keys (`<<: *sentinel`) resolved as compose does.

interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly command?: readonly string[];
  readonly network_mode?: string;
  readonly volumes?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly healthcheck?: { readonly test: readonly string[] };
}
interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>;
  readonly volumes?: Readonly<Record<string, unknown>>;
  readonly networks?: unknown;
}

const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
const service = (name: string): ComposeService => {
  const s = compose.services[name];
  if (s === undefined) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
};
const SENTINELS = ['sentinel-1', 'sentinel-2', 'sentinel-3'] as const;

interface Mount {
  /** Host path (bind) or volume name. */
  readonly source: string;
  readonly target: string;
  readonly bind: boolean;
  readonly readOnly: boolean;
}

function mountsOf(name: string): Mount[] {
  return (service(name).volumes ?? []).map((v) => {
    const [source = '', target = '', mode = 'rw'] = v.split(':');
    const bind = source.startsWith('.') || source.startsWith('/');
    return { source: bind ? join(ROOT, source) : source, target, bind, readOnly: mode === 'ro' };
  });
}

/** The command line with the value of `--flag value` replaced. */
function withFlag(argv: readonly string[], name: string, value: string): string[] {
  const i = argv.indexOf(name);
  if (i < 0 || i + 1 >= argv.length) throw new Error(`no ${name} in ${argv.join(' ')}`);
  return argv.map((a, j) => (j === i + 1 ? value : a));
}

/** `--flag value` or `--flag=value` of a command line. */
function flag(argv: readonly string[], name: string): string {
  const i = argv.indexOf(name);
  if (i >= 0 && argv[i + 1] !== undefined) return argv[i + 1] as string;
  const eq = argv.find((a) => a.startsWith(`${name}=`));
  if (eq !== undefined) return eq.slice(name.length + 1);
  throw new Error(`no ${name} in ${argv.join(' ')}`);
}

/**
 * What a service's container sees: a temp dir holding a copy of each bind mount at its target path.
 * Named volumes are one directory per volume shared by every view of the same `volumes` (as Docker
 * shares them). `path()` maps a container path to the host: into the copy, into a volume, or, for a
 * relative path, into the repository (the image's WORKDIR holds it).
 */
interface View {
  readonly root: string;
  path(containerPath: string): string;
}

function containerView(name: string, base: string, volumes: string): View {
  const root = join(base, name);
  const mounts = mountsOf(name);
  for (const m of mounts) {
    if (!m.bind) continue;
    mkdirSync(dirname(join(root, m.target)), { recursive: true });
    cpSync(m.source, join(root, m.target), { recursive: true });
  }
  return {
    root,
    path(p) {
      if (!p.startsWith('/')) return join(ROOT, p);
      if (p === IMAGE_WORKDIR || p.startsWith(`${IMAGE_WORKDIR}/`)) return join(ROOT, posix.relative(IMAGE_WORKDIR, p));
      const m = mounts.filter((x) => p === x.target || p.startsWith(`${x.target}/`)).sort((a, b) => b.target.length - a.target.length)[0];
      if (m !== undefined && !m.bind) {
        const dir = join(volumes, m.source);
        mkdirSync(dir, { recursive: true });
        return join(dir, posix.relative(m.target, p));
      }
      return join(root, p);
    },
  };
}

/** The views of the services in `base`, made on first use; the named volumes are shared between them. */
function viewsIn(base: string): (name: string) => View {
  const views = new Map<string, View>();
  return (name) => {
    let v = views.get(name);
    if (v === undefined) views.set(name, (v = containerView(name, join(base, 'services'), join(base, 'volumes'))));
    return v;
  };
}

function withViews<T>(fn: (view: (name: string) => View) => Promise<T>): Promise<T> {
  const base = mkdtempSync(join(tmpdir(), 'compose-view-'));
  return fn(viewsIn(base)).finally(() => rmSync(base, { recursive: true, force: true }));
}

// --- The fixed loopback addresses of the topology, read from the files themselves.

const readText = (p: string): string => readFileSync(p, 'utf8');
const SENTINEL_KDL = readText(join(COMPOSE_DIR, 'sentinel.kdl'));
const HAPROXY_CFG = readText(join(COMPOSE_DIR, 'haproxy.cfg'));
const PROMETHEUS_YML = readText(join(COMPOSE_DIR, 'prometheus.yml'));

const one = (re: RegExp, text: string, what: string): string => {
  const m = re.exec(text);
  if (m === null || m[1] === undefined) throw new Error(`no ${what}`);
  return m[1];
};
const listenerAddress = (n: number): string => one(/address "([^"]+)"/, readText(join(COMPOSE_DIR, `listeners/sentinel-${n}.kdl`)), `listener address in sentinel-${n}.kdl`);
const LISTENERS = [1, 2, 3].map(listenerAddress);
const HAPROXY_BIND = one(/^\s*bind (\S+)/m, HAPROXY_CFG, 'haproxy bind');
const HAPROXY_SERVERS = [...HAPROXY_CFG.matchAll(/^\s*server \S+ (\S+)/gm)].map((m) => m[1]);
const PROMETHEUS_TARGETS = [...one(/targets: \[([^\]]*8081[^\]]*)\]/, PROMETHEUS_YML, 'sentinel targets').matchAll(/'([^']+)'/g)].map((m) => m[1]);
const UPSTREAM_TARGET = one(/target "([^"]+)"/, SENTINEL_KDL, 'upstream target');
const REDIS_URL_ADDRESS = one(/redis-url "redis:\/\/([^"/]+)"/, SENTINEL_KDL, 'redis-url');
const AGENT_SOCKETS = new Map([...SENTINEL_KDL.matchAll(/agent "([^"]+)" \{\s*\n\s*unix-socket "([^"]+)"/g)].map((m) => [m[1] as string, m[2] as string]));
const echoCommand = service('echo-upstream').command ?? [];
const ECHO_ADDRESS = `${flag(echoCommand, '--host')}:${flag(echoCommand, '--port')}`;
const redisCommand = service('redis').command ?? [];
const REDIS_ADDRESS = `${flag(redisCommand, '--bind')}:${flag(redisCommand, '--port')}`;
const PROMETHEUS_ADDRESS = flag(service('prometheus').command ?? [], '--web.listen-address');
const grafanaEnv = service('grafana').environment ?? {};
const GRAFANA_ADDRESS = `${grafanaEnv.GF_SERVER_HTTP_ADDR}:${grafanaEnv.GF_SERVER_HTTP_PORT}`;

describe('docker-compose topology: files', () => {
  it.skipIf(dockerCompose === null)('docker-compose config validates docker-compose.yml', async () => {
    const { stdout, stderr } = await run(dockerCompose as string, ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT, timeout: 30_000 });
    expect(`${stdout}${stderr}`.trim()).toBe('');
  });

  it('has the issue-8 services, each on the host network or none, no bridge network', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['agent-denylist', 'agent-echo', 'echo-upstream', 'grafana', 'haproxy', 'prometheus', 'redis', 'sentinel-1', 'sentinel-2', 'sentinel-3']);
    for (const [name, s] of Object.entries(compose.services)) expect([name, s.network_mode]).toEqual([name, name.startsWith('agent-') ? 'none' : 'host']);
    expect(compose.networks).toBeUndefined();
  });

  it('every bind mount exists and is read-only; every named volume is declared', () => {
    for (const name of Object.keys(compose.services)) {
      for (const m of mountsOf(name)) {
        if (m.bind) {
          expect(existsSync(m.source), `${name}: ${m.source}`).toBe(true);
          expect(m.readOnly, `${name}: ${m.target}`).toBe(true);
        } else expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${m.source}`).toContain(m.source);
      }
    }
  });

  it('the fixed loopback addresses agree across the files and never collide', () => {
    expect(HAPROXY_SERVERS).toEqual(LISTENERS);
    expect(PROMETHEUS_TARGETS).toEqual(LISTENERS);
    for (const [i, name] of SENTINELS.entries()) expect(service(name).healthcheck?.test.join(' ')).toContain(`http://${LISTENERS[i]}/health`);
    expect(UPSTREAM_TARGET).toBe(ECHO_ADDRESS);
    expect(REDIS_URL_ADDRESS).toBe(REDIS_ADDRESS);
    const all = [HAPROXY_BIND, ...LISTENERS, ECHO_ADDRESS, REDIS_ADDRESS, PROMETHEUS_ADDRESS, GRAFANA_ADDRESS];
    for (const a of all) expect(a).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(new Set(all).size).toBe(all.length);
  });

  it('each agent socket of sentinel.kdl is where its agent service listens, in a volume every Sentinel mounts at the same place', () => {
    expect([...AGENT_SOCKETS.keys()].sort()).toEqual(['denylist', 'echo']);
    for (const [agent, socket] of AGENT_SOCKETS) {
      const agentService = `agent-${agent}`;
      expect(flag(service(agentService).command ?? [], '--socket')).toBe(socket);
      const volume = mountsOf(agentService).find((m) => !m.bind && socket.startsWith(`${m.target}/`));
      expect(volume, `${agentService} mounts a volume at ${posix.dirname(socket)}`).toBeDefined();
      for (const name of SENTINELS) expect(mountsOf(name)).toContainEqual(volume);
    }
  });

  it('the shared Sentinel config validates with all three listeners, and as each instance sees it', { timeout: 90_000 }, async () => {
    const all = await runSentinel(['validate', '-c', join(COMPOSE_DIR, 'sentinel.kdl')]);
    expect(all.stderr).toBe('');
    expect(all.code).toBe(0);
    // The Dockerfile's CMD reads this path; the compose services keep that command.
    const cmdPath = one(/^CMD \[.*"-c", "([^"]+)"\]$/m, readText(join(ROOT, 'Dockerfile')), 'Dockerfile CMD -c');
    await withViews(async (view) => {
      for (const name of SENTINELS) {
        expect(service(name).command).toBeUndefined();
        const r = await runSentinel(['validate', '-c', view(name).path(cmdPath)]);
        expect(r.code, `${name}: ${r.stderr}`).toBe(0);
        expect(r.stderr).toBe('');
      }
    });
  });

  it('the denylist agent starts with the denylist.json it is given; the echo agent with its command line', { timeout: 90_000 }, async () => {
    await withViews(async (view) => {
      for (const name of ['agent-denylist', 'agent-echo']) {
        const argv = (service(name).command ?? []).map((a) => (a.startsWith('/') || a.endsWith('.ts') ? view(name).path(a) : a));
        expect(argv[0]).toBe('node');
        const child = await spawnReady(argv.slice(1), /"event":"listening"/);
        await stopChild(child);
      }
    });
  });

  it.skipIf(haproxy === null)('haproxy.cfg passes haproxy -c where the container reads it', async () => {
    await withViews(async (view) => {
      const { stdout } = await run(haproxy as string, ['-c', '-f', view('haproxy').path('/usr/local/etc/haproxy/haproxy.cfg')], { timeout: 30_000 });
      expect(stdout).toMatch(/Configuration file is valid/);
    });
  });

  it.skipIf(promtool === null)('prometheus.yml passes promtool check config, with the rules file found and checked beside it', async () => {
    await withViews(async (view) => {
      const config = view('prometheus').path(flag(service('prometheus').command ?? [], '--config.file'));
      const { stdout } = await run(promtool as string, ['check', 'config', config], { timeout: 30_000 });
      expect(stdout).toMatch(/SUCCESS: 1 rule files found/);
      expect(stdout).toMatch(/is valid prometheus config file syntax/);
      const rules = /SUCCESS: (\d+) rules found/.exec(stdout);
      expect(Number(rules?.[1])).toBeGreaterThan(0);
    });
  });

  it("Grafana's provisioning: one default Prometheus data source at Prometheus' address, a dashboard provider over every dashboard JSON", async () => {
    await withViews(async (view) => {
      const g = view('grafana');
      const provisioning = g.path('/etc/grafana/provisioning');
      const yamls = (dir: string): unknown[] => readdirSync(join(provisioning, dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => parseYaml(readText(join(provisioning, dir, f))));

      const sources = yamls('datasources').flatMap((d) => (d as { datasources: { type: string; url: string; isDefault?: boolean; uid: string }[] }).datasources);
      expect(sources).toHaveLength(1);
      expect(sources[0]).toMatchObject({ type: 'prometheus', url: `http://${PROMETHEUS_ADDRESS}`, isDefault: true });

      const providers = yamls('dashboards').flatMap((d) => (d as { providers: { type: string; options: { path: string } }[] }).providers);
      expect(providers).toHaveLength(1);
      expect(providers[0]?.type).toBe('file');
      const dir = g.path(providers[0]?.options.path ?? '');
      const served = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
      const repo = readdirSync(join(ROOT, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
      expect(served).toEqual(repo);
      expect(served.length).toBeGreaterThan(0);
      for (const f of served) {
        const d = JSON.parse(readText(join(dir, f))) as { uid?: string; title?: string; templating: { list: { name: string; type: string; query: unknown }[] } };
        expect(d.uid, f).toMatch(/^[\w-]+$/);
        expect(d.title, f).toBeTruthy();
        // The dashboards' datasource variable lists data sources of the provisioned type.
        expect(d.templating.list.find((v) => v.name === 'datasource'), f).toMatchObject({ type: 'datasource', query: sources[0]?.type });
      }
      expect(statSync(g.path(grafanaEnv.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '')).isFile()).toBe(true);
    });
  });

  it('the Dockerfile is multi-stage, Node 24 slim, production deps only, runs the CLI as the non-root node user', () => {
    const text = readText(join(ROOT, 'Dockerfile'));
    expect(text).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    const stages = text.split(/^FROM /m).slice(1);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s).toMatch(/^\$\{NODE_IMAGE\} AS \w+/);
    expect(text).toMatch(/npm ci --omit=dev/);
    const runtime = stages.at(-1) ?? '';
    expect([...runtime.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]).at(-1)).toBe('node');
    expect(runtime).toMatch(/^CMD \["node", "bin\/sentinel\.js", "run", "-c", "\/etc\/sentinel\/sentinel\.kdl"\]$/m);
  });
});

// --- Child processes of the running topology.

const children = new Set<ChildProcess>();

/** Spawns `node ARGV` in the repository and resolves once a stdout line matches `ready`; killed if it does not within 30 s. */
function spawnReady(argv: readonly string[], ready: RegExp, bin: string = process.execPath): Promise<ChildProcess & { output: () => string }> {
  const child = spawn(bin, [...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: not ready within 30 s\n${out}`));
    }, 30_000);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve(Object.assign(child, { output: () => out }));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')} exited (${code ?? signal}) before it was ready\n${out}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

afterEach(async () => {
  await Promise.all([...children].map(stopChild));
});

/** Replaces each 127.0.0.1:PORT by its ephemeral port; a port the map does not know is an error (a new fixed address needs its place here). */
function withPorts(text: string, ports: ReadonlyMap<string, number>): string {
  return text.replace(/127\.0\.0\.1:(\d+)/g, (address) => {
    const to = ports.get(address);
    if (to === undefined) throw new Error(`no ephemeral port for ${address}`);
    return `127.0.0.1:${to}`;
  });
}

async function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers, headersTimeout: 20_000, bodyTimeout: 20_000 });
  return { status: res.statusCode, body: await res.body.text() };
}

/** Paths Sentinel normalises to /metrics (docs/config.md, routes: "normalised path"). */
const METRICS_PROBES = ['/metrics', '/metrics?x=1', '//metrics', '/./metrics', '/x/../metrics', '/%6detrics', '/%2e/metrics', '/.//metrics'];

/** GET with the request-target sent exactly as given; resolves with the status and body. */
function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    socket.setTimeout(20_000, () => socket.destroy(new Error(`GET ${target}: no answer in 20 s`)));
    socket.setEncoding('utf8').on('data', (d: string) => { data += d; });
    socket.once('error', reject);
    socket.once('end', () => {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (status === null) reject(new Error(`GET ${target}: not an HTTP response: ${data.slice(0, 100)}`));
      else resolve({ status: Number(status[1]), body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

async function metricsOf(port: number): Promise<Sample[]> {
  const r = await get(port, '/metrics');
  expect(r.status).toBe(200);
  return parsePrometheus(r.body);
}

async function poll(what: string, probe: () => Promise<boolean>, withinMs = 30_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${withinMs} ms`);
}

describe.skipIf(haproxy === null || !hasRedisServer())('docker-compose topology: running on loopback', () => {
  let base = '';
  let redis: RedisHandle | null = null;
  const sentinels: SentinelProcess[] = [];
  const longLived: ChildProcess[] = [];
  let front = 0;
  const instancePort = (i: number): number => sentinels[i]?.ports.get(SENTINELS[i] as string) ?? 0;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'compose-run-'));
    const view = viewsIn(base);
    const volumePaths = (name: string, text: string): string => {
      let out = text;
      for (const m of mountsOf(name)) if (!m.bind) out = out.replaceAll(`"${m.target}/`, `"${view(name).path(m.target)}/`);
      return out;
    };
    const keep = (c: ChildProcess): void => {
      children.delete(c); // afterEach must not stop them: they live for the whole describe
      longLived.push(c);
    };

    redis = await startRedis();
    const echo = await spawnReady(withFlag(service('echo-upstream').command ?? [], '--port', '0').slice(1), /"event":"listening"/);
    keep(echo);
    const echoPort = Number(one(/"address":"127\.0\.0\.1:(\d+)"/, echo.output(), 'echo upstream address'));
    for (const name of ['agent-denylist', 'agent-echo']) {
      const argv = (service(name).command ?? []).slice(1).map((a) => (a.startsWith('/') || a.endsWith('.ts') ? view(name).path(a) : a));
      keep(await spawnReady(argv, /"event":"listening"/));
    }

    front = await freePort();
    const ports = new Map<string, number>([[HAPROXY_BIND, front], [ECHO_ADDRESS, echoPort], [REDIS_ADDRESS, redis.port], ...LISTENERS.map((l): [string, number] => [l, 0])]);
    for (const name of SENTINELS) {
      const v = view(name);
      for (const file of ['/etc/sentinel/sentinel.kdl', '/etc/sentinel/listeners/instance.kdl']) writeFileSync(v.path(file), volumePaths(name, withPorts(readText(v.path(file)), ports)));
      sentinels.push(await startSentinel('', { noConfig: true, args: ['-c', v.path('/etc/sentinel/sentinel.kdl')], listeners: [name] }));
    }
    const hap = view('haproxy').path('/usr/local/etc/haproxy/haproxy.cfg');
    const bound = new Map<string, number>([[HAPROXY_BIND, front], ...LISTENERS.map((l, i): [string, number] => [l, instancePort(i)])]);
    writeFileSync(hap, withPorts(readText(hap), bound));
    const h = spawn(haproxy as string, ['-db', '-f', hap], { stdio: 'ignore' });
    longLived.push(h);
    await poll('HAProxy answers /health', async () => (await get(front, '/health')).status === 200);
    // Each instance connected to both agents and decides with Redis.
    await poll('every instance: both agents healthy, the rate limit on Redis', async () => {
      for (const i of [0, 1, 2]) {
        const m = await metricsOf(instancePort(i));
        if (sumOf(m, 'sentinel_agent_healthy', { agent: 'echo' }) !== 1 || sumOf(m, 'sentinel_agent_healthy', { agent: 'denylist' }) !== 1) return false;
        if (sumOf(m, 'sentinel_ratelimit_fallback_active', { filter: 'per-client' }) !== 0) return false;
      }
      return true;
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(sentinels.map((s) => s.stop()));
    await Promise.all(longLived.map(stopChild));
    await redis?.dispose();
    if (base !== '') rmSync(base, { recursive: true, force: true });
  }, 60_000);

  it('a request through HAProxy reaches the echo upstream with the echo agent\'s headers', async () => {
    const r = await get(front, '/anything?x=1');
    expect(r.status, r.body).toBe(200);
    const echoed = JSON.parse(r.body) as { method: string; url: string; headers: Record<string, string> };
    expect(echoed).toMatchObject({ method: 'GET', url: '/anything?x=1' });
    expect(echoed.headers['x-echo-path']).toBe('/anything');
    expect(echoed.headers['x-echo-correlation-id']).toMatch(/\S/);
  });

  it('the denylist agent blocks denied paths and user agents (denylist.json), through HAProxy', async () => {
    expect(await get(front, '/admin')).toEqual({ status: 403, body: 'Forbidden' });
    expect(await get(front, '/anything', { 'user-agent': 'sqlmap/1.7' })).toEqual({ status: 403, body: 'Forbidden' });
    expect((await get(front, '/administrator')).status).toBe(200);
  });

  it('HAProxy refuses /metrics to clients; each instance serves it on its own listener for Prometheus', async () => {
    expect((await get(front, '/metrics')).status).toBe(403);
    // Raw requests: a URL parser would remove the dot-segments before they are sent.
    for (const p of METRICS_PROBES) {
      const direct = await rawGet(instancePort(0), p);
      expect([p, direct.status, direct.body.includes('# HELP sentinel_')]).toEqual([p, 200, true]);
      expect([p, (await rawGet(front, p)).status]).toEqual([p, 403]);
    }
    for (const i of [0, 1, 2]) expect(sumOf(await metricsOf(instancePort(i)), 'sentinel_agent_healthy', { agent: 'denylist' })).toBe(1);
  });

  it('the three instances share one rate limit kept in Redis: every decision is a script call in that Redis', async () => {
    const port = redis?.port ?? 0;
    const scriptCalls = async (): Promise<number> => {
      const info = await rawBulk(port, 'INFO commandstats');
      return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const decisions = async (i: number): Promise<number> => sumOf(await metricsOf(instancePort(i)), 'sentinel_ratelimit_decisions_total', { filter: 'per-client', source: 'redis' });
    const before = await Promise.all([0, 1, 2].map(decisions));
    const callsBefore = await scriptCalls();
    const n = 12;
    for (let i = 0; i < n; i++) expect((await get(front, `/limited/${i}`)).status).toBe(200);
    const after = await Promise.all([0, 1, 2].map(decisions));
    const deltas = after.map((a, i) => a - (before[i] ?? 0));
    // Round robin: every instance decided some of them, all with Redis, none with a fallback.
    expect(deltas.reduce((a, b) => a + b, 0)).toBe(n);
    for (const d of deltas) expect(d).toBeGreaterThan(0);
    expect((await scriptCalls()) - callsBefore).toBe(n);
  });

  it('HAProxy names the client: a client-sent X-Forwarded-For never reaches Sentinel (trusted-proxies 127.0.0.1 believes HAProxy\'s)', async () => {
    const r = await get(front, '/spoof', { 'x-forwarded-for': '203.0.113.9' });
    expect(r.status).toBe(200);
    const echoed = JSON.parse(r.body) as { headers: Record<string, string> };
    expect(echoed.headers['x-forwarded-for']).toMatch(/^127\.0\.0\.1\b/);
    expect(r.body).not.toContain('203.0.113.9');
  });
});

describe('compose echo upstream', () => {
  it('echoes the request as JSON on 127.0.0.1', async () => {
    const c = await spawnReady([join(COMPOSE_DIR, 'echo-upstream.ts'), '--port', '0'], /"event":"listening"/);
    const address = one(/"address":"([^"]+)"/, c.output(), 'address');
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const res = await request(`http://${address}/x?y=1`, { method: 'POST', body: 'hello', headers: { 'x-test': 'yes' } });
    const body = (await res.body.json()) as { method: string; url: string; headers: Record<string, string>; bodyBytes: number };
    expect(res.statusCode).toBe(200);
    expect(body).toMatchObject({ method: 'POST', url: '/x?y=1', bodyBytes: 5 });
    expect(body.headers['x-test']).toBe('yes');
  });
});
