// Tracing off costs nothing: without `observability { tracing }` no OpenTelemetry SDK module is
// even resolved (it is imported dynamically only when tracing is configured). A module-resolution
// hook in the child process reports every @opentelemetry import; the positive case proves the
// hook sees them. (prom-client itself requires the small @opentelemetry/api facade for its CPU
// metric's exemplars; that one load, from prom-client, is the only one allowed.)
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startSentinel } from '../helpers/sentinel-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

const HOOK = fileURLToPath(new URL('../fixtures/report-otel-loads.mjs', import.meta.url));

async function run(tracing: string): Promise<string> {
  const up = await startUpstream((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
  const p = await startSentinel(`
listeners { listener "main" { address "127.0.0.1:0" } }
routes { route "all" { matches { path-prefix "/" }; upstream "app" } }
upstreams { upstream "app" { target "${up.address}" } }
observability { metrics { enabled #false }; logging { access-log { enabled #false } }${tracing} }
`, { listeners: ['main'], env: { NODE_OPTIONS: `--import=${HOOK}` } });
  try {
    const r = await request(`http://127.0.0.1:${p.ports.get('main')}/x`);
    await r.body.dump();
    expect(r.statusCode).toBe(200);
    // The SIGTERM flow runs shutdown (which would stop a tracer) before we read stderr.
    await p.stop();
    return p.stderr();
  } finally {
    await p.stop();
    await up.close();
  }
}

describe('tracing off by default', () => {
  it('no @opentelemetry module is resolved when tracing is not configured', async () => {
    const stderr = await run('');
    expect(stderr).toContain('shutdown: complete');
    const loads = stderr.split('\n').filter((l) => l.startsWith('OTEL-MODULE-LOADED'));
    const foreign = loads.filter((l) => !/^OTEL-MODULE-LOADED @opentelemetry\/api from \S*\/node_modules\/prom-client\//.test(l));
    expect(foreign).toEqual([]);
  }, 60_000);

  it('with tracing configured the SDK is loaded (the hook sees it)', async () => {
    const stderr = await run('; tracing { backend "otlp" { endpoint "http://127.0.0.1:9/v1/traces" }; sampling-rate 0 }');
    expect(stderr).toMatch(/OTEL-MODULE-LOADED @opentelemetry\/sdk-trace from \S*\/src\/observability\/otel\.ts/);
  }, 60_000);
});
