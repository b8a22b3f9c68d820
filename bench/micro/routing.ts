// Routing micro-benchmark: match throughput with 1,000 routes, compiled router vs the reference.
//
//   node bench/micro/routing.ts            # measure, print, write bench/micro/baselines/routing.json
//   node bench/micro/routing.ts --no-write # measure and print only
//
// Cases: `hit-early` matches the first route in evaluation order, `hit-late` a route near the end
// (a wildcard-host route, the lowest score), `miss` nothing (null). Baselines: `reference` is
// referenceMatch as tests use it (re-sorts the routes on every call); `linear` is the same linear
// scan over pre-sorted routes, which isolates what indexing buys. Not a test: numbers are noisy.

import { DEFAULT_POLICIES } from '../../src/config/schema/route-policies.ts';
import type { MatchCondition, RouteConfig } from '../../src/config/types.ts';
import { compileRouter } from '../../src/routing/router.ts';
import { referenceMatch, referenceMatchInOrder, referenceOrder } from '../../src/routing/reference.ts';
import type { MatchInput } from '../../src/routing/types.ts';
import { fmtOps, measure, writeBaseline } from './lib.ts';

const ROUTE_COUNT = 1000;
const MIX = { exact: 400, prefix: 300, regex: 100, hostExact: 100, hostWildcard: 100 } as const;

function makeRoute(id: string, matches: MatchCondition[], priority = 50): RouteConfig {
  return { id, priority, matches, action: { kind: 'upstream', upstream: 'backend' }, filters: [], policies: DEFAULT_POLICIES, loc: { file: 'bench.kdl', line: 1, column: 1 } };
}

/** A deterministic shuffle (LCG), so declaration order is mixed but the same on every run. */
function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  let seed = 42;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function buildRoutes(): RouteConfig[] {
  const routes: RouteConfig[] = [];
  for (let i = 0; i < MIX.exact; i++) {
    const matches: MatchCondition[] = [{ kind: 'path', value: `/svc${i}/items/list` }];
    if (i % 2 === 0) matches.push({ kind: 'method', values: ['GET', 'HEAD'] });
    routes.push(makeRoute(`exact-${i}`, matches));
  }
  for (let i = 0; i < MIX.prefix; i++) {
    const matches: MatchCondition[] = [{ kind: 'path-prefix', value: `/api/v${i % 5}/res${i}` }];
    if (i % 3 === 0) matches.push({ kind: 'header', name: 'x-tenant', value: `t${i}` });
    routes.push(makeRoute(`prefix-${i}`, matches));
  }
  for (let i = 0; i < MIX.regex; i++) {
    routes.push(makeRoute(`regex-${i}`, [{ kind: 'path-regex', value: `^/r${i}/[0-9]+$` }]));
  }
  for (let i = 0; i < MIX.hostExact; i++) {
    routes.push(makeRoute(`host-${i}`, [{ kind: 'host', values: [`h${i}.example.com`] }, { kind: 'path-prefix', value: '/' }]));
  }
  for (let i = 0; i < MIX.hostWildcard; i++) {
    routes.push(makeRoute(`wild-${i}`, [{ kind: 'host', values: [`*.w${i}.example.net`] }]));
  }
  if (routes.length !== ROUTE_COUNT) throw new Error(`built ${routes.length} routes, want ${ROUTE_COUNT}`);
  return shuffled(routes);
}

function request(path: string, host: string, fields: Partial<MatchInput> = {}): MatchInput {
  return { method: 'GET', host, path, query: 'page=2&sort=asc', headers: { 'user-agent': 'bench', accept: '*/*' }, ...fields };
}

type Matcher = (input: MatchInput) => RouteConfig | null;

function main(): void {
  const write = !process.argv.includes('--no-write');
  const routes = buildRoutes();

  const c0 = performance.now();
  const router = compileRouter(routes, null);
  const compileMs = performance.now() - c0;

  const ordered = referenceOrder(routes);
  const matchers: Record<string, Matcher> = {
    compiled: (input) => router.match(input),
    linear: (input) => referenceMatchInOrder(ordered, routes, null, input),
    reference: (input) => referenceMatch(routes, null, input),
  };

  // The first route in evaluation order is an exact-path route (highest score): request its path.
  const first = router.routes[0]?.matches.find((c) => c.kind === 'path');
  if (first === undefined) throw new Error('the first route has no exact path');
  const cases: Record<string, MatchInput> = {
    'hit-early': request(first.value, 'app.example.org'),
    'hit-late': request('/static/app.js', 'cdn.w99.example.net'),
    miss: request('/nothing/here', 'unknown.example.org'),
  };

  // Sanity: every implementation agrees, and the cases hit where they claim to.
  const position: Record<string, number | null> = {};
  for (const [name, input] of Object.entries(cases)) {
    const want = referenceMatch(routes, null, input);
    for (const [impl, fn] of Object.entries(matchers)) {
      if (fn(input) !== want) throw new Error(`${impl} disagrees with the reference on ${name}`);
    }
    position[name] = want === null ? null : router.routes.indexOf(want);
  }
  if (position['hit-early'] !== 0) throw new Error(`hit-early matches at ${position['hit-early']}, want 0`);
  if ((position['hit-late'] ?? 0) < ROUTE_COUNT * 0.9) throw new Error(`hit-late matches at ${position['hit-late']}, want the last 10%`);
  if (position.miss !== null) throw new Error('miss matched a route');

  const durations: Record<string, number> = { compiled: 500, linear: 300, reference: 300 };
  const results: Record<string, Record<string, number>> = {};
  console.log(`routing: ${ROUTE_COUNT} routes (${JSON.stringify(MIX)}), compile ${compileMs.toFixed(1)} ms, node ${process.version}`);
  for (const [name, input] of Object.entries(cases)) {
    const row: Record<string, number> = {};
    for (const [impl, fn] of Object.entries(matchers)) row[impl] = Math.round(measure(() => fn(input)?.id.length ?? 0, durations[impl] ?? 300, 5));
    const compiled = row.compiled as number;
    row.ratioVsReference = Number((compiled / (row.reference as number)).toFixed(1));
    row.ratioVsLinear = Number((compiled / (row.linear as number)).toFixed(1));
    results[name] = row;
    console.log(
      `${name.padEnd(10)} match #${String(position[name] ?? '-').padEnd(4)} compiled ${fmtOps(compiled)} ops/s  linear ${fmtOps(row.linear as number)}  reference ${fmtOps(row.reference as number)}  x${row.ratioVsLinear} vs linear, x${row.ratioVsReference} vs reference`,
    );
  }

  if (write) {
    const cases = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { matchPosition: position[k], ...v }]));
    console.log(`wrote ${writeBaseline('routing', { routes: ROUTE_COUNT, mix: MIX, compileMs: Number(compileMs.toFixed(2)) }, cases)}`);
  }
}


main();
