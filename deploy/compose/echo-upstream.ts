// The compose topology's echo upstream: answers every request with a JSON echo of what it received
// (method, path, headers, body size). node deploy/compose/echo-upstream.ts [--port 3000] [--host 127.0.0.1]
// Prints {"event":"listening","address":"HOST:PORT"} once bound; SIGTERM/SIGINT close it.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { port: { type: 'string', default: '3000' }, host: { type: 'string', default: '127.0.0.1' } },
  strict: true,
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`echo-upstream: bad --port ${values.port}\n`);
  process.exit(2);
}
const MAX_BODY_BYTES = 1 << 20;

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_BODY_BYTES) req.destroy();
  });
  req.on('end', () => {
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyBytes: bytes });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, values.host, () => {
  const a = server.address() as { address: string; port: number };
  process.stdout.write(`${JSON.stringify({ event: 'listening', address: `${a.address}:${a.port}` })}\n`);
});
const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
