// The opt-in `selection "<algorithm>"` of deployment routes (a divergence from Unkey's uniform
// random pick): Sentinel's selectors over the running instances of the deployment, with selector
// state that survives instance-cache refreshes while the instance set is unchanged and is rebuilt
// when it changes. Real binary, real loopback instances, the static store and a real MariaDB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { startMariaDb } from '../helpers/mariadb.ts';
import type { MariaDbHandle } from '../helpers/mariadb.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { SCHEMA_SQL } from './harness.ts';
import { closeClient, eventually, insertDeployment, insertInstance, scrape, send, seriesValue } from './e2e-harness.ts';

const s = JSON.stringify;

/** Three instances answering their own name, plus the routes' store lines for them. */
async function startNamed(names: readonly string[]): Promise<Map<string, Upstream>> {
  const out = new Map<string, Upstream>();
  for (const name of names) out.set(name, await startUpstream((_req, res) => res.end(name)));
  return out;
}

function route(name: string, host: string, selection: string, store: string, extra = ''): string {
  return `  route "${name}" {
    matches { host "${host}" }
    deployments {
      environment-id "E1"
      region "aws:r1"
      ${selection}
      ${extra}
      ${store}
    }
  }`;
}

/** The binary with one listener, "edge", and these routes; metrics on a port of their own when asked. */
async function startEdge(routes: readonly string[], metrics = false): Promise<{ proxy: SentinelProcess; port: number }> {
  const proxy = await startSentinel(`listeners { listener "edge" { address "127.0.0.1:0" } }
routes {
${routes.join('\n')}
}
observability { metrics { ${metrics ? 'enabled #true; address "127.0.0.1:0"' : 'enabled #false'} } }
`, { listeners: ['edge'], ...(metrics ? { metrics: true } : {}) });
  return { proxy, port: proxy.ports.get('edge') as number };
}

/** fresh-secs=0: every cache hit is stale and starts a refresh, so nearly every request sees a new instance set object. */
const ALWAYS_REFRESH = 'cache { deployments fresh-secs=0 stale-secs=600; instances fresh-secs=0 stale-secs=600 }';

async function counts(port: number, host: string, n: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await send(port, { headers: { host, 'x-deployment-id': 'D1', ...headers } });
    expect(r.status).toBe(200);
    const who = r.body.toString();
    seen.set(who, (seen.get(who) ?? 0) + 1);
  }
  return seen;
}

describe('deployments selection opt-in (static store)', () => {
  let named: Map<string, Upstream>;
  let proxy: SentinelProcess;
  let port = 0;

  beforeAll(async () => {
    named = await startNamed(['a', 'b', 'c', 'off']);
    named.set('slow', await startUpstream((_req, res) => { setTimeout(() => res.end('slow'), 300); }));
    const addr = (n: string): string => (named.get(n) as Upstream).address;
    const store = `store "static" {
        deployment "D1" environment-id="E1"
        instance "i_c" deployment="D1" address=${s(addr('c'))}
        instance "i_a" deployment="D1" address=${s(addr('a'))}
        instance "i_off" deployment="D1" address=${s(addr('off'))} status="pending"
        instance "i_b" deployment="D1" address=${s(addr('b'))}
        deployment "D_slow" environment-id="E1"
        instance "s_a" deployment="D_slow" address=${s(addr('a'))}
        instance "s_slow" deployment="D_slow" address=${s(addr('slow'))}
        instance "s_b" deployment="D_slow" address=${s(addr('b'))}
      }`;
    ({ proxy, port } = await startEdge([
      route('rr', 'rr.test', 'selection "round_robin"', store, ALWAYS_REFRESH),
      route('hash', 'hash.test', 'selection "consistent_hash" { hash-key "header:X-User" }', store, ALWAYS_REFRESH),
      route('maglev', 'maglev.test', 'selection "maglev" { hash-key "query:u" }', store, ALWAYS_REFRESH),
      route('lc', 'lc.test', 'selection "least_connections"', store),
      route('ewma', 'ewma.test', 'selection "peak_ewma"', store),
    ]));
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([...(named?.values() ?? [])].map((u) => u.close()));
    closeClient();
  });

  it('round_robin spreads exactly evenly over the 3 running instances, although the instance set is refreshed all along', { timeout: 120_000 }, async () => {
    const seen = await counts(port, 'rr.test', 60);
    expect(Object.fromEntries(seen)).toEqual({ a: 20, b: 20, c: 20 }); // the pending instance gets nothing
  });

  it('consistent_hash keeps each key on one instance across refreshes, and spreads keys', { timeout: 120_000 }, async () => {
    const homes = new Set<string>();
    for (let user = 0; user < 24; user++) {
      const seen = await counts(port, 'hash.test', 4, { 'x-user': `user-${user}` });
      expect(seen.size, `user-${user}`).toBe(1);
      homes.add([...seen.keys()][0] as string);
    }
    expect(homes.size).toBeGreaterThan(1);
    expect(homes.has('off')).toBe(false);
  });

  it('maglev with a query key: the same key lands on the same instance', { timeout: 120_000 }, async () => {
    const homes = new Set<string>();
    for (let u = 0; u < 24; u++) {
      const seen = new Set<string>();
      for (let k = 0; k < 3; k++) {
        const r = await send(port, { path: `/x?u=${u}`, headers: { host: 'maglev.test', 'x-deployment-id': 'D1' } });
        expect(r.status).toBe(200);
        seen.add(r.body.toString());
      }
      expect(seen.size, `u=${u}`).toBe(1);
      homes.add([...seen][0] as string);
    }
    expect(homes.size).toBeGreaterThan(1);
  });

  it('least_connections and peak_ewma route every request to a running instance', { timeout: 120_000 }, async () => {
    for (const host of ['lc.test', 'ewma.test']) {
      const seen = await counts(port, host, 30);
      expect([...seen.keys()].every((k) => ['a', 'b', 'c'].includes(k)), host).toBe(true);
    }
    // Sequential requests leave every instance idle: least_connections rotates ties, so all three serve.
    expect((await counts(port, 'lc.test', 30)).size).toBe(3);
  });

  it('peak_ewma learns from each attempt\'s latency: a slow instance is avoided once observed', { timeout: 120_000 }, async () => {
    const seen = await counts(port, 'ewma.test', 40, { 'x-deployment-id': 'D_slow' });
    // Without latency reports every idle instance ties and gets about a third (13 of 40).
    expect(seen.get('slow') ?? 0).toBeLessThanOrEqual(4);
    expect((seen.get('a') ?? 0) + (seen.get('b') ?? 0)).toBeGreaterThanOrEqual(36);
  });
});

describe('deployments selection opt-in (real MariaDB): selector state follows the instance set', () => {
  let db: MariaDbHandle;
  let named: Map<string, Upstream>;
  let proxy: SentinelProcess;
  let port = 0;

  beforeAll(async () => {
    named = await startNamed(['a', 'b', 'c']);
    db = await startMariaDb({ initSql: SCHEMA_SQL });
    await insertDeployment(db, { id: 'D1', environmentId: 'E1' });
    for (const n of ['a', 'b', 'c']) {
      await insertInstance(db, { id: `i_${n}`, deploymentId: 'D1', region: 'aws:r1', address: (named.get(n) as Upstream).address, status: 'running' });
    }
    const store = `store "mysql" { url ${s(db.url)}; connect-timeout-secs 2; query-timeout-secs 2 }`;
    const cache = 'cache { deployments fresh-secs=0.2 stale-secs=600; instances fresh-secs=0.2 stale-secs=600 }';
    ({ proxy, port } = await startEdge([
      route('rr', 'rr.test', 'selection "round_robin"', store, cache),
      route('hash', 'hash.test', 'selection "consistent_hash" { hash-key "header:X-User" }', store, cache),
    ]));
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([...(named?.values() ?? [])].map((u) => u.close()));
    await db?.destroy();
    closeClient();
  });

  it('an instance that stops running leaves the rotation; keys on the surviving instances stay where they were', { timeout: 180_000 }, async () => {
    expect(Object.fromEntries(await counts(port, 'rr.test', 30))).toEqual({ a: 10, b: 10, c: 10 });
    const before = new Map<string, string>();
    for (let user = 0; user < 30; user++) {
      const r = await send(port, { headers: { host: 'hash.test', 'x-deployment-id': 'D1', 'x-user': `user-${user}` } });
      before.set(`user-${user}`, r.body.toString());
    }
    expect(new Set(before.values()).size).toBeGreaterThan(1);

    await db.query('UPDATE instances SET status = ? WHERE id = ?', ['failed', 'i_c']);
    // The instance cache refreshes in the background (0.2 s fresh window): wait until c is gone.
    await eventually('instance c leaves the rotation', async () => {
      const seen = await counts(port, 'rr.test', 6);
      return seen.has('c') ? undefined : true;
    });
    expect(Object.fromEntries(await counts(port, 'rr.test', 20))).toEqual({ a: 10, b: 10 });
    for (const [user, home] of before) {
      const r = await send(port, { headers: { host: 'hash.test', 'x-deployment-id': 'D1', 'x-user': user } });
      expect(r.status).toBe(200);
      const now = r.body.toString();
      expect(now).not.toBe('c');
      if (home !== 'c') expect(now, user).toBe(home); // consistent hashing moves only the removed instance's keys
    }
  });
});

describe('deployments retries across instances (opt-in retry-policy, static store)', () => {
  let good: Upstream[];
  /** Answer 503 and count, per X-Test-Id, the attempts each saw. */
  let failing: { up: Upstream; seen: Map<string, number> }[];
  let hang: Upstream;
  /** Five instances that never answer, counting the requests they get. */
  let hangs: Upstream[] = [];
  let hangHits = 0;
  let deadPort = 0;
  let proxy: SentinelProcess;
  let port = 0;

  beforeAll(async () => {
    good = [await startUpstream((_req, res) => res.end('good0')), await startUpstream((_req, res) => res.end('good1'))];
    failing = [];
    for (let i = 0; i < 3; i++) {
      const seen = new Map<string, number>();
      const up = await startUpstream((req, res) => {
        const id = String(req.headers['x-test-id']);
        seen.set(id, (seen.get(id) ?? 0) + 1);
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end(`busy${i}`);
      });
      failing.push({ up, seen });
    }
    hang = await startUpstream(() => { /* never answers */ });
    hangs = [];
    for (let i = 0; i < 5; i++) hangs.push(await startUpstream(() => { hangHits++; }));
    deadPort = await closedPort();
    const g = (i: number): string => s((good[i] as Upstream).address);
    const f = (i: number): string => s((failing[i] as { up: Upstream }).up.address);
    const store = `store "static" {
        deployment "D_dead" environment-id="E1"
        instance "x1" deployment="D_dead" address="127.0.0.1:${deadPort}"
        instance "x2" deployment="D_dead" address=${g(0)}
        deployment "D_503" environment-id="E1"
        instance "y1" deployment="D_503" address=${f(0)}
        instance "y2" deployment="D_503" address=${f(1)}
        instance "y3" deployment="D_503" address=${g(1)}
        deployment "D_all_fail" environment-id="E1"
        instance "z1" deployment="D_all_fail" address=${f(0)}
        instance "z2" deployment="D_all_fail" address=${f(1)}
        instance "z3" deployment="D_all_fail" address=${f(2)}
        deployment "D_hang" environment-id="E1"
        instance "h1" deployment="D_hang" address=${s(hang.address)}
        instance "h2" deployment="D_hang" address=${g(0)}
        deployment "D_all_hang" environment-id="E1"
${hangs.map((u, i) => `        instance "ah${i}" deployment="D_all_hang" address=${s(u.address)}`).join('\n')}
      }`;
    const retry = 'retry-policy { max-attempts 10; retryable-status-codes 503; backoff "1ms"; max-backoff "5ms"; budget-ratio 10; budget-min-per-sec 10000 }';
    ({ proxy, port } = await startEdge([
      route('random', 'random.test', '', store, retry),
      route('rr', 'rr.test', 'selection "round_robin"', store, retry),
      route('hash', 'hash.test', 'selection "consistent_hash" { hash-key "header:X-Test-Id" }', store, retry),
      route('parity', 'parity.test', '', store),
      route('deadline', 'deadline.test', '', store, 'request-timeout-secs 1\n      retry-policy { max-attempts 10; per-attempt-timeout "300ms"; backoff "1ms"; max-backoff "2ms" }'),
    ]));
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([...(good ?? []), ...(failing ?? []).map((x) => x.up), ...(hang === undefined ? [] : [hang]), ...hangs].map((u) => u.close()));
    closeClient();
  });

  const get = (host: string, deployment: string, testId: string, method = 'GET'): ReturnType<typeof send> =>
    send(port, { method, headers: { host, 'x-deployment-id': deployment, 'x-test-id': testId } });

  it('a dead instance with retries: no client-visible failure (random, round_robin, consistent_hash)', { timeout: 120_000 }, async () => {
    for (const host of ['random.test', 'rr.test', 'hash.test']) {
      for (let i = 0; i < 40; i++) {
        const r = await get(host, 'D_dead', `dead-${host}-${i}`);
        expect([r.status, r.body.toString()], host).toEqual([200, 'good0']);
      }
    }
  });

  it('without retry-policy the same deployment fails some requests (one attempt: parity)', { timeout: 120_000 }, async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 60; i++) statuses.add((await get('parity.test', 'D_dead', `parity-${i}`)).status);
    expect(statuses.has(200)).toBe(true);
    expect([...statuses].some((st) => st >= 500)).toBe(true);
  });

  it('retryable statuses move on to an untried instance; no instance sees a request twice', { timeout: 120_000 }, async () => {
    // consistent_hash maps a request's key to the same instance every time: only the exclusion of
    // tried instances moves its retries elsewhere.
    for (const host of ['random.test', 'rr.test', 'hash.test']) {
      for (let i = 0; i < 30; i++) {
        const r = await get(host, 'D_503', `503-${host}-${i}`);
        expect([r.status, r.body.toString()], host).toEqual([200, 'good1']);
        // Only the relayed response's timing entries (sentinel, instance), not the discarded ones'.
        expect(r.rawHeaders.filter((h, k) => k % 2 === 0 && h.toLowerCase() === 'x-unkey-timing')).toHaveLength(2);
      }
    }
    for (const { seen } of failing) for (const [id, n] of seen) expect(n, id).toBe(1);
  });

  it('when every instance fails, each is tried exactly once (not max-attempts times) and the last answer is relayed', { timeout: 120_000 }, async () => {
    for (let i = 0; i < 15; i++) {
      const id = `all-${i}`;
      const r = await get(['rr.test', 'hash.test', 'random.test'][i % 3] as string, 'D_all_fail', id);
      expect(r.status).toBe(503);
      expect(r.body.toString()).toMatch(/^busy[012]$/);
      expect(failing.map((x) => x.seen.get(id) ?? 0)).toEqual([1, 1, 1]);
    }
  });

  it('a non-idempotent request that reached an instance is not retried', { timeout: 120_000 }, async () => {
    const id = 'post-1';
    const r = await send(port, { method: 'POST', body: Buffer.from('x'), headers: { host: 'rr.test', 'x-deployment-id': 'D_all_fail', 'x-test-id': id } });
    expect(r.status).toBe(503);
    expect(failing.reduce((sum, x) => sum + (x.seen.get(id) ?? 0), 0)).toBe(1);
  });

  it('retries stop at the request deadline: five hanging instances, 300 ms per attempt, a 1 s budget', { timeout: 120_000 }, async () => {
    const before = hangHits;
    const r = await get('deadline.test', 'D_all_hang', 'all-hang-1');
    expect(r.status).toBe(504);
    const attempts = hangHits - before;
    // Each attempt lasts at least its 300 ms timeout, so at most 4 fit in 1 s: never all five instances.
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(attempts).toBeLessThanOrEqual(4);
  });

  it('a hanging instance is abandoned at the per-attempt timeout and the request served by another one within the request deadline', { timeout: 120_000 }, async () => {
    for (let i = 0; i < 6; i++) {
      const r = await get('deadline.test', 'D_hang', `hang-${i}`);
      expect([r.status, r.body.toString()]).toEqual([200, 'good0']);
    }
  });
});

describe('deployments passive health per instance (opt-in outlier-detection, static store)', () => {
  let good: Upstream[];
  let bad: { up: Upstream; hits: number }[];
  let deadPort = 0;
  let proxy: SentinelProcess;
  let port = 0;

  beforeAll(async () => {
    good = [await startUpstream((_req, res) => res.end('good0')), await startUpstream((_req, res) => res.end('good1'))];
    bad = [];
    for (let i = 0; i < 2; i++) {
      const b = { up: undefined as unknown as Upstream, hits: 0 };
      b.up = await startUpstream((_req, res) => {
        b.hits++;
        res.writeHead(500);
        res.end(`bad${i}`);
      });
      bad.push(b);
    }
    deadPort = await closedPort();
    const g = (i: number): string => s((good[i] as Upstream).address);
    const b = (i: number): string => s((bad[i] as { up: Upstream }).up.address);
    const storeFor = (prefix: string): string => `store "static" {
        deployment "D_one_bad" environment-id="E1"
        instance "${prefix}a" deployment="D_one_bad" address=${g(0)}
        instance "${prefix}b" deployment="D_one_bad" address=${g(1)}
        instance "${prefix}c" deployment="D_one_bad" address=${b(0)}
        deployment "D_all_bad" environment-id="E1"
        instance "${prefix}d" deployment="D_all_bad" address=${b(0)}
        instance "${prefix}e" deployment="D_all_bad" address=${b(1)}
        deployment "D_dead" environment-id="E1"
        instance "${prefix}f" deployment="D_dead" address="127.0.0.1:${deadPort}"
        instance "${prefix}g" deployment="D_dead" address=${g(0)}
      }`;
    // Different cache windows: separate runtimes, so separate per-address health for each route.
    const od = (fresh: number): string => `cache { instances fresh-secs=${fresh} stale-secs=600 }
      outlier-detection { consecutive-5xx 2; consecutive-failures 1; base-ejection-secs 600; max-ejection-secs 600; max-ejection-percent 50 }`;
    ({ proxy, port } = await startEdge([
      route('rr', 'rr.test', 'selection "round_robin"', storeFor('r'), od(10)),
      route('random', 'random.test', '', storeFor('x'), od(11)),
      route('all', 'all.test', 'selection "round_robin"', storeFor('y'), od(12)),
    ], true));
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([...(good ?? []), ...(bad ?? []).map((x) => x.up)].map((u) => u.close()));
    closeClient();
  });

  const statuses = async (host: string, deployment: string, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await send(port, { headers: { host, 'x-deployment-id': deployment } })).status);
    return out;
  };

  it('an instance answering 5xx is ejected after consecutive-5xx and gets nothing more (round_robin)', { timeout: 120_000 }, async () => {
    const before = (bad[0] as { hits: number }).hits;
    const got = await statuses('rr.test', 'D_one_bad', 45);
    expect((bad[0] as { hits: number }).hits - before).toBe(2);
    expect(got.filter((st) => st === 500)).toHaveLength(2);
    expect(got.slice(-30).every((st) => st === 200)).toBe(true);
  });

  it('with the default random selection too: the failing instance gets consecutive-5xx requests, then none', { timeout: 120_000 }, async () => {
    const b0 = bad[0] as { hits: number };
    // rr.test and random.test have their own runtimes (different cache windows), so their own health state.
    const before = b0.hits;
    const got = await statuses('random.test', 'D_one_bad', 80);
    expect(b0.hits - before).toBe(2);
    expect(got.filter((st) => st !== 200)).toHaveLength(2);
  });

  it('a refused connection ejects the address after consecutive-failures (no client failures after it)', { timeout: 120_000 }, async () => {
    const got = await statuses('random.test', 'D_dead', 60);
    expect(got.filter((st) => st !== 200).length).toBeLessThanOrEqual(1);
    expect(got.slice(-20).every((st) => st === 200)).toBe(true);
  });

  it('passive health never ejects every instance of a deployment (max-ejection-percent caps it)', { timeout: 120_000 }, async () => {
    const b0 = bad[0] as { hits: number };
    const b1 = bad[1] as { hits: number };
    const before = [b0.hits, b1.hits];
    const got = await statuses('all.test', 'D_all_bad', 20);
    expect(got.every((st) => st === 500)).toBe(true); // relayed: one instance is left to answer
    const hits = [b0.hits - (before[0] as number), b1.hits - (before[1] as number)].sort((x, y) => x - y);
    expect(hits).toEqual([2, 18]);
    const metrics = await scrape(proxy.metricsPort as number);
    expect(seriesValue(metrics, 'sentinel_upstream_ejections_total', { result: 'enforced' })).toBeGreaterThanOrEqual(3);
    expect(seriesValue(metrics, 'sentinel_upstream_ejections_total', { result: 'refused' })).toBeGreaterThanOrEqual(1);
  });
});
