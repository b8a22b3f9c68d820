// A slowloris client, run as its own process (so it can have its own open-file limit):
// `node slowloris.ts <port> <connections>` opens that many connections to 127.0.0.1:<port>, sends an
// unfinished request head on each, then one more header line every 2 s, and never ends the head.
// It prints `ready <open>` once every connection is open, and `closed <n>` whenever the server has
// closed some. It exits when its stdin closes.
import { connect } from 'node:net';
import type { Socket } from 'node:net';

const port = Number(process.argv[2]);
const total = Number(process.argv[3]);
const sockets = new Set<Socket>();
let opened = 0;
let closed = 0;
let failed = 0;

function report(): void {
  process.stdout.write(`closed ${closed}\n`);
}

async function main(): Promise<void> {
  // Open in batches so the accept queue is never the bottleneck being measured.
  for (let i = 0; i < total; i += 500) {
    const batch: Array<Promise<void>> = [];
    for (let j = i; j < Math.min(total, i + 500); j++) {
      batch.push(new Promise<void>((resolve) => {
        const s = connect({ host: '127.0.0.1', port });
        s.on('connect', () => { opened++; sockets.add(s); s.write('GET / HTTP/1.1\r\nHost: slow\r\n'); resolve(); });
        s.on('error', () => { failed++; resolve(); });
        s.on('close', () => { if (sockets.delete(s)) closed++; });
        s.on('data', () => undefined);
      }));
    }
    await Promise.all(batch);
  }
  process.stdout.write(`ready ${opened} failed ${failed}\n`);
  setInterval(() => {
    for (const s of sockets) s.write('X-Slow: 1\r\n');
    report();
  }, 2000);
}

process.stdin.on('close', () => { for (const s of sockets) s.destroy(); process.exit(0); });
process.stdin.resume();
void main();
