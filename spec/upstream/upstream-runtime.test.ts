// UpstreamRuntime: the configured `load-balancing` reaches the selector, in-flight counts follow
// begin/end, latency outcomes reach peak_ewma, and the sticky cookie round-trips. Configs come from
// the real loader, so config → runtime wiring is exercised end to end (without sockets).
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Pool } from 'undici';
import { loadConfigText } from '../../src/config/load.ts';
import { formatDiagnostics } from '../../src/config/format.ts';
import type { UpstreamConfig } from '../../src/config/types.ts';
import { UpstreamRuntime } from '../../src/upstream/upstream.ts';
import type { TargetRuntime } from '../../src/upstream/upstream.ts';
import { createManualClock, monotonicClock } from '../../src/upstream/health/clock.ts';
import { TargetHealth } from '../../src/upstream/health/target-health.ts';
import type { Clock } from '../../src/upstream/health/clock.ts';
import type { SelectContext } from '../../src/upstream/select/types.ts';

const pools: Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

/** The upstream "u" of a config with three targets (weights 3:1:1 when `weighted`). */
function upstreamConfig(lbLine: string, targets = 'target "127.0.0.1:9001" weight=3; target "127.0.0.1:9002"; target "127.0.0.1:9003"'): UpstreamConfig {
  const r = loadConfigText(`listeners { listener "h" { address "127.0.0.1:0" } }
routes { route "r" { matches { path-prefix "/" }; upstream "u" } }
upstreams { upstream "u" { ${targets}; ${lbLine} } }`, 'rt.kdl');
  const u = r.config?.upstreams[0];
  if (u === undefined) throw new Error(formatDiagnostics(r.diagnostics));
  return u;
}

function targetsOf(config: UpstreamConfig): TargetRuntime[] {
  return config.targets.map((t) => {
    const authority = `${t.host}:${t.port}`;
    // Pools are lazy: nothing connects unless a request is dispatched, and none is here.
    const pool = new Pool(`http://${authority}`);
    pools.push(pool);
    return { id: authority, host: t.host, port: t.port, pool, poolKey: `u|${authority}`, weight: t.weight, authority, health: new TargetHealth(authority, {}, monotonicClock) };
  });
}

function runtime(lbLine: string, options: { rng?: () => number; clock?: Clock } = {}, targets?: string): UpstreamRuntime {
  const config = upstreamConfig(lbLine, targets);
  return new UpstreamRuntime(config, targetsOf(config), options);
}

function ctx(o: Partial<SelectContext> = {}): SelectContext {
  return { clientIp: '192.0.2.10', path: '/', headers: {}, query: null, ...o };
}

/** Target ids of `n` picks (each begun and ended at once). */
function picks(rt: UpstreamRuntime, n: number, c: (k: number) => SelectContext = () => ctx()): string[] {
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const t = rt.pick(c(k));
    if (t === null) throw new Error('no target');
    out.push(t.id.slice(-4));
  }
  return out;
}

function counts(ids: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) out[id] = (out[id] ?? 0) + 1;
  return out;
}

/** Deterministic [0, 1) sequence. */
function seededRng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('pick honours the configured algorithm', () => {
  it('round_robin cycles through the targets, weights ignored', () => {
    expect(picks(runtime('load-balancing "round_robin"'), 6)).toEqual(['9001', '9002', '9003', '9001', '9002', '9003']);
  });

  it('weighted follows the weights exactly over each window (smooth)', () => {
    const ids = picks(runtime('load-balancing "weighted"'), 50);
    expect(counts(ids)).toEqual({ 9001: 30, 9002: 10, 9003: 10 });
    expect(ids.slice(0, 5)).toEqual(['9001', '9002', '9001', '9003', '9001']);
  });

  it('least_connections picks the target with the fewest in-flight requests', () => {
    const rt = runtime('load-balancing "least_connections"');
    const [a, b, c] = rt.targets as [TargetRuntime, TargetRuntime, TargetRuntime];
    rt.begin(a);
    rt.begin(a);
    rt.begin(b);
    expect(rt.pick(ctx())).toBe(c);
    rt.begin(c);
    rt.begin(c);
    expect(rt.pick(ctx())).toBe(b);
    rt.end(a, 5, 'success');
    rt.end(a, 5, 'success');
    expect(rt.pick(ctx())).toBe(a);
  });

  it('weighted_least_connections divides the load by the weight', () => {
    const rt = runtime('load-balancing "wlc"');
    const [a, b, c] = rt.targets as [TargetRuntime, TargetRuntime, TargetRuntime];
    // a (weight 3) with 2 in flight costs 3/3 = 1; b and c with 1 each cost 2/1 = 2.
    rt.begin(a);
    rt.begin(a);
    rt.begin(b);
    rt.begin(c);
    expect(rt.pick(ctx())).toBe(a);
  });

  it('p2c never picks the busier of two: a loaded target is avoided while others are idle', () => {
    const rt = runtime('load-balancing "p2c"', { rng: seededRng(7) });
    const a = rt.targets[0]!;
    for (let k = 0; k < 4; k++) rt.begin(a);
    const ids = picks(rt, 200);
    expect(ids).not.toContain('9001');
    expect(new Set(ids)).toEqual(new Set(['9002', '9003']));
  });

  it('random uses the injected source', () => {
    const seq = [0.1, 0.5, 0.9, 0.4];
    let k = 0;
    const rt = runtime('load-balancing "random"', { rng: () => seq[k++ % seq.length]! });
    expect(picks(rt, 4)).toEqual(['9001', '9002', '9003', '9002']);
  });

  it('ip_hash: one client IP always lands on the same target; many IPs spread', () => {
    const rt = runtime('load-balancing "ip_hash"');
    const one = picks(rt, 20, () => ctx({ clientIp: '198.51.100.7' }));
    expect(new Set(one).size).toBe(1);
    const many = picks(rt, 300, (k) => ctx({ clientIp: `10.0.${k >> 8}.${k & 255}` }));
    expect(new Set(many).size).toBe(3);
  });

  it('consistent_hash on header:X-User: the key decides, not the client IP; a missing header falls back to the IP', () => {
    const rt = runtime('load-balancing "consistent_hash" { hash-key "header:X-User" }');
    for (let u = 0; u < 30; u++) {
      const ids = picks(rt, 5, (k) => ctx({ clientIp: `10.1.0.${k}`, headers: { 'x-user': `user-${u}` } }));
      expect(new Set(ids).size, `user-${u}`).toBe(1);
    }
    const users = picks(rt, 300, (k) => ctx({ headers: { 'x-user': `user-${k}` } }));
    expect(new Set(users).size).toBe(3);
    const noHeader = picks(rt, 300, (k) => ctx({ clientIp: `10.2.${k >> 8}.${k & 255}` }));
    expect(new Set(noHeader).size).toBe(3);
  });

  it('maglev on query:session', () => {
    const rt = runtime('load-balancing "maglev" { hash-key "query:session" }');
    const same = picks(rt, 10, (k) => ctx({ clientIp: `10.3.0.${k}`, query: `a=${k}&session=abc` }));
    expect(new Set(same).size).toBe(1);
    const spread = picks(rt, 300, (k) => ctx({ query: `session=s${k}` }));
    expect(new Set(spread).size).toBe(3);
  });

  it('peak_ewma learns from end(): a slow target is avoided; a null outcome teaches nothing', () => {
    const clock = createManualClock(1_000);
    const rt = runtime('load-balancing "peak_ewma" { decay-secs 10 }', { rng: seededRng(3), clock });
    const [a, b, c] = rt.targets as [TargetRuntime, TargetRuntime, TargetRuntime];
    for (const t of [a, b, c]) rt.begin(t);
    rt.end(a, 2_000, null);
    expect(new Set(picks(rt, 100))).toContain('9001');
    rt.begin(a);
    rt.end(a, 2_000, 'success');
    rt.end(b, 2, 'success');
    rt.end(c, 3, 'success');
    expect(picks(rt, 200)).not.toContain('9001');
  });

  it('peak_ewma: a failure counts as slow (at least the 1 s penalty) even when it was fast', () => {
    const clock = createManualClock(1_000);
    const rt = runtime('load-balancing "peak_ewma"', { rng: seededRng(5), clock }, 'target "127.0.0.1:9001"; target "127.0.0.1:9002"');
    const [a, b] = rt.targets as [TargetRuntime, TargetRuntime];
    for (const [t, ms] of [[a, 5], [b, 4]] as const) {
      rt.begin(t);
      rt.end(t, ms, 'success');
    }
    expect(new Set(picks(rt, 20))).toEqual(new Set(['9002']));
    rt.begin(b);
    rt.end(b, 1, 'connect_failure');
    expect(new Set(picks(rt, 20))).toEqual(new Set(['9001']));
  });

  it('adaptive is peak_ewma', () => {
    expect(runtime('load-balancing "adaptive"').selector.algorithm).toBe('adaptive');
    expect(runtime('load-balancing "ewma"').selector.algorithm).toBe('peak_ewma');
  });

  it('exclude skips targets a retry already tried; all excluded → null', () => {
    const rt = runtime('load-balancing "round_robin"');
    expect(rt.pick(ctx(), new Set([0, 1]))?.id).toBe('127.0.0.1:9003');
    expect(rt.pick(ctx(), new Set([0, 1, 2]))).toBeNull();
  });
});

describe('in-flight counts', () => {
  it('go up with begin and down with end, never below zero; foreign targets are ignored', () => {
    const rt = runtime('load-balancing "least_connections"');
    const [a, b] = rt.targets as [TargetRuntime, TargetRuntime];
    rt.begin(a);
    rt.begin(a);
    rt.begin(b);
    expect([rt.inFlight(0), rt.inFlight(1), rt.inFlight(2)]).toEqual([2, 1, 0]);
    rt.end(a, 1, 'success');
    rt.end(b, 1, null);
    expect([rt.inFlight(0), rt.inFlight(1), rt.inFlight(2)]).toEqual([1, 0, 0]);
    rt.end(b, 1, 'connect_failure');
    expect(rt.inFlight(1)).toBe(0);
    const other = runtime('load-balancing "round_robin"');
    rt.begin(other.targets[0]!);
    expect([rt.inFlight(0), rt.inFlight(1), rt.inFlight(2)]).toEqual([1, 0, 0]);
    expect(rt.indexOfTarget(other.targets[0]!)).toBe(-1);
  });

  it('match a model over arbitrary begin/end sequences', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(2)), { maxLength: 60 }), (ops) => {
      const rt = runtime('load-balancing "p2c"');
      const model = [0, 0, 0];
      for (const [up, i] of ops) {
        const t = rt.targets[i]!;
        if (up) {
          rt.begin(t);
          model[i]!++;
        } else {
          rt.end(t, 1, 'success');
          if (model[i]! > 0) model[i]!--;
        }
      }
      expect([rt.inFlight(0), rt.inFlight(1), rt.inFlight(2)]).toEqual(model);
    }), { numRuns: 100 });
  });
});

describe('sticky cookie', () => {
  const cookieValue = (setCookie: string): string => setCookie.split(';')[0]!;

  it('round-trips: first pick sets the cookie, the cookie brings the client back, no new cookie then', () => {
    const rt = runtime('load-balancing "sticky" { secret "0123456789abcdef0123" }');
    const first = rt.pick(ctx());
    const set = rt.stickyCookie();
    expect(set).toMatch(/^SERVERID=[A-Za-z0-9_-]{22}; Path=\/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax$/);
    for (let k = 0; k < 10; k++) {
      expect(rt.pick(ctx({ headers: { cookie: `a=1; ${cookieValue(set!)}` } }))).toBe(first);
      expect(rt.stickyCookie()).toBeNull();
    }
    // Without the cookie the fallback (round_robin) moves on, and each new affinity is announced.
    const second = rt.pick(ctx());
    expect(second).not.toBe(first);
    expect(rt.stickyCookie()).not.toBe(set);
  });

  it('a forged or unknown value is ignored and replaced', () => {
    const rt = runtime('load-balancing "sticky" { secret "0123456789abcdef0123" }');
    expect(rt.pick(ctx({ headers: { cookie: 'SERVERID=127.0.0.1:9001' } }))).not.toBeNull();
    expect(rt.stickyCookie()).toMatch(/^SERVERID=/);
    expect(rt.stickyCookie()).not.toContain('127.0.0.1');
  });

  it('cookie attributes follow the config', () => {
    const rt = runtime('load-balancing "sticky" { cookie-name "SRV"; cookie-ttl-secs 0; cookie-path "/app"; cookie-secure #false; cookie-http-only #false; cookie-same-site "strict" }');
    rt.pick(ctx());
    expect(rt.stickyCookie()).toMatch(/^SRV=[A-Za-z0-9_-]{22}; Path=\/app; SameSite=Strict$/);
  });

  it('the same secret gives the same cookie in another runtime (a reload or another instance)', () => {
    const line = 'load-balancing "sticky" { secret "0123456789abcdef0123" }';
    const a = runtime(line);
    const b = runtime(line);
    const t = a.pick(ctx());
    const cookie = cookieValue(a.stickyCookie()!);
    expect(b.pick(ctx({ headers: { cookie } }))?.id).toBe(t?.id);
    const other = runtime('load-balancing "sticky" { secret "another-secret-of-16+" }');
    other.pick(ctx({ headers: { cookie } }));
    expect(other.stickyCookie()).not.toBeNull();
  });

  it('without a secret, one random per-process key: affinity survives a reload in this process', () => {
    const a = runtime('load-balancing "sticky"');
    const b = runtime('load-balancing "sticky"');
    a.pick(ctx());
    a.pick(ctx());
    const t = a.pick(ctx());
    const cookie = cookieValue(a.stickyCookie()!);
    expect(b.pick(ctx({ headers: { cookie } }))?.id).toBe(t?.id);
    expect(b.stickyCookie()).toBeNull();
  });

  it('uses the configured fallback with its options', () => {
    const rt = runtime('load-balancing "sticky" { fallback "consistent_hash" { hash-key "header:X-User" } }');
    expect(rt.selector.algorithm).toBe('sticky');
    const ids = picks(rt, 10, (k) => ctx({ clientIp: `10.4.0.${k}`, headers: { 'x-user': 'carol' } }));
    expect(new Set(ids).size).toBe(1);
  });

  it('stickyCookie() is null for every other algorithm', () => {
    const rt = runtime('load-balancing "consistent_hash"');
    rt.pick(ctx());
    expect(rt.stickyCookie()).toBeNull();
  });
});

describe('every accepted load-balancing config builds a runtime whose picks are its targets', () => {
  const hashKey = fc.constantFrom('client-ip', 'path', 'header:X-A', 'cookie:c', 'query:q');
  const base = fc.oneof(
    fc.constantFrom('round_robin', 'weighted', 'least_connections', 'weighted_least_connections', 'random', 'p2c', 'ip_hash', 'roundrobin', 'wlc', 'power_of_two_choices')
      .map((n) => `"${n}"`),
    fc.tuple(fc.constantFrom('consistent_hash', 'maglev'), hashKey).map(([n, k]) => `"${n}" { hash-key "${k}" }`),
    fc.tuple(fc.constantFrom('peak_ewma', 'adaptive'), fc.integer({ min: 1, max: 100 })).map(([n, d]) => `"${n}" { decay-secs ${d} }`),
  );
  const lb = fc.oneof(base, base.map((f) => `"sticky" { fallback ${f}; cookie-same-site "none" }`));
  const weights = fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 5 });

  it('holds', () => {
    fc.assert(fc.property(lb, weights, fc.array(fc.ipV4(), { minLength: 1, maxLength: 10 }), (line, ws, ips) => {
      const targets = ws.map((w, i) => `target "127.0.0.1:${9100 + i}" weight=${w}`).join('; ');
      const rt = runtime(`load-balancing ${line}`, {}, targets);
      for (const ip of ips) {
        const t = rt.pick(ctx({ clientIp: ip, headers: { 'x-a': ip }, query: `q=${ip}` }));
        expect(t).not.toBeNull();
        expect(rt.targets).toContain(t);
        rt.begin(t!);
        rt.end(t!, 3, 'success');
      }
      expect(rt.targets.every((_, i) => rt.inFlight(i) === 0)).toBe(true);
    }), { numRuns: 25 });
  });
});

describe('acquire: selection over health, breakers, ejection and capacity', () => {
  it('returns an available target (counted in flight) or null, never an unavailable one, over arbitrary states', () => {
    fc.assert(fc.property(
      fc.constantFrom('round_robin', 'least_connections', 'p2c', 'random', 'ip_hash', 'consistent_hash', 'maglev', 'peak_ewma', 'weighted', 'sticky'),
      fc.array(fc.record({ up: fc.boolean(), failures: fc.nat(3) }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.ipV4(), { minLength: 1, maxLength: 8 }),
      (name, states, ips) => {
        const clock = createManualClock(0);
        const lines = states.map((_, i) => `target "127.0.0.1:${9200 + i}"`).join('; ');
        const config = upstreamConfig(`load-balancing "${name}"; circuit-breaker { failure-threshold 2; timeout-seconds 10 }`, lines);
        const targets = config.targets.map((t, i) => {
          const authority = `${t.host}:${t.port}`;
          const pool = new Pool(`http://${authority}`);
          pools.push(pool);
          const health = new TargetHealth(authority, { breaker: { failureThreshold: 2, openMs: 10_000, halfOpenMaxProbes: 1, successThreshold: 1 } }, clock);
          if (!states[i]!.up) health.setActive('unhealthy');
          for (let k = 0; k < states[i]!.failures; k++) { health.begin(); health.end('connect_failure', { mayEject: () => true }); }
          return { id: authority, host: t.host, port: t.port, pool, poolKey: authority, weight: 1, authority, health };
        });
        const rt = new UpstreamRuntime(config, targets, { clock, rng: seededRng(1) });
        const usable = targets.filter((t) => t.health.available());
        for (const ip of ips) {
          const before = targets.map((t) => t.health.inflight);
          const t = rt.acquire(ctx({ clientIp: ip }), null);
          if (usable.length === 0) {
            expect(t).toBeNull();
            expect(rt.unavailable).toBe('UPSTREAM_NO_HEALTHY');
          } else {
            expect(t).not.toBeNull();
            expect(usable).toContain(t);
            expect(t!.health.inflight).toBe(before[targets.indexOf(t as typeof targets[number])]! + 1);
            rt.end(t!, 1, 'success');
          }
        }
      },
    ), { numRuns: 60 });
  });

  it('prefers targets not tried yet; falls back to null only when every target is excluded or unavailable', () => {
    const rt = runtime('load-balancing "round_robin"');
    const [a, b, c] = rt.targets as [TargetRuntime, TargetRuntime, TargetRuntime];
    expect(rt.acquire(ctx(), [a, b])).toBe(c);
    expect(rt.acquire(ctx(), [a, b, c])).toBeNull();
  });

  it('a target with max-connections + max-pending-requests in flight is full: UPSTREAM_QUEUE_FULL when all are', () => {
    const rt = runtime('connection-pool { max-connections 1; max-pending-requests 1 }', {}, 'target "127.0.0.1:9301"');
    const t = rt.targets[0]!;
    expect(rt.acquire(ctx(), null)).toBe(t);
    expect(rt.acquire(ctx(), null)).toBe(t);
    expect(rt.acquire(ctx(), null)).toBeNull();
    expect(rt.unavailable).toBe('UPSTREAM_QUEUE_FULL');
    rt.end(t, 1, null);
    expect(rt.acquire(ctx(), null)).toBe(t);
    t.health.setActive('unhealthy');
    rt.end(t, 1, 'success');
    rt.end(t, 1, 'success');
    expect(rt.acquire(ctx(), null)).toBeNull();
    expect(rt.unavailable).toBe('UPSTREAM_NO_HEALTHY');
  });

  it('follows a discovery source: a new version rebuilds the selection over the new set', () => {
    const config = upstreamConfig('load-balancing "round_robin"');
    const all = targetsOf(config);
    const source = { version: 1, targets: all.slice(0, 1), ready: Promise.resolve(), status: () => ({ kind: 'test' }) };
    const rt = new UpstreamRuntime(config, [], { source });
    expect(picks(rt, 3)).toEqual(['9001', '9001', '9001']);
    source.targets = all.slice(1);
    source.version = 2;
    expect(picks(rt, 4)).toEqual(['9002', '9003', '9002', '9003']);
    source.targets = [];
    source.version = 3;
    expect(rt.acquire(ctx(), null)).toBeNull();
    expect(rt.availableCount()).toBe(0);
  });

  it('retryRuntime: none without a retry-policy or with max-attempts 1', () => {
    expect(runtime('load-balancing "round_robin"').retry).toBeNull();
    expect(runtime('retry-policy { max-attempts 1 }').retry).toBeNull();
    const r = runtime('retry-policy { max-attempts 2; retryable-status-codes 503; per-attempt-timeout "250ms" }').retry;
    expect(r).toMatchObject({ perAttemptTimeoutMs: 250, maxBufferBytes: 65_536, policy: { maxAttempts: 2, retryOnStatuses: [503], baseBackoffMs: 100, maxBackoffMs: 2_000 } });
    expect([...(r?.statuses ?? [])]).toEqual([503]);
  });
});
