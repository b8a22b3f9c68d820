// Logs end to end on the real CLI: access log formats and sampling (errors always logged), the
// error log, the audit log in its own file (parser rejections included), reopening every log file
// on SIGUSR1 without losing a line (one process and two workers), and which logging settings a
// reload may change.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';

const running: Array<{ stop(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

async function upstream(): Promise<Upstream> {
  const up = await startUpstream((req, res) => { req.resume(); req.on('end', () => res.end('hello')); });
  running.push({ stop: () => up.close() });
  return up;
}

/**
 * Sentinel with `logging` as given (log files go in a temp dir made before the start); routes:
 * /ok → the upstream, /down → a refused port, nothing else.
 */
async function sentinel(up: Upstream, logging: (dir: string) => string, extra = ''): Promise<SentinelProcess & { file(name: string): string }> {
  const refused = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-logs-'));
  const p = await startSentinel(`
${extra}
listeners { listener "main" { address "127.0.0.1:0" } }
routes {
  route "ok" { matches { path-prefix "/ok" }; upstream "app" }
  route "down" { matches { path-prefix "/down" }; upstream "dead" }
}
upstreams { upstream "app" { target "${up.address}" }; upstream "dead" { target "127.0.0.1:${refused}" } }
observability { metrics { enabled #true; address "127.0.0.1:0" }; logging { ${logging(dir)} } }
`, { listeners: ['main'], metrics: true }).catch((err: unknown) => { rmSync(dir, { recursive: true, force: true }); throw err; });
  running.push({ stop: async () => { await p.stop(); rmSync(dir, { recursive: true, force: true }); } });
  return Object.assign(p, { file: (name: string) => join(dir, name) });
}

async function get(p: SentinelProcess, path: string, headers: Record<string, string> = {}): Promise<{ status: number; requestId: string }> {
  const r = await request(`http://127.0.0.1:${p.ports.get('main')}${path}`, { headers });
  await r.body.dump();
  return { status: r.statusCode, requestId: String(r.headers['x-request-id']) };
}

async function metric(p: SentinelProcess, series: string): Promise<number> {
  const text = await (await request(`http://127.0.0.1:${p.metricsPort}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends raw bytes, returns what came back once the server closed. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    s.setEncoding('latin1');
    s.on('data', (d: string) => { got += d; });
    s.on('close', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(20_000, () => { s.destroy(); reject(new Error('raw: timeout')); });
  });
}

const COMBINED_RE = /^(\S+) - - \[(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) \+0000\] "([A-Z]+) (\S+) HTTP\/1\.1" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" request_id=(\S+) trace_id=([0-9a-f]{32}) route=(\S+) upstream=(\S+) target=(\S+) attempts=(\d+) error=(\S+) duration_ms=([\d.]+) upstream_ms=([\d.]+) agents_ms=([\d.]+)$/;

describe('access log', () => {
  it('combined format: Apache combined fields, then request id, trace id, route, target, attempts, durations', async () => {
    const up = await upstream();
    const p = await sentinel(up, (d) => `access-log { file "${d}/access.log"; format "combined" }`);
    const ok = await get(p, '/ok/a?token=secret', { referer: 'http://ref.example/"x"', 'user-agent': 'spec/1.0' });
    const down = await get(p, '/down');
    await p.stop();
    const [a, b] = lines(p.file('access.log'));
    const m = COMBINED_RE.exec(a ?? '');
    expect(m, a).not.toBeNull();
    const f = m as RegExpExecArray;
    expect([f[1], f[8], f[9], f[10], f[11], f[12], f[13]]).toEqual(['127.0.0.1', 'GET', '/ok/a', '200', '5', 'http://ref.example/\\"x\\"', 'spec/1.0']);
    expect([f[14], f[16], f[17], f[18], f[19], f[20]]).toEqual([ok.requestId, 'ok', 'app', up.address, '1', '-']);
    expect(a).not.toContain('secret');
    const g = COMBINED_RE.exec(b ?? '') as RegExpExecArray;
    expect([g[10], g[14], g[16], g[20]]).toEqual(['502', down.requestId, 'down', 'UPSTREAM_CONNECT_FAILED']);
  }, 60_000);

  it('json format has agents_ms and upstream_ms; sample-rate 0 logs only errors (status >= 500 or an error code)', async () => {
    const up = await upstream();
    const p = await sentinel(up, (d) => `access-log { file "${d}/access.log"; sample-rate 0 }`);
    for (let i = 0; i < 20; i++) expect((await get(p, `/ok/${i}`)).status).toBe(200);
    const notFound = await get(p, '/nowhere');
    const failed = await get(p, '/down');
    await p.stop();
    const records = lines(p.file('access.log')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.request_id)).toEqual([notFound.requestId, failed.requestId]);
    expect(records[0]).toMatchObject({ status: 404, error_code: 'ROUTE_NOT_FOUND', agents_ms: 0, msg: 'access' });
    expect(records[1]).toMatchObject({ status: 502, error_code: 'UPSTREAM_CONNECT_FAILED', attempts: 1, route: 'down' });
    expect(typeof records[1]?.upstream_ms).toBe('number');
  }, 60_000);
});

describe('error log', () => {
  it('failed requests at their level, and a copy of the process log at or above the error-log level', async () => {
    const up = await upstream();
    const p = await sentinel(up, (d) => `access-log { enabled #false }; error-log { file "${d}/error.log"; level "warn" }`);
    const failed = await get(p, '/down');
    await get(p, '/nowhere'); // a 404 is logged at info: below warn
    await get(p, '/ok/fine');
    // A reload that needs a restart is refused with an error record on the process log.
    const conf = join(p.dir, 'sentinel.kdl');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('error-log {', 'error-log { buffer-size 64;'));
    const mark = p.stderr().length;
    p.child.kill('SIGHUP');
    await until(() => p.stderr().slice(mark).includes('config reload rejected'), 'the rejected reload');
    await p.stop();
    const records = lines(p.file('error.log')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = records.filter((r) => r.msg === 'request failed');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ level: 50, request_id: failed.requestId, error_code: 'UPSTREAM_CONNECT_FAILED', status: 502, route: 'down', upstream: 'dead' });
    expect(String(requests[0]?.trace_id)).toMatch(/^[0-9a-f]{32}$/);
    const rejected = records.find((r) => r.msg === 'config reload rejected: the running config stays');
    expect(rejected?.level).toBe(50);
    expect(JSON.stringify(rejected?.errors)).toContain('error-log enabled, file or buffer-size changed: this needs a restart');
    // Info records of the process log (listener ready, …) stay on stderr only.
    expect(records.some((r) => r.msg === 'listener ready')).toBe(false);
    expect(p.stderr()).toContain('"msg":"listener ready"');
  }, 60_000);
});

describe('audit log', () => {
  it('has its own file: a smuggling attempt rejected by the parser is recorded with the id sent to the client, and counted', async () => {
    const up = await upstream();
    const p = await sentinel(up, (d) => `access-log { enabled #false }; audit-log { file "${d}/audit.log" }`);
    const before = up.seen.length;
    const reply = await raw(p.ports.get('main') as number, 'POST /ok HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const id = /x-request-id: (\S+)\r\n/.exec(reply)?.[1];
    expect(reply).toContain(`"request_id":"${id}"`);
    expect(reply).toContain('"code":"BAD_REQUEST"');
    const big = await raw(p.ports.get('main') as number, `GET /ok HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    expect(up.seen.length).toBe(before);
    expect(await metric(p, 'sentinel_audit_events_total{component="parser",action="reject"}')).toBe(2);
    await p.stop();
    const records = lines(p.file('audit.log')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ audit: true, msg: 'audit', component: 'parser', action: 'reject', reason: 'smuggling rejected', request_id: id, listener: 'main', client_ip: '127.0.0.1', status: 400, parser_error: 'HPE_INVALID_TRANSFER_ENCODING' });
    expect(records[1]).toMatchObject({ component: 'parser', reason: 'header block too large', status: 431, parser_error: 'HPE_HEADER_OVERFLOW' });
    // Not on the process log any more.
    expect(p.stderr()).not.toContain('"audit":true');
  }, 60_000);

  it('by default records go to the process log on stderr, even when its level hides warnings', async () => {
    const up = await upstream();
    const p = await sentinel(up, () => 'level "info"; access-log { enabled #false }');
    // The readiness lines need "info"; then a reload raises the level (levels are reloadable).
    const conf = join(p.dir, 'sentinel.kdl');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('level "info"', 'level "error"'));
    const mark = p.stderr().length;
    p.child.kill('SIGHUP');
    await expect.poll(() => metric(p, 'sentinel_config_reloads_total{result="applied"}'), { timeout: 30_000, interval: 100 }).toBe(1);
    const reply = await raw(p.ports.get('main') as number, 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    await until(() => p.stderr().includes('"audit":true'), 'the audit record on stderr');
    const after = p.stderr().slice(mark);
    expect(after).toContain('"reason":"smuggling rejected"');
    expect(after).toContain('"parser_error":"HPE_INVALID_HEADER_TOKEN"');
    // The reload itself (info) was not logged at level error: the audit record got through anyway.
    expect(after).not.toContain('"msg":"config reloaded"');
  }, 60_000);
});

const SMUGGLED = 'POST /ok HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';

/**
 * logrotate: N requests, rename the files, M requests (they land in the renamed files), SIGUSR1,
 * K requests (they land in new files). Every request's line is in exactly one file.
 */
async function rotation(workers: number): Promise<void> {
  const up = await upstream();
  const p = await sentinel(up, (d) => `access-log { file "${d}/access.log" }; audit-log { file "${d}/audit.log" }; error-log { file "${d}/error.log" }`,
    workers === 1 ? '' : `system { worker-threads ${workers}; reuse-port #false }`);
  const port = p.ports.get('main') as number;
  const ids: string[] = [];
  const send = async (n: number) => {
    // Concurrent, so that in multi-worker mode both workers write.
    const batch = await Promise.all(Array.from({ length: n }, (_, i) => get(p, `/ok/${ids.length + i}`)));
    for (const r of batch) { expect(r.status).toBe(200); ids.push(r.requestId); }
  };
  await send(20);
  await raw(port, SMUGGLED);
  await until(() => lines(p.file('access.log')).length === 20 && lines(p.file('audit.log')).length === 1, 'the first lines');
  for (const f of ['access.log', 'audit.log', 'error.log']) renameSync(p.file(f), p.file(`${f}.1`));
  await send(20);
  await get(p, '/down');
  const mark = p.stderr().length;
  p.child.kill('SIGUSR1');
  await until(() => (p.stderr().slice(mark).match(/"msg":"log files reopened"/g) ?? []).length === workers + (workers > 1 ? 1 : 0), 'every process to reopen');
  await until(() => existsSync(p.file('access.log')) && existsSync(p.file('error.log')) && existsSync(p.file('audit.log')), 'the new files');
  await send(20);
  await raw(port, SMUGGLED);
  await get(p, '/down');
  await p.stop();
  const idsIn = (f: string) => lines(p.file(f)).map((l) => String((JSON.parse(l) as { request_id: string }).request_id));
  const oldAccess = idsIn('access.log.1');
  const newAccess = idsIn('access.log');
  // Nothing lost, nothing twice: the first 40 plus the 502 in the renamed file, the rest in the new one.
  expect(oldAccess.length + newAccess.length).toBe(62);
  expect(new Set([...oldAccess, ...newAccess]).size).toBe(62);
  expect(new Set(oldAccess)).toEqual(new Set([...ids.slice(0, 40), ...oldAccess.filter((x) => !ids.includes(x))]));
  expect(newAccess.filter((x) => ids.includes(x)).sort()).toEqual(ids.slice(40).sort());
  expect(lines(p.file('audit.log.1'))).toHaveLength(1);
  expect(lines(p.file('audit.log'))).toHaveLength(1);
  expect(lines(p.file('error.log.1')).filter((l) => l.includes('"request failed"'))).toHaveLength(1);
  expect(lines(p.file('error.log')).filter((l) => l.includes('"request failed"'))).toHaveLength(1);
}

describe('log files reopen on SIGUSR1 (logrotate)', () => {
  it('one process: lines after the signal go to the new files, none lost', () => rotation(1), 90_000);
  it('two workers: the primary tells every worker, none lost', () => rotation(2), 90_000);
});

describe('logging on reload', () => {
  it('access-log format and sample-rate apply on reload; its file does not (refused, the old config stays)', async () => {
    const up = await upstream();
    const p = await sentinel(up, (d) => `access-log { file "${d}/access.log" }`);
    const conf = join(p.dir, 'sentinel.kdl');
    const original = readFileSync(conf, 'utf8');
    const reload = async (text: string, outcome: string) => {
      writeFileSync(conf, text);
      const mark = p.stderr().length;
      p.child.kill('SIGHUP');
      await until(() => p.stderr().slice(mark).includes(outcome), outcome);
    };
    await get(p, '/ok/json');
    await reload(original.replace('access-log {', 'access-log { format "combined";'), '"msg":"config reloaded"');
    await get(p, '/ok/combined');
    await reload(original.replace('access.log"', 'other.log"'), 'config reload rejected');
    expect(p.stderr()).toContain('access-log enabled, file or buffer-size changed: this needs a restart');
    await get(p, '/ok/still-combined');
    await p.stop();
    const [first, second, third] = lines(p.file('access.log'));
    expect(JSON.parse(first as string)).toMatchObject({ path: '/ok/json' });
    expect(second).toMatch(COMBINED_RE);
    expect(third).toContain('"GET /ok/still-combined HTTP/1.1"');
    expect(existsSync(p.file('other.log'))).toBe(false);
  }, 60_000);

  it('a log file that cannot be opened stops the start with its name', async () => {
    const up = await upstream();
    const p = startSentinel(`
listeners { listener "main" { address "127.0.0.1:0" } }
routes { route "ok" { matches { path-prefix "/" }; upstream "app" } }
upstreams { upstream "app" { target "${up.address}" } }
observability { metrics { enabled #false }; logging { access-log { file "/proc/sentinel-cannot-write/access.log" } } }
`, { listeners: ['main'] });
    // (Under /proc on purpose: a recursive mkdir there never returns on Node 24.)
    await expect(p).rejects.toThrow(/cannot open log file \/proc\/sentinel-cannot-write\/access\.log: ENOENT/);
  }, 60_000);
});
