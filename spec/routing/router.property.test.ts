import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { MatchCondition, RouteConfig } from '../../src/config/types.ts';
import { compileRouter } from '../../src/routing/router.ts';
import { referenceMatch, referenceOrder } from '../../src/routing/reference.ts';
import type { MatchInput } from '../../src/routing/types.ts';
import { route } from './helpers.ts';

// Small alphabets so that routes and requests collide often: the interesting cases are the ones
// where several routes match and the order decides.

const segment = fc.constantFrom('a', 'b', 'ab', 'api', 'v1', '');
const pathLike = fc.oneof(
  { weight: 8, arbitrary: fc.array(segment, { maxLength: 4 }).map((segs) => '/' + segs.join('/')) },
  { weight: 1, arbitrary: fc.constantFrom('', '*', 'a', 'a/', '/A', '//', '/a//b') },
);
const regex = fc.constantFrom(
  '^/a', 'b$', 'a/b', '^/$', '^/api(/|$)', 'v[0-9]', '.*', '^/ab?/', 'A', '^$',
  // Anchored ones the router indexes by their literal start, and look-alikes it must not.
  '^/a/b', '^/ab', '^/api/', '^/ab+', '^/ab*', '^/a{2}', '^/a|b', '^/a\\/b', '^/v1(/.*)?$', '^/a.', '^//',
);
const hostPattern = fc.constantFrom('a.com', 'b.com', 'x.a.com', '*.a.com', '*.com', 'A.COM', 'a.com.', '*.x.a.com', '[::1]', '*.', '*');
const requestHost = fc.constantFrom(undefined, 'a.com', 'A.com:8080', 'a.com.', 'x.a.com', 'y.x.a.com', 'b.com', 'com', '[::1]:80', '', '.a.com', '*.a.com', 'a.com:');
const method = fc.constantFrom('GET', 'POST', 'PUT', 'get');
const headerName = fc.constantFrom('x-a', 'x-b', 'X-A', 'constructor', '__proto__');
const headerValue = fc.constantFrom('1', '2', '', ' 1');
const queryName = fc.constantFrom('a', 'b', 'a b', '?a', 'é', '', 'a+b');
const queryValue = fc.constantFrom('1', '2', '', 'x y', '1+2', '%', '&', '\uFFFD');
const rawQueryName = fc.constantFrom('a', 'b', 'a+b', 'a%20b', '%61', '?a', '%C3%A9', '', '%zz', '%');
const rawQueryValue = fc.constantFrom('1', '2', '', 'x+y', 'x%20y', '1%2B2', '%', '%E9', '%25', '%26', '%2', '\uD800');

const condition: fc.Arbitrary<MatchCondition> = fc.oneof(
  fc.record({ kind: fc.constant('path' as const), value: pathLike }),
  fc.record({ kind: fc.constant('path-prefix' as const), value: pathLike }),
  fc.record({ kind: fc.constant('path-prefix' as const), value: pathLike }),
  fc.record({ kind: fc.constant('path-regex' as const), value: regex }),
  fc.record({ kind: fc.constant('host' as const), values: fc.array(hostPattern, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('method' as const), values: fc.array(method, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('header' as const), name: headerName, value: fc.option(headerValue) }),
  fc.record({ kind: fc.constant('query-param' as const), name: queryName, value: fc.option(queryValue) }),
);

const routeSet: fc.Arbitrary<RouteConfig[]> = fc
  .array(
    fc.record({
      priority: fc.constantFrom(0, 10, 50, 50, 100, 1000),
      // A route without conditions matches everything and hides the rest: keep it rare.
      matches: fc.oneof({ weight: 19, arbitrary: fc.array(condition, { minLength: 1, maxLength: 4 }) }, { weight: 1, arbitrary: fc.constant([]) }),
    }),
    { maxLength: 60, size: 'medium' },
  )
  .map((specs) => specs.map((s, i) => route(`r${i}`, s.matches, s.priority)));

const headerEntry = fc.tuple(
  fc.constantFrom('x-a', 'x-b', 'constructor', '__proto__'),
  fc.oneof(headerValue, fc.array(headerValue, { maxLength: 3 }), fc.constant(undefined)),
);

const query = fc.option(
  fc
    .array(fc.tuple(rawQueryName, fc.option(rawQueryValue)), { maxLength: 4 })
    .map((pairs) => pairs.map(([n, v]) => (v === null ? n : `${n}=${v}`)).join('&')),
);

const request: fc.Arbitrary<MatchInput> = fc.record({
  method,
  host: requestHost,
  path: pathLike,
  query,
  // fromEntries creates own properties, even for `__proto__`, as node:http would.
  headers: fc.array(headerEntry, { maxLength: 3 }).map((entries) => Object.fromEntries(entries)),
});

const scenario = fc
  .tuple(routeSet, fc.array(request, { minLength: 1, maxLength: 20 }), fc.nat())
  .map(([routes, requests, n]) => {
    // A third of the scenarios have a default route.
    const defaultRouteId = routes.length > 0 && n % 3 === 0 ? (routes[n % routes.length] as RouteConfig).id : null;
    return { routes, requests, defaultRouteId };
  });

function checkScenario(routes: RouteConfig[], requests: MatchInput[], defaultRouteId: string | null): void {
  const router = compileRouter(routes, defaultRouteId);
  for (const input of requests) {
    const expected = referenceMatch(routes, defaultRouteId, input);
    const actual = router.match(input);
    // Identity, not equality: the router must hand back the configured object.
    expect(actual === expected, `request ${JSON.stringify(input)}: got ${actual?.id ?? 'null'}, want ${expected?.id ?? 'null'}`).toBe(true);
  }
}

describe('compileRouter agrees with referenceMatch', () => {
  it('returns the same route (by identity) for arbitrary routes and requests', () => {
    fc.assert(
      fc.property(scenario, ({ routes, requests, defaultRouteId }) => checkScenario(routes, requests, defaultRouteId)),
      { numRuns: 2500 },
    );
  });

  it('agrees on each condition alone (no ordering to mask a wrong answer)', () => {
    fc.assert(
      fc.property(condition, fc.array(request, { minLength: 1, maxLength: 20 }), (c, requests) => checkScenario([route('r', [c])], requests, null)),
      { numRuns: 5000 },
    );
  });

  it('agrees on query-param conditions for arbitrary encoded queries', () => {
    const queryCondition = fc.record({ kind: fc.constant('query-param' as const), name: queryName, value: fc.option(queryValue) });
    fc.assert(
      fc.property(fc.array(queryCondition, { minLength: 1, maxLength: 4 }), fc.array(query, { minLength: 1, maxLength: 20 }), (conds, queries) =>
        checkScenario(
          conds.map((c, i) => route(`q${i}`, [c])),
          queries.map((q) => ({ method: 'GET', host: undefined, path: '/', query: q, headers: {} })),
          null,
        ),
      ),
      { numRuns: 3000 },
    );
  });

  it('agrees with a few hundred routes (deeper index trees, longer lists)', () => {
    const manyRoutes = fc
      .array(fc.record({ priority: fc.constantFrom(10, 50, 50, 100), matches: fc.array(condition, { minLength: 1, maxLength: 3 }) }), { minLength: 100, maxLength: 300 })
      .map((specs) => specs.map((s, i) => route(`r${i}`, s.matches, s.priority)));
    fc.assert(
      fc.property(manyRoutes, fc.array(request, { minLength: 20, maxLength: 50 }), (routes, requests) => checkScenario(routes, requests, null)),
      { numRuns: 100 },
    );
  });

  it('evaluates routes in the same order', () => {
    fc.assert(
      fc.property(routeSet, (routes) => {
        const ids = compileRouter(routes, null).routes.map((r) => r.id);
        expect(ids).toEqual(referenceOrder(routes).map((r) => r.id));
      }),
      { numRuns: 2000 },
    );
  });

  it('one router answers many requests in a row with no state carried over', () => {
    fc.assert(
      fc.property(routeSet, fc.array(request, { minLength: 50, maxLength: 100 }), (routes, requests) => checkScenario(routes, requests, null)),
      { numRuns: 300 },
    );
  });
});

// Counterexamples the properties above produced against deliberately broken routers (mutation
// checks run while writing the router: each one kills a specific bug). Kept as fixed cases so they
// are re-checked on every run whatever the random seed, with the expected answer spelled out.
describe('regressions', () => {
  const get = (fields: Partial<MatchInput>): MatchInput => ({ method: 'GET', host: undefined, path: '/', query: null, headers: {}, ...fields });
  const cases: { name: string; routes: RouteConfig[]; defaultRouteId: string | null; input: MatchInput; want: string | null }[] = [
    {
      name: 'a prefix ending in "/" matches deeper paths (boundary is the prefix itself)',
      routes: [route('r0', [{ kind: 'path-prefix', value: '/' }], 0)],
      defaultRouteId: null,
      input: get({ path: '/a' }),
      want: 'r0',
    },
    {
      name: 'a plain-looking query with "+" must still be decoded ("a+b" is "a b")',
      routes: [route('r0', [{ kind: 'query-param', name: 'a+b', value: null }], 0)],
      defaultRouteId: null,
      input: get({ query: 'a+b' }),
      want: null,
    },
    {
      name: 'a lone surrogate in the query decodes to U+FFFD',
      routes: [route('r0', [{ kind: 'query-param', name: 'a', value: '\uFFFD' }], 0)],
      defaultRouteId: null,
      input: get({ query: 'a=\uD800' }),
      want: 'r0',
    },
    {
      name: 'a wildcard host needs at least one label before the suffix',
      routes: [route('r0', [], 0), route('r1', [{ kind: 'host', values: ['*.a.com'] }], 0)],
      defaultRouteId: 'r0',
      input: get({ host: '.a.com', path: '' }),
      want: 'r0',
    },
    {
      name: 'the prefix length is part of the score ("/" beats "")',
      routes: [route('r0', [{ kind: 'path-prefix', value: '' }], 100), route('r1', [{ kind: 'path-prefix', value: '/' }], 100)],
      defaultRouteId: 'r0',
      input: get({ path: '/' }),
      want: 'r1',
    },
    {
      name: 'an earlier match in one index list beats a later one in another',
      routes: [route('r0', [{ kind: 'path-prefix', value: '/' }], 0), route('r1', [], 0)],
      defaultRouteId: 'r0',
      input: get({ path: '/' }),
      want: 'r0',
    },
    {
      name: 'query presence (15) ranks below header presence (20)',
      routes: [route('r0', [{ kind: 'query-param', name: 'a', value: null }], 100), route('r1', [{ kind: 'header', name: 'x-a', value: null }], 100)],
      defaultRouteId: null,
      input: get({ query: 'a', headers: { 'x-a': [] } }),
      want: 'r1',
    },
    {
      name: 'header presence only: any value counts',
      routes: [route('r0', [], 0), route('r1', [{ kind: 'header', name: 'x-b', value: null }], 0)],
      defaultRouteId: 'r0',
      input: get({ headers: { 'x-b': '1' } }),
      want: 'r1',
    },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(compileRouter(c.routes, c.defaultRouteId).match(c.input)?.id ?? null).toBe(c.want);
    checkScenario(c.routes, [c.input], c.defaultRouteId);
  });
});
