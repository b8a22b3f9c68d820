// The DeploymentStore conformance suite: every store implementation must pass it unchanged.
// Call describeStoreConformance() inside a describe whose beforeAll builds the harness.

import fc from 'fast-check';
import { expect, it } from 'vitest';
import { DeploymentStoreError } from '../../src/deployments/types.ts';
import type { StoreHarness } from './harness.ts';
import { uid } from './harness.ts';

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

export function describeStoreConformance(h: () => StoreHarness): void {
  it('resolves null for an unknown deployment', async () => {
    expect(await h().store.getDeployment(uid('nope'))).toBeNull();
  });

  it('returns every field of a known deployment', async () => {
    const id = uid('dep');
    await h().addDeployment({ id, environmentId: 'env_a', workspaceId: 'ws_1', projectId: 'proj_1', status: 'stopped', upstreamProtocol: 'h2c' });
    expect(await h().store.getDeployment(id)).toEqual({ id, environmentId: 'env_a', workspaceId: 'ws_1', projectId: 'proj_1', status: 'stopped', upstreamProtocol: 'h2c' });
  });

  it('matches ids exactly: case, padding and prefixes do not match', async () => {
    const id = uid('Dep');
    await h().addDeployment({ id, environmentId: 'env_a' });
    for (const variant of [id.toLowerCase(), id.toUpperCase(), `${id} `, ` ${id}`, id.slice(0, -1), `${id}%`, `${id}_`]) {
      expect(await h().store.getDeployment(variant), variant).toBeNull();
    }
    expect((await h().store.getDeployment(id))?.id).toBe(id);
  });

  it('treats hostile ids as data (SQL metacharacters, unicode, long values)', async () => {
    const id = uid('dep');
    await h().addDeployment({ id, environmentId: 'env_a' });
    const hostile = [`' OR '1'='1`, `${id}' OR 1=1 -- `, `"; DROP TABLE deployments; --`, '%', '_', '\\', 'ümlaut-ß-日本', 'x'.repeat(10_000)];
    for (const value of hostile) expect(await h().store.getDeployment(value), value.slice(0, 40)).toBeNull();
    expect((await h().store.getDeployment(id))?.id).toBe(id);
  });

  it('property: arbitrary ids that were never stored resolve null, stored ones resolve to themselves', async () => {
    const stored = [uid('p'), uid('p')];
    for (const id of stored) await h().addDeployment({ id, environmentId: 'env_p' });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom(...stored)), async (id) => {
        const found = await h().store.getDeployment(id);
        if (stored.includes(id)) expect(found?.id).toBe(id);
        else expect(found).toBeNull();
      }),
      { numRuns: 60 },
    );
  });

  it('returns the instances of one deployment in one region, with every status', async () => {
    const dep = uid('dep');
    const other = uid('dep');
    await h().addDeployment({ id: dep, environmentId: 'env_a' });
    await h().addDeployment({ id: other, environmentId: 'env_a' });
    const mine = [
      { id: uid('i'), deploymentId: dep, region: 'aws:r1', address: '127.0.0.1:1001', status: 'running' as const },
      { id: uid('i'), deploymentId: dep, region: 'aws:r1', address: '127.0.0.1:1002', status: 'pending' as const },
      { id: uid('i'), deploymentId: dep, region: 'aws:r1', address: '127.0.0.1:1003', status: 'failed' as const },
      { id: uid('i'), deploymentId: dep, region: 'aws:r1', address: '127.0.0.1:1004', status: 'inactive' as const },
    ];
    for (const i of mine) await h().addInstance(i);
    await h().addInstance({ id: uid('i'), deploymentId: dep, region: 'aws:r2', address: '127.0.0.1:2001', status: 'running' });
    await h().addInstance({ id: uid('i'), deploymentId: dep, region: 'gcp:r1', address: '127.0.0.1:2002', status: 'running' });
    await h().addInstance({ id: uid('i'), deploymentId: other, region: 'aws:r1', address: '127.0.0.1:2003', status: 'running' });
    const got = await h().store.getInstances(dep, 'aws:r1');
    const byId = (a: { id: string }, b: { id: string }): number => a.id.localeCompare(b.id);
    expect([...got].sort(byId)).toEqual([...mine].sort(byId));
    expect((await h().store.getInstances(dep, 'aws:r2')).map((i) => i.address)).toEqual(['127.0.0.1:2001']);
    expect((await h().store.getInstances(dep, 'gcp:r1')).map((i) => i.address)).toEqual(['127.0.0.1:2002']);
  });

  it('returns an empty list for a deployment without instances, an unknown deployment or region', async () => {
    const dep = uid('dep');
    await h().addDeployment({ id: dep, environmentId: 'env_a' });
    expect(await h().store.getInstances(dep, 'aws:r1')).toEqual([]);
    expect(await h().store.getInstances(uid('nope'), 'aws:r1')).toEqual([]);
    await h().addInstance({ id: uid('i'), deploymentId: dep, region: 'aws:r1', address: '127.0.0.1:1' });
    expect(await h().store.getInstances(dep, 'aws:nowhere')).toEqual([]);
    expect(await h().store.getInstances(dep.toUpperCase(), 'aws:r1')).toEqual([]);
  });

  it('sees changes made after a first read (no caching inside the store)', async () => {
    const dep = uid('dep');
    await h().addDeployment({ id: dep, environmentId: 'env_a' });
    const inst = uid('i');
    await h().addInstance({ id: inst, deploymentId: dep, region: 'aws:r1', address: '127.0.0.1:1', status: 'pending' });
    expect((await h().store.getInstances(dep, 'aws:r1')).map((i) => i.status)).toEqual(['pending']);
    await h().setInstanceStatus(inst, 'running');
    await h().updateDeployment(dep, { environmentId: 'env_b' });
    expect((await h().store.getInstances(dep, 'aws:r1')).map((i) => i.status)).toEqual(['running']);
    expect((await h().store.getDeployment(dep))?.environmentId).toBe('env_b');
  });

  it('ping resolves while the backend is up', async () => {
    await expect(h().store.ping()).resolves.toBeUndefined();
  });

  it('rejects with kind "aborted" when the signal is already aborted', async () => {
    const signal = AbortSignal.abort(new Error('client gone'));
    for (const p of [h().store.getDeployment('x', signal), h().store.getInstances('x', 'aws:r1', signal), h().store.ping(signal)]) {
      const error = await rejectionOf(p);
      expect(error).toBeInstanceOf(DeploymentStoreError);
      expect((error as DeploymentStoreError).kind).toBe('aborted');
    }
  });

  it('rejects with kind "closed" after close()', async () => {
    const store = h().openStore();
    await store.ping();
    await store.close();
    const error = await rejectionOf(store.getDeployment('x'));
    expect(error).toBeInstanceOf(DeploymentStoreError);
    expect((error as DeploymentStoreError).kind).toBe('closed');
  });

  it('rejects with a DeploymentStoreError while the backend is down, and recovers when it is back', async () => {
    const dep = uid('dep');
    await h().addDeployment({ id: dep, environmentId: 'env_a' });
    expect((await h().store.getDeployment(dep))?.id).toBe(dep);
    await h().goDown();
    try {
      for (const p of [h().store.getDeployment(dep), h().store.getInstances(dep, 'aws:r1'), h().store.ping()]) {
        const error = await rejectionOf(p);
        expect(error).toBeInstanceOf(DeploymentStoreError);
        expect(['unavailable', 'timeout']).toContain((error as DeploymentStoreError).kind);
        expect((error as Error).message).not.toMatch(/password/i);
      }
    } finally {
      await h().goUp();
    }
    expect((await h().store.getDeployment(dep))?.id).toBe(dep);
  });
}
