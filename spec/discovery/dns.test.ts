// DNS discovery against a real DNS server (dnsmasq on loopback): A and SRV records, TTL bounds, a
// changed record picked up, failures reported (never an exception), and the discovered target set
// keeping the state of targets that persist while releasing the ones that go.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsDiscoverer } from '../../src/discovery/dns.ts';
import type { DnsDiscoveryOptions } from '../../src/discovery/dns.ts';
import { Registry } from '../../src/runtime/registry.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { DiscoveredTargets } from '../../src/upstream/discovered-targets.ts';
import { targetSettings } from '../../src/upstream/targets.ts';
import { monotonicClock } from '../../src/upstream/health/clock.ts';
import { loadConfigText } from '../../src/config/load.ts';
import { formatDiagnostics } from '../../src/config/format.ts';
import type { UpstreamConfig } from '../../src/config/types.ts';
import { startDnsmasq } from '../helpers/dnsmasq.ts';
import type { Dnsmasq } from '../helpers/dnsmasq.ts';
import { eventually } from '../helpers/http.ts';

let dns: Dnsmasq;

const SRV = [
  '_http._tcp.api.test,a.api.test,8081,0,5',
  '_http._tcp.api.test,b.api.test,8082,0,20',
  '_http._tcp.api.test,backup.api.test,8083,10,1',
];

beforeAll(async () => {
  dns = await startDnsmasq({
    hosts: ['127.0.0.1 api.test', '127.0.0.2 api.test', '127.0.0.11 a.api.test', '127.0.0.12 b.api.test', '127.0.0.13 backup.api.test'],
    srv: SRV,
  });
}, 30_000);

afterAll(async () => {
  await dns?.close();
});

function options(o: Partial<DnsDiscoveryOptions> = {}): DnsDiscoveryOptions {
  return {
    hostname: 'api.test', port: 8080, recordType: 'A', refreshIntervalMs: 30_000, minTtlMs: 500, maxTtlMs: 60_000,
    resolver: { host: '127.0.0.1', port: dns.port }, timeoutMs: 500, ...o,
  };
}

describe('DnsDiscoverer', () => {
  it('A records: every address with the configured port; the next refresh follows the TTL within its bounds', async () => {
    const d = new DnsDiscoverer(options());
    const r = await d.refresh(0);
    expect(r).toEqual({
      ok: true,
      addresses: [{ host: '127.0.0.1', port: 8080, weight: 1 }, { host: '127.0.0.2', port: 8080, weight: 1 }],
      nextMs: 1_000, // dnsmasq's local TTL is 1 s, inside [0.5 s, 60 s]
    });
    const bounded = await new DnsDiscoverer(options({ minTtlMs: 5_000 })).refresh(0);
    expect(bounded.nextMs).toBe(5_000);
  });

  it('SRV records: the lowest priority only, each name resolved, with the record port and weight', async () => {
    const r = await new DnsDiscoverer(options({ hostname: '_http._tcp.api.test', recordType: 'SRV', port: null, refreshIntervalMs: 7_000 })).refresh(0);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect([...(r.addresses ?? [])].sort((x, y) => x.port - y.port)).toEqual([
      { host: '127.0.0.11', port: 8081, weight: 5 },
      { host: '127.0.0.12', port: 8082, weight: 20 },
    ]);
    expect(r.nextMs).toBe(7_000);
  });

  it('a name with no records, and a server that does not answer, are failures with a reason and a backoff', async () => {
    const missing = await new DnsDiscoverer(options({ hostname: 'missing.test' })).refresh(0);
    expect(missing).toMatchObject({ ok: false });
    await dns.stop();
    try {
      const silent = await new DnsDiscoverer(options({ timeoutMs: 200 })).refresh(2);
      expect(silent).toMatchObject({ ok: false, nextMs: 4_000 });
      if (!silent.ok) expect(silent.error).not.toBe('');
    } finally {
      await dns.start();
    }
  });
});

function upstream(discoveryLine: string): UpstreamConfig {
  const r = loadConfigText(`listeners { listener "h" { address "127.0.0.1:0" } }
routes { route "r" { matches { path-prefix "/" }; upstream "u" } }
upstreams { upstream "u" { ${discoveryLine}; outlier-detection { consecutive-failures 1 } } }`, 'dns.kdl');
  const u = r.config?.upstreams[0];
  if (u === undefined) throw new Error(formatDiagnostics(r.diagnostics));
  return u;
}

describe('DiscoveredTargets over DNS', () => {
  it('picks up a changed record; persisting targets keep their state; removed ones are released; a failure keeps the last good set', async () => {
    const registry = new Registry();
    const metrics = new Metrics({ processMetrics: false });
    const config = upstream(`discovery "dns" { hostname "api.test"; port 9000; resolver "127.0.0.1:${dns.port}"; min-ttl-secs 0.2; timeout-secs 0.5 }`);
    const settings = targetSettings(config, metrics.upstreams, monotonicClock);
    const d = config.discovery;
    if (d.kind !== 'dns') throw new Error('expected dns discovery');
    const set = new DiscoveredTargets(new DnsDiscoverer(d), registry, settings);
    try {
      await set.ready;
      expect(set.targets.map((t) => t.id)).toEqual(['127.0.0.1:9000', '127.0.0.2:9000']);
      const kept = set.targets[1]!;
      const v = set.version;
      expect(registry.count('health|')).toBe(2);

      await dns.setHosts(['127.0.0.2 api.test', '127.0.0.3 api.test']);
      await eventually('the changed record is picked up', () => Promise.resolve(set.version > v));
      expect(set.targets.map((t) => t.id)).toEqual(['127.0.0.2:9000', '127.0.0.3:9000']);
      // The target that stayed is the same state object (health, breaker, pool survive).
      expect(set.targets[0]!.health).toBe(kept.health);
      expect(set.targets[0]!.pool).toBe(kept.pool);
      expect(registry.count('health|')).toBe(2);
      expect(registry.count('pool|')).toBe(2);

      const v2 = set.version;
      await dns.stop();
      await eventually('a failed refresh is recorded', () => Promise.resolve((set.status().consecutive_failures as number) > 0), 20_000);
      expect(set.version).toBe(v2);
      expect(set.targets.map((t) => t.id)).toEqual(['127.0.0.2:9000', '127.0.0.3:9000']);
      expect(set.status().last_error).not.toBeNull();
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/sentinel_upstream_discovery_refreshes_total\{upstream="u",result="failed"\} [1-9]/);
      expect(text).toContain('sentinel_upstream_discovered_targets{upstream="u"} 2');
    } finally {
      await set.close();
      await dns.start();
    }
    expect(registry.count()).toBe(0);
  }, 60_000);
});
