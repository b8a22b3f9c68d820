// The route matcher's contract. One implementation is compiled (`router.ts`); `reference.ts` is the
// naive linear oracle it is property-tested against.

import type { RouteConfig } from '../config/types.ts';

/** What the matcher needs from a request. Built once per request by the server. */
export interface MatchInput {
  readonly method: string;
  /** The raw Host header (may carry a port and a trailing dot); undefined when absent. */
  readonly host: string | undefined;
  /** The request path, without the query string. */
  readonly path: string;
  /** The raw query string, without the leading '?'; null when the target had no '?'. */
  readonly query: string | null;
  /** Lower-case names, node:http style. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface Router {
  /** The first matching route in evaluation order, else the default route, else null (404). */
  match(input: MatchInput): RouteConfig | null;
  /** The routes in evaluation order: priority desc, specificity desc, declaration order. */
  readonly routes: readonly RouteConfig[];
}
