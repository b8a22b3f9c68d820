// The entry of the request pipeline for one request: sanitize → route → admit (concurrency,
// filters) → handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Exchange } from './exchange.ts';
import type { ListenerContext } from './context.ts';
import { sanitize } from './sanitize.ts';
import { runFilters } from './filters.ts';

/** Expectation of the request: `100-continue` (answered when the body is read), or another (417). */
export type Expectation = 'continue' | 'unsupported';

const kExpectation = Symbol('sentinel.expectation');

type RequestWithExpectation = IncomingMessage & { [kExpectation]?: Expectation };

/** The server events `installExpectationHandlers` needs (node:http and node:http2 servers). */
interface ExpectationEmitter {
  on(event: 'checkContinue' | 'checkExpectation', listener: (req: IncomingMessage, res: ServerResponse) => void): unknown;
  emit(event: 'request', req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * Expect (RFC 9110 §10.1.1): with these listeners Node neither sends `100 Continue` on its own
 * nor answers other expectations with a bare 417. The request goes through the ordinary 'request'
 * path, marked: the pipeline sends 100 only when a handler is about to read the body (after
 * routing, the route's limits and its filters admitted the request), and answers any other
 * expectation with its own 417.
 */
export function installExpectationHandlers(server: ExpectationEmitter): void {
  server.on('checkContinue', (req, res) => {
    (req as RequestWithExpectation)[kExpectation] = 'continue';
    server.emit('request', req, res);
  });
  server.on('checkExpectation', (req, res) => {
    (req as RequestWithExpectation)[kExpectation] = 'unsupported';
    server.emit('request', req, res);
  });
}

export function handleRequest(ctx: ListenerContext, req: IncomingMessage, res: ServerResponse): void {
  const snapshot = ctx.state.current;
  ctx.metrics.activeRequests++;
  const ex = new Exchange(ctx, snapshot, req, res);
  if (ctx.draining) {
    ex.fail('SHUTTING_DOWN');
    return;
  }
  const expectation = (req as RequestWithExpectation)[kExpectation];
  if (expectation !== undefined) {
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
