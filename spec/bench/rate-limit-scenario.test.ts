// The rate-limit bench scenarios must measure a limit on every request: their config loads, and the
// catch-all route lists the filter (an unused filter would be valid config and measure nothing).
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.ts';
import { rateLimitBenchConfig } from '../../bench/scenarios/sentinel-rate-limit.ts';

describe('rate-limit bench configs', () => {
  it.each([
    ['local', 'backend "local"'],
    ['redis', 'backend "redis"; redis-url "redis://127.0.0.1:6379"; redis-timeout-ms 250; on-redis-failure "closed"'],
  ])('%s: loads, and the only route runs the filter', (backend, filter) => {
    const r = loadConfigText(rateLimitBenchConfig(8080, { host: '127.0.0.1', port: 9000 }, filter), 'bench.kdl');
    expect(r.diagnostics).toEqual([]);
    expect(r.config?.routes.map((x) => x.filters)).toEqual([['rl']]);
    expect(r.config?.filters).toEqual([expect.objectContaining({ id: 'rl', type: 'rate-limit', backend })]);
  });
});
