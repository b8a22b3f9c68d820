// Breaker and health state survive a reload (issue 7): a target ejected, with its breaker open,
// before a SIGHUP reload that keeps its upstream is still ejected and open after it, and gets no
// traffic. A reload that changes the upstream's health settings starts that state afresh.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { call, metric } from '../helpers/http.ts';

let a: Upstream;
let c: Upstream;
let dead = '';
let proxy: SentinelProcess;
let port: number;

function config(extraRoute: string, baseEjectionSecs = 60): string {
  return `
listeners { listener "main" { address "127.0.0.1:0" } }
routes {
  route "pool" { matches { path-prefix "/" }; upstream "pool" }
  route "status" { priority "critical"; matches { path "/_upstreams" }; builtin-handler "upstreams" }
  ${extraRoute}
}
upstreams {
  upstream "pool" {
    target "${a.address}"; target "${dead}"; target "${c.address}"
    outlier-detection { consecutive-failures 1; base-ejection-secs ${baseEjectionSecs}; max-ejection-secs 600 }
    circuit-breaker { failure-threshold 1; timeout-seconds 600 }
    retry-policy { max-attempts 3; backoff 0; max-backoff 0 }
  }
  upstream "spare" { target "${dead}" }
}
observability { metrics { enabled #true; address "127.0.0.1:0" }; logging { level "info"; access-log { enabled #false } } }
`;
}

interface TargetStatus { target: string; ejected: boolean; breaker: string | null; available: boolean; ejections: number }

async function deadTarget(): Promise<{ generation: number; t: TargetStatus }> {
  const body = JSON.parse((await call(port, '/_upstreams')).body) as { generation: number; upstreams: { pool: { targets: TargetStatus[] } } };
  const t = body.upstreams.pool.targets.find((x) => x.target === dead);
  if (t === undefined) throw new Error('dead target missing from the status');
  return { generation: body.generation, t };
}

async function reload(text: string): Promise<void> {
  writeFileSync(join(proxy.dir, 'sentinel.kdl'), text);
  const before = proxy.stderr().length;
  proxy.child.kill('SIGHUP');
  for (let waited = 0; ; waited += 20) {
    const line = proxy.stderr().slice(before).split('\n').find((l) => l.includes('"msg":"config reload') && !l.includes('requested'));
    if (line !== undefined) {
      if (!line.includes('"msg":"config reloaded"')) throw new Error(`reload not applied: ${line}`);
      return;
    }
    if (waited > 30_000) throw new Error('no reload outcome logged');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const failures = (): Promise<number> =>
  metric(proxy.metricsPort as number, `sentinel_upstream_requests_total{upstream="pool",target="${dead}",outcome="UPSTREAM_CONNECT_FAILED"}`);

beforeAll(async () => {
  a = await startUpstream((_req, res) => res.end('a'));
  c = await startUpstream((_req, res) => res.end('c'));
  dead = `127.0.0.1:${await closedPort()}`;
  proxy = await startSentinel(config(''), { listeners: ['main'], metrics: true });
  port = proxy.ports.get('main') as number;
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([a?.close(), c?.close()]);
});

describe('health state across reloads', () => {
  it('a target ejected (breaker open) before a reload is still ejected after it', async () => {
    for (let k = 0; k < 6; k++) expect((await call(port, '/x')).status).toBe(200);
    const before = await deadTarget();
    expect(before.t).toMatchObject({ ejected: true, breaker: 'open', available: false, ejections: 1 });
    const failed = await failures();
    expect(failed).toBe(1);
    const routesGauge = async (): Promise<string[]> => (await call(proxy.metricsPort as number, '/metrics')).body.split('\n').filter((l) => l.startsWith('sentinel_upstream_routes{'));
    // sentinel_upstream_routes follows the config serving: "spare" is used by no route (0, not absent).
    expect((await routesGauge()).sort()).toEqual(['sentinel_upstream_routes{upstream="pool"} 1', 'sentinel_upstream_routes{upstream="spare"} 0']);

    await reload(config('route "extra" { matches { path "/extra" }; upstream "pool" }'));
    expect((await routesGauge()).sort()).toEqual(['sentinel_upstream_routes{upstream="pool"} 2', 'sentinel_upstream_routes{upstream="spare"} 0']);
    const after = await deadTarget();
    expect(after.generation).toBe(before.generation + 1);
    expect(after.t).toMatchObject({ ejected: true, breaker: 'open', available: false, ejections: 1 });
    for (let k = 0; k < 30; k++) expect((await call(port, k % 2 === 0 ? '/x' : '/extra')).status).toBe(200);
    // Not one attempt reached the dead target after the reload: the new generation kept its state.
    expect(await failures()).toBe(failed);
  }, 60_000);

  it('a reload that changes the health settings starts the state afresh', async () => {
    await reload(config('', 59));
    const fresh = await deadTarget();
    expect(fresh.t).toMatchObject({ ejected: false, breaker: 'closed', available: true, ejections: 0 });
    const failed = await failures();
    for (let k = 0; k < 6; k++) expect((await call(port, '/x')).status).toBe(200);
    expect(await failures()).toBe(failed + 1);
    expect((await deadTarget()).t).toMatchObject({ ejected: true, breaker: 'open' });
  }, 60_000);
});
