// A TCP listener that completes no more handshakes: a child process listens with backlog 1 and
// then blocks its event loop (Atomics.wait, no CPU), and we fill its accept queue. Further SYNs
// are dropped by the kernel, so a connect to it hangs: the only way to get a connect timeout on
// loopback without touching any other address.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface Blackhole { readonly address: string; readonly port: number; close(): Promise<void> }

const CHILD = `
const net = require('node:net');
const s = net.createServer();
s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  process.stdout.write(String(s.address().port) + '\\n', () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  });
});
`;

export async function startBlackhole(): Promise<Blackhole> {
  const child: ChildProcess = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
    child.once('exit', (code) => reject(new Error(`blackhole exited ${code}`)));
  });
  // Fill the accept queue (backlog 1 → the kernel queues up to 2 completed handshakes).
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 100));
  return {
    address: `127.0.0.1:${port}`,
    port,
    async close() {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null) ? r(undefined) : child.once('exit', r));
    },
  };
}
