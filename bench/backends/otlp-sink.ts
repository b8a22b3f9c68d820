// OTLP/HTTP trace sink for the tracing benchmark scenarios: accepts `POST /v1/traces` (any body),
// answers 200 with an empty ExportTraceServiceResponse, and counts what it received.
// Usage: node bench/backends/otlp-sink.ts PORT   (binds 127.0.0.1 only)
import http from 'node:http';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: otlp-sink.ts PORT\n');
  process.exit(2);
}

let exports = 0;
let bytes = 0;
const server = http.createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
  req.on('data', (c: Buffer) => { bytes += c.length; });
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/v1/traces') {
      exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
    } else {
      res.writeHead(404, { 'content-length': '0' });
    }
    res.end();
  });
});
server.listen({ port, host: '127.0.0.1', backlog: 1024 });
process.on('SIGTERM', () => {
  process.stderr.write(`otlp-sink: ${exports} exports, ${bytes} bytes\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
