// Which observability settings a reload may change, and which need a restart (restartOnlyChanges).
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { restartOnlyChanges } from '../../src/server/proxy-server.ts';

const BASE = `listeners { listener "l" { address "127.0.0.1:0" } }
routes { route "r" { matches { path-prefix "/" }; upstream "u" } }
upstreams { upstream "u" { target "127.0.0.1:1" } }
`;

function config(observability: string): Config {
  const r = loadConfigText(`${BASE}observability { ${observability} }`, 'x.kdl');
  if (r.config === null) throw new Error(JSON.stringify(r.diagnostics));
  return r.config;
}

const TRACING = (rate: number, name = 'sentinel', endpoint = 'http://127.0.0.1:4318/v1/traces') =>
  `tracing { backend "otlp" { endpoint "${endpoint}" }; sampling-rate ${rate}; service-name "${name}" }`;

describe('restart-only observability settings', () => {
  it.each([
    ['log level', 'logging { level "info" }', 'logging { level "debug" }'],
    ['access-log format and sample-rate', 'logging { access-log { format "json" } }', 'logging { access-log { format "combined"; sample-rate 0.5 } }'],
    ['error-log level', 'logging { error-log { level "warn" } }', 'logging { error-log { level "error" } }'],
    ['tracing sampling-rate', TRACING(0.01), TRACING(1)],
  ])('%s: reloadable', (_what, a, b) => {
    expect(restartOnlyChanges(config(a), config(b))).toEqual([]);
  });

  it.each([
    ['access-log file', 'logging { access-log { file "stdout" } }', 'logging { access-log { file "/tmp/a.log" } }', /access-log enabled, file or buffer-size/],
    ['access-log buffer-size', 'logging { access-log { buffer-size 0 } }', 'logging { access-log { buffer-size 4096 } }', /access-log enabled, file or buffer-size/],
    ['error-log turned on', '', 'logging { error-log { } }', /error-log enabled, file or buffer-size/],
    ['audit-log file', '', 'logging { audit-log { file "/tmp/audit.log" } }', /audit-log changed/],
    ['tracing turned on', '', TRACING(0.01), /tracing turned on or off/],
    ['tracing turned off', TRACING(0.01), '', /tracing turned on or off/],
    ['tracing endpoint', TRACING(0.01), TRACING(0.01, 'sentinel', 'http://10.0.0.1:4318/v1/traces'), /tracing turned on or off, or its backend/],
    ['tracing service-name', TRACING(0.01), TRACING(0.01, 'edge'), /service-name changed/],
  ])('%s: needs a restart', (_what, a, b, message) => {
    const errors = restartOnlyChanges(config(a), config(b));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });
});

describe('restart-only system settings', () => {
  const sys = (body: string): Config => {
    const r = loadConfigText(`listeners { listener "l" { address "127.0.0.1:8080" } }\nroutes { route "r" { matches { path-prefix "/" }; upstream "u" } }\nupstreams { upstream "u" { target "127.0.0.1:1" } }\nsystem { ${body} }`, 'x.kdl');
    if (r.config === null) throw new Error(JSON.stringify(r.diagnostics));
    return r.config;
  };
  it('worker-threads and reuse-port need a restart; max-connections does not', () => {
    expect(restartOnlyChanges(sys('worker-threads 2'), sys('worker-threads 3'))).toEqual(['system worker-threads changed: this needs a restart']);
    expect(restartOnlyChanges(sys('worker-threads 2'), sys('worker-threads 2; reuse-port #false'))).toEqual(['system reuse-port changed: this needs a restart']);
    expect(restartOnlyChanges(sys('max-connections 10'), sys('max-connections 20'))).toEqual([]);
  });
});
