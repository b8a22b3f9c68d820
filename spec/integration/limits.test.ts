// Listener limits that had no test: global max-connections, keepalive-max-requests, the request-head
// timeout against a slow client, and reloads that would need a restart.
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { rawExchange } from '../../conformance/http/raw.ts';
import { closedByPeer, openSocket } from '../helpers/sockets.ts';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

function config(system: string, listener: string, metrics = false): string {
  return `
system { ${system} }
listeners { listener "main" { address "127.0.0.1:0"; ${listener} } }
routes { route "h" { matches { path-prefix "/" }; builtin-handler "health" } }
observability { metrics { enabled ${metrics ? '#true; address "127.0.0.1:0"' : '#false'} }; logging { level "info"; access-log { enabled #false } } }
`;
}

async function start(kdl: string, metrics = false): Promise<SentinelProcess> {
  const p = await startSentinel(kdl, { listeners: ['main'], metrics });
  cleanups.push(() => p.stop());
  return p;
}

const open = (port: number): Promise<Socket> => openSocket(port, cleanups);

describe('listener limits', () => {
  it('system max-connections: at the cap the oldest idle connection is closed to admit a new one (counted)', async () => {
    const p = await start(config('max-connections 2', '', true), true);
    const port = p.ports.get('main') as number;
    const a = await open(port);
    const b = await open(port);
    // a has been served and idles in keep-alive; b never sent anything.
    a.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((r) => a.once('data', () => r()));
    const c = await open(port);
    await closedByPeer(a); // the oldest idle connection made room
    const r = await new Promise<string>((resolve) => {
      let got = '';
      c.setEncoding('latin1').on('data', (d: string) => { got += d; if (got.includes('\r\n\r\n')) resolve(got); });
      c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    expect(r).toMatch(/^HTTP\/1\.1 200 /);
    expect(b.destroyed).toBe(false);
    const metrics = await (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text();
    expect(metrics).toContain('sentinel_limits_triggered_total{listener="main",limit="connection_evicted"} 1');
    expect(metrics).toContain('sentinel_connections_rejected_total{listener="main"} 0');
  });

  it('keepalive-max-requests: the last allowed response says Connection: close and the connection is closed', async () => {
    const p = await start(config('', 'keepalive-max-requests 2'));
    const r = await rawExchange(p.ports.get('main') as number,
      'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n');
    // A pipelined request past the limit is not answered: the client retries it on a new connection.
    expect(r.statuses).toEqual([200, 200]);
    expect(r.text.slice(r.text.indexOf('HTTP/1.1', 1))).toMatch(/connection: close/i);
    expect(r.closed).toBe(true);
  });

  it('headers-timeout-secs: a client that never finishes its request head is answered 408 and disconnected', async () => {
    const p = await start(config('', 'headers-timeout-secs 0.3; request-timeout-secs 0.3'));
    const s = await open(p.ports.get('main') as number);
    let received = '';
    s.setEncoding('latin1').on('data', (d: string) => { received += d; });
    s.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    await closedByPeer(s);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe('reloads that need a restart', () => {
  it('are refused with a message that says so, and the running config stays', async () => {
    const p = await start(config('', '', true), true);
    writeFileSync(join(p.dir, 'sentinel.kdl'), config('worker-threads 2; reuse-port #false', '', true));
    const before = p.stderr().length;
    p.child.kill('SIGHUP');
    while (!p.stderr().slice(before).includes('config reload rejected')) await new Promise((r) => setTimeout(r, 10));
    expect(p.stderr().slice(before)).toContain('system worker-threads changed: this needs a restart');
    const metrics = await (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text();
    expect(metrics).toContain('sentinel_config_reloads_total{result="rejected"} 1');
    expect(metrics).toContain('sentinel_config_generation 1');
  });
});
