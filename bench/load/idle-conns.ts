// Opens N keep-alive connections to 127.0.0.1:<port>, sends one GET on each, reads its answer, and
// keeps them all open and idle: `node idle-conns.ts <port> <n>`. Prints `ready <ok> failed <n>` once
// every connection has been answered (or failed), then holds them until it is killed. Run it
// through `ulimit -n` when N approaches the open-file limit.
import { connect } from 'node:net';
import type { Socket } from 'node:net';

const port = Number(process.argv[2]);
const total = Number(process.argv[3]);
const sockets: Socket[] = [];
let ok = 0;
let failed = 0;

function one(): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    let settled = false;
    const done = (good: boolean): void => {
      if (settled) return;
      settled = true;
      if (good) ok++;
      else failed++;
      resolve();
    };
    s.setEncoding('latin1');
    s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n'));
    s.on('data', (d: string) => {
      got += d;
      // Every scenario answers the 13-byte body: the head and the body are in.
      if (/^HTTP\/1\.1 200 /.test(got) && got.endsWith('Hello, world!')) done(true);
    });
    s.on('error', () => done(false));
    s.on('close', () => done(false));
    sockets.push(s);
  });
}

async function main(): Promise<void> {
  for (let i = 0; i < total; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, total - i) }, one));
  }
  process.stdout.write(`ready ${ok} failed ${failed}\n`);
}

process.on('SIGTERM', () => { for (const s of sockets) s.destroy(); process.exit(0); });
void main();
