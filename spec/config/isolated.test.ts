// The CLI loads configs in a child process (src/config/isolated.ts) to keep the parser's memory
// out of the dataplane. The result must be exactly what the in-process loader returns.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, loadConfigText } from '../../src/config/load.ts';
import { loadConfigIsolated } from '../../src/config/isolated.ts';
import { DEFAULT_CONFIG_FILE, DEFAULT_CONFIG_KDL } from '../../src/config/default-kdl.ts';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-isolated-'));

describe('loadConfigIsolated', () => {
  it('returns the same result as loadConfigFile for a valid file with includes', async () => {
    writeFileSync(join(dir, 'extra.kdl'), 'routes { route "b" { matches { path "/b" }; builtin-handler "health" } }\n');
    const main = join(dir, 'main.kdl');
    writeFileSync(main, 'include "extra.kdl"\nlisteners { listener "l" { address "127.0.0.1:0" } }\nroutes { route "a" { matches { path "/a" }; builtin-handler "status" } }\n');
    const isolated = await loadConfigIsolated({ kind: 'file', path: main });
    expect(isolated.config).not.toBeNull();
    expect(isolated).toEqual(await loadConfigFile(main));
  });

  it('returns the same diagnostics as loadConfigFile for an invalid file', async () => {
    const bad = join(dir, 'bad.kdl');
    writeFileSync(bad, 'listeners { listener "l" { adress "x" } }\n');
    const isolated = await loadConfigIsolated({ kind: 'file', path: bad });
    expect(isolated.config).toBeNull();
    expect(isolated.diagnostics.length).toBeGreaterThan(0);
    expect(isolated).toEqual(await loadConfigFile(bad));
  });

  it('loads the embedded default text', async () => {
    const isolated = await loadConfigIsolated({ kind: 'text', text: DEFAULT_CONFIG_KDL, file: DEFAULT_CONFIG_FILE });
    expect(isolated).toEqual(loadConfigText(DEFAULT_CONFIG_KDL, DEFAULT_CONFIG_FILE));
  });
});
