// The compiled route matcher: built once per config, consulted on every request.
//
// Semantics (pinned by spec/routing/router.test.ts, checked against reference.ts by property tests):
// all conditions of a route are AND-ed; evaluation order is priority desc, specificity score desc,
// declaration order; the first matching route wins; else the listener's default route; else null.
//
// How it stays fast with many routes without changing that first-match order:
// - Every route gets its position in evaluation order (`order`) and is filed in one index under a
//   condition it cannot match without, most selective first: its exact path (Map); else its path
//   prefix (radix tree, if longer than "/"); else the literal start of an `^`-anchored regex (same
//   tree, plain startsWith); else its hosts (exact: Map; `*.x`: Map by suffix); else a "/" prefix;
//   else the `rest` list. Each index list is sorted by `order`.
// - A request looks up the lists it could match in (one exact-path list, the tree lists along its
//   path, its host's lists, `rest`), finds the first match in each, and keeps the smallest
//   `order`. A list scan stops as soon as it reaches an `order` no better than the best so far,
//   and a whole index is skipped when its first `order` is no better.
// - Conditions are pre-compiled into flat checks, cheapest first, regexes compiled once. Per
//   request there are no closures and no path splitting; the host is normalised at most once and
//   the query string is only parsed when a query condition is reached and the query holds
//   encoded characters (plain queries are scanned in place).

import type { MatchCondition, RouteConfig } from '../config/types.ts';
import type { MatchInput, Router } from './types.ts';

// Check opcodes, in the order checks run (cheapest first).
const OP_METHOD = 0;
const OP_PATH = 1;
const OP_PREFIX = 2;
const OP_PREFIX_SLASH = 3;
const OP_HEADER = 4;
const OP_HOST = 5;
const OP_QUERY = 6;
const OP_REGEX = 7;

/** One pre-compiled condition. One shape for every opcode keeps the check loop monomorphic. */
interface Check {
  readonly op: number;
  /** Path / prefix / header name / query name. */
  readonly str: string;
  /** Header or query value; null = presence only. */
  readonly value: string | null;
  /** Methods, or exact hosts (normalised). */
  readonly list: readonly string[];
  /** Wildcard host suffixes such as `.example.com`. */
  readonly suffixes: readonly string[];
  readonly re: RegExp | null;
}

interface CompiledRoute {
  readonly route: RouteConfig;
  /** Position in evaluation order; lower is tried first. */
  readonly order: number;
  readonly checks: readonly Check[];
}

interface PrefixNode {
  /** The edge label leading into this node. */
  label: string;
  /** Keyed by the first char code of the child's label. */
  children: Map<number, PrefixNode> | null;
  /** Routes filed under a path prefix ending exactly here (segment-boundary match), by `order`. */
  routes: CompiledRoute[] | null;
  /** Routes filed under a regex's literal start ending exactly here (plain startsWith), by `order`. */
  raw: CompiledRoute[] | null;
}

const SLASH = 47;
const DOT = 46;
/** A query needing the full WHATWG decoder: percent escapes, '+', or lone surrogates. */
const QUERY_NEEDS_DECODE = /[%+\uD800-\uDFFF]/;
const REGEX_META = '\\^$.|?*+()[]{}';

/** Specificity score: the sum over conditions (see the table in router.test.ts). */
export function specificityScore(route: RouteConfig): number {
  let score = 0;
  for (const c of route.matches) score += conditionScore(c);
  return score;
}

function conditionScore(c: MatchCondition): number {
  switch (c.kind) {
    case 'path':
      return 10000;
    case 'path-regex':
      return 5000;
    case 'path-prefix':
      return 1000 + c.value.length;
    case 'host':
      for (const v of c.values) if (!isWildcard(normalizeHostPattern(v))) return 70;
      return 50;
    case 'header':
      return c.value === null ? 20 : 30;
    case 'query-param':
      return c.value === null ? 15 : 25;
    case 'method':
      return 10;
  }
}

/** Normalises a Host header: port removed (also after `[v6]`), one trailing dot removed, lower-case. */
export function normalizeHost(raw: string): string {
  let end = raw.length;
  if (raw.charCodeAt(0) === 91 /* [ */) {
    const close = raw.indexOf(']');
    if (close >= 0) end = close + 1;
  } else {
    const colon = raw.indexOf(':');
    if (colon >= 0) end = colon;
  }
  if (end > 0 && raw.charCodeAt(end - 1) === DOT) end--;
  const host = end === raw.length ? raw : raw.slice(0, end);
  return host.toLowerCase();
}

function normalizeHostPattern(pattern: string): string {
  const p = pattern.toLowerCase();
  return p.charCodeAt(p.length - 1) === DOT ? p.slice(0, -1) : p;
}

function isWildcard(normalizedPattern: string): boolean {
  return normalizedPattern.startsWith('*.');
}

function makeCheck(op: number, fields: Partial<Omit<Check, 'op'>>): Check {
  return { op, str: fields.str ?? '', value: fields.value ?? null, list: fields.list ?? [], suffixes: fields.suffixes ?? [], re: fields.re ?? null };
}

function compileCondition(c: MatchCondition, routeId: string): Check {
  switch (c.kind) {
    case 'method':
      return makeCheck(OP_METHOD, { list: [...c.values] });
    case 'path':
      return makeCheck(OP_PATH, { str: c.value });
    case 'path-prefix':
      return c.value.endsWith('/') ? makeCheck(OP_PREFIX_SLASH, { str: c.value }) : makeCheck(OP_PREFIX, { str: c.value });
    case 'header':
      return makeCheck(OP_HEADER, { str: c.name.toLowerCase(), value: c.value });
    case 'host': {
      const exact: string[] = [];
      const suffixes: string[] = [];
      for (const v of c.values) {
        const p = normalizeHostPattern(v);
        if (isWildcard(p)) suffixes.push(p.slice(1));
        else exact.push(p);
      }
      return makeCheck(OP_HOST, { list: exact, suffixes });
    }
    case 'query-param':
      return makeCheck(OP_QUERY, { str: c.name, value: c.value });
    case 'path-regex': {
      let re: RegExp;
      try {
        re = new RegExp(c.value);
      } catch (err) {
        // The config loader reports invalid regexes as diagnostics; reaching this is a bug there.
        throw new Error(`route "${routeId}": invalid path-regex ${JSON.stringify(c.value)}`, { cause: err });
      }
      return makeCheck(OP_REGEX, { str: c.value, re });
    }
  }
}

/**
 * The literal text every match of `source` (compiled with no flags) must start with, or ''.
 * Only for `^`-anchored patterns without `|` (an alternation could escape the anchor); the run
 * stops at the first metacharacter, and drops its last char if a quantifier follows it.
 */
export function regexLiteralPrefix(source: string): string {
  if (source.charCodeAt(0) !== 94 /* ^ */ || source.includes('|')) return '';
  let i = 1;
  while (i < source.length && !REGEX_META.includes(source[i] as string)) i++;
  const literal = source.slice(1, i);
  const next = source[i];
  return next === '?' || next === '*' || next === '+' || next === '{' ? literal.slice(0, -1) : literal;
}

function insertPrefix(root: PrefixNode, key: string, route: CompiledRoute, raw: boolean): void {
  let node = root;
  let pos = 0;
  for (;;) {
    if (pos === key.length) {
      if (raw) (node.raw ??= []).push(route);
      else (node.routes ??= []).push(route);
      return;
    }
    const first = key.charCodeAt(pos);
    const children = (node.children ??= new Map());
    const child = children.get(first);
    if (child === undefined) {
      const leaf: PrefixNode = { label: key.slice(pos), children: null, routes: null, raw: null };
      children.set(first, leaf);
      node = leaf;
      pos = key.length;
      continue;
    }
    const label = child.label;
    let common = 0;
    while (common < label.length && pos + common < key.length && label.charCodeAt(common) === key.charCodeAt(pos + common)) common++;
    if (common < label.length) {
      // Split the edge: node -> mid (shared part) -> child (rest of its label).
      const mid: PrefixNode = { label: label.slice(0, common), children: new Map([[label.charCodeAt(common), child]]), routes: null, raw: null };
      child.label = label.slice(common);
      children.set(first, mid);
      node = mid;
    } else {
      node = child;
    }
    pos += common;
  }
}

function pushToBucket(map: Map<string, CompiledRoute[]>, key: string, route: CompiledRoute): void {
  const bucket = map.get(key);
  if (bucket === undefined) map.set(key, [route]);
  else if (bucket[bucket.length - 1] !== route) bucket.push(route);
}

export function compileRouter(routes: readonly RouteConfig[], defaultRouteId: string | null): Router {
  // Evaluation order: priority desc, score desc, declaration order (Array#sort is stable).
  const scored = routes.map((route, index) => ({ route, index, score: specificityScore(route) }));
  scored.sort((a, b) => b.route.priority - a.route.priority || b.score - a.score || a.index - b.index);
  const ordered = scored.map((s) => s.route);

  let defaultRoute: RouteConfig | null = null;
  if (defaultRouteId !== null) {
    defaultRoute = routes.find((r) => r.id === defaultRouteId) ?? null;
    if (defaultRoute === null) throw new Error(`default route "${defaultRouteId}" is not a known route`);
  }

  const byPath = new Map<string, CompiledRoute[]>();
  const byHost = new Map<string, CompiledRoute[]>();
  /** Wildcard hosts by suffix (`.example.com`). */
  const bySuffix = new Map<string, CompiledRoute[]>();
  let maxSuffixDots = 0;
  const prefixRoot: PrefixNode = { label: '', children: null, routes: null, raw: null };
  const rest: CompiledRoute[] = [];
  // The first `order` filed in each index: a stage is skipped once a better match is known.
  const NONE = Number.MAX_SAFE_INTEGER;
  let prefixMin = NONE;
  let hostMin = NONE;

  // Routes are visited in evaluation order, so every index list comes out sorted by `order`.
  // Each route is filed once, under the most selective condition it cannot match without.
  ordered.forEach((route, order) => {
    const checks = route.matches.map((c) => compileCondition(c, route.id));
    checks.sort((a, b) => a.op - b.op);
    const compiled: CompiledRoute = { route, order, checks };
    let exact: string | null = null;
    let prefix: string | null = null;
    let literal = '';
    for (const c of route.matches) {
      if (c.kind === 'path' && exact === null) exact = c.value;
      else if (c.kind === 'path-prefix' && (prefix === null || c.value.length > prefix.length)) prefix = c.value;
      else if (c.kind === 'path-regex') {
        const l = regexLiteralPrefix(c.value);
        if (l.length > literal.length) literal = l;
      }
    }
    const host = checks.find((c) => c.op === OP_HOST);
    if (checks.some((c) => c.op === OP_HOST && c.list.length === 0 && c.suffixes.length === 0)) {
      return; // A host condition without alternatives matches nothing: the route can never match.
    }
    if (exact !== null) {
      pushToBucket(byPath, exact, compiled);
    } else if (prefix !== null && prefix.length > 1) {
      insertPrefix(prefixRoot, prefix, compiled, false);
      if (prefixMin === NONE) prefixMin = order;
    } else if (literal.length > 1) {
      insertPrefix(prefixRoot, literal, compiled, true);
      if (prefixMin === NONE) prefixMin = order;
    } else if (host !== undefined) {
      for (const h of host.list) pushToBucket(byHost, h, compiled);
      for (const suffix of host.suffixes) {
        pushToBucket(bySuffix, suffix, compiled);
        let dots = 0;
        for (let i = 0; i < suffix.length; i++) if (suffix.charCodeAt(i) === DOT) dots++;
        if (dots > maxSuffixDots) maxSuffixDots = dots;
      }
      if (hostMin === NONE) hostMin = order;
    } else if (prefix !== null) {
      insertPrefix(prefixRoot, prefix, compiled, false); // `/` or '': no better key
      if (prefixMin === NONE) prefixMin = order;
    } else {
      rest.push(compiled);
    }
  });
  const restMin = rest[0]?.order ?? NONE;

  // Per-request scratch state. match() is synchronous and never re-entered, so one set per router.
  let hostDone = false;
  let hostNorm: string | null = null;
  let queryMode = 0; // 0 = not looked at, 1 = plain (scan in place), 2 = needs decoding
  let queryParams: URLSearchParams | null = null;
  let best = Number.MAX_SAFE_INTEGER;
  let bestRoute: RouteConfig | null = null;

  function requestHost(input: MatchInput): string | null {
    if (!hostDone) {
      hostNorm = input.host === undefined ? null : normalizeHost(input.host);
      hostDone = true;
    }
    return hostNorm;
  }

  function queryHas(input: MatchInput, name: string, value: string | null): boolean {
    const q = input.query;
    if (q === null) return false;
    if (queryMode === 0) queryMode = QUERY_NEEDS_DECODE.test(q) ? 2 : 1;
    if (queryMode === 2) {
      // WHATWG x-www-form-urlencoded. The leading '&' keeps a '?' at the start of the query.
      queryParams ??= new URLSearchParams('&' + q);
      if (value === null) return queryParams.has(name);
      return queryParams.getAll(name).includes(value);
    }
    // Plain query: no escapes, so names and values compare as written, without allocating.
    const len = q.length;
    let pos = 0;
    while (pos <= len) {
      let end = q.indexOf('&', pos);
      if (end < 0) end = len;
      if (end > pos) {
        let eq = q.indexOf('=', pos);
        if (eq < 0 || eq > end) eq = end;
        if (eq - pos === name.length && q.startsWith(name, pos)) {
          if (value === null) return true;
          const valueStart = eq < end ? eq + 1 : end;
          if (end - valueStart === value.length && q.startsWith(value, valueStart)) return true;
        }
      }
      pos = end + 1;
    }
    return false;
  }

  function checkMatches(check: Check, input: MatchInput): boolean {
    switch (check.op) {
      case OP_METHOD: {
        const list = check.list;
        for (let i = 0; i < list.length; i++) if (list[i] === input.method) return true;
        return false;
      }
      case OP_PATH:
        return input.path === check.str;
      case OP_PREFIX: {
        const p = check.str;
        const path = input.path;
        return path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === SLASH);
      }
      case OP_PREFIX_SLASH:
        return input.path.startsWith(check.str);
      case OP_HEADER: {
        const v = input.headers[check.str];
        if (typeof v === 'string') return check.value === null || v === check.value;
        if (Array.isArray(v)) {
          if (check.value === null) return true;
          for (let i = 0; i < v.length; i++) if (v[i] === check.value) return true;
        }
        // Anything else (absent, or an inherited Object.prototype member such as `constructor`) is absent.
        return false;
      }
      case OP_HOST: {
        const host = requestHost(input);
        if (host === null) return false;
        const list = check.list;
        for (let i = 0; i < list.length; i++) if (list[i] === host) return true;
        const suffixes = check.suffixes;
        for (let i = 0; i < suffixes.length; i++) {
          const s = suffixes[i] as string;
          if (host.length > s.length && host.endsWith(s)) return true;
        }
        return false;
      }
      case OP_QUERY:
        return queryHas(input, check.str, check.value);
      case OP_REGEX:
        return (check.re as RegExp).test(input.path);
      default:
        return false;
    }
  }

  /** Finds the first match in one `order`-sorted list, if it beats the best so far. */
  function scan(list: readonly CompiledRoute[], input: MatchInput): void {
    for (let i = 0; i < list.length; i++) {
      const r = list[i] as CompiledRoute;
      if (r.order >= best) return;
      const checks = r.checks;
      let ok = true;
      for (let j = 0; j < checks.length; j++) {
        if (!checkMatches(checks[j] as Check, input)) {
          ok = false;
          break;
        }
      }
      if (ok) {
        best = r.order;
        bestRoute = r.route;
        return;
      }
    }
  }

  function scanPrefixes(input: MatchInput): void {
    const path = input.path;
    const len = path.length;
    let node = prefixRoot;
    let pos = 0;
    for (;;) {
      // A prefix that matched up to `pos` matches the path if it ends on a segment boundary:
      // the path ends here, the path continues with '/', or the prefix itself ends with '/'.
      if (node.routes !== null && (pos === len || path.charCodeAt(pos) === SLASH || (pos > 0 && path.charCodeAt(pos - 1) === SLASH))) {
        scan(node.routes, input);
      }
      if (node.raw !== null) scan(node.raw, input);
      if (pos === len || node.children === null) return;
      const child = node.children.get(path.charCodeAt(pos));
      if (child === undefined || !path.startsWith(child.label, pos)) return;
      pos += child.label.length;
      node = child;
    }
  }

  function scanHosts(input: MatchInput): void {
    const host = requestHost(input);
    if (host === null) return;
    const bucket = byHost.get(host);
    if (bucket !== undefined) scan(bucket, input);
    if (maxSuffixDots === 0) return;
    // Wildcards: look up the host's suffixes that start at a dot with at least one char before
    // it, from the shortest, never more labels than the longest configured suffix has.
    let end = host.length;
    for (let n = 0; n < maxSuffixDots; n++) {
      const dot = host.lastIndexOf('.', end - 1);
      if (dot <= 0) return;
      const wild = bySuffix.get(host.slice(dot));
      if (wild !== undefined) scan(wild, input);
      end = dot;
    }
  }

  function match(input: MatchInput): RouteConfig | null {
    hostDone = false;
    queryMode = 0;
    queryParams = null;
    best = Number.MAX_SAFE_INTEGER;
    bestRoute = null;
    const exact = byPath.get(input.path);
    if (exact !== undefined) scan(exact, input);
    if (prefixMin < best) scanPrefixes(input);
    if (hostMin < best) scanHosts(input);
    if (restMin < best) scan(rest, input);
    const found = bestRoute;
    // Keep nothing of this request reachable from the router.
    queryParams = null;
    hostNorm = null;
    bestRoute = null;
    return found ?? defaultRoute;
  }

  return { match, routes: ordered };
}
