// The rate-limit filter reader: defaults, derived values and Redis URLs. Every rejection has a golden
// case in conformance/config/invalid/rate-limit.kdl; this file pins what the golden files do not.
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.ts';
import { parseRedisUrl } from '../../src/config/schema/filter-rate-limit.ts';
import type { RateLimitFilterConfig } from '../../src/config/types.ts';

function filter(body: string, listener = ''): { config: RateLimitFilterConfig | undefined; errors: string[] } {
  const r = loadConfigText(`
listeners { listener "l" { address "127.0.0.1:0"; ${listener} } }
routes { route "r" { matches { path-prefix "/" }; filters "f"; builtin-handler "status" } }
filters { filter "f" { type "rate-limit"; ${body} } }
`, 'x.kdl');
  return {
    config: r.config?.filters[0] as RateLimitFilterConfig | undefined,
    errors: r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}: ${d.message}`),
  };
}

describe('rate-limit filter config', () => {
  it('defaults: client-ip key, reject with 429, local token bucket with a burst of one second of rate', () => {
    const { config, errors } = filter('max-rps 2.5');
    expect(errors).toEqual([]);
    expect(config).toMatchObject({
      limit: { algorithm: 'token-bucket', maxRps: 2.5, burst: 3 },
      key: 'client-ip', onMissingKey: 'shared', trustedProxies: [], onLimit: 'reject', statusCode: 429, message: null,
      maxKeys: 100_000, responseHeaders: false, legacyHeaders: false, backend: 'local', redis: null,
    });
    expect(filter('max-rps 0.1').config?.limit).toEqual({ algorithm: 'token-bucket', maxRps: 0.1, burst: 1 });
  });

  it('gcra is the token bucket under another name; sliding-log takes max-requests and window-secs', () => {
    expect(filter('algorithm "gcra"; max-rps 10; burst 4').config?.limit).toEqual({ algorithm: 'token-bucket', maxRps: 10, burst: 4 });
    const { config } = filter('algorithm "sliding-log"; max-requests 5; window-secs 0.5; backend "redis"; redis-url "redis://127.0.0.1"');
    expect(config?.limit).toEqual({ algorithm: 'sliding-log', maxRequests: 5, windowMs: 500 });
    expect(config?.redis).toEqual({
      mode: 'standalone', nodes: [{ host: '127.0.0.1', port: 6379 }], tls: false, username: null, password: null, db: 0,
      prefix: 'sentinel:rl:', poolSize: 1, timeoutMs: 50, onFailure: 'fallback-to-local', probeIntervalMs: 1000,
    });
  });

  it('several URLs are a Cluster unless redis-mode says otherwise; one URL may be a Cluster seed', () => {
    expect(filter('max-rps 1; backend "redis"; redis-url "redis://a:1" "redis://b:2"').config?.redis?.mode).toBe('cluster');
    expect(filter('max-rps 1; backend "redis"; redis-url "redis://a:1"; redis-mode "cluster"').config?.redis).toMatchObject({ mode: 'cluster', nodes: [{ host: 'a', port: 1 }] });
    expect(filter('max-rps 1; backend "redis"; redis-url "rediss://u:p@a:1" "redis://u:p@b:2"').errors).toEqual([
      'conflict: the redis-url nodes of one cluster must share scheme, credentials and database',
    ]);
    expect(filter('max-rps 1; backend "redis"; redis-url "redis://a:1/3" "redis://a:2/3"').errors).toEqual(['invalid-value: Redis Cluster has only database 0']);
  });

  it('never echoes a redis-url in a diagnostic (it may carry a password)', () => {
    const { errors } = filter('max-rps 1; backend "redis"; redis-url "redis://user:hunter2@host:notaport"');
    expect(errors).toHaveLength(1);
    expect(errors[0]).not.toContain('hunter2');
  });

  it('a listener rate-limit names rate-limit filters; the filter may serve routes too', () => {
    const r = loadConfigText(`
listeners { listener "l" { address "127.0.0.1:0"; rate-limit "f" "f" } }
routes { route "r" { matches { path-prefix "/" }; builtin-handler "status" } }
filters { filter "f" { type "rate-limit"; max-rps 1 } }
`, 'x.kdl');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['duplicate-value']);
  });
});

describe('parseRedisUrl', () => {
  it.each([
    ['redis://127.0.0.1:6380', { node: { host: '127.0.0.1', port: 6380 }, tls: false, username: null, password: null, db: 0 }],
    ['rediss://cache.internal', { node: { host: 'cache.internal', port: 6379 }, tls: true, username: null, password: null, db: 0 }],
    ['redis://[::1]:7000/2', { node: { host: '::1', port: 7000 }, tls: false, username: null, password: null, db: 2 }],
    ['redis://:p%40ss@h', { node: { host: 'h', port: 6379 }, tls: false, username: null, password: 'p@ss', db: 0 }],
    ['redis://app:pw@h:1/15', { node: { host: 'h', port: 1 }, tls: false, username: 'app', password: 'pw', db: 15 }],
  ])('%s', (url, want) => {
    expect(parseRedisUrl(url)).toEqual(want);
  });

  it.each(['http://h', 'redis://', 'redis://h/16', 'redis://h/x', 'redis://h?db=1', 'redis://h:0', 'not a url', 'redis://bad_host!'])('rejects %s', (url) => {
    expect(typeof parseRedisUrl(url)).toBe('string');
  });
});
