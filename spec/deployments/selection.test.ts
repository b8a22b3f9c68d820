// InstanceSelection keeps one selector per deployment, keyed by the instance set's signature:
// reused across refreshes that return the same instances (in any order), rebuilt when the set
// changes, and bounded in the number of deployments it remembers.
import { describe, expect, it } from 'vitest';
import { InstanceSelection } from '../../src/deployments/selection.ts';
import { parseInstanceAddress } from '../../src/deployments/router.ts';
import type { InstanceSet } from '../../src/deployments/router.ts';
import type { Deployment, Instance } from '../../src/deployments/types.ts';

const idle = { inFlight: (): number => 0, available: (): boolean => true };

function dep(id: string): Deployment {
  return { id, environmentId: 'E', workspaceId: '', projectId: '', status: 'ready', upstreamProtocol: 'http1' };
}

function set(deploymentId: string, addresses: readonly string[]): InstanceSet {
  const running: Instance[] = addresses.map((address, i) => ({ id: `i${i}`, deploymentId, region: 'aws:r1', address, status: 'running' }));
  return { total: running.length, running, targets: running.map((i) => parseInstanceAddress(i.address)) };
}

describe('InstanceSelection', () => {
  it('a refreshed set with the same instances (reordered) keeps the selector; a changed set rebuilds it', () => {
    const sel = new InstanceSelection({ algorithm: 'round_robin' }, idle, 10);
    const d = dep('D');
    const first = set('D', ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']);
    const picks = [0, 1, 2, 3].map(() => first.running[sel.pick(d, first, undefined)]?.address);
    expect(picks).toEqual(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.1:80']);
    const reordered = set('D', ['10.0.0.3:80', '10.0.0.1:80', '10.0.0.2:80']);
    expect(reordered.running[sel.pick(d, reordered, undefined)]?.address).toBe('10.0.0.2:80'); // the rotation goes on
    expect(sel.builds).toBe(1);
    const changed = set('D', ['10.0.0.1:80', '10.0.0.4:80']);
    sel.pick(d, changed, undefined);
    expect(sel.builds).toBe(2);
  });

  it('exclusions are set indexes and are honoured', () => {
    const sel = new InstanceSelection({ algorithm: 'round_robin' }, idle, 10);
    const s = set('D', ['10.0.0.3:80', '10.0.0.1:80', '10.0.0.2:80']);
    for (let k = 0; k < 6; k++) expect(sel.pick(dep('D'), s, undefined, new Set([0, 2]))).toBe(1);
    expect(sel.pick(dep('D'), s, undefined, new Set([0, 1, 2]))).toBe(-1);
  });

  it('remembers at most maxEntries deployments (the oldest goes)', () => {
    const sel = new InstanceSelection({ algorithm: 'maglev', hashKey: 'client-ip' }, idle, 3);
    for (let i = 0; i < 10; i++) sel.pick(dep(`D${i}`), set(`D${i}`, ['10.0.0.1:80', '10.0.0.2:80']), { clientIp: '1.2.3.4', path: '/', headers: {}, query: null });
    expect(sel.size).toBe(3);
    expect(sel.builds).toBe(10);
  });
});
