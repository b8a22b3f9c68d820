// A small RFC 6455 upstream for WebSocket tests: a real handshake (Sec-WebSocket-Accept), frame
// parsing with masks and 16/64-bit lengths, echo of text and binary messages, ping/pong, and the
// close handshake. Clients in the tests are Node's own WebSocket (undici), a full implementation.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface WsPeer {
  readonly socket: Socket;
  readonly request: IncomingMessage;
  /** Messages received (text as string, binary as Buffer). */
  readonly messages: Array<string | Buffer>;
  /** Close frame received from the client, if any. */
  closeReceived: { code: number; reason: string } | null;
  send(data: string | Buffer): void;
  close(code: number, reason: string): void;
}

export interface WsUpstream {
  readonly server: Server;
  readonly port: number;
  readonly address: string;
  readonly peers: WsPeer[];
  /** Every upgrade request head seen. */
  readonly upgrades: IncomingMessage[];
  /** Plain (non-upgrade) requests seen, with their Upgrade header if any. */
  readonly plain: IncomingMessage[];
  /** Resolves with the next peer that connects. */
  nextPeer(): Promise<WsPeer>;
  close(): Promise<void>;
}

export interface WsUpstreamOptions {
  /** Answer upgrades with this status instead of 101. */
  readonly refuseWith?: number;
  /** Echo messages back (default true). */
  readonly echo?: boolean;
}

export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len])
    : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
    : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
  return Buffer.concat([head, payload]);
}

function attach(socket: Socket, request: IncomingMessage, echo: boolean): WsPeer {
  let buf: Buffer = Buffer.alloc(0);
  let fragments: Buffer[] = [];
  let fragOpcode = 0;
  const peer: WsPeer = {
    socket,
    request,
    messages: [],
    closeReceived: null,
    send(data) {
      socket.write(encodeFrame(typeof data === 'string' ? 1 : 2, typeof data === 'string' ? Buffer.from(data) : data));
    },
    close(code, reason) {
      const p = Buffer.alloc(2 + Buffer.byteLength(reason));
      p.writeUInt16BE(code);
      p.write(reason, 2);
      socket.write(encodeFrame(8, p));
    },
  };
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const b0 = buf[0] as number;
      const b1 = buf[1] as number;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      const masked = (b1 & 0x80) !== 0;
      const mask = masked ? buf.subarray(off, off + 4) : null;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (mask !== null) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
      buf = buf.subarray(off + len);
      const fin = (b0 & 0x80) !== 0;
      let opcode = b0 & 0x0f;
      if (opcode === 0) {
        fragments.push(payload);
        if (!fin) continue;
        opcode = fragOpcode;
      } else if (!fin) {
        fragOpcode = opcode;
        fragments = [payload];
        continue;
      }
      const data: Buffer = fragments.length > 0 && (b0 & 0x0f) === 0 ? Buffer.concat(fragments) : payload;
      if ((b0 & 0x0f) === 0) fragments = [];
      if (opcode === 1 || opcode === 2) {
        peer.messages.push(opcode === 1 ? data.toString('utf8') : data);
        if (echo) socket.write(encodeFrame(opcode, data));
      } else if (opcode === 8) {
        peer.closeReceived = { code: data.length >= 2 ? data.readUInt16BE(0) : 1005, reason: data.subarray(2).toString('utf8') };
        socket.end(encodeFrame(8, data));
      } else if (opcode === 9) {
        socket.write(encodeFrame(10, data));
      }
    }
  });
  socket.on('error', () => undefined);
  // A peer that half-closes is gone (WebSocket has no half-close): close our side too.
  socket.on('end', () => socket.end());
  return peer;
}

export async function startWsUpstream(options: WsUpstreamOptions = {}): Promise<WsUpstream> {
  const peers: WsPeer[] = [];
  const upgrades: IncomingMessage[] = [];
  const plain: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  const waiters: Array<(p: WsPeer) => void> = [];
  const server = createServer((req, res) => {
    plain.push(req);
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end(`plain request, upgrade header: ${req.headers.upgrade ?? 'none'}`);
  });
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades.push(req);
    if (options.refuseWith !== undefined) {
      socket.end(`HTTP/1.1 ${options.refuseWith} Refused\r\ncontent-type: text/plain\r\ncontent-length: 7\r\nconnection: close\r\n\r\nrefused`);
      return;
    }
    const key = String(req.headers['sec-websocket-key'] ?? '');
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Upstream: ws-test\r\n\r\n`);
    const peer = attach(socket, req, options.echo !== false);
    if (head.length > 0) socket.unshift(head);
    peers.push(peer);
    const w = waiters.shift();
    if (w !== undefined) w(peer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server, port, address: `127.0.0.1:${port}`, peers, upgrades, plain,
    nextPeer: () => new Promise((resolve) => waiters.push(resolve)),
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
