import { describe, it, expect } from 'vitest';
import type { MatchCondition, RouteConfig } from '../../src/config/types.ts';
import { compileRouter, normalizeHost, regexLiteralPrefix, specificityScore } from '../../src/routing/router.ts';
import { referenceMatch, referenceNormalizeHost, referenceOrder, referenceScore } from '../../src/routing/reference.ts';
import type { MatchInput } from '../../src/routing/types.ts';
import { PRIORITY, req, route } from './helpers.ts';

type Matcher = (routes: readonly RouteConfig[], defaultRouteId: string | null, input: MatchInput) => RouteConfig | null;

// Every semantic table runs against both the compiled router and the reference, so the reference
// (the property tests' oracle) is pinned to the same rules.
const matchers: [string, Matcher][] = [
  ['compiled', (routes, def, input) => compileRouter(routes, def).match(input)],
  ['reference', referenceMatch],
];

/** The id of the route that one single-route config selects for `input`, or null. */
function only(m: Matcher, cond: MatchCondition | readonly MatchCondition[], input: MatchInput): string | null {
  const conds = Array.isArray(cond) ? cond : [cond as MatchCondition];
  return m([route('r', conds)], null, input)?.id ?? null;
}

describe.each(matchers)('%s matcher', (_name, m) => {
  describe('path (exact)', () => {
    it.each([
      ['/a', '/a', true],
      ['/a', '/a/', false],
      ['/a', '/ab', false],
      ['/a', '/A', false],
      ['/a/b', '/a/b', true],
      ['/', '/', true],
      ['/', '/x', false],
    ])('path %s vs request %s -> %s', (value, path, hit) => {
      expect(only(m, { kind: 'path', value }, req({ path }))).toBe(hit ? 'r' : null);
    });

    it('ignores the query string', () => {
      expect(only(m, { kind: 'path', value: '/a' }, req({ path: '/a', query: 'x=1' }))).toBe('r');
    });
  });

  describe('path-prefix (segment boundary)', () => {
    it.each([
      ['/api', '/api', true],
      ['/api', '/api/', true],
      ['/api', '/api/x', true],
      ['/api', '/api/x/y', true],
      ['/api', '/apix', false],
      ['/api', '/ap', false],
      ['/api', '/', false],
      ['/api/', '/api/x', true],
      ['/api/', '/api/', true],
      ['/api/', '/api', false],
      ['/api/', '/apix', false],
      ['/', '/', true],
      ['/', '/anything/at/all', true],
      ['/a/b', '/a/b/c', true],
      ['/a/b', '/a/bc', false],
      ['/a/b', '/a', false],
      ['/', '*', false], // not origin-form (OPTIONS *): "/" covers every path, and "*" is not one
      ['/api', '/API', false], // paths are case-sensitive
    ])('prefix %s vs request %s -> %s', (value, path, hit) => {
      expect(only(m, { kind: 'path-prefix', value }, req({ path }))).toBe(hit ? 'r' : null);
    });

    it('ignores the query string', () => {
      expect(only(m, { kind: 'path-prefix', value: '/v2' }, req({ path: '/v2', query: 'a=1' }))).toBe('r');
    });
  });

  describe('path-regex', () => {
    it.each([
      ['v[0-9]+', '/api/v2/x', true],
      ['v[0-9]+', '/api/vx', false],
      ['^/v[0-9]+$', '/v2', true],
      ['^/v[0-9]+$', '/api/v2', false],
      ['^/v[0-9]+$', '/v2/x', false],
      ['\\.php$', '/index.php', true],
      ['\\.php$', '/index.php5', false],
    ])('regex %s vs request %s -> %s', (value, path, hit) => {
      expect(only(m, { kind: 'path-regex', value }, req({ path }))).toBe(hit ? 'r' : null);
    });

    it('is tested against the path, never the query', () => {
      expect(only(m, { kind: 'path-regex', value: 'secret' }, req({ path: '/x', query: 'secret=1' }))).toBeNull();
    });
  });

  describe('host', () => {
    it.each([
      [['example.com'], 'example.com', true],
      [['example.com'], 'EXAMPLE.com', true],
      [['Example.COM'], 'example.com', true],
      [['example.com'], 'example.com:8080', true],
      [['example.com'], 'example.com.', true],
      [['example.com'], 'example.com.:443', true],
      [['example.com.'], 'example.com', true],
      [['example.com'], 'www.example.com', false],
      [['example.com'], 'example.org', false],
      [['[::1]'], '[::1]:8080', true],
      [['[::1]'], '[::1]', true],
      [['*.example.com'], 'a.example.com', true],
      [['*.example.com'], 'a.b.example.com', true],
      [['*.example.com'], 'A.Example.Com:80', true],
      [['*.example.com'], 'example.com', false],
      [['*.example.com'], 'badexample.com', false],
      [['*.example.com'], '.example.com', false],
      [['a.com', 'b.com'], 'b.com', true],
      [['a.com', '*.b.com'], 'x.b.com', true],
      [['a.com', '*.b.com'], 'b.com', false],
      [[], 'a.com', false],
    ])('host %j vs Host %s -> %s', (values, host, hit) => {
      expect(only(m, { kind: 'host', values }, req({ host }))).toBe(hit ? 'r' : null);
    });

    it('never matches a request without a Host', () => {
      expect(only(m, { kind: 'host', values: ['example.com', '*.example.com'] }, req({ host: undefined }))).toBeNull();
    });
  });

  describe('method', () => {
    it.each([
      [['GET'], 'GET', true],
      [['GET', 'POST'], 'POST', true],
      [['GET', 'POST'], 'PUT', false],
      [['GET'], 'get', false], // methods are case-sensitive (RFC 9110 §9.1)
      [[], 'GET', false],
    ])('methods %j vs %s -> %s', (values, method, hit) => {
      expect(only(m, { kind: 'method', values }, req({ method }))).toBe(hit ? 'r' : null);
    });
  });

  describe('header', () => {
    it.each([
      ['x-env', null, { 'x-env': 'prod' }, true],
      ['x-env', null, { 'x-env': '' }, true],
      ['x-env', null, {}, false],
      ['x-env', null, { 'x-env': undefined }, false],
      ['X-Env', null, { 'x-env': 'prod' }, true],
      ['x-env', 'prod', { 'x-env': 'prod' }, true],
      ['X-ENV', 'prod', { 'x-env': 'prod' }, true],
      ['x-env', 'prod', { 'x-env': 'Prod' }, false],
      ['x-env', 'prod', { 'x-env': 'prod, dev' }, false],
      ['x-env', 'prod', { 'x-env': ['dev', 'prod'] }, true],
      ['x-env', 'prod', { 'x-env': ['dev', 'test'] }, false],
      ['x-env', null, { 'x-env': ['dev'] }, true],
      ['x-env', 'prod', { 'x-other': 'prod' }, false],
      ['constructor', null, {}, false],
      ['__proto__', null, {}, false],
    ] as [string, string | null, MatchInput['headers'], boolean][])('header %s=%j vs %j -> %s', (name, value, headers, hit) => {
      expect(only(m, { kind: 'header', name, value }, req({ headers }))).toBe(hit ? 'r' : null);
    });
  });

  describe('query-param', () => {
    it.each([
      ['a', null, 'a=1', true],
      ['a', null, 'a', true],
      ['a', null, 'a=', true],
      ['a', null, 'b=1', false],
      ['a', null, 'ab=1', false],
      ['a', null, 'b=a', false],
      ['a', null, null, false],
      ['a', null, '', false],
      ['a', '', 'a', true],
      ['a', '', 'a=', true],
      ['a', '1', 'a=1', true],
      ['a', '1', 'a=12', false],
      ['a', '1', 'a=2&a=1', true],
      ['a', '1', 'x=y&&a=1&', true],
      ['a', 'x=y', 'a=x=y', true],
      ['a', 'hello world', 'a=hello%20world', true],
      ['a', 'hello world', 'a=hello+world', true],
      ['a', 'hello+world', 'a=hello%2Bworld', true],
      ['a', 'hello+world', 'a=hello+world', false],
      ['a', 'é', 'a=%C3%A9', true],
      ['a', '%zz', 'a=%zz', true], // an invalid escape is kept as written (WHATWG)
      ['a b', '1', 'a%20b=1', true],
      ['a', '&', 'a=%26', true],
      ['?a', '1', '?a=1', true], // the query starts after the first '?'
      ['a', '1', '?a=1', false],
    ] as [string, string | null, string | null, boolean][])('query %s=%j vs ?%s -> %s', (name, value, query, hit) => {
      expect(only(m, { kind: 'query-param', name, value }, req({ query }))).toBe(hit ? 'r' : null);
    });
  });

  describe('conditions are AND-ed', () => {
    const conds: MatchCondition[] = [
      { kind: 'path-prefix', value: '/api' },
      { kind: 'method', values: ['POST'] },
      { kind: 'host', values: ['api.example.com'] },
      { kind: 'header', name: 'x-tenant', value: null },
      { kind: 'query-param', name: 'v', value: '2' },
    ];
    const full = req({ method: 'POST', host: 'api.example.com', path: '/api/x', query: 'v=2', headers: { 'x-tenant': 't1' } });

    it('matches when every condition holds', () => {
      expect(only(m, conds, full)).toBe('r');
    });

    it.each([
      ['path', { path: '/other' }],
      ['method', { method: 'GET' }],
      ['host', { host: 'example.com' }],
      ['header', { headers: {} }],
      ['query', { query: 'v=3' }],
    ] as [string, Partial<MatchInput>][])('fails when only %s differs', (_what, change) => {
      expect(only(m, conds, { ...full, ...change })).toBeNull();
    });

    it('a route without conditions matches everything', () => {
      expect(only(m, [], req({ path: '/x', host: undefined }))).toBe('r');
    });
  });

  describe('ordering', () => {
    const pick = (routes: RouteConfig[], input: MatchInput): string | null => m(routes, null, input)?.id ?? null;

    it('higher priority wins over specificity and declaration order', () => {
      const routes = [
        route('exact-normal', [{ kind: 'path', value: '/a' }], PRIORITY.normal),
        route('catchall-high', [{ kind: 'path-prefix', value: '/' }], PRIORITY.high),
      ];
      expect(pick(routes, req({ path: '/a' }))).toBe('catchall-high');
    });

    it('named priorities order low < normal < high < critical', () => {
      const all = (['low', 'normal', 'high', 'critical'] as const).map((p) => route(p, [], PRIORITY[p]));
      expect(pick(all, req())).toBe('critical');
      expect(pick(all.slice(0, 3), req())).toBe('high');
      expect(pick(all.slice(0, 2), req())).toBe('normal');
      expect(pick([route('neg', [], -5), route('zero', [], 0)], req())).toBe('zero');
    });

    it.each([
      ['exact path beats regex', { kind: 'path', value: '/a/b' }, { kind: 'path-regex', value: '^/a/b$' }],
      ['regex beats prefix', { kind: 'path-regex', value: '^/a' }, { kind: 'path-prefix', value: '/a/b' }],
      ['longer prefix beats shorter', { kind: 'path-prefix', value: '/a/b' }, { kind: 'path-prefix', value: '/a' }],
      ['exact host beats wildcard', { kind: 'host', values: ['www.example.com'] }, { kind: 'host', values: ['*.example.com'] }],
      ['header value beats header presence', { kind: 'header', name: 'x', value: '1' }, { kind: 'header', name: 'x', value: null }],
      ['header value beats query value', { kind: 'header', name: 'x', value: '1' }, { kind: 'query-param', name: 'q', value: '1' }],
      ['query value beats header presence', { kind: 'query-param', name: 'q', value: '1' }, { kind: 'header', name: 'x', value: null }],
      ['header presence beats query presence', { kind: 'header', name: 'x', value: null }, { kind: 'query-param', name: 'q', value: null }],
      ['query value beats query presence', { kind: 'query-param', name: 'q', value: '1' }, { kind: 'query-param', name: 'q', value: null }],
      ['query presence beats method', { kind: 'query-param', name: 'q', value: null }, { kind: 'method', values: ['GET'] }],
      ['method beats nothing', { kind: 'method', values: ['GET'] }, null],
    ] as [string, MatchCondition, MatchCondition | null][])('at equal priority, %s (whatever the declaration order)', (_t, winner, loser) => {
      const input = req({ path: '/a/b', host: 'www.example.com', query: 'q=1', headers: { x: '1' } });
      const w = route('winner', [winner]);
      const l = route('loser', loser === null ? [] : [loser]);
      expect(pick([l, w], input)).toBe('winner');
      expect(pick([w, l], input)).toBe('winner');
    });

    it('scores sum over conditions: prefix + host + method beats a longer prefix alone', () => {
      const input = req({ path: '/ab/cdefgh/x', host: 'a.com' });
      const routes = [
        route('long-prefix', [{ kind: 'path-prefix', value: '/ab/cdefgh' }]), // 1010
        route('short-prefix-host-method', [
          { kind: 'path-prefix', value: '/ab' },
          { kind: 'host', values: ['a.com'] },
          { kind: 'method', values: ['GET'] },
        ]), // 1003 + 70 + 10
      ];
      expect(pick(routes, input)).toBe('short-prefix-host-method');
    });

    it('ties in priority and score keep declaration order', () => {
      const routes = [
        route('first', [{ kind: 'path-prefix', value: '/a' }]),
        route('second', [{ kind: 'path-prefix', value: '/b' }]),
        route('third', [{ kind: 'path-prefix', value: '/a' }]),
      ];
      expect(pick(routes, req({ path: '/a/x' }))).toBe('first');
      expect(pick([routes[2]!, routes[0]!], req({ path: '/a/x' }))).toBe('third');
    });

    it('falls through to a lower-ranked route when a higher one does not match', () => {
      const routes = [
        route('fallback', [{ kind: 'path-prefix', value: '/' }], PRIORITY.low),
        route('api-post', [{ kind: 'path-prefix', value: '/api' }, { kind: 'method', values: ['POST'] }], PRIORITY.high),
        route('api', [{ kind: 'path-prefix', value: '/api' }]),
      ];
      expect(pick(routes, req({ path: '/api/x', method: 'POST' }))).toBe('api-post');
      expect(pick(routes, req({ path: '/api/x', method: 'GET' }))).toBe('api');
      expect(pick(routes, req({ path: '/web', method: 'GET' }))).toBe('fallback');
    });
  });

  describe('default route', () => {
    const routes = [route('api', [{ kind: 'path-prefix', value: '/api' }]), route('fallback', [{ kind: 'host', values: ['nope'] }])];

    it('is used when nothing matches', () => {
      expect(m(routes, 'fallback', req({ path: '/web' }))?.id).toBe('fallback');
    });

    it('is not used when a route matches', () => {
      expect(m(routes, 'fallback', req({ path: '/api' }))?.id).toBe('api');
    });

    it('gives null (404) without a default route', () => {
      expect(m(routes, null, req({ path: '/web' }))).toBeNull();
      expect(m([], null, req())).toBeNull();
    });

    it('returns the configured object itself', () => {
      expect(m(routes, 'fallback', req({ path: '/web' }))).toBe(routes[1]);
      expect(m(routes, null, req({ path: '/api' }))).toBe(routes[0]);
    });
  });
});

describe('specificity score', () => {
  it.each([
    [[{ kind: 'path', value: '/a' }], 10000],
    [[{ kind: 'path-regex', value: 'x' }], 5000],
    [[{ kind: 'path-prefix', value: '/api' }], 1004],
    [[{ kind: 'path-prefix', value: '/' }], 1001],
    [[{ kind: 'host', values: ['a.com'] }], 70],
    [[{ kind: 'host', values: ['*.a.com'] }], 50],
    [[{ kind: 'host', values: ['*.a.com', 'b.com'] }], 70],
    [[{ kind: 'header', name: 'x', value: '1' }], 30],
    [[{ kind: 'header', name: 'x', value: null }], 20],
    [[{ kind: 'query-param', name: 'q', value: '1' }], 25],
    [[{ kind: 'query-param', name: 'q', value: null }], 15],
    [[{ kind: 'method', values: ['GET'] }], 10],
    [[], 0],
    [[{ kind: 'path-prefix', value: '/api' }, { kind: 'host', values: ['a.com'] }, { kind: 'method', values: ['GET'] }, { kind: 'header', name: 'x', value: null }], 1104],
  ] as [MatchCondition[], number][])('%j scores %d', (matches, score) => {
    expect(specificityScore(route('r', matches))).toBe(score);
    expect(referenceScore(route('r', matches))).toBe(score);
  });
});

describe('compileRouter', () => {
  it('exposes the routes in evaluation order', () => {
    const routes = [
      route('low', [], PRIORITY.low),
      route('prefix', [{ kind: 'path-prefix', value: '/a' }]),
      route('exact', [{ kind: 'path', value: '/a' }]),
      route('critical', [], PRIORITY.critical),
      route('regex', [{ kind: 'path-regex', value: 'a' }]),
      route('prefix2', [{ kind: 'path-prefix', value: '/b' }]),
    ];
    const ids = ['critical', 'exact', 'regex', 'prefix', 'prefix2', 'low'];
    expect(compileRouter(routes, null).routes.map((r) => r.id)).toEqual(ids);
    expect(referenceOrder(routes).map((r) => r.id)).toEqual(ids);
  });

  it('does not modify its input', () => {
    const routes = [route('b', [], PRIORITY.low), route('a', [], PRIORITY.high)];
    compileRouter(routes, null);
    expect(routes.map((r) => r.id)).toEqual(['b', 'a']);
  });

  it('rejects an unknown default route', () => {
    expect(() => compileRouter([route('a', [])], 'missing')).toThrow(/default route "missing"/);
  });

  it('rejects an invalid regex, naming the route', () => {
    expect(() => compileRouter([route('bad', [{ kind: 'path-regex', value: '(' }])], null)).toThrow(/route "bad"/);
  });

  it('is reusable: state from one match does not leak into the next', () => {
    const router = compileRouter(
      [
        route('q', [{ kind: 'query-param', name: 'a', value: 'x y' }]),
        route('h', [{ kind: 'host', values: ['a.com'] }]),
      ],
      null,
    );
    expect(router.match(req({ query: 'a=x+y', host: 'b.com' }))?.id).toBe('q');
    expect(router.match(req({ query: 'a=z', host: 'b.com' }))).toBeNull();
    expect(router.match(req({ query: null, host: 'A.com' }))?.id).toBe('h');
    expect(router.match(req({ query: null, host: undefined }))).toBeNull();
  });
});

describe('normalizeHost', () => {
  it.each([
    ['Example.COM', 'example.com'],
    ['example.com:8080', 'example.com'],
    ['example.com.', 'example.com'],
    ['example.com.:80', 'example.com'],
    ['[::1]:443', '[::1]'],
    ['[::1]', '[::1]'],
    ['', ''],
    [':80', ''],
  ])('%j -> %j', (raw, host) => {
    expect(normalizeHost(raw)).toBe(host);
    expect(referenceNormalizeHost(raw)).toBe(host);
  });
});

describe('regexLiteralPrefix (index key for anchored regexes)', () => {
  it.each([
    ['^/api/v[0-9]+', '/api/v'],
    ['^/r12/[0-9]+$', '/r12/'],
    ['^/ab?/', '/a'], // the quantifier applies to 'b'
    ['^/ab*', '/a'],
    ['^/ab+', '/a'],
    ['^/ab{2}', '/a'],
    ['^/a\\.b', '/a'],
    ['^/a.b', '/a'],
    ['^/a|/b', ''], // the alternation escapes the anchor
    ['^(/a|/b)', ''],
    ['/a', ''], // unanchored
    ['^', ''],
    ['^$', ''],
  ])('%s -> %j', (source, literal) => {
    expect(regexLiteralPrefix(source)).toBe(literal);
  });
});
