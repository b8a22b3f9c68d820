// Upstream resilience through the real proxy process, against real loopback upstreams: a target
// that dies is ejected and costs no failed client request (one retry), and serves again when it
// comes back; a circuit breaker opens and recovers; slow targets are avoided by peak_ewma and
// least_connections; a retry storm is held to the retry budget; a full queue answers 503 at once;
// per-attempt timeouts retry elsewhere; non-idempotent requests are not replayed once sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { call, eventually, metric } from '../helpers/http.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** An upstream that answers its name (and echoes a request body after it). */
function named(name: string): Handler {
  return (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => res.end(body === '' ? name : `${name}:${body}`));
  };
}

const hits = new Map<string, number>();
function counting(name: string, delayMs = 0): Handler {
  return (req, res) => {
    hits.set(name, (hits.get(name) ?? 0) + 1);
    req.resume();
    if (delayMs === 0) res.end(name);
    else {
      const t = setTimeout(() => res.end(name), delayMs);
      res.on('close', () => clearTimeout(t));
    }
  };
}

const held: ServerResponse[] = [];
const connections = { count: 0 };
let heldArrived: () => void = () => undefined;

const ups: Record<string, Upstream> = {};
let refused = 0;
let proxy: SentinelProcess;
let port: number;
let metricsPort: number;

function series(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

beforeAll(async () => {
  for (const n of ['a', 'b', 'c']) ups[n] = await startUpstream(counting(n));
  ups.brk = await startUpstream(named('brk'));
  ups.slow1 = await startUpstream(counting('slow1', 1_000));
  ups.slow2 = await startUpstream(counting('slow2', 1_000));
  for (const n of ['f1', 'f2', 'f3', 'f4']) ups[n] = await startUpstream(counting(n));
  ups.storm = await startUpstream((req, res) => {
    hits.set('storm', (hits.get('storm') ?? 0) + 1);
    req.resume();
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('storm says no');
  });
  ups.hold = await startUpstream((req, res) => {
    req.resume();
    held.push(res);
    heldArrived();
  });
  ups.stall = await startUpstream((req, res) => {
    req.resume();
    const t = setTimeout(() => res.end('late'), 5_000);
    res.on('close', () => clearTimeout(t));
  });
  ups.fast = await startUpstream(named('fast'));
  ups.reset = await startUpstream((req) => { req.on('data', () => req.socket.destroy()); req.on('end', () => req.socket.destroy()); });
  ups.echo = await startUpstream(named('echo'));
  ups.conns = await startUpstream(named('conns'));
  ups.conns.server.on('connection', () => { connections.count++; });
  refused = await closedPort();
  const t = (n: string): string => `target "${ups[n]!.address}"`;
  proxy = await startSentinel(`
listeners { listener "main" { address "127.0.0.1:0" } }
routes {
  route "pool" { matches { path-prefix "/pool" }; upstream "pool" }
  route "brk" { matches { path-prefix "/brk" }; upstream "brk" }
  route "ewma" { matches { path-prefix "/ewma" }; upstream "ewma" }
  route "lc" { matches { path-prefix "/lc" }; upstream "lc" }
  route "storm" { matches { path-prefix "/storm" }; upstream "storm" }
  route "queue" { matches { path-prefix "/queue" }; upstream "queue" }
  route "attempt" { matches { path-prefix "/attempt" }; upstream "attempt" }
  route "post-reset" { matches { path-prefix "/post-reset" }; upstream "post-reset" }
  route "post-refused" { matches { path-prefix "/post-refused" }; upstream "post-refused" }
  route "conns" { matches { path-prefix "/conns" }; upstream "conns" }
  route "status" { priority "critical"; matches { path "/_upstreams" }; builtin-handler "upstreams" }
}
upstreams {
  upstream "pool" {
    ${t('a')}; ${t('b')}; ${t('c')}
    outlier-detection { consecutive-failures 1; base-ejection-secs 1; max-ejection-secs 1 }
    retry-policy { max-attempts 3; backoff 0; max-backoff 0 }
    timeouts { connect-secs 2 }
  }
  upstream "brk" {
    ${t('brk')}
    circuit-breaker { failure-threshold 2; success-threshold 1; timeout-seconds 0.5; half-open-max-requests 1 }
  }
  upstream "ewma" { ${t('slow1')}; ${t('f1')}; ${t('f2')}; load-balancing "peak_ewma" }
  upstream "lc" { ${t('slow2')}; ${t('f3')}; ${t('f4')}; load-balancing "least_connections" }
  upstream "storm" {
    ${t('storm')}
    retry-policy { max-attempts 3; retryable-status-codes 503; backoff 0; max-backoff 0; budget-ratio 0.1; budget-min-per-sec 0 }
  }
  upstream "queue" { ${t('hold')}; connection-pool { max-connections 1; max-pending-requests 1 } }
  upstream "attempt" {
    ${t('stall')}; ${t('fast')}
    retry-policy { max-attempts 2; per-attempt-timeout "300ms"; backoff 0; max-backoff 0 }
  }
  upstream "post-reset" { ${t('reset')}; ${t('echo')}; retry-policy { max-attempts 2; backoff 0; max-backoff 0 } }
  upstream "conns" { ${t('conns')}; connection-pool { max-connections 1; max-requests-per-connection 2 } }
  upstream "post-refused" { target "127.0.0.1:${refused}"; ${t('echo')}; retry-policy { max-attempts 2; backoff 0; max-backoff 0 } }
}
observability { metrics { enabled #true; address "127.0.0.1:0" }; logging { level "info"; access-log { enabled #false } } }
`, { listeners: ['main'], metrics: true });
  port = proxy.ports.get('main') as number;
  metricsPort = proxy.metricsPort as number;
}, 60_000);

afterAll(async () => {
  for (const res of held) res.end('held');
  await proxy?.stop();
  await Promise.all(Object.values(ups).map((u) => u.close()));
});

describe('a target that dies and comes back (round_robin, outlier detection, retries)', () => {
  it('is ejected with no failed client request, then receives traffic again', async () => {
    const b = ups.b!;
    const bAddress = b.address;
    for (let k = 0; k < 9; k++) expect((await call(port, '/pool')).status).toBe(200);
    expect(hits.get('b')).toBeGreaterThan(0);

    // b dies: connections are refused.
    await b.close();
    hits.clear();
    const failedBefore = await metric(metricsPort, series('sentinel_upstream_requests_total', { upstream: 'pool', target: bAddress, outcome: 'UPSTREAM_CONNECT_FAILED' }));
    const started = Date.now();
    const statuses: number[] = [];
    for (let k = 0; k < 60; k++) statuses.push((await call(port, '/pool')).status);
    const elapsedMs = Date.now() - started;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect((hits.get('a') ?? 0) + (hits.get('c') ?? 0)).toBe(60);
    const failed = await metric(metricsPort, series('sentinel_upstream_requests_total', { upstream: 'pool', target: bAddress, outcome: 'UPSTREAM_CONNECT_FAILED' })) - failedBefore;
    // Each failure ejects b for 1 s (consecutive-failures 1): at most one attempt per ejection
    // period reaches it, not a third of the requests as round_robin alone would send (20).
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(failed).toBeLessThanOrEqual(2 + Math.floor(elapsedMs / 1000));
    expect(await metric(metricsPort, series('sentinel_upstream_ejections_total', { upstream: 'pool', target: bAddress, result: 'enforced' }))).toBeGreaterThanOrEqual(1);
    expect(await metric(metricsPort, series('sentinel_upstream_retries_total', { upstream: 'pool', reason: 'UPSTREAM_CONNECT_FAILED' }))).toBeGreaterThanOrEqual(1);

    // b comes back on the same address: once its ejection has expired it is picked again.
    ups.b = await startUpstream(counting('b'), b.port);
    hits.clear();
    await eventually('b receives traffic again', async () => {
      expect((await call(port, '/pool')).status).toBe(200);
      return (hits.get('b') ?? 0) > 0;
    });
    hits.clear();
    for (let k = 0; k < 30; k++) expect((await call(port, '/pool')).status).toBe(200);
    expect(hits.get('b')).toBeGreaterThanOrEqual(5);
  }, 60_000);
});

describe('circuit breaker', () => {
  it('opens after consecutive connect failures (503 at once), lets a probe through after timeout-seconds, and closes again', async () => {
    const brk = ups.brk!;
    expect((await call(port, '/brk')).body).toBe('brk');
    await brk.close();
    const first = await call(port, '/brk');
    const second = await call(port, '/brk');
    expect([first.status, second.status]).toEqual([502, 502]);
    const open = await call(port, '/brk');
    expect(open.status).toBe(503);
    expect(JSON.parse(open.body)).toMatchObject({ error: { code: 'UPSTREAM_NO_HEALTHY' } });
    const status = JSON.parse((await call(port, '/_upstreams')).body) as { upstreams: Record<string, { targets: { breaker: string; available: boolean }[] }> };
    expect(status.upstreams.brk!.targets[0]).toMatchObject({ breaker: 'open', available: false });
    expect(await metric(metricsPort, series('sentinel_upstream_unavailable_total', { upstream: 'brk', reason: 'no_healthy' }))).toBeGreaterThanOrEqual(1);
    expect(await metric(metricsPort, series('sentinel_upstream_breaker_state', { upstream: 'brk', target: brk.address }))).toBe(2);

    // The target comes back: a half-open probe succeeds and the breaker closes, no restart needed.
    ups.brk = await startUpstream(named('brk'), brk.port);
    await eventually('the breaker lets traffic through again', async () => (await call(port, '/brk')).status === 200);
    for (let k = 0; k < 5; k++) expect((await call(port, '/brk')).body).toBe('brk');
    const after = JSON.parse((await call(port, '/_upstreams')).body) as typeof status;
    expect(after.upstreams.brk!.targets[0]).toMatchObject({ breaker: 'closed', available: true });
    for (const state of ['open', 'half-open', 'closed']) {
      expect(await metric(metricsPort, series('sentinel_upstream_breaker_transitions_total', { upstream: 'brk', target: brk.address, state }))).toBeGreaterThanOrEqual(1);
    }
    expect(await metric(metricsPort, series('sentinel_upstream_breaker_state', { upstream: 'brk', target: brk.address }))).toBe(0);
  }, 60_000);
});

describe('slow targets are avoided', () => {
  /** Runs `total` requests over `concurrency` client loops; returns how many each target served. */
  async function load(path: string, total: number, concurrency: number): Promise<void> {
    let left = total;
    const loop = async (): Promise<void> => {
      while (left > 0) {
        left--;
        expect((await call(port, path)).status).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
  }

  it('peak_ewma sends (almost) nothing to a target 1 s slower than the others', async () => {
    await load('/ewma', 20, 2); // warm-up: every target gets observed
    hits.clear();
    await load('/ewma', 120, 2);
    const slow = hits.get('slow1') ?? 0;
    // round_robin would send it a third (40); a decayed-cost re-probe now and then is allowed.
    expect(slow).toBeLessThanOrEqual(12);
    expect((hits.get('f1') ?? 0) + (hits.get('f2') ?? 0)).toBeGreaterThanOrEqual(108);
  }, 60_000);

  it('least_connections sends a slow target only what its in-flight share allows', async () => {
    hits.clear();
    await load('/lc', 150, 4);
    const slow = hits.get('slow2') ?? 0;
    // It holds each request 1 s, so it stays the busiest while the fast ones drain theirs.
    expect(slow).toBeLessThanOrEqual(15);
    expect((hits.get('f3') ?? 0) + (hits.get('f4') ?? 0)).toBeGreaterThanOrEqual(135);
  }, 60_000);
});

describe('retry budget', () => {
  it('holds a retry storm to the budget: at most budget-ratio extra load beyond the initial burst', async () => {
    hits.set('storm', 0);
    const exhaustedBefore = await metric(metricsPort, series('sentinel_upstream_retry_budget_exhausted_total', { upstream: 'storm' }));
    const n = 100;
    for (let k = 0; k < n; k++) {
      const r = await call(port, '/storm');
      // Every client gets the upstream's last answer, relayed as is.
      expect(r.status).toBe(503);
      expect(r.body).toBe('storm says no');
    }
    const sent = hits.get('storm') ?? 0;
    // Without the budget: 3 attempts per request = 300. With it: 10 tokens to start with plus 0.1
    // per request (budget-min-per-sec 0), so at most 100 + 10 + 10.
    expect(sent).toBeGreaterThan(n);
    expect(sent).toBeLessThanOrEqual(n + 10 + Math.ceil(0.1 * n) + 1);
    const exhausted = await metric(metricsPort, series('sentinel_upstream_retry_budget_exhausted_total', { upstream: 'storm' })) - exhaustedBefore;
    expect(exhausted).toBeGreaterThanOrEqual(n - 21);
  }, 60_000);
});

describe('bounded queue', () => {
  it('answers 503 UPSTREAM_QUEUE_FULL at once when connections and the pending queue are full', async () => {
    const arrived = new Promise<void>((resolve) => { heldArrived = resolve; });
    const first = call(port, '/queue/1');
    await arrived;
    const second = call(port, '/queue/2'); // waits for the one connection
    await eventually('the second request is queued', async () => (await metric(metricsPort, series('sentinel_upstream_queue_depth', { upstream: 'queue', target: ups.hold!.address }))) === 1);
    const third = await call(port, '/queue/3');
    expect(third.status).toBe(503);
    expect(JSON.parse(third.body)).toMatchObject({ error: { code: 'UPSTREAM_QUEUE_FULL' } });
    expect(await metric(metricsPort, series('sentinel_upstream_unavailable_total', { upstream: 'queue', reason: 'queue_full' }))).toBe(1);
    held.shift()?.end('held'); // the first one finishes; the queued one gets the connection
    await eventually('the queued request reaches the upstream', () => Promise.resolve(held.length > 0));
    held.shift()?.end('held');
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
  }, 60_000);
});

describe('per-attempt timeout', () => {
  it('gives up on a stalled target after per-attempt-timeout and retries on another', async () => {
    for (let k = 0; k < 4; k++) {
      const r = await call(port, '/attempt');
      expect(r.status).toBe(200);
      expect(r.body).toBe('fast');
    }
    expect(await metric(metricsPort, series('sentinel_upstream_retries_total', { upstream: 'attempt', reason: 'UPSTREAM_ATTEMPT_TIMEOUT' }))).toBeGreaterThanOrEqual(1);
  }, 60_000);
});

describe('non-idempotent requests', () => {
  it('a POST that reached a target which then reset is not replayed (502)', async () => {
    const r = await call(port, '/post-reset', { method: 'POST', body: 'pay=1', headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'UPSTREAM_RESET' } });
    expect(ups.echo!.seen.some((q) => q.url === '/post-reset')).toBe(false);
  });

  it('a POST whose connection was refused (nothing sent) is retried, with its buffered body', async () => {
    const r = await call(port, '/post-refused', { method: 'POST', body: 'pay=2', headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(200);
    expect(r.body).toBe('echo:pay=2');
  });

  it('a body over max-buffer-bytes streams and cannot be replayed: the refused attempt is the answer', async () => {
    // round_robin is back at the refused target; 70 KB is over the default 64 KiB buffer.
    const r = await call(port, '/post-refused', { method: 'POST', body: 'x'.repeat(70_000), headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'UPSTREAM_CONNECT_FAILED' } });
  });
});

describe('connection pool', () => {
  it('max-requests-per-connection closes a connection after that many requests', async () => {
    const before = connections.count;
    for (let k = 0; k < 6; k++) expect((await call(port, '/conns')).body).toBe('conns');
    // One connection at a time, two requests each: three connections (one would do without the cap).
    expect(connections.count - before).toBe(3);
  });
});
