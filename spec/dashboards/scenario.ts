// The demo stack behind the live dashboard check (dashboards.test.ts) and the rendered pictures
// (scripts/render-dashboard-png.ts): the real proxy (bin/sentinel.js) with real loopback upstreams,
// a real WebSocket upstream, two real redis-servers, three real agent processes and a TLS listener
// (redis-server and the agents in containers when Docker is there, else local processes),
// then load with faults, so that every dashboard panel and recording rule has something true to
// show:
//   upstreams  a pool with a dead target (connect failures → retries, breaker, ejection), an upstream
//              whose only target fails its health checks (503 no_healthy), a flaky one answering 503
//              with a small retry budget (budget exhausted), a one-connection pool (queue depth,
//              503 queue_full), file discovery whose file turns invalid 3 s in every 12 (failed
//              refreshes), a WebSocket route (one tunnel held open, more opened and closed);
//   agents     denylist blocking /guarded/admin, echo frozen (SIGSTOP) for seconds at a time
//              (timeouts, bypasses with failure-mode open, breaker, health-check resets, reconnects),
//              the test agent asking for protected header changes (refused mutations);
//   security   rate limits that reject, delay and evict keys (a new key a request through a four-key
//              store), a Redis-backed limiter, one whose Redis is down (fallback) and one whose Redis
//              stalls (SIGSTOP) 3 s in every 12 (timeouts, fallback, recovery), oversized bodies
//              (413), a request-smuggling attempt (400), plain HTTP on the TLS port (handshake
//              error), HTTP/2 streams cancelled by the client;
//   saturation slow requests, and bursts that fill max-connections with busy requests (held 1.5 s:
//              slow for the latency SLI) and then open more (refused at accept).
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http';
import { constants as h2constants, connect as h2connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTestPki } from '../helpers/certs.ts';
import type { TestPki } from '../helpers/certs.ts';
import { startAgent, startRedis } from '../helpers/containers.ts';
import type { AgentHandle, RedisHandle } from '../helpers/containers.ts';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { startWsUpstream } from '../helpers/websocket-server.ts';
import type { WsUpstream } from '../helpers/websocket-server.ts';

/** `system max-connections`: small, so a burst of busy connections goes over it. */
export const MAX_CONNECTIONS = 64;

/** Faults injected so far, by kind (the test checks each happened). */
export type FaultCounts = Record<'connectionBursts' | 'echoFrozen' | 'redisFrozen' | 'discoveryBroken' | 'smuggling' | 'oversized' | 'tlsPlaintext' | 'h2Cancelled' | 'wsTunnels', number>;

export interface Scenario {
  readonly proxy: SentinelProcess;
  /** host:port of the proxy's metrics listener (the Prometheus scrape target). */
  readonly metricsTarget: string;
  /** Status codes of the plain HTTP requests sent so far (0 = no response). */
  readonly statuses: Map<number, number>;
  readonly faults: FaultCounts;
  /** Starts load with faults; `intensity(elapsedMs)` (default 1) scales the plain traffic per round. */
  startLoad(intensity?: (elapsedMs: number) => number): void;
  /** Stops the load and waits for the round in progress. */
  stopLoad(): Promise<void>;
  /** Stops everything the scenario started (idempotent). */
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function get(port: number, path: string, headers: OutgoingHttpHeaders = {}, body?: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, method: body === undefined ? 'GET' : 'POST', headers: body === undefined ? headers : { ...headers, 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('close', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(20_000, () => req.destroy());
    req.end(body);
  });
}

/** Writes `bytes` on a fresh connection and resolves when the server closes it (or after 5 s). */
function raw(port: number, bytes: string): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    s.setTimeout(5000, () => s.destroy());
  });
}

/** Requests to /hold that reached the upstream wait there until release() (one that comes later is answered at once). */
interface HeldRequests {
  arrived(): number;
  hold(): void;
  release(): void;
}

/**
 * Fills the connection cap with busy connections, then opens more: with every connection busy
 * there is nothing to evict, so the extra ones are refused at accept
 * (`sentinel_connections_rejected_total`). Connections that are idle or still sending their head
 * would be evicted instead (limit `connection_evicted`), so the extra ones are sent only once every
 * busy request has reached the upstream (or was itself refused): from then on the cap is full of
 * busy connections. The busy requests are answered after at least 1.5 s (slow requests for the
 * latency SLI), once the extra ones are settled.
 */
async function busyBurst(port: number, busy: number, extra: number, held: HeldRequests): Promise<number[]> {
  const startedAt = Date.now();
  const arrivedBefore = held.arrived();
  let settled = 0;
  held.hold();
  const holds = Array.from({ length: busy }, () => get(port, '/hold').then((status) => { settled++; return status; }));
  for (const until = Date.now() + 30_000; held.arrived() - arrivedBefore + settled < busy && Date.now() < until;) await sleep(20);
  const refused: Promise<number>[] = [];
  for (let i = 0; i < extra; i++) {
    refused.push(get(port, '/over-the-cap'));
    await sleep(10);
  }
  const extraStatuses = await Promise.all(refused);
  await sleep(Math.max(0, startedAt + 1500 - Date.now()));
  held.release();
  return [...(await Promise.all(holds)), ...extraStatuses];
}

function httpsGet(port: number, pki: TestPki, path: string, clientCert: boolean): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path, agent: false, ca: pki.read(pki.ca),
      ...(clientCert ? { cert: pki.read(pki.client.cert), key: pki.read(pki.client.key) } : {}),
    }, (res) => { res.resume(); res.on('close', () => resolve(res.statusCode ?? 0)); });
    req.on('error', () => resolve(0));
    req.setTimeout(20_000, () => req.destroy());
    req.end();
  });
}

/** One HTTP/2 session over TLS: a request answered, and one to /slow cancelled by the client (RST_STREAM). */
async function h2Round(port: number, pki: TestPki): Promise<void> {
  const session = h2connect(`https://127.0.0.1:${port}`, { ca: pki.read(pki.ca) });
  session.on('error', () => undefined);
  try {
    await new Promise<void>((resolve) => {
      const req = session.request({ ':path': '/h2' });
      req.on('response', () => undefined);
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.resume();
      req.end();
    });
    const cancelled = session.request({ ':path': '/slow' });
    cancelled.on('error', () => undefined);
    cancelled.end();
    await sleep(50);
    cancelled.close(h2constants.NGHTTP2_CANCEL);
    await sleep(20);
  } finally {
    session.close();
  }
}

/** Opens a WebSocket through the proxy, sends a message and waits for its echo. */
async function openTunnel(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await Promise.race([once(ws, 'open'), once(ws, 'error').then(() => { throw new Error('WebSocket through the proxy failed to open'); })]);
  const echoed = once(ws, 'message');
  ws.send('hello through sentinel');
  await Promise.race([echoed, sleep(5000)]);
  return ws;
}

export async function startScenario(): Promise<Scenario> {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const closeAll = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try { await c(); } catch { /* keep closing the rest */ }
    }
  };
  try {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-dash-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const pki = generateTestPki();
    cleanups.push(() => pki.cleanup());
    const parked: Array<() => void> = [];
    let heldArrived = 0;
    let holding = false;
    const held: HeldRequests = {
      arrived: () => heldArrived,
      hold: () => { holding = true; },
      release: () => { holding = false; for (const reply of parked.splice(0)) reply(); },
    };
    const app: Upstream = await startUpstream((req, res) => {
      const url = req.url ?? '/';
      const status = url.startsWith('/missing') ? 404 : url.startsWith('/flaky') ? 503 : 200;
      const reply = (): void => { if (!res.destroyed) { res.writeHead(status, { 'content-type': 'text/plain' }); res.end('ok'); } };
      if (url.startsWith('/hold')) {
        heldArrived++;
        if (holding) parked.push(reply);
        else reply();
      } else if (url.startsWith('/slow') || url.startsWith('/narrow')) {
        setTimeout(reply, 300);
      } else {
        reply();
      }
    });
    cleanups.push(() => { held.release(); return app.close(); });
    const ws: WsUpstream = await startWsUpstream();
    cleanups.push(() => ws.close());
    const [deadPool, deadHealth, deadRedis] = [await closedPort(), await closedPort(), await closedPort()];
    const discoveryFile = join(dir, 'targets.json');
    const goodTargets = JSON.stringify([app.address]);
    writeFileSync(discoveryFile, goodTargets);

    const [redis, stalling, deny, echo, inspect] = await Promise.all([
      startRedis(),
      startRedis(),
      startAgent({ kind: 'denylist', transport: 'uds' }),
      startAgent({ kind: 'echo', transport: 'uds' }),
      startAgent({ kind: 'test', transport: 'uds' }),
    ]) as [RedisHandle, RedisHandle, AgentHandle, AgentHandle, AgentHandle];
    cleanups.push(
      () => redis.stop(), () => { stalling.thaw(); return stalling.stop(); },
      () => deny.stop(), () => { echo.thaw(); return echo.stop(); }, () => inspect.stop(),
    );

    const proxy = await startSentinel(`
system { max-connections ${MAX_CONNECTIONS} }
listeners {
  listener "main" { address "127.0.0.1:0" }
  listener "tls" {
    address "127.0.0.1:0"
    protocol "https"
    tls { cert-file "${pki.server.cert}"; key-file "${pki.server.key}"; client-auth "optional"; ca-file "${pki.ca}" }
  }
}
routes {
  route "app" { matches { path-prefix "/" }; upstream "app" }
  route "pool" { matches { path-prefix "/pool" }; upstream "pool" }
  route "broken" { matches { path-prefix "/broken" }; upstream "broken" }
  route "flaky" { matches { path-prefix "/flaky" }; upstream "flaky" }
  route "narrow" { matches { path-prefix "/narrow" }; upstream "narrow" }
  route "discovered" { matches { path-prefix "/discovered" }; upstream "discovered" }
  route "ws" { matches { path-prefix "/ws" }; upstream "ws"; websocket #true }
  route "guarded" { matches { path-prefix "/guarded" }; upstream "app"; filters "deny" "echo" }
  route "inspect" { matches { path-prefix "/inspect" }; upstream "app"; filters "inspect" }
  route "limited" { matches { path-prefix "/limited" }; upstream "app"; filters "per-ip" }
  route "queued" { matches { path-prefix "/queued" }; upstream "app"; filters "paced" }
  route "keys" { matches { path-prefix "/keys" }; upstream "app"; filters "per-key" }
  route "shared" { matches { path-prefix "/shared" }; upstream "app"; filters "redis-live" "redis-down" }
  route "stalls" { matches { path-prefix "/stalls" }; upstream "app"; filters "redis-stalls" }
  route "upload" { matches { path-prefix "/upload" }; upstream "app"; policies { max-body-size-bytes 1024 } }
}
upstreams {
  upstream "app" {
    target "${app.address}"
    health-check { type "http" { path "/health" }; interval-secs 1; timeout-secs 1 }
  }
  upstream "pool" {
    target "${app.address}"; target "127.0.0.1:${deadPool}"
    circuit-breaker { failure-threshold 3; timeout-seconds 2 }
    outlier-detection { consecutive-failures 3; base-ejection-secs 2; max-ejection-secs 4 }
    retry-policy { max-attempts 2; backoff 0; max-backoff 0 }
  }
  upstream "broken" {
    target "127.0.0.1:${deadHealth}"
    health-check { type "tcp"; interval-secs 1; timeout-secs 1; unhealthy-threshold 1 }
  }
  upstream "flaky" {
    target "${app.address}"
    retry-policy { max-attempts 3; retryable-status-codes 503; backoff 0; max-backoff 0; budget-ratio 0.1; budget-min-per-sec 0.5 }
  }
  upstream "narrow" {
    target "${app.address}"
    connection-pool { max-connections 1; max-pending-requests 1 }
  }
  upstream "discovered" { discovery "file" { path "${discoveryFile}"; watch-interval-secs 1 } }
  upstream "ws" { target "${ws.address}" }
}
agents {
  agent "deny" { unix-socket "${deny.socket}"; pool-size 1; failure-mode "closed"; config { paths "/guarded/admin" } }
  agent "echo" {
    unix-socket "${echo.socket}"
    pool-size 2
    timeout-ms 100
    connect-timeout-ms 500
    failure-mode "open"
    circuit-breaker { failure-threshold 3; timeout-secs 1 }
    health-check { interval-ms 500; timeout-ms 400 }
  }
  agent "inspect" { unix-socket "${inspect.socket}"; pool-size 1 }
}
filters {
  filter "deny" { type "agent"; agent "deny" }
  filter "echo" { type "agent"; agent "echo" }
  filter "inspect" { type "agent"; agent "inspect" }
  filter "per-ip" { type "rate-limit"; max-rps 2; burst 2 }
  filter "paced" { type "rate-limit"; max-rps 5; burst 1; on-limit "delay"; max-delay-ms 600 }
  filter "per-key" { type "rate-limit"; max-rps 100; key "header:x-key"; max-keys 4 }
  filter "redis-live" { type "rate-limit"; max-rps 1000; backend "redis"; redis-url "${redis.url}"; redis-timeout-ms 1000 }
  filter "redis-down" { type "rate-limit"; max-rps 1000; backend "redis"; redis-url "redis://127.0.0.1:${deadRedis}"; redis-probe-interval-ms 1000 }
  filter "redis-stalls" { type "rate-limit"; max-rps 1000; backend "redis"; redis-url "${stalling.url}"; redis-timeout-ms 200; redis-probe-interval-ms 500 }
}
observability {
  metrics { enabled #true; address "127.0.0.1:0" }
  logging { access-log { enabled #false } }
}
`, { listeners: ['main', 'tls'], metrics: true });
    cleanups.push(() => proxy.stop());
    const port = proxy.ports.get('main') as number;
    const tlsPort = proxy.ports.get('tls') as number;

    const statuses = new Map<number, number>();
    const faults: FaultCounts = { connectionBursts: 0, echoFrozen: 0, redisFrozen: 0, discoveryBroken: 0, smuggling: 0, oversized: 0, tlsPlaintext: 0, h2Cancelled: 0, wsTunnels: 0 };
    const count = (codes: readonly number[]): void => { for (const c of codes) statuses.set(c, (statuses.get(c) ?? 0) + 1); };
    let running = false;
    let loops: Promise<unknown> = Promise.resolve();
    let heldTunnel: WebSocket | null = null;

    const mainLoop = async (intensity: (elapsedMs: number) => number, startedAt: number): Promise<void> => {
      for (let n = 0; running; n++) {
        if (n % 30 === 8) {
          // Alone in its round: no other request of ours may take a slot under the cap meanwhile.
          faults.connectionBursts++;
          count(await busyBurst(port, MAX_CONNECTIONS, 16, held));
          continue;
        }
        const width = Math.max(1, Math.round(4 * intensity(Date.now() - startedAt)));
        const paths: Array<[string, OutgoingHttpHeaders?]> = [];
        for (let i = 0; i < width; i++) paths.push([`/page/${i}`], ['/missing'], ['/pool/x']);
        paths.push(['/broken/x'], ['/flaky'], ['/discovered/x'], ['/guarded/ok'], ['/guarded/admin'], ['/inspect/x'], ['/inspect/protected']);
        paths.push(['/limited'], ['/limited'], ['/limited'], ['/queued'], ['/queued'], ['/queued'], ['/shared'], ['/stalls'], ['/stalls']);
        paths.push(['/narrow'], ['/narrow'], ['/narrow']);
        // Keys in turn through a store of four: every request brings a key the store does not hold
        // and evicts one (enough of them for the 10-minute eviction rate to pass 1/s within a minute).
        for (let i = 0; i < 12; i++) paths.push(['/keys', { 'x-key': `k${(n * 12 + i) % 13}` }]);
        if (n % 3 === 0) paths.push(['/slow']);
        const jobs: Promise<unknown>[] = [Promise.all(paths.map(([p, h]) => get(port, p, h))).then(count)];
        if (n % 5 === 0) {
          faults.oversized++;
          jobs.push(get(port, '/upload', {}, Buffer.alloc(4096, 'x')).then((s) => count([s])));
          faults.smuggling++;
          jobs.push(raw(port, 'POST /app HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'));
          faults.tlsPlaintext++;
          jobs.push(raw(tlsPort, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
          jobs.push(httpsGet(tlsPort, pki, '/tls', n % 10 === 0));
          faults.h2Cancelled++;
          jobs.push(h2Round(tlsPort, pki));
          faults.wsTunnels++;
          jobs.push(openTunnel(port).then((t) => t.close(), () => undefined));
        }
        await Promise.all(jobs);
        await sleep(20);
      }
    };

    /** A fault switched on for `onMs` and off for `offMs`, in turn while the load runs (first after `firstMs`). */
    const periodic = async (firstMs: number, onMs: number, offMs: number, fault: keyof FaultCounts, on: () => void, off: () => void): Promise<void> => {
      await sleep(firstMs);
      while (running) {
        on();
        faults[fault]++;
        await sleep(onMs);
        off();
        for (let waited = 0; running && waited < offMs; waited += 100) await sleep(100);
      }
    };
    // Echo agent: frozen 2.5 s out of every 6 (calls time out, the breaker opens, pings go unanswered).
    const echoLoop = (): Promise<void> => periodic(1500, 2500, 3500, 'echoFrozen', () => echo.freeze(), () => echo.thaw());
    // Redis of "redis-stalls": frozen 3 s out of every 12 (calls time out at 200 ms, the filter
    // decides locally until a probe gets an answer again).
    const redisLoop = (): Promise<void> => periodic(2000, 3000, 9000, 'redisFrozen', () => stalling.freeze(), () => stalling.thaw());
    // Discovery: the file turns invalid for 3 s every 12 s (failed refreshes, last known targets kept).
    const discoveryLoop = (): Promise<void> => periodic(3000, 3000, 9000, 'discoveryBroken',
      () => writeFileSync(discoveryFile, '{ not json'), () => writeFileSync(discoveryFile, goodTargets));

    const stopLoad = async (): Promise<void> => {
      running = false;
      await loops;
      echo.thaw();
      stalling.thaw();
      heldTunnel?.close();
      heldTunnel = null;
    };
    cleanups.push(stopLoad);

    return {
      proxy,
      metricsTarget: `127.0.0.1:${proxy.metricsPort as number}`,
      statuses,
      faults,
      startLoad(intensity = () => 1) {
        if (running) return;
        running = true;
        const startedAt = Date.now();
        // One tunnel stays open while the load runs: the open-tunnels gauge reads 1.
        const tunnel = openTunnel(port).then((t) => { faults.wsTunnels++; if (running) heldTunnel = t; else t.close(); }, () => undefined);
        loops = Promise.all([tunnel, mainLoop(intensity, startedAt), echoLoop(), redisLoop(), discoveryLoop()]);
      },
      stopLoad,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
