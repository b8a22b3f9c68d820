// Multi-worker mode: N workers behind the primary, aggregated metrics, a SIGKILLed worker replaced
// with failures bounded by what was in flight on it, reload reaching every worker, clean exit. The
// listener has a fixed port, so the workers share it with reuse-port (the default); the other
// sharing mode is covered by cluster-reuse-port.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { readMigrateReq } from '../../src/server/cluster.ts';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';

let up: Upstream;
let proxy: SentinelProcess;
let port: number;
let fixedPort: number;

function config(variant: string): string {
  return `
system { worker-threads 2; graceful-shutdown-timeout-secs 5 }
listeners { listener "main" { address "127.0.0.1:${fixedPort}" } }
routes {
  route "app" { matches { path-prefix "/" }; upstream "app" }
  route "v-${variant}" { matches { path "/variant" }; builtin-handler "status" }
}
upstreams { upstream "app" { target "${up.address}" } }
observability { metrics { enabled #true; address "127.0.0.1:0" }; logging { level "info"; access-log { enabled #false } } }
`;
}

function workerPids(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(proxy.child.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function metricsText(): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`);
  return r.text();
}

async function metric(series: string): Promise<number> {
  // A scrape racing a worker's death may fail; the callers poll, so a failure reads as "not yet".
  const text = await metricsText().catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 20));
}

beforeAll(async () => {
  up = await startUpstream((_req, res) => res.end('ok'));
  fixedPort = await closedPort();
  proxy = await startSentinel(config('one'), { listeners: ['main'], metrics: true });
  port = proxy.ports.get('main') as number;
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await up?.close();
});

describe('multi-worker mode', () => {
  it('runs the configured number of workers and aggregates their metrics', async () => {
    expect(workerPids()).toHaveLength(2);
    for (let i = 0; i < 20; i++) expect((await fetch(`http://127.0.0.1:${port}/x`)).status).toBe(200);
    expect(await metric('sentinel_workers')).toBe(2);
    expect(await metric('sentinel_requests_total{route="app",method="GET",status="200"}')).toBe(20);
    expect(await metricsText()).toMatch(/sentinel_build_info\{version="[^"]+",config_hash="[0-9a-f]{16}"\} 1\n/);
  });

  it('replaces a SIGKILLed worker; failed requests are bounded by those in flight on it', async () => {
    const concurrency = 8;
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: concurrency, pipelining: 1, headersTimeout: 5_000, bodyTimeout: 5_000 });
    let stop = false;
    let ok = 0;
    let failed = 0;
    const loop = async () => {
      while (!stop) {
        try {
          const r = await pool.request({ path: '/x', method: 'GET', reset: true });
          await r.body.text();
          if (r.statusCode === 200) ok++; else failed++;
        } catch {
          failed++;
        }
      }
    };
    const loops = Array.from({ length: concurrency }, loop);
    let victim: number | undefined;
    try {
      await until(() => ok > 50);
      victim = workerPids()[0];
      process.kill(victim as number, 'SIGKILL');
      await until(async () => (await metric('sentinel_worker_restarts_total')) === 1 && (await metric('sentinel_workers')) === 2);
      const okAtReplace = ok;
      await until(() => ok > okAtReplace + 50);
    } finally {
      stop = true;
      await Promise.all(loops);
      await pool.close();
    }
    expect(workerPids()).toHaveLength(2);
    expect(workerPids()).not.toContain(victim);
    // Each connection has at most one request in flight: the victim can have failed at most that many.
    // With reuse-port, connections waiting in the victim's accept queue fail too unless the kernel
    // migrates them (net.ipv4.tcp_migrate_req=1, which .ci/run sets in its private network
    // namespace); without migration each client connection can meet the dying queue once more.
    const migrates = readMigrateReq() === '1';
    expect(failed).toBeLessThanOrEqual(migrates ? concurrency : 2 * concurrency);
    if (!migrates) expect(proxy.stderr()).toContain('set net.ipv4.tcp_migrate_req=1');
  }, 120_000);

  it('a SIGHUP reload reaches every worker', async () => {
    writeFileSync(join(proxy.dir, 'sentinel.kdl'), config('two'));
    const before = proxy.stderr().length;
    proxy.child.kill('SIGHUP');
    await until(() => proxy.stderr().slice(before).includes('"msg":"workers reloaded"'));
    const line = proxy.stderr().slice(before).split('\n').find((l) => l.includes('"msg":"workers reloaded"')) as string;
    expect(JSON.parse(line)).toMatchObject({ result: 'applied', generation: 2, workers: 2 });
    expect(await metric('sentinel_config_generation')).toBe(2);
    expect(await metric('sentinel_worker_reload_mismatch_total')).toBe(0);
    // Both workers answer with the new route set (connections are spread over the workers).
    for (let i = 0; i < 10; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/variant`, { headers: { connection: 'close' } });
      expect(r.status).toBe(200);
      expect((await r.json() as { generation: number }).generation).toBe(2);
    }
  });

  it('SIGTERM stops the workers and the primary exits 0', async () => {
    const pids = workerPids();
    proxy.child.kill('SIGTERM');
    expect(await proxy.exited).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
