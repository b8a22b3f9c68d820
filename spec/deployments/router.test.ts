// Unit and property tests of the routing decision: header lookup, address parsing, the synchronous
// warm path, abort handling, selection bounds, and the proxy-error mapping.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deploymentCodeForProxyError, DEPLOYMENT_ERROR_TABLE } from '../../src/deployments/errors.ts';
import { createDeploymentRouter, parseInstanceAddress, readHeader } from '../../src/deployments/router.ts';
import { createStaticStore } from '../../src/deployments/static-store.ts';
import type { StaticInstanceInput } from '../../src/deployments/static-store.ts';
import { DeploymentStoreError } from '../../src/deployments/types.ts';
import type { DeploymentStore } from '../../src/deployments/types.ts';
import { ERROR_CODES } from '../../src/core/errors.ts';

const clock = { now: () => 0 };

function storeWith(instances: StaticInstanceInput[]): DeploymentStore {
  return createStaticStore({ deployments: [{ id: 'd1', environmentId: 'e1' }], instances });
}

describe('parseInstanceAddress', () => {
  it('accepts host:port, bare hosts (port 80) and bracketed IPv6', () => {
    expect(parseInstanceAddress('10.0.0.1:8080')).toEqual({ host: '10.0.0.1', port: 8080, authority: '10.0.0.1:8080' });
    expect(parseInstanceAddress('svc.local')).toEqual({ host: 'svc.local', port: 80, authority: 'svc.local:80' });
    expect(parseInstanceAddress('[::1]:9000')).toEqual({ host: '::1', port: 9000, authority: '[::1]:9000' });
  });

  it('rejects anything that is not exactly an authority', () => {
    for (const bad of ['', '%%bad', 'host:99999', 'host:port', 'a b:1', 'h:1/path', 'h:1?q', 'h:1#f', 'user@h:1', 'h\\x:1', 'h:1\n', '[::1', ':80']) {
      expect(parseInstanceAddress(bad), JSON.stringify(bad)).toBeNull();
    }
  });

  it('property: total on arbitrary strings, and any accepted target has a valid port and non-empty host', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const t = parseInstanceAddress(s);
        if (t !== null) {
          expect(t.host.length).toBeGreaterThan(0);
          expect(Number.isInteger(t.port) && t.port >= 0 && t.port <= 65535).toBe(true);
        }
      }),
    );
  });
});

describe('readHeader', () => {
  it('finds the header whatever the key case, takes the first of several values', () => {
    expect(readHeader({ 'x-deployment-id': 'a' }, 'x-deployment-id')).toBe('a');
    expect(readHeader({ 'X-Deployment-ID': 'b' }, 'x-deployment-id')).toBe('b');
    expect(readHeader({ 'x-deployment-id': ['c', 'd'] }, 'x-deployment-id')).toBe('c');
    expect(readHeader({ 'x-deployment-idx': 'e' }, 'x-deployment-id')).toBeUndefined();
  });
});

describe('DeploymentRouter', () => {
  it('answers synchronously once both caches are warm', async () => {
    const r = createDeploymentRouter({ environmentId: 'e1', region: 'r', store: storeWith([{ id: 'i1', deploymentId: 'd1', region: 'r', address: 'h:1' }]), clock });
    const cold = r.decide({ 'x-deployment-id': 'd1' });
    expect(cold).toBeInstanceOf(Promise);
    expect((await cold).kind).toBe('proxy');
    const warm = r.decide({ 'x-deployment-id': 'd1' });
    expect(warm).not.toBeInstanceOf(Promise);
    expect(warm).toMatchObject({ kind: 'proxy', target: { host: 'h', port: 1 } });
    r.close();
  });

  it('an id longer than the id column (256) is not found at once: no lookup, nothing cached', () => {
    let lookups = 0;
    const counting: DeploymentStore = {
      getDeployment: async () => { lookups++; return null; },
      getInstances: async () => [],
      ping: async () => {},
      close: async () => {},
    };
    const r = createDeploymentRouter({ environmentId: 'e1', region: 'r', store: counting, clock });
    const d = r.decide({ 'x-deployment-id': 'x'.repeat(257) });
    expect(d).toMatchObject({ kind: 'error', status: 404, code: 'err:unkey:not_found:deployment_not_found' });
    expect(lookups).toBe(0);
    expect(r.deployments.size).toBe(0);
    expect(r.decide({ 'x-deployment-id': 'x'.repeat(256) })).toBeInstanceOf(Promise); // a real lookup
    r.close();
  });

  it('a client abort during a cold lookup is 499 client_closed_request, not 500', async () => {
    let release!: () => void;
    const slow: DeploymentStore = {
      getDeployment: () => new Promise((resolve) => (release = () => resolve(null))),
      getInstances: async () => [],
      ping: async () => {},
      close: async () => {},
    };
    const r = createDeploymentRouter({ environmentId: 'e1', region: 'r', store: slow, clock });
    const controller = new AbortController();
    const pending = r.decide({ 'x-deployment-id': 'd1' }, controller.signal);
    controller.abort();
    expect(await pending).toMatchObject({ kind: 'error', status: 499, code: 'err:user:bad_request:client_closed_request' });
    release();
    r.close();
  });

  it('store errors become 500 and are reported, never thrown', async () => {
    const failing: DeploymentStore = {
      getDeployment: async () => {
        throw new DeploymentStoreError('unavailable', 'down');
      },
      getInstances: async () => [],
      ping: async () => {
        throw new DeploymentStoreError('unavailable', 'down');
      },
      close: async () => {},
    };
    const events: unknown[] = [];
    const r = createDeploymentRouter({ environmentId: 'e1', region: 'r', store: failing, clock, onEvent: (e) => events.push(e.type) });
    expect(await r.decide({ 'x-deployment-id': 'd1' })).toMatchObject({ status: 500, code: 'err:unkey:internal_server_error:internal_server_error' });
    expect(events).toEqual(['store_error']);
    expect(await r.ready()).toBe(false);
    r.close();
  });

  it('a throwing event observer does not change the decision', async () => {
    const r = createDeploymentRouter({ environmentId: 'e1', region: 'r', store: storeWith([]), clock, onEvent: () => {
      throw new Error('observer bug');
    } });
    expect(await r.decide({ 'x-deployment-id': 'nope' })).toMatchObject({ status: 404 });
    r.close();
  });

  it('property: the pick is always a running instance of the region, whatever the random source returns', async () => {
    const instances: StaticInstanceInput[] = [
      { id: 'a', deploymentId: 'd1', region: 'r', address: 'a:1' },
      { id: 'b', deploymentId: 'd1', region: 'r', address: 'b:1', status: 'pending' },
      { id: 'c', deploymentId: 'd1', region: 'r', address: 'c:1' },
      { id: 'x', deploymentId: 'd1', region: 'other', address: 'x:1' },
    ];
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.constantFrom(1, -0.5, 2, Number.NaN, Infinity)), async (value) => {
        const r = createDeploymentRouter({ environmentId: 'e1', region: 'r', store: storeWith(instances), clock, random: () => value });
        const d = await r.decide({ 'x-deployment-id': 'd1' });
        expect(d.kind === 'proxy' && ['a', 'c'].includes(d.instance.id)).toBe(true);
        r.close();
      }),
    );
  });

  it('requires environment and region', () => {
    expect(() => createDeploymentRouter({ environmentId: '', region: 'r', store: storeWith([]) })).toThrow(RangeError);
    expect(() => createDeploymentRouter({ environmentId: 'e', region: '', store: storeWith([]) })).toThrow(RangeError);
  });
});

describe('deploymentCodeForProxyError', () => {
  it('maps every core error code to a Unkey URN; timeouts are 504, refusals 503, resets 502, aborts 499', () => {
    for (const code of ERROR_CODES) expect(DEPLOYMENT_ERROR_TABLE[deploymentCodeForProxyError(code)]).toBeDefined();
    expect(deploymentCodeForProxyError('UPSTREAM_CONNECT_FAILED')).toBe('err:unkey:service_unavailable:service_unavailable');
    expect(deploymentCodeForProxyError('UPSTREAM_RESET')).toBe('err:unkey:bad_gateway:bad_sentinel');
    expect(deploymentCodeForProxyError('UPSTREAM_CONNECT_TIMEOUT')).toBe('err:unkey:gateway_timeout:sentinel_timeout');
    expect(deploymentCodeForProxyError('REQUEST_TIMEOUT')).toBe('err:unkey:gateway_timeout:sentinel_timeout');
    expect(deploymentCodeForProxyError('CLIENT_CLOSED_REQUEST')).toBe('err:user:bad_request:client_closed_request');
  });
});
