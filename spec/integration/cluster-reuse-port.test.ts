// Multi-worker listener sharing, observed in the kernel's socket tables (/proc/net/tcp and each
// process's file descriptors): with `reuse-port #false` the primary holds the one listening socket; with
// `system reuse-port` (the default) every worker binds its own, new connections reach both workers without
// passing through the primary, and a replaced worker binds again.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Agent, request } from 'undici';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { closedPort, startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';

const started: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.close();
});

interface TcpSocket { readonly localPort: number; readonly state: 'listen' | 'established' | 'other'; readonly inode: string }

/** IPv4 TCP sockets of this network namespace (loopback listeners only in these tests). */
function tcpSockets(): TcpSocket[] {
  return readFileSync('/proc/net/tcp', 'utf8').trim().split('\n').slice(1).map((line) => {
    const f = line.trim().split(/\s+/);
    const localPort = parseInt((f[1] as string).split(':')[1] as string, 16);
    const state = f[3] === '0A' ? 'listen' : f[3] === '01' ? 'established' : 'other';
    return { localPort, state, inode: f[9] as string };
  });
}

/** Socket inodes a process holds open. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null) out.add(m[1] as string);
    } catch { /* closed meanwhile */ }
  }
  return out;
}

function children(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Which processes hold the listening sockets on `port`, and how many each. */
function listenersOn(port: number, pids: readonly number[]): Map<number, number> {
  const listening = tcpSockets().filter((s) => s.localPort === port && s.state === 'listen');
  const out = new Map<number, number>();
  for (const pid of pids) {
    const mine = socketInodes(pid);
    const n = listening.filter((s) => mine.has(s.inode)).length;
    if (n > 0) out.set(pid, n);
  }
  return out;
}

/** Accepted connections on `port` held by each of `pids`. */
function acceptedOn(port: number, pids: readonly number[]): Map<number, number> {
  const established = tcpSockets().filter((s) => s.localPort === port && s.state === 'established');
  const out = new Map<number, number>();
  for (const pid of pids) {
    const mine = socketInodes(pid);
    out.set(pid, established.filter((s) => mine.has(s.inode)).length);
  }
  return out;
}

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function start(reusePort: boolean): Promise<{ proxy: SentinelProcess; port: number; up: Upstream }> {
  const up = await startUpstream((_req, res) => res.end('ok'));
  started.push(up);
  const port = await closedPort();
  const proxy = await startSentinel(`
system { worker-threads 2;${reusePort ? "" : " reuse-port #false;"} graceful-shutdown-timeout-secs 2 }
listeners { listener "main" { address "127.0.0.1:${port}" } }
routes { route "app" { matches { path-prefix "/" }; upstream "app" } }
upstreams { upstream "app" { target "${up.address}" } }
observability { metrics { enabled #false }; logging { access-log { enabled #false } } }
`, { listeners: ['main'] });
  started.push({ close: () => proxy.stop() });
  return { proxy, port, up };
}

/** Opens `n` keep-alive connections to `port` (one request each) and keeps them open. */
async function openConnections(port: number, n: number): Promise<void> {
  const pools = Array.from({ length: n }, (_, i) => new Agent({ connections: 1, keepAliveTimeout: 60_000, connect: { localAddress: `127.0.0.${2 + i}` } }));
  started.push({ close: () => Promise.all(pools.map((p) => p.close())) });
  for (const p of pools) {
    const r = await request(`http://127.0.0.1:${port}/`, { dispatcher: p });
    expect(r.statusCode).toBe(200);
    await r.body.text();
  }
}

describe('multi-worker listener sharing', () => {
  it('reuse-port #false: the primary holds the only listening socket and the workers none', async () => {
    const { proxy, port } = await start(false);
    const workers = children(proxy.child.pid as number);
    expect(workers).toHaveLength(2);
    const holders = listenersOn(port, [proxy.child.pid as number, ...workers]);
    expect([...holders]).toEqual([[proxy.child.pid, 1]]);
  }, 60_000);

  it('reuse-port (the default): each worker binds its own socket, the kernel spreads connections over both, and a replaced worker binds again', async () => {
    const { proxy, port } = await start(true);
    const primary = proxy.child.pid as number;
    let workers = children(primary);
    expect(workers).toHaveLength(2);
    const holders = listenersOn(port, [primary, ...workers]);
    expect(holders.has(primary)).toBe(false);
    expect(holders.size).toBe(2);
    for (const w of workers) expect(holders.get(w)).toBe(1);

    // Connections from 40 distinct source addresses: SO_REUSEPORT hashes the 4-tuple, so both
    // workers accept some (the chance that all 40 land on one worker is 2 × 2^-40).
    await openConnections(port, 40);
    const accepted = acceptedOn(port, workers);
    for (const w of workers) expect(accepted.get(w)).toBeGreaterThan(0);
    expect(acceptedOn(port, [primary]).get(primary)).toBe(0);

    // A worker killed outright is replaced, and the replacement binds its own socket again.
    const victim = workers[0] as number;
    process.kill(victim, 'SIGKILL');
    await until('a replacement worker with its own listening socket', () => {
      workers = children(primary);
      return workers.length === 2 && !workers.includes(victim) && listenersOn(port, workers).size === 2;
    });
    for (let i = 0; i < 10; i++) {
      const r = await request(`http://127.0.0.1:${port}/after`);
      expect(r.statusCode).toBe(200);
      await r.body.text();
    }
  }, 90_000);
});
