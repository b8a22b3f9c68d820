// Protocol benchmarks (issue 4), run after the HTTP/1.1 matrix against the same backend:
// - HTTPS: HTTP/1.1 over TLS 1.3 with keep-alive, and HTTP/2 over TLS (ALPN h2), through Sentinel
//   and through nginx serving the same certificate, interleaved over passes; h2load is the load
//   generator (pinned with the backend). Reported as req/s, Sentinel ÷ nginx, mean latency and the
//   proxy's CPU µs per request.
// - Idle connections: the proxy's RSS with N (default 10,000) idle keep-alive connections open, each
//   having completed one request, against its RSS at rest; the same for nginx.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, REPO_ROOT, makeTempDir, nodeBin, removeDir, which } from './env.ts';
import type { Pinning } from './env.ts';
import { h2loadArgv, parseH2load } from './h2load.ts';
import type { H2loadResult } from './h2load.ts';
import { clkTck, snapshotTicks, ticksBetween, treeRssMb } from './proc-stats.ts';
import { freePort, sleep, spawnTracked, waitForPort } from './procs.ts';
import type { Tracked } from './procs.ts';
import { nginxTempPaths } from './backend.ts';
import type { BackendAddress } from '../scenarios/types.ts';

export interface ProtocolOptions {
  readonly passes: number;
  readonly durationS: number;
  readonly warmupS: number;
  /** Connections of the HTTP/1.1-over-TLS cells. */
  readonly h1Connections: number;
  /** Connections × streams of the HTTP/2 cells. */
  readonly h2Connections: number;
  readonly h2Streams: number;
  /** Idle keep-alive connections for the RSS measurement; 0 = skip it. */
  readonly idleConnections: number;
  readonly log: (line: string) => void;
}

export interface ProtocolRun {
  readonly pass: number;
  readonly proxy: 'sentinel' | 'nginx';
  readonly protocol: 'https-h1' | 'h2';
  readonly result: H2loadResult;
  readonly cpuUsPerReq: number | null;
  readonly rssMb: number | null;
}

export interface ProtocolCell {
  readonly protocol: 'https-h1' | 'h2';
  readonly proxy: 'sentinel' | 'nginx';
  /** Best pass by req/s. */
  readonly rps: number;
  readonly meanMs: number;
  readonly cpuUsPerReq: number | null;
  readonly rssMb: number | null;
  readonly failed: number;
  readonly tlsProtocol: string | null;
  readonly alpn: string | null;
  readonly allRps: readonly number[];
  /** rps ÷ nginx's rps (same protocol, same run); null for nginx itself or when nginx did not run. */
  readonly vsNginx: number | null;
}

export interface IdleResult {
  readonly proxy: 'sentinel' | 'nginx';
  readonly connections: number;
  readonly opened: number;
  readonly restRssMb: number | null;
  readonly idleRssMb: number | null;
  /** (idle − rest) ÷ connections, KiB. */
  readonly kibPerConnection: number | null;
  /** A fresh request was served while they were all open. */
  readonly servedMeanwhile: boolean;
}

export interface ProtocolResults {
  readonly cells: readonly ProtocolCell[];
  readonly runs: readonly ProtocolRun[];
  readonly idle: readonly IdleResult[];
  readonly errors: readonly string[];
  readonly skipped: string | null;
}

interface Started {
  readonly proc: Tracked;
  readonly port: number;
}

/** One EC P-256 certificate for both proxies (CN/SAN localhost, 127.0.0.1). */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '2'], { stdio: 'ignore' });
  return { cert, key };
}

/** The hard open-file limit of processes started from here (what `ulimit -n` may raise to). */
export function hardNofile(): number {
  const v = execFileSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return v === 'unlimited' ? 1_048_576 : Number(v);
}

/** Open files the proxies and the idle-connection client get (soft limit, within the hard one). */
let nofile = 20_000;

/** `sh -c 'ulimit -n N; exec …'` so a proxy can hold the idle connections. */
function withNofile(argv: readonly string[]): string[] {
  return ['/bin/sh', '-c', `ulimit -n ${nofile} && exec "$0" "$@"`, ...argv];
}

async function startSentinel(dir: string, backend: BackendAddress, pinning: Pinning, tls: { cert: string; key: string } | null, maxConnections: number): Promise<Started> {
  const port = await freePort();
  const conf = path.join(dir, 'sentinel-proto.kdl');
  const listener = tls === null
    ? `listener "bench" { address "127.0.0.1:${port}"; keepalive-timeout-secs 600 }`
    : `listener "bench" { address "127.0.0.1:${port}"; protocol "https"; max-concurrent-streams 128; tls { cert-file "${tls.cert}"; key-file "${tls.key}"; min-version "1.3" } }`;
  writeFileSync(conf, `system { max-connections ${maxConnections} }
listeners { ${listener} }
routes { route "all" { matches { path-prefix "/" }; upstream "backend" } }
upstreams { upstream "backend" { target "${backend.host}:${backend.port}"; connection-pool { max-connections 128 } } }
observability { metrics { enabled #false }; logging { access-log { enabled #false } } }
`);
  const proc = spawnTracked('sentinel (protocols)', withNofile([...pinning.proxy, nodeBin(), path.join(REPO_ROOT, 'bin', 'sentinel.js'), 'run', '-c', conf]), { cwd: REPO_ROOT });
  await waitForPort('127.0.0.1', port, proc, 30_000);
  return { proc, port };
}

async function startNginx(dir: string, backend: BackendAddress, pinning: Pinning, tls: { cert: string; key: string } | null, maxConnections: number): Promise<Started> {
  const port = await freePort();
  const conf = path.join(dir, 'nginx-proto.conf');
  const listen = tls === null
    ? `listen 127.0.0.1:${port} backlog=4096;`
    : `listen 127.0.0.1:${port} ssl http2 backlog=4096; ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key}; ssl_protocols TLSv1.3; http2_max_concurrent_streams 128;`;
  writeFileSync(conf, `worker_processes 1; daemon off; worker_rlimit_nofile ${nofile}; pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections ${maxConnections + 1000}; }
http { access_log off; sendfile on; tcp_nodelay on; keepalive_requests 100000000; keepalive_timeout 600s;
  ${nginxTempPaths(dir)}
  upstream backend { server ${backend.host}:${backend.port}; keepalive 64; keepalive_requests 100000000; keepalive_timeout 120s; }
  server { ${listen}
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`);
  const proc = spawnTracked('nginx (protocols)', withNofile([...pinning.proxy, which('nginx') as string, '-p', `${dir}/`, '-c', conf, '-e', path.join(dir, 'error.log')]));
  await waitForPort('127.0.0.1', port, proc, 15_000);
  return { proc, port };
}

async function h2load(pinning: Pinning, url: string, protocol: 'h1' | 'h2', o: ProtocolOptions): Promise<H2loadResult> {
  const argv = h2loadArgv(which('h2load') as string, {
    url,
    protocol,
    connections: protocol === 'h1' ? o.h1Connections : o.h2Connections,
    streams: o.h2Streams,
    durationS: o.durationS,
    warmupS: o.warmupS,
  });
  const proc = spawnTracked(`h2load ${protocol}`, [...pinning.load, ...argv], { captureStdout: true });
  const exit = await proc.exited;
  if (exit.code !== 0) throw new Error(`h2load exited with ${exit.code ?? exit.signal}: ${(proc.stdout + proc.stderrTail).slice(-500)}`);
  return parseH2load(proc.stdout);
}

function summarize(runs: readonly ProtocolRun[]): ProtocolCell[] {
  const cells: ProtocolCell[] = [];
  for (const protocol of ['https-h1', 'h2'] as const) {
    const best = new Map<string, ProtocolRun>();
    for (const r of runs.filter((x) => x.protocol === protocol)) {
      const b = best.get(r.proxy);
      if (b === undefined || r.result.rps > b.result.rps) best.set(r.proxy, r);
    }
    const nginxRps = best.get('nginx')?.result.rps ?? null;
    for (const proxy of ['sentinel', 'nginx'] as const) {
      const b = best.get(proxy);
      if (b === undefined) continue;
      cells.push({
        protocol,
        proxy,
        rps: b.result.rps,
        meanMs: b.result.meanMs,
        cpuUsPerReq: b.cpuUsPerReq,
        rssMb: b.rssMb,
        failed: runs.filter((x) => x.protocol === protocol && x.proxy === proxy).reduce((n, x) => n + x.result.failed + x.result.errored + x.result.timeout, 0),
        tlsProtocol: b.result.tlsProtocol,
        alpn: b.result.alpn,
        allRps: runs.filter((x) => x.protocol === protocol && x.proxy === proxy).map((x) => x.result.rps),
        vsNginx: proxy === 'sentinel' && nginxRps !== null && nginxRps > 0 ? b.result.rps / nginxRps : null,
      });
    }
  }
  return cells;
}

/** A plain GET through `port` on a new connection; true when it answers 200. */
async function servedNow(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

async function measureIdle(proxy: 'sentinel' | 'nginx', backend: BackendAddress, pinning: Pinning, o: ProtocolOptions): Promise<IdleResult> {
  const dir = makeTempDir(`idle-${proxy}`);
  let started: Started | null = null;
  let opener: Tracked | null = null;
  try {
    // The cap is raised so the measurement is about memory, not eviction at the cap.
    const cap = o.idleConnections + 1000;
    started = proxy === 'sentinel' ? await startSentinel(dir, backend, pinning, null, cap) : await startNginx(dir, backend, pinning, null, cap);
    await servedNow(started.port);
    await sleep(1000);
    const rest = treeRssMb([started.proc.pid]);
    opener = spawnTracked(`idle connections (${proxy})`, withNofile([...pinning.load, nodeBin(), path.join(BENCH_DIR, 'load', 'idle-conns.ts'), String(started.port), String(o.idleConnections)]), { captureStdout: true });
    const deadline = Date.now() + 180_000;
    while (!/ready \d+/.test(opener.stdout)) {
      if (!opener.alive) throw new Error(`idle-conns exited: ${opener.stderrTail.slice(-300)}`);
      if (Date.now() > deadline) throw new Error('idle connections were not all answered within 180 s');
      await sleep(200);
    }
    const m = /ready (\d+) failed (\d+)/.exec(opener.stdout);
    const opened = Number(m?.[1] ?? 0);
    await sleep(2000); // let the proxy settle (timers, GC) with every connection idle
    const idle = treeRssMb([started.proc.pid]);
    const served = await servedNow(started.port);
    const kib = rest !== null && idle !== null && opened > 0 ? ((idle - rest) * 1024) / opened : null;
    o.log(`  ${proxy}: ${opened} idle keep-alive connections: RSS ${rest?.toFixed(0) ?? '?'} → ${idle?.toFixed(0) ?? '?'} MB (${kib?.toFixed(1) ?? '?'} KiB each); a new request ${served ? 'was served' : 'FAILED'}`);
    return { proxy, connections: o.idleConnections, opened, restRssMb: rest, idleRssMb: idle, kibPerConnection: kib, servedMeanwhile: served };
  } finally {
    if (opener !== null) await opener.stop();
    if (started !== null) await started.proc.stop();
    removeDir(dir);
  }
}

export async function runProtocols(backend: BackendAddress, pinning: Pinning, o: ProtocolOptions): Promise<ProtocolResults> {
  const missing = ['h2load', 'openssl', 'nginx'].filter((t) => which(t) === null);
  if (missing.includes('h2load') || missing.includes('openssl')) {
    return { cells: [], runs: [], idle: [], errors: [], skipped: `${missing.join(', ')} not installed` };
  }
  const proxies = (missing.includes('nginx') ? ['sentinel'] : ['sentinel', 'nginx']) as Array<'sentinel' | 'nginx'>;
  const hard = hardNofile();
  nofile = Math.min(hard, Math.max(20_000, o.idleConnections + 2000));
  const certDir = makeTempDir('tls-cert');
  const cert = makeCertificate(certDir);
  const runs: ProtocolRun[] = [];
  const errors: string[] = [];
  const idle: IdleResult[] = [];
  const clk = clkTck();
  try {
    for (let pass = 1; pass <= o.passes; pass++) {
      const order = pass % 2 === 1 ? proxies : [...proxies].reverse();
      for (const proxy of order) {
        const dir = makeTempDir(`tls-${proxy}`);
        let started: Started | null = null;
        try {
          o.log(`[protocols ${pass}/${o.passes}] ${proxy}`);
          started = proxy === 'sentinel' ? await startSentinel(dir, backend, pinning, cert, 10_000) : await startNginx(dir, backend, pinning, cert, 10_000);
          for (const protocol of ['https-h1', 'h2'] as const) {
            const before = snapshotTicks([started.proc.pid]);
            const result = await h2load(pinning, `https://127.0.0.1:${started.port}/`, protocol === 'h2' ? 'h2' : 'h1', o);
            const ticks = ticksBetween(before, snapshotTicks([started.proc.pid]));
            // h2load's warm-up requests are not in its count; the CPU figure includes them (a slight overestimate).
            const cpu = result.done > 0 ? (ticks / clk) * 1e6 / result.done : null;
            const rss = treeRssMb([started.proc.pid]);
            runs.push({ pass, proxy, protocol, result, cpuUsPerReq: cpu, rssMb: rss });
            o.log(`  ${protocol}: ${Math.round(result.rps).toLocaleString('en-US')} req/s, mean ${result.meanMs.toFixed(2)} ms, ${result.tlsProtocol ?? '?'} ${result.alpn ?? '?'}` +
              `${cpu !== null ? `, ${cpu.toFixed(1)} µs/req` : ''}${result.failed + result.errored > 0 ? `, ${result.failed + result.errored} FAILED` : ''}`);
          }
        } catch (e) {
          const message = `${proxy}: ${e instanceof Error ? e.message : String(e)}`;
          errors.push(message);
          o.log(`  ERROR ${message}`);
        } finally {
          if (started !== null) await started.proc.stop();
          removeDir(dir);
        }
      }
    }
    if (o.idleConnections > 0 && nofile < o.idleConnections + 1000) {
      const message = `idle connections: ${o.idleConnections} need an open-file limit of ${o.idleConnections + 1000}; the hard limit here is ${hard} (raise it, or pass --idle-conns ${Math.max(0, hard - 1000)})`;
      errors.push(message);
      o.log(`  ERROR ${message}`);
    } else if (o.idleConnections > 0) {
      o.log(`[idle connections] ${o.idleConnections} keep-alive connections, each after one request`);
      for (const proxy of proxies) {
        try {
          idle.push(await measureIdle(proxy, backend, pinning, o));
        } catch (e) {
          const message = `idle ${proxy}: ${e instanceof Error ? e.message : String(e)}`;
          errors.push(message);
          o.log(`  ERROR ${message}`);
        }
      }
    }
  } finally {
    removeDir(certDir);
  }
  return { cells: summarize(runs), runs, idle, errors, skipped: missing.includes('nginx') ? 'nginx not installed: Sentinel only, no ratio' : null };
}
