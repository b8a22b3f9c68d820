// End-to-end harness for deployment routing: real loopback instances (one per behaviour the parity
// checklist needs), the fixture data set both stores are seeded with, the proxy config, and an
// HTTP client. The proxy is the real binary (spec/helpers/sentinel-process.ts).
import { request as httpRequest, Agent } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createH2cServer } from 'node:http2';
import type { Http2Server } from 'node:http2';
import { createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer, Socket } from 'node:net';
import { startBlackhole } from '../helpers/blackhole.ts';
import type { Blackhole } from '../helpers/blackhole.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import type { MariaDbHandle } from '../helpers/mariadb.ts';

export const E1 = 'env_E1';
export const E2 = 'env_E2';
export const R1 = 'aws:r1';
export const R2 = 'aws:r2';

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: Buffer;
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

export function closeClient(): void {
  agent.destroy();
}

/** One request through the proxy (keep-alive). `host` sets the Host header, which picks the route. */
export function send(port: number, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer; fresh?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: opts.fresh === true ? false : agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** What the echo instance saw. */
export interface Echoed {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
}

/** An instance whose request handler a test can swap (hangs, holds, streams). */
export interface ScriptedUpstream extends Upstream {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

async function scripted(initial: (req: IncomingMessage, res: ServerResponse) => void): Promise<ScriptedUpstream> {
  const holder = { handler: initial };
  const u = await startUpstream((req, res) => holder.handler(req, res));
  return Object.defineProperty(u, 'handler', {
    get: () => holder.handler,
    set: (h: ScriptedUpstream['handler']) => { holder.handler = h; },
  }) as ScriptedUpstream;
}

export interface Instances {
  echo: Upstream;
  /** Three running, one pending, one failed (row 10). */
  uniform: Upstream[];
  good: Upstream;
  closedPort: number;
  /** Accepts, reads the request, resets the socket (row 14). */
  reset: { server: TcpServer; port: number; close(): Promise<void> };
  blackhole: Blackhole;
  hang: ScriptedUpstream;
  hold: ScriptedUpstream;
  passthrough: Upstream;
  stream: ScriptedUpstream;
  h2c: { server: Http2Server; port: number; requests: number; close(): Promise<void> };
}

export async function startInstances(): Promise<Instances> {
  const echo = await startUpstream((req, res) => {
    const body: Echoed = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders };
    res.writeHead(200, { 'content-type': 'application/json', 'x-stub': 'echo' });
    res.end(JSON.stringify(body));
  });
  const uniform: Upstream[] = [];
  for (let i = 0; i < 5; i++) uniform.push(await startUpstream((_req, res) => res.end(`u${i}`)));
  const good = await startUpstream((_req, res) => res.end('good'));
  const sockets = new Set<Socket>();
  const resetServer = createTcpServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('data', () => s.resetAndDestroy());
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => resetServer.listen(0, '127.0.0.1', r));
  const hang = await scripted(() => { /* never answers */ });
  const hold = await scripted(() => undefined);
  const passthrough = await startUpstream((_req, res) => {
    res.writeHead(503, 'Busy', { 'content-type': 'text/plain', 'x-custom': 'kept', 'retry-after': '7' });
    res.end('upstream says no');
  });
  const stream = await scripted((_req, res) => res.end('x'));
  let h2cRequests = 0;
  const h2cServer = createH2cServer((req, res) => {
    h2cRequests++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`h2c ${req.httpVersion}`);
  });
  const h2cSessions = new Set<{ destroy(): void }>();
  h2cServer.on('session', (s) => { h2cSessions.add(s); s.once('close', () => h2cSessions.delete(s)); });
  h2cServer.on('sessionError', () => undefined);
  await new Promise<void>((r) => h2cServer.listen(0, '127.0.0.1', r));
  const h2c = {
    server: h2cServer,
    port: (h2cServer.address() as { port: number }).port,
    get requests() { return h2cRequests; },
    close: () => new Promise<void>((r) => { for (const s of h2cSessions) s.destroy(); h2cServer.close(() => r()); }),
  };
  return {
    echo, uniform, good, closedPort: await closedPort(),
    reset: {
      server: resetServer,
      port: (resetServer.address() as { port: number }).port,
      close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); resetServer.close(() => r()); }),
    },
    blackhole: await startBlackhole(),
    hang, hold, passthrough, stream, h2c,
  };
}

export async function stopInstances(i: Instances | undefined): Promise<void> {
  if (i === undefined) return;
  await Promise.all([
    i.echo.close(), ...i.uniform.map((u) => u.close()), i.good.close(), i.reset.close(), i.blackhole.close(),
    i.hang.close(), i.hold.close(), i.passthrough.close(), i.stream.close(), i.h2c.close(),
  ]);
}

export interface FixtureDeployment {
  id: string;
  environmentId: string;
  status?: 'ready' | 'stopped';
  upstreamProtocol?: 'http1' | 'h2c';
}
export interface FixtureInstance {
  id: string;
  deploymentId: string;
  region: string;
  address: string;
  status: 'running' | 'pending' | 'failed' | 'inactive';
}
export interface Fixture {
  deployments: FixtureDeployment[];
  instances: FixtureInstance[];
}

/** Deployment ids of the data set, one group per checklist row. */
export const D = {
  d1: 'D1', d2: 'D2', stopped: 'D_stopped', r2: 'D_r2', notRunning: 'D_not_running', empty: 'D_empty',
  uniform: 'D_uniform', half: 'D_half', refused: 'D_refused', reset: 'D_reset', blackhole: 'D_blackhole', hang: 'D_hang',
  hold: 'D_hold', passthrough: 'D_503', stream: 'D_stream', h2c: 'D_h2c', h2cAsHttp1: 'D_h2c_as_http1', bad: 'D_bad',
  move: 'D_move', added: 'D_added', grows: 'D_grows', outage: 'D_outage', flaky: 'D_flaky',
} as const;

export function buildFixture(i: Instances): Fixture {
  const dep = (id: string, extra: Partial<FixtureDeployment> = {}): FixtureDeployment => ({ id, environmentId: E1, ...extra });
  let n = 0;
  const inst = (deploymentId: string, address: string, status: FixtureInstance['status'] = 'running', region = R1): FixtureInstance =>
    ({ id: `i${++n}_${deploymentId}`, deploymentId, region, address, status });
  const deployments = [
    dep(D.d1), dep(D.d2, { environmentId: E2 }), dep(D.stopped, { status: 'stopped' }), dep(D.r2), dep(D.notRunning), dep(D.empty),
    dep(D.uniform), dep(D.half), dep(D.refused), dep(D.reset), dep(D.blackhole), dep(D.hang), dep(D.hold), dep(D.passthrough),
    dep(D.stream), dep(D.h2c, { upstreamProtocol: 'h2c' }), dep(D.h2cAsHttp1), dep(D.bad), dep(D.move), dep(D.grows), dep(D.outage),
    dep(D.flaky),
  ];
  const instances = [
    inst(D.d1, i.echo.address), inst(D.d2, i.echo.address), inst(D.stopped, i.echo.address), inst(D.r2, i.echo.address, 'running', R2),
    inst(D.notRunning, i.echo.address, 'pending'), inst(D.notRunning, i.echo.address, 'failed'), inst(D.notRunning, i.echo.address, 'inactive'),
    ...i.uniform.slice(0, 3).map((u) => inst(D.uniform, u.address)),
    inst(D.uniform, (i.uniform[3] as Upstream).address, 'pending'), inst(D.uniform, (i.uniform[4] as Upstream).address, 'failed'),
    inst(D.half, i.good.address), inst(D.half, `127.0.0.1:${i.closedPort}`),
    inst(D.refused, `127.0.0.1:${i.closedPort}`), inst(D.reset, `127.0.0.1:${i.reset.port}`), inst(D.blackhole, i.blackhole.address),
    inst(D.hang, i.hang.address), inst(D.hold, i.hold.address), inst(D.passthrough, i.passthrough.address), inst(D.stream, i.stream.address),
    inst(D.h2c, `127.0.0.1:${i.h2c.port}`), inst(D.h2cAsHttp1, `127.0.0.1:${i.h2c.port}`), inst(D.bad, '%%bad'),
    inst(D.move, i.echo.address), inst(D.outage, i.echo.address), inst(D.flaky, i.echo.address),
  ];
  return { deployments, instances };
}

const s = JSON.stringify;

export function staticStoreKdl(f: Fixture): string {
  const lines = [
    ...f.deployments.map((d) => `deployment ${s(d.id)} environment-id=${s(d.environmentId)} status=${s(d.status ?? 'ready')} upstream-protocol=${s(d.upstreamProtocol ?? 'http1')}`),
    ...f.instances.map((x) => `instance ${s(x.id)} deployment=${s(x.deploymentId)} region=${s(x.region)} address=${s(x.address)} status=${s(x.status)}`),
  ];
  return `store "static" {\n${lines.map((l) => `        ${l}`).join('\n')}\n      }`;
}

export function mysqlStoreKdl(db: MariaDbHandle): string {
  return `store "mysql" { url ${s(db.url)}; pool-size 4; connect-timeout-secs 2; query-timeout-secs 2 }`;
}

export async function seedMysql(db: MariaDbHandle, f: Fixture): Promise<void> {
  for (const d of f.deployments) await insertDeployment(db, d);
  for (const x of f.instances) await insertInstance(db, x);
}

export async function insertDeployment(db: MariaDbHandle, d: FixtureDeployment): Promise<void> {
  await db.query('INSERT INTO deployments (id, environment_id, status, upstream_protocol) VALUES (?, ?, ?, ?)', [d.id, d.environmentId, d.status ?? 'ready', d.upstreamProtocol ?? 'http1']);
}

export async function insertInstance(db: MariaDbHandle, x: FixtureInstance): Promise<void> {
  const colon = x.region.indexOf(':');
  const regionId = `reg_${x.region}`;
  await db.query('INSERT IGNORE INTO regions (id, platform, name) VALUES (?, ?, ?)', [regionId, x.region.slice(0, colon), x.region.slice(colon + 1)]);
  await db.query('INSERT INTO instances (id, deployment_id, region_id, address, status) VALUES (?, ?, ?, ?, ?)', [x.id, x.deploymentId, regionId, x.address, x.status]);
}

/** Route hosts: each route of the test config is picked by its Host header. */
export const HOSTS = {
  main: 'app.example.com',
  slow: 'slow.test',
  custom: 'custom.test',
  windows: 'windows.test',
  outage: 'outage.test',
} as const;

/** Cache windows of the `windows` and `outage` routes (rows 25-28). */
export const WINDOWS = { freshSecs: 1, staleSecs: 600 } as const;
export const OUTAGE = { freshSecs: 0.2, staleSecs: 15 } as const;

/** One `deployments` route in environment E1, region R1, on `store`, with extra keys. */
function deploymentsRoute(name: string, match: string, store: string, extra: readonly string[] = []): string {
  return `  route "${name}" {
    ${match}
    deployments {
      environment-id "${E1}"
      region "${R1}"
${extra.map((l) => `      ${l}\n`).join('')}      ${store}
    }
  }`;
}

function cacheWindows(w: { freshSecs: number; staleSecs: number }): string {
  return `cache { deployments fresh-secs=${w.freshSecs} stale-secs=${w.staleSecs}; instances fresh-secs=${w.freshSecs} stale-secs=${w.staleSecs} }`;
}

/** The proxy config: one route per behaviour group, all on the same store. */
export function proxyConfig(store: string): string {
  return `listeners { listener "edge" { address "127.0.0.1:0" } }
routes {
${deploymentsRoute('main', 'priority "low"; matches { path-prefix "/" }', store)}
${deploymentsRoute('slow', `matches { host "${HOSTS.slow}" }`, store, ['request-timeout-secs 1', 'connect-timeout-secs 0.5'])}
${deploymentsRoute('custom', `matches { host "${HOSTS.custom}" }`, store, ['header "X-My-Deploy"', 'error-source-header "X-Acme-Error-Source"', 'error-source-value "edge"'])}
${deploymentsRoute('windows', `matches { host "${HOSTS.windows}" }`, store, [cacheWindows(WINDOWS)])}
${deploymentsRoute('outage', `matches { host "${HOSTS.outage}" }`, store, [cacheWindows(OUTAGE)])}
}
observability {
  metrics { enabled #true; address "127.0.0.1:0" }
  logging { access-log { enabled #true; file "stdout" } }
}
`;
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` (a generous bound, never an assertion on speed). */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The sum of the series of `name` whose labels include `labels`, in a Prometheus text exposition (0 when none). */
export function seriesValue(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `)) {
      if (Object.keys(labels).length === 0) sum += Number(line.slice(name.length + 1).trim());
      continue;
    }
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.indexOf('}');
    const got = new Map([...line.slice(name.length + 1, close).matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1] as string, m[2] as string]));
    if (Object.entries(labels).every(([k, v]) => got.get(k) === v)) sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}

export async function scrape(port: number): Promise<string> {
  const r = await send(port, { path: '/metrics', fresh: true });
  return r.body.toString('utf8');
}
