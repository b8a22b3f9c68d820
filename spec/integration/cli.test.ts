// The CLI as users run it: exit codes, diagnostics, environment, bind failures, embedded default.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { runSentinel, startSentinel } from '../helpers/sentinel-process.ts';
import type { SentinelProcess } from '../helpers/sentinel-process.ts';

const dirs: string[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-cli-'));
  dirs.push(dir);
  const file = join(dir, 'sentinel.kdl');
  writeFileSync(file, text);
  return file;
}

const VALID = `
listeners { listener "http" { address "127.0.0.1:0" } }
routes { route "health" { matches { path "/health" }; builtin-handler "health" } }
observability { metrics { enabled #false } }
`;

describe('sentinel CLI', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await runSentinel(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`sentinel ${pkg.version}`);
  });

  it('validate exits 0 on a valid file', async () => {
    const r = await runSentinel(['validate', '-c', writeConfig(VALID)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('configuration is valid');
  });

  it('validate exits 1 with every diagnostic, located, on an invalid file', async () => {
    const file = writeConfig(`
listeners { listener "http" { adress "127.0.0.1:0" } }
routes { route "r" { matches { path "/" }; upstream "missing" } }
`);
    const r = await runSentinel(['validate', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown-key');
    expect(r.stderr).toContain('did you mean "address"');
    expect(r.stderr).toContain(`${file}:2:`);
    expect(r.stderr).toContain('dangling-reference');
    expect(r.stderr).toContain(`${file}:3:`);
  });

  it('run refuses to start on an invalid config, with the diagnostics', async () => {
    const r = await runSentinel(['run', '-c', writeConfig('listeners { listener "x" { address "nonsense" } }')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('invalid-address');
    expect(r.stderr).toContain('refusing to start');
  });

  it('a missing config file is a clear error and a non-zero exit', async () => {
    const r = await runSentinel(['run', '-c', '/nonexistent/sentinel.kdl']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('/nonexistent/sentinel.kdl');
  });

  it('an unknown argument prints usage and exits 2', async () => {
    const r = await runSentinel(['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage:');
  });

  it('reads SENTINEL_CONFIG when -c is absent', async () => {
    const r = await runSentinel(['validate'], { SENTINEL_CONFIG: writeConfig(VALID) });
    expect(r.code).toBe(0);
  });

  it('an unbindable port is a clear error and a non-zero exit', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((r) => blocker.close(r)));
    const port = (blocker.address() as { port: number }).port;
    const r = await runSentinel(['run', '-c', writeConfig(`listeners { listener "http" { address "127.0.0.1:${port}" } }
routes { route "h" { matches { path "/" }; builtin-handler "health" } }
observability { metrics { enabled #false } }`)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port} (listener "http"): address already in use`);
  });

  it('starts on the embedded default when no config is given, serving /health and metrics', async () => {
    // The embedded default binds the documented fixed ports 8080 and 9090.
    const p: SentinelProcess = await startSentinel('', { listeners: ['http'], metrics: true, args: [], env: {} , noConfig: true });
    cleanups.push(() => p.stop());
    expect(p.ports.get('http')).toBe(8080);
    expect(p.metricsPort).toBe(9090);
    const health = await fetch('http://127.0.0.1:8080/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const status = await fetch('http://127.0.0.1:8080/');
    expect((await status.json() as { name: string }).name).toBe('sentinel');
    const metrics = await fetch('http://127.0.0.1:9090/metrics');
    expect(await metrics.text()).toContain('sentinel_build_info');
  });
});
