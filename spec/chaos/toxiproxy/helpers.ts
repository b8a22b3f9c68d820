// Loopback TCP peers for the fault-proxy tests. Every server records its sockets so it can be
// closed completely in afterEach.
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

export interface TestServer {
  readonly address: string;
  readonly port: number;
  /** Server-side sockets, in accept order. */
  readonly sockets: Socket[];
  /** Bytes received per accepted socket. */
  readonly received: Buffer[][];
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1:0 running `onConnection` for each client. */
export async function startServer(onConnection: (socket: Socket, index: number) => void): Promise<TestServer> {
  const sockets: Socket[] = [];
  const received: Buffer[][] = [];
  const server: Server = createServer((socket) => {
    const index = sockets.length;
    sockets.push(socket);
    const bucket: Buffer[] = [];
    received.push(bucket);
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => bucket.push(d));
    onConnection(socket, index);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    port,
    sockets,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Echoes every byte back. */
export function startEcho(): Promise<TestServer> {
  return startServer((socket) => socket.on('data', (d: Buffer) => socket.write(d)));
}

export interface TestClient {
  readonly socket: Socket;
  readonly chunks: Buffer[];
  /** performance.now() of each chunk. */
  readonly chunkTimes: number[];
  bytes(): number;
  text(): string;
  /** Resolves when the socket is closed; carries the error code if it failed. */
  readonly closed: Promise<{ readonly errorCode: string | undefined; readonly at: number; readonly ended: boolean }>;
  /** Resolves at the first byte. */
  readonly firstData: Promise<number>;
  /** Resolves once at least n bytes arrived. */
  waitForBytes(n: number): Promise<number>;
}

export function connectClient(port: number): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const chunkTimes: number[] = [];
    const waiters: Array<{ n: number; resolve: (t: number) => void }> = [];
    let total = 0;
    let ended = false;
    let errorCode: string | undefined;
    let resolveFirst: (t: number) => void = () => {};
    const firstData = new Promise<number>((r) => (resolveFirst = r));
    socket.on('data', (d: Buffer) => {
      const t = performance.now();
      chunks.push(d);
      chunkTimes.push(t);
      total += d.length;
      resolveFirst(t);
      for (const w of waiters.splice(0)) {
        if (total >= w.n) w.resolve(t);
        else waiters.push(w);
      }
    });
    socket.on('end', () => (ended = true));
    socket.on('error', (err: NodeJS.ErrnoException) => (errorCode = err.code));
    const closed = new Promise<{ errorCode: string | undefined; at: number; ended: boolean }>((r) =>
      socket.on('close', () => r({ errorCode, at: performance.now(), ended })),
    );
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve({
        socket,
        chunks,
        chunkTimes,
        bytes: () => total,
        text: () => Buffer.concat(chunks).toString('utf8'),
        closed,
        firstData,
        waitForBytes: (n) => (total >= n ? Promise.resolve(performance.now()) : new Promise((r) => waiters.push({ n, resolve: r }))),
      });
    });
  });
}

/** Port of a Toxiproxy "host:port" listen string. */
export function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `cond` holds, polling; rejects after `limitMs` (a liveness guard, not a perf bound). */
export async function until(cond: () => boolean, limitMs = 5000): Promise<void> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > limitMs) throw new Error('condition not reached');
    await sleep(5);
  }
}

/** Attempts a TCP connection and reports how it went. */
export function tryConnect(port: number): Promise<'connected' | string> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}
