// Fallback benchmark backend when nginx is absent: `/` answers 13 bytes, `/big` 64 KiB, anything else 404.
// Usage: node bench/backends/node-origin.ts PORT   (binds 127.0.0.1 only)
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: node-origin.ts PORT\n');
  process.exit(2);
}

const small = Buffer.from('Hello, world!');
const big = randomBytes(65536);
const smallHeaders = { 'content-type': 'text/plain', 'content-length': String(small.length) };
const bigHeaders = { 'content-type': 'application/octet-stream', 'content-length': String(big.length) };

const server = http.createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
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
});
server.listen({ port, host: '127.0.0.1', backlog: 4096 });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
