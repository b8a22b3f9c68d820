// Child process of the `http-proxy` scenario. Usage: node http-proxy-server.ts PORT TARGET_URL
import http from 'node:http';
import { createRequire } from 'node:module';

interface ProxyServer {
  web(req: http.IncomingMessage, res: http.ServerResponse): void;
  on(event: 'error', fn: (err: Error, req: http.IncomingMessage, res: http.ServerResponse | unknown) => void): void;
}
interface HttpProxyModule {
  createProxyServer(opts: { target: string; agent: http.Agent }): ProxyServer;
}

const httpProxy = createRequire(import.meta.url)('http-proxy') as HttpProxyModule;
const port = Number(process.argv[2]);
const target = process.argv[3];
if (!Number.isInteger(port) || port <= 0 || target === undefined) {
  process.stderr.write('usage: http-proxy-server.ts PORT TARGET_URL\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ target, agent });
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) {
    res.writeHead(502, { 'content-length': '0' });
    res.end();
  } else if (res instanceof http.ServerResponse) {
    res.destroy();
  }
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.listen({ port, host: '127.0.0.1', backlog: 4096 });
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
