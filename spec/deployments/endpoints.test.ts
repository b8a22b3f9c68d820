// Instance connection pools: one per (address, protocol), bounded, idle ones closed. Real undici
// pools against nothing (they connect lazily), a fake clock for idleness.
import { afterEach, describe, expect, it } from 'vitest';
import { InstanceEndpoints } from '../../src/deployments/endpoints.ts';
import { parseInstanceAddress } from '../../src/deployments/router.ts';
import type { ProxyTarget } from '../../src/deployments/router.ts';

function target(address: string): ProxyTarget {
  const t = parseInstanceAddress(address);
  if (t === null) throw new Error(address);
  return t;
}

const open: InstanceEndpoints[] = [];

function endpoints(maxEndpoints: number, clock: { now(): number }): InstanceEndpoints {
  const e = new InstanceEndpoints({
    upstreamId: 'deployments:e1', maxEndpoints, maxConnections: 4, idleTimeoutMs: 10_000, connectTimeoutMs: 1000,
    headersTimeoutMs: 0, readTimeoutMs: 0, requestTimeoutMs: 0, clock,
  });
  open.push(e);
  return e;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.destroy()));
});

describe('InstanceEndpoints', () => {
  it('one pool per address and protocol, reused; metric labels stay bounded', () => {
    const e = endpoints(10, { now: () => 0 });
    const a = e.get(target('127.0.0.1:1001'), 'http1');
    expect(e.get(target('127.0.0.1:1001'), 'http1')).toBe(a);
    const h2 = e.get(target('127.0.0.1:1001'), 'h2c');
    expect(h2).not.toBe(a);
    expect(h2.target.poolKey).toContain('|h2=h2c:');
    expect(a.target.poolKey).not.toContain('|h2=');
    expect(e.size).toBe(2);
    expect([a.upstream.id, a.target.id, a.target.authority]).toEqual(['deployments:e1', 'instance', '127.0.0.1:1001']);
  });

  it('is bounded: a new address beyond max-instances closes the least recently used idle pool', () => {
    let now = 0;
    const e = endpoints(2, { now: () => now });
    const first = e.get(target('127.0.0.1:1001'), 'http1');
    now = 1;
    const second = e.get(target('127.0.0.1:1002'), 'http1');
    now = 2;
    e.get(target('127.0.0.1:1001'), 'http1'); // first is now the most recently used
    now = 3;
    e.get(target('127.0.0.1:1003'), 'http1');
    expect(e.size).toBe(2);
    expect(e.evicted).toBe(1);
    expect(second.target.pool.closed).toBe(true);
    expect(first.target.pool.closed).toBe(false);
    expect(e.get(target('127.0.0.1:1001'), 'http1')).toBe(first);
  });

  it('prefers an idle pool over a busier, older one; evicts the oldest when all are busy', () => {
    let now = 0;
    const e = endpoints(2, { now: () => now });
    const busy = e.get(target('127.0.0.1:1001'), 'http1');
    busy.upstream.begin(busy.target); // one request in flight
    now = 1;
    const idle = e.get(target('127.0.0.1:1002'), 'http1');
    now = 2;
    e.get(target('127.0.0.1:1003'), 'http1');
    expect(idle.target.pool.closed).toBe(true);
    expect(busy.target.pool.closed).toBe(false);
    const third = e.get(target('127.0.0.1:1003'), 'http1');
    third.upstream.begin(third.target);
    now = 3;
    e.get(target('127.0.0.1:1004'), 'http1');
    expect(busy.target.pool.closed).toBe(true); // graceful close: its request finishes first
    expect(e.size).toBe(2);
  });

  it('closes pools idle for longer than the idle timeout, never one with a request in flight', () => {
    let now = 0;
    const e = endpoints(10, { now: () => now });
    const quiet = e.get(target('127.0.0.1:1001'), 'http1');
    const working = e.get(target('127.0.0.1:1002'), 'http1');
    working.upstream.begin(working.target);
    now = 9_999;
    e.sweepIdle();
    expect(e.size).toBe(2);
    now = 10_000;
    e.sweepIdle();
    expect(quiet.target.pool.closed).toBe(true);
    expect(working.target.pool.closed).toBe(false);
    expect(e.size).toBe(1);
    working.upstream.end(working.target, 1, 'success');
    e.sweepIdle();
    expect(e.size).toBe(0);
  });

  it('close() closes every pool', async () => {
    const e = endpoints(10, { now: () => 0 });
    const a = e.get(target('127.0.0.1:1001'), 'http1');
    await e.close();
    expect(a.target.pool.closed).toBe(true);
    expect(e.size).toBe(0);
  });
});
