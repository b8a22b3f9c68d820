// The admit phase: a route's request filters (rate limits, agents, …) run in the order the route
// lists them, before its handler. A filter continues the request, or ends it with its own reply
// (429, an agent's block, a redirect). A filter may be asynchronous (Redis, an agent call); the
// runner then resumes with the next filter when it settles, unless the exchange ended meanwhile
// (client gone, time budget spent).
//
// A route with no filters costs one length check. A synchronous filter costs one call.
import type { Exchange } from './exchange.ts';

/** `true`: go on. `false`: the filter ended the exchange itself (it replied or failed it). */
export type FilterResult = boolean | Promise<boolean>;

export interface RequestFilter {
  /** The filter id from the config (`filters { filter "id" { } }`). */
  readonly id: string;
  /** `rate-limit`, `agent`, … for logs. */
  readonly kind: string;
  /**
   * Decides on the request. A returned promise must not reject: map failures to the filter's
   * failure mode (fail-open: resolve true; fail-closed: reply and resolve false).
   */
  onRequest(ex: Exchange): FilterResult;
  /** Runs in finalize, once, after the response (or the error) is complete. Must not throw. */
  onComplete?(ex: Exchange): void;
}

function crashed(ex: Exchange, filter: RequestFilter, err: unknown): void {
  process.emitWarning(`sentinel: filter "${filter.id}" (${filter.kind}) rejected: ${(err as Error)?.message ?? String(err)}`);
  ex.fail('INTERNAL_ERROR');
}

/**
 * Runs `filters` from index `from`, then `done(ex)` unless a filter ended the exchange. `done` is
 * a module-level function (no closure per request).
 */
export function runFilterChain(ex: Exchange, filters: readonly RequestFilter[], from: number, done: (ex: Exchange) => void): void {
  for (let i = from; i < filters.length; i++) {
    const f = filters[i] as RequestFilter;
    let r: FilterResult;
    try {
      r = f.onRequest(ex);
    } catch (err) {
      crashed(ex, f, err);
      return;
    }
    if (r === true) continue;
    if (r === false) return;
    const next = i + 1;
    r.then((ok) => { if (ok && !ex.finished) runFilterChain(ex, filters, next, done); }, (err: unknown) => { if (!ex.finished) crashed(ex, f, err); });
    return;
  }
  if (!ex.finished) done(ex);
}

function runHandler(ex: Exchange): void {
  (ex.route as NonNullable<Exchange['route']>).handler.handle(ex);
}

/** Runs the route's filters from index `from`, then its handler. */
export function runFilters(ex: Exchange, from: number): void {
  const route = ex.route;
  if (route === null) return;
  runFilterChain(ex, route.filters, from, runHandler);
}
