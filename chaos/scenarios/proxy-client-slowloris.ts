// Slowloris: many clients open connections and send their request head one header at a time, never
// finishing it, while a normal client keeps using the proxy.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { MARGIN_MS, drillConfig, fmtMs } from '../lib/drill.ts';
import type { Drill } from '../lib/drill.ts';
import { sendMany } from '../lib/http.ts';
import { sumOf } from '../lib/metrics.ts';
import type { Scenario } from '../lib/scenario.ts';

const ATTACKERS = 50;
const DRIP_MS = 500;
const HEADERS_TIMEOUT_SECS = 2;
const NORMAL = 20;
const BOUND_MS = HEADERS_TIMEOUT_SECS * 1000 + MARGIN_MS;

interface Attacker {
  readonly socket: Socket;
  readonly openedAt: number;
  closedAt: number | null;
  received: string;
}

function attack(port: number): Attacker {
  const socket = connect({ host: '127.0.0.1', port });
  const a: Attacker = { socket, openedAt: performance.now(), closedAt: null, received: '' };
  let n = 0;
  const drip = setInterval(() => socket.write(`x-drip-${n++}: ${'a'.repeat(10)}\r\n`), DRIP_MS);
  socket.setEncoding('latin1');
  socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: drill\r\n'));
  socket.on('data', (chunk: string) => (a.received += chunk));
  socket.on('error', () => undefined);
  socket.on('close', () => {
    clearInterval(drip);
    a.closedAt = performance.now();
  });
  return a;
}

export const scenario: Scenario<Drill> = {
  name: 'proxy-client-slowloris',
  area: 'proxy',
  fault: `${ATTACKERS} slowloris connections each send one header line every ${fmtMs(DRIP_MS)} and never finish the head; listener headers-timeout-secs ${HEADERS_TIMEOUT_SECS}`,
  expectation:
    `a normal client meanwhile gets ${NORMAL}×200; every slowloris connection gets 408 and is closed by the proxy within headers-timeout-secs + ${fmtMs(MARGIN_MS)} = ${fmtMs(BOUND_MS)}; ` +
    `sentinel_active_connections{listener="main"} back to 0`,
  ci: true,
  timeoutMs: 60_000,
  async run(d) {
    const up = await d.upstream((_req, res) => res.end('ok'));
    const s = await d.sentinel(drillConfig({ targets: [up.address], listener: `headers-timeout-secs ${HEADERS_TIMEOUT_SECS}` }));
    d.progress(`${ATTACKERS} slowloris connections`);
    const attackers = Array.from({ length: ATTACKERS }, () => attack(s.port));
    d.defer(() => attackers.forEach((a) => a.socket.destroy()));
    await new Promise((r) => setTimeout(r, DRIP_MS));
    d.progress(`normal client: ${NORMAL} requests`);
    const normal = await sendMany(s.port, '/', NORMAL, 1, { timeoutMs: 10_000 });
    d.expectOutcomes('normal client', `${NORMAL}×200`, normal, (o) => o.status === 200 && o.complete);

    d.progress('waiting for the proxy to drop the slowloris connections');
    const deadline = performance.now() + BOUND_MS + 5000;
    while (attackers.some((a) => a.closedAt === null) && performance.now() < deadline && !d.signal.aborted) await new Promise((r) => setTimeout(r, 50));
    const closed = attackers.filter((a) => a.closedAt !== null);
    const got408 = attackers.filter((a) => a.received.startsWith('HTTP/1.1 408'));
    const slowest = Math.max(...closed.map((a) => a.closedAt! - a.openedAt));
    d.check('slowloris closed by the proxy', `${ATTACKERS}/${ATTACKERS}`, `${closed.length}/${ATTACKERS}`, closed.length === ATTACKERS);
    d.check('slowloris answered 408', `${ATTACKERS}/${ATTACKERS}`, `${got408.length}/${ATTACKERS}`, got408.length === ATTACKERS);
    d.expectAtMost('last slowloris closed after', closed.length === 0 ? Infinity : slowest, BOUND_MS);
    const active = sumOf(await s.metrics(), 'sentinel_active_connections', { listener: 'main' });
    d.check('sentinel_active_connections{listener="main"}', '0', String(active), active === 0);
  },
};
