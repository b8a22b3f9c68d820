// The runner's own loopback upstream: answers every request with a 13-byte body (the benchmarks' small
// body). Keeps no per-request state, so it cannot grow during a long soak. Idle keep-alive connections
// are closed after `keepAliveMs` (2 s), so once the load stops the proxy's upstream sockets go away and
// the runner can check that the proxy's fds return to their baseline.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface SoakUpstream {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

const BODY = Buffer.from('Hello, world!');

export async function startSoakUpstream(keepAliveMs = 2000): Promise<SoakUpstream> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
  server.keepAliveTimeout = keepAliveMs;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
