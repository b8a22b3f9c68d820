// Deployment routing state is long-lived: the store's pool, the lookup caches and the instance
// pools live in the registry under the runtime's identity, so a reload that keeps the identity
// keeps them warm, and one that changes it starts cold. Proven with the database down: only a
// surviving cache can still route. Real binary, real MariaDB, real loopback instance.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { startMariaDb } from '../helpers/mariadb.ts';
import type { MariaDbHandle } from '../helpers/mariadb.ts';
import { startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { SCHEMA_SQL } from './harness.ts';
import { closeClient, eventually, insertDeployment, insertInstance, send } from './e2e-harness.ts';

function config(db: MariaDbHandle, o: { timing: boolean; freshSecs: number; extraRoute?: boolean }): string {
  return `listeners { listener "edge" { address "127.0.0.1:0" } }
routes {
  ${o.extraRoute === true ? 'route "status" { matches { path "/__status" }; builtin-handler "status" }' : ''}
  route "apps" {
    matches { path-prefix "/" }
    deployments {
      environment-id "E1"
      region "aws:r1"
      timing-header ${o.timing ? '#true' : '#false'}
      cache { deployments fresh-secs=${o.freshSecs} stale-secs=600; instances fresh-secs=${o.freshSecs} stale-secs=600 }
      store "mysql" { url ${JSON.stringify(db.url)}; connect-timeout-secs 1; query-timeout-secs 1 }
    }
  }
}
observability { metrics { enabled #false } }
`;
}

describe('deployments across reloads (real MariaDB)', () => {
  let db: MariaDbHandle;
  let up: Upstream;
  let proxy: SentinelProcess;
  let port = 0;

  beforeAll(async () => {
    up = await startUpstream((_req, res) => res.end('ok'));
    db = await startMariaDb({ initSql: SCHEMA_SQL });
    await insertDeployment(db, { id: 'D1', environmentId: 'E1' });
    await insertInstance(db, { id: 'i1', deploymentId: 'D1', region: 'aws:r1', address: up.address, status: 'running' });
    proxy = await startSentinel(config(db, { timing: true, freshSecs: 300 }), { listeners: ['edge'] });
    port = proxy.ports.get('edge') as number;
  });

  afterAll(async () => {
    await proxy?.stop();
    await up?.close();
    await db?.destroy();
    closeClient();
  });

  async function reload(text: string): Promise<void> {
    const count = (): number => proxy.stderr().split('\n').filter((l) => l.includes('"msg":"config reloaded"')).length;
    const before = count();
    writeFileSync(join(proxy.dir, 'sentinel.kdl'), text);
    proxy.child.kill('SIGHUP');
    await eventually('the reload', async () => (count() > before ? true : undefined));
  }

  const get = (): ReturnType<typeof send> => send(port, { headers: { 'x-deployment-id': 'D1' } });

  it('a reload that keeps the identity keeps the caches (routing survives a database outage); a new identity starts cold', { timeout: 120_000 }, async () => {
    const warm = await get();
    expect([warm.status, warm.body.toString()]).toEqual([200, 'ok']);
    expect(warm.headers['x-unkey-timing']).toBeDefined();
    await db.stop();
    try {
      // Same identity: route-level change (timing header off) and an unrelated new route.
      await reload(config(db, { timing: false, freshSecs: 300, extraRoute: true }));
      const kept = await get();
      expect([kept.status, kept.body.toString()]).toEqual([200, 'ok']);
      expect(kept.headers['x-unkey-timing']).toBeUndefined(); // the new route settings apply
      // New identity (different cache windows): a fresh, cold runtime cannot reach the database.
      await reload(config(db, { timing: false, freshSecs: 200, extraRoute: true }));
      const cold = await get();
      expect(cold.status).toBe(500);
      expect(JSON.parse(cold.body.toString())).toMatchObject({ error: { code: 'err:unkey:internal_server_error:internal_server_error' } });
    } finally {
      await db.start();
    }
    expect((await get()).status).toBe(200);
  });
});
