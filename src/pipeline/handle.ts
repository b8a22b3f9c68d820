// The entry of the request pipeline for one request: sanitize → route → admit (concurrency,
// filters) → handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Exchange } from './exchange.ts';
import type { ListenerContext } from './context.ts';
import { sanitize } from './sanitize.ts';
import { runFilters } from './filters.ts';

/** Expectation of the request: none, `100-continue` (answered when the body is read), or another (417). */
export type Expectation = 'none' | 'continue' | 'unsupported';

export function handleRequest(ctx: ListenerContext, req: IncomingMessage, res: ServerResponse, expectation: Expectation = 'none'): void {
  const snapshot = ctx.state.current;
  ctx.metrics.activeRequests++;
  const ex = new Exchange(ctx, snapshot, req, res);
  if (ctx.draining) {
    ex.fail('SHUTTING_DOWN');
    return;
  }
  if (expectation !== 'none') {
    if (expectation === 'unsupported') {
      ex.reject('EXPECTATION_FAILED', 'unsupported Expect');
      return;
    }
    ex.expectContinue = true;
  }
  const listener = snapshot.listeners.get(ctx.listenerId);
  if (!sanitize(ex, listener)) return;
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
  const gate = route.concurrency;
  if (gate !== null) {
    if (gate.active >= gate.max) {
      ex.limitExceeded('route_concurrency', 'ROUTE_CONCURRENCY_LIMITED', ['retry-after', '1']);
      return;
    }
    gate.active++;
    ex.concurrency = gate;
  }
  if (route.filters.length === 0) route.handler.handle(ex);
  else runFilters(ex, 0);
}
