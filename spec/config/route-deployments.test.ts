// The `deployments { }` route action: defaults, store forms, and that every mistake is an error
// with file, line and a hint (the golden files in conformance/config cover the full matrix).
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.ts';
import { formatDiagnostics } from '../../src/config/format.ts';
import type { DeploymentsConfig, Diagnostic } from '../../src/config/types.ts';

function route(body: string): string {
  return `listeners { listener "l" { address "127.0.0.1:0" } }
routes {
  route "apps" {
    matches { path-prefix "/" }
    deployments {
${body}
    }
  }
}
`;
}

function load(body: string): { config: DeploymentsConfig | null; diagnostics: readonly Diagnostic[] } {
  const r = loadConfigText(route(body), 'd.kdl');
  const action = r.config?.routes[0]?.action;
  return { config: action?.kind === 'deployments' ? action.deployments : null, diagnostics: r.diagnostics };
}

const BASE = `environment-id "env_1"
region "aws:us-east-1"`;

describe('deployments route action', () => {
  it('applies Unkey Sentinel V2 defaults', () => {
    const { config, diagnostics } = load(`${BASE}\nstore "static"`);
    expect(formatDiagnostics(diagnostics)).toBe('0 errors, 0 warnings\n');
    expect(config).toMatchObject({
      header: 'X-Deployment-Id',
      errorSourceHeader: 'X-Unkey-Error-Source',
      errorSourceValue: 'sentinel',
      timingHeader: true,
      requestTimeoutMs: 900_000,
      connectTimeoutMs: 10_000,
      headersTimeoutMs: null,
      readTimeoutMs: null,
      deploymentCache: { freshMs: 30_000, staleMs: 300_000, maxEntries: 1000 },
      instanceCache: { freshMs: 10_000, staleMs: 60_000, maxEntries: 1000 },
      selection: { algorithm: 'random' },
      retryPolicy: null,
      outlierDetection: null,
      store: { kind: 'static', deployments: [], instances: [] },
    });
  });

  it('an instance without region= is in the route region; store defaults fill the rest', () => {
    const { config } = load(`${BASE}
store "static" {
  deployment "d1" environment-id="env_1"
  instance "i1" deployment="d1" address="127.0.0.1:9000"
}`);
    expect(config?.store).toEqual({
      kind: 'static',
      deployments: [{ id: 'd1', environmentId: 'env_1', workspaceId: '', projectId: '', status: 'ready', upstreamProtocol: 'http1' }],
      instances: [{ id: 'i1', deploymentId: 'd1', region: 'aws:us-east-1', address: '127.0.0.1:9000', status: 'running' }],
    });
  });

  it('a mysql url is split into escaped parts; IPv6 hosts lose their brackets', () => {
    const { config } = load(`${BASE}\nstore "mysql" { url "mysql://ro:p%40ss%3Aw@[::1]/unkey"; }`);
    expect(config?.store).toMatchObject({ kind: 'mysql', host: '::1', port: 3306, user: 'ro', password: 'p@ss:w', database: 'unkey' });
  });

  it('unknown keys are errors with the line and a did-you-mean hint', () => {
    const { config, diagnostics } = load(`${BASE}\nstore "static"\nenvironment "x"`);
    expect(config).toBeNull();
    const d = diagnostics.find((x) => x.code === 'unknown-key');
    expect(d).toMatchObject({ file: 'd.kdl', line: 9, severity: 'error' });
    expect(d?.hint).toContain('environment-id');
  });

  it('selectors that mean nothing on instances and health checks are not-implemented errors with a reason', () => {
    for (const body of ['selection "weighted"', 'selection "wlc"', 'selection "sticky"', 'health-check { }', 'load-balancing "p2c"']) {
      const { config, diagnostics } = load(`${BASE}\nstore "static"\n${body}`);
      expect(config, body).toBeNull();
      expect(diagnostics.map((x) => x.code), body).toContain('not-implemented');
    }
    const { diagnostics } = load(`${BASE}\nstore "static"\nselection "weighted"`);
    expect(diagnostics[0]?.message).toContain('instances carry no weight');
    expect(diagnostics[0]?.hint).toContain('round_robin');
  });

  it('selection takes Sentinel\'s algorithms (opt-in) with the load-balancing options', () => {
    const cases: [string, unknown][] = [
      ['selection "round_robin"', { algorithm: 'round_robin' }],
      ['selection "least-connections"', { algorithm: 'least_connections' }],
      ['selection "p2c"', { algorithm: 'p2c' }],
      ['selection "ip_hash"', { algorithm: 'ip_hash' }],
      ['selection "consistent_hash" { hash-key "header:X-User" }', { algorithm: 'consistent_hash', hashKey: 'header:x-user' }],
      ['selection "maglev"', { algorithm: 'maglev', hashKey: 'client-ip' }],
      ['selection "peak_ewma" { decay-secs 5 }', { algorithm: 'peak_ewma', decayMs: 5000 }],
    ];
    for (const [body, selection] of cases) {
      const { config, diagnostics } = load(`${BASE}\nstore "static"\n${body}`);
      expect(formatDiagnostics(diagnostics), body).toBe('0 errors, 0 warnings\n');
      expect(config?.selection, body).toEqual(selection);
    }
    const retried = load(`${BASE}\nstore "static"\nretry-policy { max-attempts 3; retryable-status-codes 503 }`);
    expect(retried.config?.retryPolicy).toMatchObject({ maxAttempts: 3, retryableStatusCodes: [503], retryNonIdempotent: false });
    const passive = load(`${BASE}\nstore "static"\noutlier-detection { consecutive-5xx 2; base-ejection-secs 5 }`);
    expect(passive.config?.outlierDetection).toEqual({ consecutive5xx: 2, consecutiveFailures: 5, baseEjectionMs: 5000, maxEjectionMs: 300_000, maxEjectionPercent: 50 });
    const bad = load(`${BASE}\nstore "static"\nselection "consistent_hash" { hash-key "body" }`);
    expect(bad.config).toBeNull();
    expect(bad.diagnostics.map((d) => d.code)).toContain('invalid-value');
  });

  it('requires environment-id, region and a store', () => {
    const { diagnostics } = load('header "X-D"');
    expect(diagnostics.filter((d) => d.code === 'missing-key').map((d) => d.message)).toEqual([
      'route "apps" deployments has no "environment-id"',
      'route "apps" deployments has no "region"',
      'route "apps" deployments has no "store"',
    ]);
  });

  it('a mysql store needs a host, a user and a database', () => {
    const { diagnostics } = load(`${BASE}\nstore "mysql" { host "db"; pool-size 2 }`);
    expect(diagnostics.map((d) => `${d.code}: ${d.message}`)).toEqual(['missing-key: route "apps" deployments store "mysql" has no "user"']);
  });
});
