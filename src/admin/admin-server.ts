// The admin listener (off by default; bind it to loopback). POST /reload runs the same reload
// pipeline as SIGHUP and answers with its outcome; GET /status reports the running generation and
// the last reload. It has no authentication: never expose it beyond the host.
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';

export interface ReloadReport {
  readonly result: 'applied' | 'unchanged' | 'rejected';
  readonly generation: number;
  readonly errors: readonly string[];
}

export interface AdminHandlers {
  reload(trigger: string): Promise<ReloadReport>;
  status(): Record<string, unknown>;
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

export function createAdminServer(h: AdminHandlers): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    req.resume(); // bodies are not used; never leave them unread
    if (path === '/reload') {
      if (req.method !== 'POST') { res.setHeader('allow', 'POST'); json(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'Use POST.' } }); return; }
      h.reload('admin').then((report) => json(res, report.result === 'rejected' ? 422 : 200, report), (err: Error) => {
        json(res, 500, { result: 'rejected', errors: [err.message] });
      });
      return;
    }
    if (path === '/status' && (req.method === 'GET' || req.method === 'HEAD')) { json(res, 200, h.status()); return; }
    json(res, 404, { error: { code: 'ROUTE_NOT_FOUND', message: 'Not found.' } });
  });
}
