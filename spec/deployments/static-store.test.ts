import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaticStore, parseStaticStoreData } from '../../src/deployments/static-store.ts';
import { createStaticHarness } from './harness.ts';
import type { StoreHarness } from './harness.ts';
import { describeStoreConformance } from './store.conformance.ts';

describe('static store: conformance', () => {
  let harness: StoreHarness;
  beforeAll(() => {
    harness = createStaticHarness();
  });
  afterAll(async () => {
    await harness.teardown();
  });
  describeStoreConformance(() => harness);
});

describe('static store: construction', () => {
  it('fills defaults: status ready, protocol http1, instance status running', async () => {
    const store = createStaticStore({ deployments: [{ id: 'd1', environmentId: 'e1' }], instances: [{ id: 'i1', deploymentId: 'd1', region: 'aws:r1', address: 'a:1' }] });
    expect(await store.getDeployment('d1')).toEqual({ id: 'd1', environmentId: 'e1', workspaceId: '', projectId: '', status: 'ready', upstreamProtocol: 'http1' });
    expect(await store.getInstances('d1', 'aws:r1')).toEqual([{ id: 'i1', deploymentId: 'd1', region: 'aws:r1', address: 'a:1', status: 'running' }]);
    await store.close();
  });

  it('parseStaticStoreData accepts valid input and reports every problem with its path', () => {
    const ok = parseStaticStoreData({ deployments: [{ id: 'd1', environmentId: 'e1', status: 'stopped' }], instances: [{ id: 'i1', deploymentId: 'd1', region: 'r', address: 'h:1', status: 'pending' }] });
    expect(ok.ok).toBe(true);
    const bad = parseStaticStoreData({
      deployments: [{ id: 'd1', environmentId: 'e1' }, { id: 'd1', environmentId: 'e1' }, { id: '', environmentId: 'e' }, { id: 'd2', environmentId: 'e', status: 'nope' }, { id: 'd3', environmentId: 'e', upstreamProtocol: 'h3' }],
      instances: [{ id: 'i1', deploymentId: 'd1', region: 'r', address: '' }, { id: 'i2', deploymentId: 'd1', region: 'r', address: 'h:1', status: 'up' }, 'x'],
    });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.errors).toEqual([
      'deployments[1].id "d1" is a duplicate',
      'deployments[2].id must be a non-empty string',
      expect.stringMatching(/^deployments\[3\]\.status must be one of/),
      expect.stringMatching(/^deployments\[4\]\.upstreamProtocol must be one of/),
      'instances[0].address must be a non-empty string',
      expect.stringMatching(/^instances\[1\]\.status must be one of/),
      'instances[2] must be an object',
    ]);
    expect(parseStaticStoreData(null).ok).toBe(false);
    expect(parseStaticStoreData({ deployments: {} }).ok).toBe(false);
  });
});
