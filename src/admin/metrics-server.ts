// The metrics listener: Prometheus text exposition on one path, 404 elsewhere.
import { createServer } from 'node:http';
import type { Server } from 'node:http';

/** What the listener exposes: a prom-client Registry, or the multi-worker primary's aggregate. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export function createMetricsServer(source: MetricsSource, path: string): Server {
  return createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const p = q < 0 ? url : url.slice(0, q);
    if (p !== path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      const body = JSON.stringify({ error: { code: 'ROUTE_NOT_FOUND', message: 'Not found.' } });
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    source.metrics().then((text) => {
      res.writeHead(200, { 'content-type': source.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    }, (err: Error) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`metrics collection failed: ${err.message}\n`);
    });
  });
}
