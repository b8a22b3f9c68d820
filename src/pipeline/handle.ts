// The entry of the request pipeline for one request: sanitize → listener limits → route → admit
// (concurrency, filters) → handler. A listener's rate-limit filters (its global limit) run before
// routing, so they count every request on the listener, matched or not.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Exchange } from './exchange.ts';
import type { ListenerContext } from './context.ts';
import type { CompiledListener } from '../compile/snapshot.ts';
import { sanitize } from './sanitize.ts';
import { runFilterChain, runFilters } from './filters.ts';

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
  if (listener !== undefined && listener.filters.length > 0) runFilterChain(ex, listener.filters, 0, routeAfterListenerFilters);
  else route(ex, listener);
}

function routeAfterListenerFilters(ex: Exchange): void {
  route(ex, ex.snapshot.listeners.get(ex.ctx.listenerId));
}

/** Routes the exchange, then the route's admission (concurrency, filters) and its handler. */
function route(ex: Exchange, listener: CompiledListener | undefined): void {
  const req = ex.req;
  const matched = listener === undefined ? null : listener.router.match({
    method: req.method as string,
    host: ex.host,
    path: ex.path,
    query: ex.query,
    headers: req.headers,
  });
  const compiled = matched === null ? undefined : ex.snapshot.routes.get(matched);
  if (compiled === undefined) {
    ex.fail('ROUTE_NOT_FOUND');
    return;
  }
  ex.route = compiled;
  ex.routeMetrics = compiled.metrics;
  const gate = compiled.concurrency;
  if (gate !== null) {
    if (gate.active >= gate.max) {
      ex.limitExceeded('route_concurrency', 'ROUTE_CONCURRENCY_LIMITED', ['retry-after', '1']);
      return;
    }
    gate.active++;
    ex.concurrency = gate;
  }
  if (compiled.filters.length === 0) compiled.handler.handle(ex);
  else runFilters(ex, 0);
}
