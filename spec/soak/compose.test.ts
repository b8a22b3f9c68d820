import { afterEach, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { request } from 'undici';
import { runSentinel } from '../helpers/sentinel-process.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMPOSE_DIR = join(ROOT, 'deploy/compose');

function which(bin: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/usr/bin', '/usr/local/bin'])) {
    if (dir !== '' && existsSync(join(dir, bin))) return join(dir, bin);
  }
  return null;
}

const dockerCompose = which('docker-compose');
const haproxy = which('haproxy');
const promtool = which('promtool');

describe('docker-compose topology', () => {
  it.skipIf(dockerCompose === null)('docker-compose config validates docker-compose.yml', async () => {
    const { stdout, stderr } = await run(dockerCompose as string, ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT, timeout: 30_000 });
    expect(`${stdout}${stderr}`.trim()).toBe('');
  });

  it.skipIf(dockerCompose === null)('has the issue-8 services, none on a bridge network', async () => {
    const { stdout: services } = await run(dockerCompose as string, ['-f', 'docker-compose.yml', 'config', '--services'], { cwd: ROOT, timeout: 30_000 });
    expect(services.trim().split('\n').sort()).toEqual(['agent-denylist', 'agent-echo', 'echo-upstream', 'haproxy', 'prometheus', 'redis', 'sentinel-1', 'sentinel-2', 'sentinel-3']);
    const { stdout: full } = await run(dockerCompose as string, ['-f', 'docker-compose.yml', 'config'], { cwd: ROOT, timeout: 30_000 });
    // A service without network_mode would get a bridge network on a private subnet.
    expect((full.match(/^\s+network_mode: (host|none)$/gm) ?? []).length).toBe(9);
    expect(full).not.toMatch(/^networks:/m);
    for (const n of [1, 2, 3]) expect(full).toContain(`deploy/compose/listeners/sentinel-${n}.kdl:/etc/sentinel/listeners/instance.kdl:ro`);
  });

  it('the shared Sentinel config validates, alone (all three listeners) and as each instance sees it', async () => {
    const all = await runSentinel(['validate', '-c', join(COMPOSE_DIR, 'sentinel.kdl')]);
    expect(all.stderr).toBe('');
    expect(all.code).toBe(0);
    for (const n of [1, 2, 3]) {
      const dir = mkdtempSync(join(tmpdir(), 'soak-compose-'));
      try {
        mkdirSync(join(dir, 'listeners'));
        copyFileSync(join(COMPOSE_DIR, 'sentinel.kdl'), join(dir, 'sentinel.kdl'));
        copyFileSync(join(COMPOSE_DIR, `listeners/sentinel-${n}.kdl`), join(dir, 'listeners/instance.kdl'));
        const r = await runSentinel(['validate', '-c', join(dir, 'sentinel.kdl')]);
        expect(r.code, r.stderr).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it.skipIf(haproxy === null)('haproxy.cfg passes haproxy -c', async () => {
    const { stdout } = await run(haproxy as string, ['-c', '-f', join(COMPOSE_DIR, 'haproxy.cfg')], { timeout: 30_000 });
    expect(stdout).toMatch(/Configuration file is valid/);
  });

  it.skipIf(promtool === null)('prometheus.yml passes promtool check config and scrapes all three instances', async () => {
    const { stdout } = await run(promtool as string, ['check', 'config', join(COMPOSE_DIR, 'prometheus.yml')], { timeout: 30_000 });
    expect(stdout).toMatch(/SUCCESS/);
    const text = readFileSync(join(COMPOSE_DIR, 'prometheus.yml'), 'utf8');
    for (const port of [8081, 8082, 8083]) expect(text).toContain(`'127.0.0.1:${port}'`);
  });

  it('the Dockerfile is multi-stage, Node 24 slim, production deps only, non-root, runs the CLI', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(text).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    expect((text.match(/^FROM \$\{NODE_IMAGE\} AS \w+$/gm) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^CMD \["node", "bin\/sentinel\.js", "run", "-c", "\/etc\/sentinel\/sentinel\.kdl"\]$/m);
  });
});

describe('compose echo upstream', () => {
  let child: ChildProcess | null = null;
  afterEach(async () => {
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const c = child;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
      });
    }
    child = null;
  });

  it('echoes the request as JSON on 127.0.0.1', async () => {
    const c = spawn(process.execPath, [join(COMPOSE_DIR, 'echo-upstream.ts'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const address = await new Promise<string>((resolve, reject) => {
      let buf = '';
      c.stdout?.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve((JSON.parse(buf.slice(0, nl)) as { address: string }).address);
      });
      c.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const res = await request(`http://${address}/x?y=1`, { method: 'POST', body: 'hello', headers: { 'x-test': 'yes' } });
    const body = (await res.body.json()) as { method: string; url: string; headers: Record<string, string>; bodyBytes: number };
    expect(res.statusCode).toBe(200);
    expect(body).toMatchObject({ method: 'POST', url: '/x?y=1', bodyBytes: 5 });
    expect(body.headers['x-test']).toBe('yes');
  });
});
