// DNS discovery through the real proxy process, against a real DNS server (dnsmasq on loopback):
// the proxy resolves the upstream's name through `resolver`, sends traffic to the address the
// record names, follows a changed record without a reload, and keeps serving the last known
// targets while the DNS server is down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';
import { startUpstream } from '../helpers/upstream.ts';
import type { Upstream } from '../helpers/upstream.ts';
import { startDnsmasq } from '../helpers/dnsmasq.ts';
import type { Dnsmasq } from '../helpers/dnsmasq.ts';
import { call, eventually, metric } from '../helpers/http.ts';

let one: Upstream;
let two: Upstream;
let dns: Dnsmasq;
let proxy: SentinelProcess;
let port: number;

beforeAll(async () => {
  // Two upstreams on the same port of two loopback addresses: a record change is the only way
  // traffic can move from one to the other.
  one = await startUpstream((_req, res) => res.end('one'));
  two = await startUpstream((_req, res) => res.end('two'), one.port, '127.0.0.2');
  dns = await startDnsmasq({ hosts: ['127.0.0.1 app.test'] });
  proxy = await startSentinel(`
listeners { listener "main" { address "127.0.0.1:0" } }
routes {
  route "app" { matches { path-prefix "/" }; upstream "app" }
  route "status" { priority "critical"; matches { path "/_upstreams" }; builtin-handler "upstreams" }
}
upstreams {
  upstream "app" {
    discovery "dns" { hostname "app.test"; port ${one.port}; resolver "127.0.0.1:${dns.port}"; min-ttl-secs 0.2; max-ttl-secs 1; timeout-secs 0.5 }
  }
}
observability { metrics { enabled #true; address "127.0.0.1:0" }; logging { level "info"; access-log { enabled #false } } }
`, { listeners: ['main'], metrics: true });
  port = proxy.ports.get('main') as number;
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await dns?.close();
  await Promise.all([one?.close(), two?.close()]);
});

describe('dns discovery', () => {
  it('serves the address the record names from the start', async () => {
    for (let k = 0; k < 5; k++) expect((await call(port, '/')).body).toBe('one');
    const status = JSON.parse((await call(port, '/_upstreams')).body) as { upstreams: { app: { discovery: { kind: string }; targets: { target: string }[] } } };
    expect(status.upstreams.app.discovery.kind).toBe('dns');
    expect(status.upstreams.app.targets.map((t) => t.target)).toEqual([`127.0.0.1:${one.port}`]);
  });

  it('picks up a changed record without a reload', async () => {
    await dns.setHosts(['127.0.0.2 app.test']);
    await eventually('traffic moves to the new address', async () => (await call(port, '/')).body === 'two');
    for (let k = 0; k < 5; k++) expect((await call(port, '/')).body).toBe('two');
    expect(await metric(proxy.metricsPort as number, 'sentinel_upstream_discovery_refreshes_total{upstream="app",result="changed"}')).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('keeps the last known targets while DNS fails', async () => {
    await dns.stop();
    await eventually('a failed refresh', async () => (await metric(proxy.metricsPort as number, 'sentinel_upstream_discovery_refreshes_total{upstream="app",result="failed"}')) > 0);
    for (let k = 0; k < 5; k++) expect((await call(port, '/')).body).toBe('two');
    await dns.start();
  }, 30_000);
});
