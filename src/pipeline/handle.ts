// The entry of the request pipeline for one request: sanitize → route → filters → handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Exchange } from './exchange.ts';
import type { ListenerContext } from './context.ts';
import { sanitize } from './sanitize.ts';
import { runFilters } from './filters.ts';

export function handleRequest(ctx: ListenerContext, req: IncomingMessage, res: ServerResponse): void {
  const snapshot = ctx.state.current;
  ctx.metrics.activeRequests++;
  const ex = new Exchange(ctx, snapshot, req, res);
  if (ctx.draining) {
    ex.fail('SHUTTING_DOWN');
    return;
  }
  if (!sanitize(ex)) return;
  const listener = snapshot.listeners.get(ctx.listenerId);
  const matched = listener === undefined ? null : listener.router.match({
    method: req.method as string,
    host: ex.host,
    path: ex.path,
    query: ex.query,
    headers: req.headers,
  });
  const route = matched === null ? undefined : snapshot.routes.get(matched);
  if (route === undefined) {
    ex.fail('ROUTE_NOT_FOUND');
    return;
  }
  ex.route = route;
  ex.routeMetrics = route.metrics;
  if (route.filters.length === 0) route.handler.handle(ex);
  else runFilters(ex, 0);
}
