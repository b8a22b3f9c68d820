// File discovery: the JSON and KDL target lists, change detection by polling, and failures
// (unreadable, unparseable, empty, too large) that never replace the last good set.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDiscoverer, MAX_TARGET_FILE_BYTES, parseJsonTargets, parseKdlTargets } from '../../src/discovery/file.ts';
import { Registry } from '../../src/runtime/registry.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { DiscoveredTargets } from '../../src/upstream/discovered-targets.ts';
import { targetSettings } from '../../src/upstream/targets.ts';
import { monotonicClock } from '../../src/upstream/health/clock.ts';
import { loadConfigText } from '../../src/config/load.ts';
import { formatDiagnostics } from '../../src/config/format.ts';
import { eventually } from '../helpers/http.ts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'sentinel-file-discovery-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

describe('target file formats', () => {
  it('JSON: a list of "host:port" or {address, weight}, or {"targets": [...]}', () => {
    expect(parseJsonTargets('["10.0.0.1:80", {"address": "[::1]:81", "weight": 3}]')).toEqual({
      addresses: [{ host: '10.0.0.1', port: 80, weight: 1 }, { host: '::1', port: 81, weight: 3 }],
    });
    expect(parseJsonTargets('{"targets": ["api.internal:8080"]}')).toEqual({ addresses: [{ host: 'api.internal', port: 8080, weight: 1 }] });
  });

  it('JSON: every malformed entry is an error naming it', () => {
    expect(parseJsonTargets('[')).toMatchObject({ error: expect.stringContaining('invalid JSON') });
    expect(parseJsonTargets('{"hosts": []}')).toMatchObject({ error: expect.stringContaining('expected a list') });
    expect(parseJsonTargets('["10.0.0.1"]')).toEqual({ error: 'target 1: invalid address "10.0.0.1": missing ":port" (expected "host:port", e.g. "127.0.0.1:8080")' });
    expect(parseJsonTargets('["10.0.0.1:80", {"address": "10.0.0.2:80", "weight": 0}]')).toEqual({ error: 'target 2: weight must be an integer between 1 and 1000' });
    expect(parseJsonTargets('[{"address": "10.0.0.2:80", "wieght": 2}]')).toMatchObject({ error: expect.stringContaining('unknown field "wieght"') });
  });

  it('KDL: the upstream target syntax, with file and line in errors', async () => {
    expect(await parseKdlTargets('// pool\ntarget "10.0.0.1:80"\ntarget "10.0.0.2:80" weight=2\ntarget { address "10.0.0.3:80"; weight 3 }\n', 't.kdl')).toEqual({
      addresses: [{ host: '10.0.0.1', port: 80, weight: 1 }, { host: '10.0.0.2', port: 80, weight: 2 }, { host: '10.0.0.3', port: 80, weight: 3 }],
    });
    expect(await parseKdlTargets('target "10.0.0.1:80"\ntarget "10.0.0.2"\n', 't.kdl')).toMatchObject({ error: expect.stringMatching(/^t\.kdl:2: invalid address/) });
    expect(await parseKdlTargets('target "10.0.0.1:80"\nupstream "x"\n', 't.kdl')).toEqual({ error: 't.kdl:2: unexpected "upstream" (only target lines are allowed)' });
    expect(await parseKdlTargets('target "10.0.0.1:80', 't.kdl')).toMatchObject({ error: expect.stringMatching(/^t\.kdl:1: /) });
  });
});

describe('FileDiscoverer', () => {
  it('reads the file, reports "unchanged" until it changes, then the new list', async () => {
    const path = join(dir, 'targets.json');
    writeFileSync(path, '["127.0.0.1:1"]');
    const d = new FileDiscoverer({ path, watchIntervalMs: 50 });
    expect(await d.refresh(0)).toEqual({ ok: true, addresses: [{ host: '127.0.0.1', port: 1, weight: 1 }], nextMs: 50 });
    expect(await d.refresh(0)).toEqual({ ok: true, addresses: null, nextMs: 50 });
    writeFileSync(path, '["127.0.0.1:1", "127.0.0.1:2"]');
    expect(await d.refresh(0)).toMatchObject({ ok: true, addresses: [{ port: 1 }, { port: 2 }] });
  });

  it('a missing, empty, unparseable or oversized file is a failure', async () => {
    const path = join(dir, 'targets.kdl');
    const d = new FileDiscoverer({ path, watchIntervalMs: 5_000 });
    expect(await d.refresh(0)).toMatchObject({ ok: false, error: 'ENOENT' });
    writeFileSync(path, '// nothing yet\n');
    expect(await d.refresh(0)).toMatchObject({ ok: false, error: expect.stringContaining('lists no target') });
    writeFileSync(path, 'target "127.0.0.1:1" weight=0\n');
    expect(await d.refresh(0)).toMatchObject({ ok: false, error: expect.stringMatching(/targets\.kdl:1: /) });
    writeFileSync(path, `${'// x\n'.repeat(MAX_TARGET_FILE_BYTES / 5 + 1)}target "127.0.0.1:1"\n`);
    expect(await d.refresh(0)).toMatchObject({ ok: false, error: expect.stringContaining('larger than') });
  });
});

describe('DiscoveredTargets over a file', () => {
  it('follows the file, keeps the last good set when it breaks, and releases everything on close', async () => {
    const path = join(dir, 'pool.json');
    writeFileSync(path, '["127.0.0.1:7001", "127.0.0.1:7002"]');
    const r = loadConfigText(`listeners { listener "h" { address "127.0.0.1:0" } }
routes { route "r" { matches { path-prefix "/" }; upstream "u" } }
upstreams { upstream "u" { discovery "file" { path "${path}"; watch-interval-secs 0.05 } } }`, 'file.kdl');
    const config = r.config?.upstreams[0];
    if (config === undefined) throw new Error(formatDiagnostics(r.diagnostics));
    const d = config.discovery;
    if (d.kind !== 'file') throw new Error('expected file discovery');
    const registry = new Registry();
    const metrics = new Metrics({ processMetrics: false });
    const set = new DiscoveredTargets(new FileDiscoverer(d), registry, targetSettings(config, metrics.upstreams, monotonicClock));
    try {
      await set.ready;
      expect(set.targets.map((t) => `${t.id}/${t.weight}`)).toEqual(['127.0.0.1:7001/1', '127.0.0.1:7002/1']);
      const second = set.targets[1]!;
      writeFileSync(path, '[{"address": "127.0.0.1:7002", "weight": 5}, "127.0.0.1:7003"]');
      await eventually('the new list', () => Promise.resolve(set.targets.map((t) => t.id).join() === '127.0.0.1:7002,127.0.0.1:7003'));
      expect(set.targets[0]!.weight).toBe(5);
      expect(set.targets[0]!.health).toBe(second.health);
      expect(registry.count('pool|')).toBe(2);
      const v = set.version;
      writeFileSync(path, '["127.0.0.1:7004", ');
      await eventually('a failed refresh', () => Promise.resolve(set.status().last_error !== null));
      expect(set.version).toBe(v);
      expect(set.targets.map((t) => t.id)).toEqual(['127.0.0.1:7002', '127.0.0.1:7003']);
    } finally {
      await set.close();
    }
    expect(registry.count()).toBe(0);
  }, 30_000);
});
