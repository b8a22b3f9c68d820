// Fallback benchmark backend when nginx is absent: `/` answers 13 bytes, `/big` 64 KiB, anything else 404.
// Usage: node bench/backends/node-origin.ts PORT [PORT…]   (binds 127.0.0.1 only; one server per port)
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0)) {
  process.stderr.write('usage: node-origin.ts PORT [PORT…]\n');
  process.exit(2);
}

const small = Buffer.from('Hello, world!');
const big = randomBytes(65536);
const smallHeaders = { 'content-type': 'text/plain', 'content-length': String(small.length) };
const bigHeaders = { 'content-type': 'application/octet-stream', 'content-length': String(big.length) };

const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
  if (req.url === '/') {
    res.writeHead(200, smallHeaders);
    res.end(small);
  } else if (req.url === '/big') {
    res.writeHead(200, bigHeaders);
    res.end(big);
  } else {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
  }
};
const servers = ports.map((port) => {
  const server = http.createServer({ keepAliveTimeout: 120_000 }, handler);
  server.listen({ port, host: '127.0.0.1', backlog: 4096 });
  return server;
});
process.on('SIGTERM', () => {
  let open = servers.length;
  for (const s of servers) s.close(() => { if (--open === 0) process.exit(0); });
});
