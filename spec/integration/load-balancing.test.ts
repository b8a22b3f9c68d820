// The real proxy process spreading requests over three real loopback upstreams with the configured
// load-balancing algorithm: round_robin, weighted, consistent_hash on a header, sticky cookies and
// least_connections against a target that holds its requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { call } from '../helpers/http.ts';
import type { Reply } from '../helpers/http.ts';

function send(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return call(port, path, { headers });
}

const NAMES = ['a', 'b', 'c'] as const;
type Name = (typeof NAMES)[number];

/** Requests target `a` is holding (least_connections test), keyed by the x-n request header. */
const held = new Map<string, ServerResponse>();
const heldWaiters = new Map<string, () => void>();

function handler(name: Name) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (name === 'a' && req.url?.startsWith('/lc')) {
      const n = String(req.headers['x-n']);
      held.set(n, res);
      heldWaiters.get(n)?.();
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'text/plain' };
    if (req.url?.startsWith('/sticky')) headers['set-cookie'] = `app=${name}; Path=/`;
    res.writeHead(200, headers);
    res.end(name);
  };
}

let upstreams: Upstream[] = [];
let proxy: SentinelProcess;
let port: number;

beforeAll(async () => {
  upstreams = await Promise.all(NAMES.map((n) => startUpstream(handler(n))));
  const [a, b, c] = upstreams.map((u) => u.address) as [string, string, string];
  const targets = `target "${a}"; target "${b}"; target "${c}"`;
  proxy = await startSentinel(`
listeners { listener "main" { address "127.0.0.1:0" } }
routes {
  route "rr" { matches { path-prefix "/rr" }; upstream "rr" }
  route "w" { matches { path-prefix "/w" }; upstream "w" }
  route "ch" { matches { path-prefix "/ch" }; upstream "ch" }
  route "sticky" { matches { path-prefix "/sticky" }; upstream "sticky" }
  route "lc" { matches { path-prefix "/lc" }; upstream "lc" }
}
upstreams {
  upstream "rr" { ${targets}; load-balancing "round_robin" }
  upstream "w" { target "${a}" weight=3; target "${b}"; target "${c}"; load-balancing "weighted" }
  upstream "ch" { ${targets}; load-balancing "consistent_hash" { hash-key "header:X-User" } }
  upstream "sticky" { ${targets}; load-balancing "sticky" { cookie-name "SRV"; secret "integration-test-secret-0123" } }
  upstream "lc" { ${targets}; load-balancing "least_connections" }
}
observability { metrics { enabled #false }; logging { level "info"; access-log { enabled #false } } }
`, { listeners: ['main'] });
  port = proxy.ports.get('main') as number;
}, 60_000);

afterAll(async () => {
  for (const res of held.values()) res.end('a');
  await proxy?.stop();
  await Promise.all(upstreams.map((u) => u.close()));
});

function tally(bodies: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of bodies) out[b] = (out[b] ?? 0) + 1;
  return out;
}

async function sequential(n: number, path: (k: number) => string, headers: (k: number) => Record<string, string> = () => ({})): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let k = 0; k < n; k++) out.push(await send(port, path(k), headers(k)));
  return out;
}

describe('load balancing through the real proxy', () => {
  it('round_robin spreads evenly', async () => {
    const replies = await sequential(30, (k) => `/rr/${k}`);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(tally(replies.map((r) => r.body))).toEqual({ a: 10, b: 10, c: 10 });
  });

  it('weighted follows the weights (3:1:1)', async () => {
    const replies = await sequential(50, (k) => `/w/${k}`);
    expect(tally(replies.map((r) => r.body))).toEqual({ a: 30, b: 10, c: 10 });
  });

  it('consistent_hash on X-User: the same user always reaches the same target; users spread', async () => {
    const byUser = new Map<string, Set<string>>();
    const replies = await sequential(90, (k) => `/ch/${k}`, (k) => ({ 'x-user': `user-${k % 30}` }));
    replies.forEach((r, k) => {
      const u = `user-${k % 30}`;
      const set = byUser.get(u) ?? new Set<string>();
      set.add(r.body);
      byUser.set(u, set);
    });
    for (const [u, set] of byUser) expect(set.size, u).toBe(1);
    expect(new Set(replies.map((r) => r.body))).toEqual(new Set(NAMES));
  });

  it('sticky sets an affinity cookie and the cookie keeps the client on its target', async () => {
    const first = await send(port, '/sticky/1');
    expect(first.status).toBe(200);
    const setCookies = first.headers['set-cookie'] ?? [];
    const srv = setCookies.find((c) => c.startsWith('SRV='));
    expect(srv).toMatch(/^SRV=[A-Za-z0-9_-]{22}; Path=\/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax$/);
    // The upstream's own cookie is relayed alongside ours.
    expect(setCookies).toContain(`app=${first.body}; Path=/`);
    const cookie = `${srv!.split(';')[0]!}; app=${first.body}`;
    const again = await sequential(12, (k) => `/sticky/${k}`, () => ({ cookie }));
    expect(new Set(again.map((r) => r.body))).toEqual(new Set([first.body]));
    expect(again.every((r) => (r.headers['set-cookie'] ?? []).every((c) => !c.startsWith('SRV=')))).toBe(true);
    // Clients without the cookie are spread by the fallback (round_robin) and each gets one.
    const fresh = await sequential(6, (k) => `/sticky/new-${k}`);
    expect(new Set(fresh.map((r) => r.body))).toEqual(new Set(NAMES));
    expect(fresh.every((r) => (r.headers['set-cookie'] ?? []).some((c) => c.startsWith('SRV=')))).toBe(true);
  });

  it('least_connections avoids a target holding slow requests', async () => {
    const results: Array<'a' | 'b' | 'c'> = [];
    const pending: Promise<Reply>[] = [];
    for (let k = 0; k < 30; k++) {
      const n = String(k);
      const reply = send(port, `/lc/${k}`, { 'x-n': n });
      pending.push(reply);
      // Either a answers it (never: a holds /lc requests) or b/c do; wait for whichever happens.
      const heldByA = new Promise<'a'>((resolve) => heldWaiters.set(n, () => resolve('a')));
      results.push(await Promise.race([reply.then((r) => r.body as 'b' | 'c'), heldByA]));
    }
    const counts = tally(results);
    // a is picked at most once (while every target was idle); after that it holds a request and
    // the idle b and c get everything. round_robin would send it 10.
    expect(counts['a'] ?? 0).toBeLessThanOrEqual(1);
    expect((counts['b'] ?? 0) + (counts['c'] ?? 0)).toBeGreaterThanOrEqual(29);
    expect(counts['b']).toBeGreaterThanOrEqual(5);
    expect(counts['c']).toBeGreaterThanOrEqual(5);
    for (const res of held.values()) res.end('a');
    held.clear();
    const all = await Promise.all(pending);
    expect(all.every((r) => r.status === 200)).toBe(true);
  });
});
