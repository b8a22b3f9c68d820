import { DEFAULT_POLICIES } from '../../src/config/schema/route-policies.ts';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, loadConfigText, MAX_CONFIG_FILE_BYTES } from '../../src/config/load.ts';
import type { LoadOptions } from '../../src/config/load.ts';
import { DEFAULT_CONFIG_KDL, defaultConfig } from '../../src/config/default.ts';
import { formatDiagnostics } from '../../src/config/format.ts';
import { configHash } from '../../src/config/hash.ts';
import type { Config, Diagnostic } from '../../src/config/types.ts';
import { FULL_CONFIG_KDL as FULL } from './fixtures.ts';

const MINIMAL = `listeners { listener "http" { address "127.0.0.1:0" } }
routes { route "r" { matches { path-prefix "/" }; builtin-handler "status" } }
`;

function load(text: string, file = 'test.kdl', opts?: LoadOptions): { config: Config | null; diagnostics: readonly Diagnostic[] } {
  return loadConfigText(text, file, opts);
}

/** `code@line:column` for every diagnostic. */
function codes(text: string, opts?: LoadOptions): string[] {
  return load(text, 'test.kdl', opts).diagnostics.map((d) => `${d.code}@${d.line}:${d.column}`);
}

function only(text: string): Diagnostic {
  const { config, diagnostics } = load(text);
  expect(diagnostics, formatDiagnostics(diagnostics)).toHaveLength(1);
  const d = diagnostics[0];
  if (d === undefined) throw new Error('unreachable');
  if (d.severity === 'error') expect(config).toBeNull();
  return d;
}

/** An in-memory file system for include tests. */
function memFs(files: Record<string, string>): LoadOptions {
  return {
    readFile: (p) => files[p] ?? null,
    listDir: (dir) => {
      const prefix = dir === '.' ? '' : `${dir}/`;
      const names = Object.keys(files).filter((f) => f.startsWith(prefix) && !f.slice(prefix.length).includes('/')).map((f) => f.slice(prefix.length));
      return names.length > 0 ? names : null;
    },
  };
}


describe('loadConfigText: valid configs', () => {
  it('loads a full config into the exact Config object', () => {
    const { config, diagnostics } = load(FULL, 'full.kdl');
    expect(diagnostics).toEqual([]);
    const expected: Config = {
      system: { autoReload: false, workerThreads: 1, reusePort: true, maxConnections: 500, gracefulShutdownTimeoutMs: 2500, traceIdFormat: 'tinyflake' },
      admin: { enabled: false, host: '127.0.0.1', port: 9901 },
      listeners: [
        {
          id: 'http', host: '127.0.0.1', port: 8080, protocol: 'http', headersTimeoutMs: 5000, requestTimeoutMs: 30000,
          keepaliveTimeoutMs: 500, keepaliveMaxRequests: 100, maxUriBytes: 8192, defaultRoute: 'fallback', rateLimit: [],
          tls: null, maxConnections: 0, maxHeaderBytes: 16384, maxHeaderCount: 100, maxConcurrentStreams: 100, maxStreamResetsPer10s: 200, loc: { file: 'full.kdl', line: 9, column: 5 },
        },
        {
          id: 'v6', host: '::1', port: 0, protocol: 'http', headersTimeoutMs: 10000, requestTimeoutMs: 60000,
          keepaliveTimeoutMs: 75000, keepaliveMaxRequests: 0, maxUriBytes: 8192, defaultRoute: null, rateLimit: [],
          tls: null, maxConnections: 0, maxHeaderBytes: 16384, maxHeaderCount: 100, maxConcurrentStreams: 100, maxStreamResetsPer10s: 200, loc: { file: 'full.kdl', line: 18, column: 5 },
        },
      ],
      routes: [
        {
          id: 'api', priority: 100,
          matches: [
            { kind: 'path-prefix', value: '/api' },
            { kind: 'host', values: ['example.com', '*.example.com'] },
            { kind: 'method', values: ['GET', 'POST'] },
            { kind: 'header', name: 'x-tenant', value: 'acme' },
            { kind: 'header', name: 'x-debug', value: null },
            { kind: 'query-param', name: 'debug', value: '1' },
            { kind: 'query-param', name: 'trace', value: null },
          ],
          action: { kind: 'upstream', upstream: 'backend' },
          filters: [],
          policies: DEFAULT_POLICIES,
          loc: { file: 'full.kdl', line: 21, column: 5 },
        },
        { id: 'regex', priority: -5, matches: [{ kind: 'path-regex', value: '^/v[0-9]+/' }], action: { kind: 'upstream', upstream: 'backend' }, filters: [], policies: DEFAULT_POLICIES, loc: { file: 'full.kdl', line: 34, column: 5 } },
        { id: 'exact', priority: 50, matches: [{ kind: 'path', value: '/exact' }], action: { kind: 'builtin', handler: 'not-found' }, filters: [], policies: DEFAULT_POLICIES, loc: { file: 'full.kdl', line: 35, column: 5 } },
        { id: 'fallback', priority: 10, matches: [{ kind: 'path-prefix', value: '/' }], action: { kind: 'builtin', handler: 'status' }, filters: [], policies: DEFAULT_POLICIES, loc: { file: 'full.kdl', line: 36, column: 5 } },
      ],
      upstreams: [
        {
          id: 'backend',
          targets: [
            { host: '127.0.0.1', port: 3000, weight: 2 },
            { host: '::1', port: 3001, weight: 3 },
            { host: 'backend.internal', port: 3002, weight: 1 },
          ],
          loadBalancing: { algorithm: 'weighted' },
          preserveHost: false,
          hostHeader: 'api.internal',
          timeouts: { connectMs: 250, headersMs: 10000, readMs: 20000, requestMs: 90000 },
          pool: { maxConnections: 64, maxPendingRequests: 1024, idleTimeoutMs: 15000, maxRequestsPerConnection: 0 },
          healthCheck: null,
          circuitBreaker: null,
          outlierDetection: null,
          retryPolicy: null,
          discovery: { kind: 'static' },
          maxResponseHeaderBytes: 65536,
          loc: { file: 'full.kdl', line: 39, column: 5 },
        },
      ],
      filters: [],
      agents: [],
      observability: {
        metrics: { enabled: false, host: '127.0.0.1', port: 9191, path: '/m' },
        logging: {
          level: 'debug',
          accessLog: { enabled: true, destination: '/var/log/sentinel/access.log', format: 'json', sampleRate: 1, bufferBytes: 0 },
          errorLog: { enabled: false, destination: 'stderr', level: 'warn', bufferBytes: 0 },
          auditLog: { enabled: true, destination: null, bufferBytes: 0 },
        },
        tracing: null,
      },
      files: ['full.kdl'],
    };
    expect(config).toEqual(expected);
  });

  it('applies every default', () => {
    const { config, diagnostics } = load(`listeners { listener "a" { address "localhost:1" } }
routes { route "r" { matches { path "/" }; upstream "u" } }
upstreams { upstream "u" { target "127.0.0.1:2" } }`);
    expect(diagnostics).toEqual([]);
    expect(config?.admin).toEqual({ enabled: false, host: '127.0.0.1', port: 9901 });
    expect(config?.system).toEqual({ autoReload: false, workerThreads: 1, reusePort: true, maxConnections: 10000, gracefulShutdownTimeoutMs: 30000, traceIdFormat: 'uuid' });
    expect(config?.listeners[0]).toMatchObject({ protocol: 'http', headersTimeoutMs: 10000, requestTimeoutMs: 60000, keepaliveTimeoutMs: 75000, keepaliveMaxRequests: 0, defaultRoute: null });
    expect(config?.routes[0]?.priority).toBe(50);
    expect(config?.upstreams[0]).toMatchObject({
      loadBalancing: { algorithm: 'round_robin' }, preserveHost: true, hostHeader: null,
      timeouts: { connectMs: 5000, headersMs: 30000, readMs: 30000, requestMs: 60000 }, pool: { maxConnections: 128, maxPendingRequests: 1024, idleTimeoutMs: 60000, maxRequestsPerConnection: 0 },
      healthCheck: null, circuitBreaker: null, outlierDetection: null, retryPolicy: null, discovery: { kind: 'static' },
    });
    expect(config?.observability).toEqual({
      metrics: { enabled: true, host: '127.0.0.1', port: 9090, path: '/metrics' },
      logging: {
        level: 'info',
        accessLog: { enabled: true, destination: 'stdout', format: 'json', sampleRate: 1, bufferBytes: 0 },
        errorLog: { enabled: false, destination: 'stderr', level: 'warn', bufferBytes: 0 },
        auditLog: { enabled: true, destination: null, bufferBytes: 0 },
      },
      tracing: null,
    });
  });

  it('the embedded default loads with no diagnostics', () => {
    const { config, diagnostics } = load(DEFAULT_CONFIG_KDL, '<embedded default>');
    expect(diagnostics).toEqual([]);
    expect(config).not.toBeNull();
    expect(config?.listeners.map((l) => [l.id, l.host, l.port])).toEqual([['http', '127.0.0.1', 8080]]);
    expect(config?.routes.map((r) => [r.id, r.matches, r.action])).toEqual([
      ['health', [{ kind: 'path', value: '/health' }], { kind: 'builtin', handler: 'health' }],
      ['status', [{ kind: 'path-prefix', value: '/' }], { kind: 'builtin', handler: 'status' }],
    ]);
    expect(config?.observability.metrics).toEqual({ enabled: true, host: '127.0.0.1', port: 9090, path: '/metrics' });
    expect(defaultConfig()).toEqual(config);
  });

  it('accepts the four priority names case-insensitively and plain integers', () => {
    for (const [name, value] of [['low', 10], ['Normal', 50], ['HIGH', 100], ['critical', 1000], ['7', null]] as const) {
      const text = MINIMAL.replace('route "r" {', `route "r" { priority ${value === null ? name : `"${name}"`};`);
      expect(load(text).config?.routes[0]?.priority).toBe(value ?? 7);
    }
  });

  it('load-balancing aliases', () => {
    for (const [name, lb] of [['round_robin', 'round_robin'], ['RoundRobin', 'round_robin'], ['weighted', 'weighted'], ['weighted_round_robin', 'weighted']] as const) {
      const text = `${MINIMAL}routes { route "u" { matches { path "/u" }; upstream "b" } }
upstreams { upstream "b" { target "127.0.0.1:1"; load-balancing "${name}" } }`;
      expect(load(text).config?.upstreams[0]?.loadBalancing).toEqual({ algorithm: lb });
    }
  });

  it('preserve-host #false alone and host-header alone', () => {
    const base = `${MINIMAL}routes { route "u" { matches { path "/u" }; upstream "b" } }\n`;
    expect(load(`${base}upstreams { upstream "b" { target "127.0.0.1:1"; preserve-host #false } }`).config?.upstreams[0]).toMatchObject({ preserveHost: false, hostHeader: null });
    expect(load(`${base}upstreams { upstream "b" { target "127.0.0.1:1"; preserve-host #false; host-header "x" } }`).config?.upstreams[0]).toMatchObject({ preserveHost: false, hostHeader: 'x' });
  });

  it('merges several listeners/routes/upstreams blocks in order', () => {
    const { config, diagnostics } = load(`${MINIMAL}listeners { listener "b" { address "127.0.0.1:1" } }\nroutes { route "s" { matches { path "/s" }; builtin-handler "health" } }`);
    expect(diagnostics).toEqual([]);
    expect(config?.listeners.map((l) => l.id)).toEqual(['http', 'b']);
    expect(config?.routes.map((r) => r.id)).toEqual(['r', 's']);
  });

  it('ignores slashdash-commented nodes, arguments and blocks, and keeps positions right', () => {
    const { config, diagnostics } = load(`/- system { worker-threads 9 }
listeners {
  /- listener "x" { bogus 1 }
  listener "http" /-"extra" { address "127.0.0.1:1"; /- adress "x" }
}
routes { route "r" { matches { path-prefix "/" } /-{ nope }; builtin-handler "status"; wrong-key 1 } }`);
    expect(config).toBeNull();
    expect(diagnostics.map((d) => `${d.code}@${d.line}:${d.column}`)).toEqual(['unknown-key@6:88']);
  });
});

describe('loadConfigText: diagnostics', () => {
  it('kdl-syntax carries the line and column of the error', () => {
    expect(only('listeners {\n  listener "a" { address "x:1" }\n  oops true\n}\n')).toMatchObject({ code: 'kdl-syntax', line: 3, column: 8, hint: 'KDL v2 spells keywords with "#": use #true' });
    expect(only('listeners {\n  listener "a" {\n')).toMatchObject({ code: 'kdl-syntax', line: 3, column: 1, message: 'unexpected end of file' });
    expect(only('a "unterminated\nb')).toMatchObject({ code: 'kdl-syntax', line: 1, column: 16 });
    expect(only('a }\n')).toMatchObject({ code: 'kdl-syntax', line: 1, column: 3 });
  });

  it('unknown-key with a did-you-mean hint, at the key position', () => {
    const d = only('listeners {\n  listener "http" {\n    address "127.0.0.1:1"\n    adress "x"\n  }\n}\nroutes { route "r" { matches { path "/" }; builtin-handler "status" } }');
    expect(d).toMatchObject({ code: 'unknown-key', line: 4, column: 5, message: 'unknown key "adress" in listener "http"', hint: 'did you mean "address"?', path: 'listeners/listener "http"/adress' });
  });

  it('unknown-block lists the valid blocks when nothing is close', () => {
    const d = only(`${MINIMAL}zzzzzzzz { }`);
    expect(d).toMatchObject({ code: 'unknown-block', line: 3, column: 1 });
    expect(d.hint).toContain('"listeners"');
    expect(only(`${MINIMAL}upstream { }`).hint).toBe('did you mean "upstreams"?');
  });

  it('not-implemented for recognised features', () => {
    expect(only(`${MINIMAL}waf { }`)).toMatchObject({ code: 'not-implemented', line: 3, column: 1 });
    expect(only(MINIMAL.replace('address "127.0.0.1:0"', 'address "127.0.0.1:0"; protocol "h3"'))).toMatchObject({ code: 'not-implemented', line: 1, column: 63 });
    expect(only(MINIMAL.replace('builtin-handler "status"', 'builtin-handler "status"; websocket-inspection #true'))).toMatchObject({ code: 'not-implemented', line: 2, column: 77 });
    expect(only(`${MINIMAL}observability { tracing { backend "zipkin" { endpoint "http://127.0.0.1:9411" } } }`)).toMatchObject({ code: 'not-implemented', line: 3, column: 35 });
    expect(only(`${MINIMAL}observability { logging { format "combined" } }`)).toMatchObject({ code: 'not-implemented', line: 3, column: 34 });
    const lb = load(`${MINIMAL}routes { route "u" { matches { path "/u" }; upstream "b" } }\nupstreams { upstream "b" { target "127.0.0.1:1"; load-balancing "Locality-Aware"; connection-pool { max-idle 4 } } }`);
    expect(lb.diagnostics.map((d) => `${d.code}@${d.line}:${d.column}`)).toEqual(['not-implemented@4:65', 'not-implemented@4:101']);
    expect(lb.diagnostics[0]?.message).toBe('load-balancing "locality_aware" is not implemented yet');
  });

  it('invalid-type, missing-argument, extra-argument, unknown-property, unexpected-block', () => {
    expect(only(`${MINIMAL}system { max-connections "many" }`)).toMatchObject({ code: 'invalid-type', message: 'expected an integer, got string', line: 3, column: 26 });
    expect(only(`${MINIMAL}system { max-connections 1.5 }`)).toMatchObject({ code: 'invalid-type', message: 'expected an integer, got number' });
    expect(only(`${MINIMAL}observability { metrics { enabled "true" } }`)).toMatchObject({ code: 'invalid-type', line: 3, column: 35 });
    expect(only(`${MINIMAL}system { max-connections }`)).toMatchObject({ code: 'missing-argument', line: 3, column: 10 });
    expect(only(`${MINIMAL}system { max-connections 1 2 }`)).toMatchObject({ code: 'extra-argument', line: 3, column: 28 });
    expect(only(`${MINIMAL}system { max-connections 1 x=2 }`)).toMatchObject({ code: 'unknown-property', line: 3, column: 28 });
    expect(only(`${MINIMAL}system { max-connections { a 1 } }`)).toMatchObject({ code: 'unexpected-block', line: 3, column: 10 });
    expect(only(`${MINIMAL}system "x" { }`)).toMatchObject({ code: 'extra-argument', line: 3, column: 8 });
    expect(only(MINIMAL.replace('listener "http"', 'listener'))).toMatchObject({ code: 'missing-argument', line: 1, column: 13 });
    expect(only(MINIMAL.replace('listener "http"', 'listener 5'))).toMatchObject({ code: 'invalid-type', line: 1, column: 22 });
  });

  it('invalid-value: ranges, zero and negative durations, bad patterns', () => {
    const cases: [string, string][] = [
      ['system { max-connections 0 }', 'invalid-value@3:26'],
      ['system { graceful-shutdown-timeout-secs -1 }', 'invalid-value@3:41'],
      ['system { graceful-shutdown-timeout-secs 0.0001 }', 'invalid-value@3:41'],
      ['system { trace-id-format "ulid" }', 'invalid-value@3:26'],
      ['schema-version "2"', 'invalid-value@3:16'],
      ['observability { metrics { path "metrics" } }', 'invalid-value@3:32'],
      ['observability { logging { level "verbose" } }', 'invalid-value@3:33'],
    ];
    for (const [extra, want] of cases) expect(codes(`${MINIMAL}${extra}`), extra).toEqual([want]);
  });

  it('invalid-value in matches', () => {
    const m = (cond: string): string[] => codes(`listeners { listener "http" { address "127.0.0.1:0" } }\nroutes { route "r" { matches { ${cond} }; builtin-handler "status" } }`);
    expect(m('path-prefix "api"')).toEqual(['invalid-value@2:44']);
    expect(m('path "x"')).toEqual(['invalid-value@2:37']);
    expect(m('path-regex "a("')).toEqual(['invalid-value@2:43']);
    expect(load(`listeners { listener "http" { address "127.0.0.1:0" } }\nroutes { route "r" { matches { path-regex "a(" }; builtin-handler "status" } }`).diagnostics[0]?.message).toMatch(/^path-regex does not compile: .*Unterminated group/);
    expect(m('host "a.com:80"')).toEqual(['invalid-value@2:37']);
    expect(m('host "a.*.com"')).toEqual(['invalid-value@2:37']);
    expect(m('host')).toEqual(['missing-argument@2:32']);
    expect(m('method "GET" "G T"')).toEqual(['invalid-value@2:45']);
    expect(m('header "bad name" "v"')).toEqual(['invalid-value@2:39']);
    expect(m('header "a" "b" "c"')).toEqual(['extra-argument@2:47']);
    expect(m('header "a" name="b"')).toEqual(['conflict@2:43']);
    expect(m('query-param "a" x="b"')).toEqual(['unknown-property@2:48']);
    expect(m('cookie "a"')).toEqual(['unknown-key@2:32']);
    expect(m('path "/" x=1')).toEqual(['unknown-property@2:41']);
  });

  it('invalid-address', () => {
    const l = (addr: string): string[] => codes(MINIMAL.replace('"127.0.0.1:0"', JSON.stringify(addr)));
    for (const bad of ['127.0.0.1', '127.0.0.1:65536', '127.0.0.1:-1', ':80', '::1:80', '[::g]:80', 'bad host:80', '1.2.3:80', 'a:b']) {
      expect(l(bad), bad).toEqual(['invalid-address@1:39']);
    }
    for (const good of ['0.0.0.0:65535', '[::]:80', 'localhost:1', 'my-host.example:8080']) expect(l(good), good).toEqual([]);
    // Targets cannot use port 0.
    expect(codes(`${MINIMAL}routes { route "u" { matches { path "/u" }; upstream "b" } }\nupstreams { upstream "b" { target "127.0.0.1:0" } }`)).toEqual(['invalid-address@4:35']);
  });

  it('duplicate-id points at the second definition and names the first', () => {
    const d = only(`${MINIMAL}routes {\n  route "r" { matches { path "/x" }; builtin-handler "health" }\n}`);
    expect(d).toMatchObject({ code: 'duplicate-id', line: 4, column: 9, message: 'route "r" is already defined at test.kdl:2' });
  });

  it('duplicate-key, duplicate-block, duplicate-condition', () => {
    expect(only(`${MINIMAL}system { max-connections 1; max-connections 2 }`)).toMatchObject({ code: 'duplicate-key', line: 3, column: 29 });
    expect(only(`${MINIMAL}system { }\nsystem { }`)).toMatchObject({ code: 'duplicate-block', line: 4, column: 1, message: '"system" appears twice (first at test.kdl:3)' });
    expect(only(`${MINIMAL}observability { }\nobservability { }`)).toMatchObject({ code: 'duplicate-block', line: 4 });
    const two = (a: string, b: string): Diagnostic => only(`listeners { listener "h" { address "127.0.0.1:0" } }\nroutes { route "r" { matches { ${a}; ${b} }; builtin-handler "status" } }`);
    expect(two('path "/a"', 'path "/b"')).toMatchObject({ code: 'duplicate-condition', line: 2, column: 43 });
    expect(two('path "/a"', 'path-regex "^/b"')).toMatchObject({ code: 'duplicate-condition' });
    expect(two('host "a.com"', 'host "b.com"')).toMatchObject({ code: 'duplicate-key' });
    expect(two('method "GET"', 'method "PUT"')).toMatchObject({ code: 'duplicate-key' });
    // header and query-param may repeat; they are AND-ed.
    expect(codes(`listeners { listener "h" { address "127.0.0.1:0" } }\nroutes { route "r" { matches { header "a"; header "b"; query-param "c"; query-param "d" }; builtin-handler "status" } }`)).toEqual([]);
  });

  it('dangling-reference with did-you-mean or the available ids', () => {
    const up = load(`${MINIMAL}routes { route "u" { matches { path "/u" }; upstream "backnd" } }\nupstreams { upstream "backend" { target "127.0.0.1:1" } }`);
    expect(up.diagnostics.map((d) => `${d.code}@${d.line}:${d.column}`)).toEqual(['dangling-reference@3:54', 'unused-upstream@4:13']);
    expect(up.diagnostics[0]).toMatchObject({ message: 'route "u" refers to unknown upstream "backnd"', hint: 'did you mean "backend"?' });
    const dr = only(MINIMAL.replace('address "127.0.0.1:0"', 'address "127.0.0.1:0"; default-route "zzz"'));
    expect(dr).toMatchObject({ code: 'dangling-reference', line: 1, column: 68, hint: 'available routes: "r"' });
    const none = only(`${MINIMAL}routes { route "u" { matches { path "/u" }; upstream "x" } }`);
    expect(none.hint).toBe('no upstream is defined');
  });

  it('missing-matches, missing-action, conflict between actions', () => {
    const r = (body: string): string[] => codes(`listeners { listener "h" { address "127.0.0.1:0" } }\nroutes {\n  route "r" { ${body} }\n}`);
    expect(r('builtin-handler "status"')).toEqual(['missing-matches@3:3']);
    expect(r('matches { }; builtin-handler "status"')).toEqual(['missing-matches@3:15']);
    expect(r('matches { path "/" }')).toEqual(['missing-action@3:3']);
    expect(r('matches { path "/" }; builtin-handler "status"; upstream "u"')).toEqual(['conflict@3:63', 'dangling-reference@3:72']);
  });

  it('missing-key: no listeners, listener without address, upstream without target', () => {
    expect(codes('routes { route "r" { matches { path "/" }; builtin-handler "status" } }')).toEqual(['missing-key@1:1']);
    expect(codes('listeners { }')).toEqual(['missing-key@1:1']);
    expect(codes('listeners { listener "a" { protocol "http" } }')).toEqual(['missing-key@1:13']);
    expect(codes(`${MINIMAL}upstreams { upstream "b" { } }`)).toEqual(['missing-key@3:13']);
    expect(codes(`${MINIMAL}routes { route "u" { matches { path "/u" }; upstream "b" } }\nupstreams { upstream "b" { target { weight 2 } } }`)).toEqual(['missing-key@4:28']);
  });

  it('upstream checks: weight range, duplicate target, preserve-host/host-header conflict, unknown algorithm', () => {
    const u = (body: string): string[] => codes(`${MINIMAL}routes { route "u" { matches { path "/u" }; upstream "b" } }\nupstreams { upstream "b" { ${body} } }`);
    expect(u('target "127.0.0.1:1" weight=0')).toEqual(['invalid-value@4:49']);
    expect(u('target "127.0.0.1:1" weight=1001')).toEqual(['invalid-value@4:49']);
    expect(u('target "127.0.0.1:1" wieght=2')).toEqual(['unknown-property@4:49']);
    expect(u('target "127.0.0.1:1"; target "127.0.0.1:1"')).toEqual(['duplicate-target@4:50']);
    expect(u('target "127.0.0.1:1"; preserve-host #true; host-header "x"')).toEqual(['conflict@4:71']);
    expect(u('target "127.0.0.1:1"; load-balancing "round-robbin"')).toEqual(['invalid-value@4:65']);
    expect(load(`${MINIMAL}routes { route "u" { matches { path "/u" }; upstream "b" } }\nupstreams { upstream "b" { target "127.0.0.1:1"; load-balancing "round-robbin" } }`).diagnostics[0]?.hint).toBe('did you mean "round_robin"?');
    expect(u('target "127.0.0.1:1"; timeouts { connect-secs 0 }')).toEqual(['invalid-value@4:74']);
    expect(u('target "127.0.0.1:1"; connection-pool { max-connections 0 }')).toEqual(['invalid-value@4:84']);
    expect(u('target "127.0.0.1:1" { address "127.0.0.1:2" }')).toEqual(['conflict@4:28']);
  });

  it('unused-upstream is a warning; the config still loads', () => {
    const { config, diagnostics } = load(`${MINIMAL}upstreams {\n  upstream "spare" { target "127.0.0.1:1" }\n}`);
    expect(diagnostics).toMatchObject([{ code: 'unused-upstream', severity: 'warning', line: 4, column: 3 }]);
    expect(config).not.toBeNull();
  });

  it('metrics address colliding with a listener is a conflict', () => {
    expect(codes(`listeners { listener "h" { address "127.0.0.1:9090" } }\nroutes { route "r" { matches { path "/" }; builtin-handler "status" } }`)).toEqual(['conflict@1:13']);
  });

  it('collects every error in one pass', () => {
    const { diagnostics } = load(`system { worker-threads 2; bogus 1 }
listeners { listener "h" { address "nope" } }
routes { route "r" { matches { path "x" }; upstream "missing" } }
upstreams { upstream "u" { target "127.0.0.1:1"; load-balancing "least_tokens" } }`);
    expect(diagnostics.map((d) => d.code)).toEqual(['unknown-key', 'invalid-address', 'invalid-value', 'dangling-reference', 'unused-upstream', 'not-implemented']);
  });
});

describe('system', () => {
  it('reads auto-reload and the admin block, and checks the admin address for collisions', () => {
    const { config } = load(`${MINIMAL}system { auto-reload #true }\nadmin { enabled #true; address "127.0.0.1:9999" }`);
    expect(config?.system.autoReload).toBe(true);
    expect(config?.admin).toEqual({ enabled: true, host: '127.0.0.1', port: 9999 });
    expect(codes(`${MINIMAL}admin { enabled #true; address "127.0.0.1:9090" }`)).toContain('conflict@3:1');
    expect(codes(`${MINIMAL}admin { enabld #true }`)).toEqual(['unknown-key@3:9']);
  });

  it('accepts worker-threads 0 (one per CPU) and N, and rejects negative counts', () => {
    expect(load(`${MINIMAL}system { worker-threads 4; reuse-port #false }`).config?.system.workerThreads).toBe(4);
    expect(load(`${MINIMAL}system { worker-threads 0; reuse-port #false }`).config?.system.workerThreads).toBe(0);
    expect(codes(`${MINIMAL}system { worker-threads -1 }`)).toEqual(['invalid-value@3:25']);
  });

  it('reuse-port: on by default; with several workers every listener needs a fixed port; one process has nothing to share', () => {
    const fixed = `listeners { listener "http" { address "127.0.0.1:8080" } }\nroutes { route "r" { matches { path-prefix "/" }; builtin-handler "status" } }\n`;
    const on = load(`${fixed}system { worker-threads 2 }`);
    expect(on.diagnostics).toEqual([]);
    expect(on.config?.system.reusePort).toBe(true);
    expect(load(`${fixed}system { worker-threads 2; reuse-port #false }`).config?.system.reusePort).toBe(false);
    // Port 0 with several workers: refused, at the reuse-port node when written, else at the listener.
    for (const [system, at] of [['worker-threads 2; reuse-port #true', 'conflict@3:28'], ['worker-threads 2', 'conflict@1:13']] as const) {
      const zero = load(`${MINIMAL}system { ${system} }`);
      expect(zero.config).toBeNull();
      expect(zero.diagnostics.map((d) => `${d.code}@${d.line}:${d.column}`)).toEqual([at]);
      expect(zero.diagnostics[0]?.message).toMatch(/listener "http" has port 0/);
      expect(zero.diagnostics[0]?.hint).toMatch(/fixed port, or set system \{ reuse-port #false \}/);
    }
    expect(load(`${MINIMAL}system { worker-threads 2; reuse-port #false }`).diagnostics).toEqual([]);
    expect(load(`${MINIMAL}system { worker-threads 1 }`).diagnostics).toEqual([]);
    const one = load(`${fixed}system { reuse-port #true }`);
    expect(one.diagnostics.map((d) => `${d.severity}:${d.code}`)).toEqual(['warning:no-effect']);
  });
});

describe('includes', () => {
  it('merges included files, in glob order, with their own file names in diagnostics and locs', () => {
    const fs = memFs({
      'etc/main.kdl': 'include "conf.d/*.kdl"\nlisteners { listener "h" { address "127.0.0.1:0" } }\n',
      'etc/conf.d/b.kdl': 'upstreams { upstream "u" { target "127.0.0.1:1" } }\n',
      'etc/conf.d/a.kdl': 'routes {\n  route "r" { matches { path "/" }; upstream "u" }\n}\n',
      'etc/conf.d/skip.txt': 'garbage {',
      'etc/conf.d/.hidden.kdl': 'garbage {',
    });
    const { config, diagnostics } = loadConfigText(fs.readFile?.('etc/main.kdl') ?? '', 'etc/main.kdl', fs);
    expect(diagnostics).toEqual([]);
    expect(config?.files).toEqual(['etc/main.kdl', 'etc/conf.d/a.kdl', 'etc/conf.d/b.kdl']);
    expect(config?.routes[0]?.loc).toEqual({ file: 'etc/conf.d/a.kdl', line: 2, column: 3 });
  });

  it('a literal include path, nested includes relative to the including file', () => {
    const fs = memFs({
      'main.kdl': 'include "sub/one.kdl"\nlisteners { listener "h" { address "127.0.0.1:0" } }\n',
      'sub/one.kdl': 'include "two.kdl"\n',
      'sub/two.kdl': 'routes { route "r" { matches { path "/" }; builtin-handler "status" } }\n',
    });
    const r = loadConfigText(fs.readFile?.('main.kdl') ?? '', 'main.kdl', fs);
    expect(r.diagnostics).toEqual([]);
    expect(r.config?.files).toEqual(['main.kdl', 'sub/one.kdl', 'sub/two.kdl']);
  });

  it('a missing file is an error, a glob matching nothing a warning', () => {
    const fs = memFs({ 'dir/x.kdl': '' });
    const r = loadConfigText(`${MINIMAL}include "nope.kdl"\ninclude "dir/*.conf"`, 'main.kdl', fs);
    expect(r.diagnostics.map((d) => `${d.severity}:${d.code}@${d.file}:${d.line}:${d.column}`)).toEqual([
      'error:include-not-found@main.kdl:3:9',
      'warning:include-no-match@main.kdl:4:9',
    ]);
    expect(r.config).toBeNull();
  });

  it('a cycle is an error naming the chain', () => {
    const fs = memFs({ 'a.kdl': `${MINIMAL}include "b.kdl"`, 'b.kdl': 'include "c.kdl"', 'c.kdl': 'include "b.kdl"' });
    const r = loadConfigText(fs.readFile?.('a.kdl') ?? '', 'a.kdl', fs);
    expect(r.diagnostics).toMatchObject([{ code: 'include-cycle', file: 'c.kdl', line: 1, column: 9, message: 'include cycle: b.kdl -> c.kdl -> b.kdl' }]);
    const self = memFs({ 'a.kdl': `${MINIMAL}include "*.kdl"` });
    expect(loadConfigText(self.readFile?.('a.kdl') ?? '', 'a.kdl', self).diagnostics.map((d) => d.code)).toEqual(['include-cycle']);
  });

  it('duplicate ids across files name the first file', () => {
    const fs = memFs({ 'a.kdl': `${MINIMAL}include "b.kdl"`, 'b.kdl': '\nroutes { route "r" { matches { path "/b" }; builtin-handler "health" } }' });
    const r = loadConfigText(fs.readFile?.('a.kdl') ?? '', 'a.kdl', fs);
    expect(r.diagnostics).toMatchObject([{ code: 'duplicate-id', file: 'b.kdl', line: 2, column: 16, message: 'route "r" is already defined at a.kdl:2' }]);
  });

  it('system, observability and schema-version are forbidden in included files; syntax errors carry the included file', () => {
    const fs = memFs({ 'a.kdl': `${MINIMAL}include "b.kdl"\ninclude "c.kdl"`, 'b.kdl': 'system { }\nobservability { }', 'c.kdl': 'routes {\n  route "x" {' });
    const r = loadConfigText(fs.readFile?.('a.kdl') ?? '', 'a.kdl', fs);
    expect(r.diagnostics.map((d) => `${d.code}@${d.file}:${d.line}:${d.column}`)).toEqual(['kdl-syntax@c.kdl:2:14']);
    const r2 = loadConfigText(fs.readFile?.('a.kdl') ?? '', 'a.kdl', { ...fs, readFile: (p) => (p === 'c.kdl' ? '' : (fs.readFile?.(p) ?? null)) });
    expect(r2.diagnostics.map((d) => `${d.code}@${d.file}:${d.line}:${d.column}`)).toEqual(['include-forbidden-block@b.kdl:1:1', 'include-forbidden-block@b.kdl:2:1']);
  });

  it('include nesting and file size are bounded', () => {
    const files: Record<string, string> = { 'f0.kdl': `${MINIMAL}include "f1.kdl"` };
    for (let i = 1; i < 30; i++) files[`f${i}.kdl`] = `include "f${i + 1}.kdl"`;
    files['f30.kdl'] = '';
    const deep = loadConfigText(files['f0.kdl'] ?? '', 'f0.kdl', memFs(files));
    expect(deep.diagnostics.map((d) => `${d.code}@${d.file}`)).toEqual(['include-limit@f15.kdl']);
    const big = loadConfigText(`${MINIMAL}${' '.repeat(MAX_CONFIG_FILE_BYTES)}`, 'big.kdl');
    expect(big.diagnostics.map((d) => d.code)).toEqual(['file-too-large']);
    expect(big.config).toBeNull();
  });

  it('wildcards outside the last segment are rejected; include needs one string', () => {
    expect(codes(`${MINIMAL}include "*/x.kdl"`)).toEqual(['invalid-value@3:9']);
    expect(codes(`${MINIMAL}include`)).toEqual(['missing-argument@3:1']);
    expect(codes(`${MINIMAL}include 1`)).toEqual(['invalid-type@3:9']);
  });
});

describe('loadConfigFile (real files)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-config-'));
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'main.kdl'), 'include "conf.d/*.kdl"\nlisteners { listener "h" { address "127.0.0.1:0" } }\n');
    writeFileSync(join(dir, 'conf.d', 'routes.kdl'), 'routes { route "r" { matches { path "/" }; builtin-handler "status" } }\n');
    mkdirSync(join(dir, 'conf.d', 'sub.kdl'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the file and its includes (directories matching the glob are skipped)', async () => {
    const r = await loadConfigFile(join(dir, 'main.kdl'));
    expect(r.diagnostics).toEqual([]);
    expect(r.config?.files).toEqual([join(dir, 'main.kdl'), join(dir, 'conf.d', 'routes.kdl')]);
  });

  it('a missing main file is a diagnostic, not an exception', async () => {
    const r = await loadConfigFile(join(dir, 'absent.kdl'));
    expect(r.config).toBeNull();
    expect(r.diagnostics).toMatchObject([{ code: 'file-not-readable', severity: 'error' }]);
  });
});

describe('formatDiagnostics and configHash', () => {
  it('formats like a compiler', () => {
    const text = 'listeners {\n  listener "http" {\n    address "127.0.0.1:1"\n        adress "x"\n  }\n}\nroutes { route "r" { matches { path "/" }; builtin-handler "status" } }\nupstreams { upstream "u" { target "127.0.0.1:1" } }';
    expect(formatDiagnostics(loadConfigText(text, 'sentinel.kdl').diagnostics)).toBe(
      'error[unknown-key]: unknown key "adress" in listener "http"\n  --> sentinel.kdl:4:9\n  hint: did you mean "address"?\n\n' +
        'warning[unused-upstream]: upstream "u" is not used by any route\n  --> sentinel.kdl:8:13\n\n1 error, 1 warning\n',
    );
    expect(formatDiagnostics([])).toBe('0 errors, 0 warnings\n');
  });

  it('configHash ignores layout, comments, locations and file names but not values', () => {
    const a = load(MINIMAL, 'a.kdl').config;
    const b = load(`// comment\n\n${MINIMAL.replace('{ path-prefix "/" }', '{\n  path-prefix "/"\n}')}`, 'b.kdl').config;
    const c = load(MINIMAL.replace('"status"', '"health"'), 'a.kdl').config;
    if (a === null || b === null || c === null) throw new Error('configs must load');
    expect(configHash(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(configHash(b)).toBe(configHash(a));
    expect(configHash(c)).not.toBe(configHash(a));
  });
});
