// The naive reference matcher: a literal reading of the matching rules, with no indexing and no
// caching. It sorts on every call and re-compiles regexes, so it is slow on purpose; it exists to
// be obviously correct, as the oracle for the compiled router's property tests and as the
// baseline of the routing micro-benchmark. Do not use it on the request path.
//
// It deliberately shares no code with `router.ts`, so a bug in one is caught by the other.

import type { MatchCondition, RouteConfig } from '../config/types.ts';
import type { MatchInput } from './types.ts';

/** The specificity score of one route (the tie-break after priority): the sum over its conditions. */
export function referenceScore(route: RouteConfig): number {
  let score = 0;
  for (const c of route.matches) {
    switch (c.kind) {
      case 'path':
        score += 10000;
        break;
      case 'path-regex':
        score += 5000;
        break;
      case 'path-prefix':
        score += 1000 + c.value.length;
        break;
      case 'host':
        // Exact beats wildcard; one host condition scores its best alternative.
        score += c.values.some((v) => !normalizePattern(v).startsWith('*.')) ? 70 : 50;
        break;
      case 'header':
        score += c.value === null ? 20 : 30;
        break;
      case 'query-param':
        score += c.value === null ? 15 : 25;
        break;
      case 'method':
        score += 10;
        break;
    }
  }
  return score;
}

/** The routes in evaluation order: priority desc, then score desc, then declaration order. */
export function referenceOrder(routes: readonly RouteConfig[]): RouteConfig[] {
  const indexed = routes.map((route, index) => ({ route, index, score: referenceScore(route) }));
  indexed.sort((a, b) => b.route.priority - a.route.priority || b.score - a.score || a.index - b.index);
  return indexed.map((x) => x.route);
}

/** Lower-case, port removed (`[v6]:port` too), one trailing dot removed. */
export function referenceNormalizeHost(raw: string): string {
  let host = raw;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end >= 0) host = host.slice(0, end + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host.toLowerCase();
}

/** A configured host pattern: lower-case, one trailing dot removed. */
function normalizePattern(pattern: string): string {
  const p = pattern.toLowerCase();
  return p.endsWith('.') ? p.slice(0, -1) : p;
}

function hostMatches(pattern: string, host: string): boolean {
  const p = normalizePattern(pattern);
  if (p.startsWith('*.')) {
    const suffix = p.slice(1); // ".example.com"
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return host === p;
}

function headerValues(headers: MatchInput['headers'], name: string): string[] {
  const v = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

function headerPresent(headers: MatchInput['headers'], name: string): boolean {
  const v = Object.hasOwn(headers, name) ? headers[name] : undefined;
  return typeof v === 'string' || Array.isArray(v);
}

function conditionMatches(c: MatchCondition, input: MatchInput): boolean {
  switch (c.kind) {
    case 'path':
      return input.path === c.value;
    case 'path-prefix':
      if (c.value.endsWith('/')) return input.path.startsWith(c.value);
      return input.path === c.value || input.path.startsWith(c.value + '/');
    case 'path-regex':
      return new RegExp(c.value).test(input.path);
    case 'host': {
      if (input.host === undefined) return false;
      const host = referenceNormalizeHost(input.host);
      return c.values.some((pattern) => hostMatches(pattern, host));
    }
    case 'method':
      return c.values.includes(input.method);
    case 'header': {
      const name = c.name.toLowerCase();
      if (c.value === null) return headerPresent(input.headers, name);
      return headerValues(input.headers, name).includes(c.value);
    }
    case 'query-param': {
      if (input.query === null) return false;
      // The leading '&' stops URLSearchParams from eating a '?' that belongs to the query.
      const params = new URLSearchParams('&' + input.query);
      if (c.value === null) return params.has(c.name);
      return params.getAll(c.name).includes(c.value);
    }
  }
}

export function referenceMatch(
  routes: readonly RouteConfig[],
  defaultRouteId: string | null,
  input: MatchInput,
): RouteConfig | null {
  return referenceMatchInOrder(referenceOrder(routes), routes, defaultRouteId, input);
}

/**
 * The linear scan alone, over routes already in evaluation order (`referenceOrder`): a fairer
 * baseline for the benchmark than `referenceMatch`, which re-sorts on every call.
 */
export function referenceMatchInOrder(
  ordered: readonly RouteConfig[],
  declared: readonly RouteConfig[],
  defaultRouteId: string | null,
  input: MatchInput,
): RouteConfig | null {
  for (const route of ordered) {
    if (route.matches.every((c) => conditionMatches(c, input))) return route;
  }
  if (defaultRouteId === null) return null;
  return declared.find((r) => r.id === defaultRouteId) ?? null;
}
