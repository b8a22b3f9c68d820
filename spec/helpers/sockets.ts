// Raw TCP connections for limit tests: open one (resolved once the server accepted it), and wait
// for the server to close it.
import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** Opens a TCP connection to 127.0.0.1:`port`; `cleanups` gets a function that destroys it. */
export function openSocket(port: number, cleanups: Array<() => unknown>): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
    cleanups.push(() => { s.destroy(); });
  });
}

/** Resolves once the peer has closed `s` (reading and discarding whatever it sends). */
export function closedByPeer(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) { resolve(); return; }
    s.once('close', () => resolve());
    s.on('error', () => undefined);
    s.resume();
  });
}
