// Active checks against real loopback servers: http status ranges and Host header, tcp connect,
// refused connections, a server that never answers (bounded by the timeout), and a prober that
// stops when closed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthProber, probeOnce } from '../../../src/upstream/health/prober.ts';
import type { ProbeResult, ProbeSpec } from '../../../src/upstream/health/prober.ts';
import { closedPort, startUpstream } from '../../helpers/upstream.ts';
import type { Upstream } from '../../helpers/upstream.ts';
import { startBlackhole } from '../../helpers/blackhole.ts';
import type { Blackhole } from '../../helpers/blackhole.ts';

let server: Upstream;
let hole: Blackhole;
let status = 200;
const seen: { path: string; host: string }[] = [];

beforeAll(async () => {
  server = await startUpstream((req, res) => {
    seen.push({ path: req.url ?? '', host: req.headers.host ?? '' });
    res.writeHead(status);
    res.end('x'.repeat(100_000));
  });
  hole = await startBlackhole();
});

afterAll(async () => {
  await server?.close();
  await hole?.close();
});

function spec(o: Partial<ProbeSpec> = {}): ProbeSpec {
  return {
    type: 'http', host: '127.0.0.1', port: server.port, path: '/healthz?deep=1', hostHeader: 'check.internal',
    expectedStatus: { min: 200, max: 299 }, intervalMs: 1_000, timeoutMs: 1_000, ...o,
  };
}

describe('probeOnce', () => {
  it('http: ok within the expected range, with the configured path and Host; not ok outside it', async () => {
    status = 204;
    expect(await probeOnce(spec())).toEqual({ ok: true, detail: 'ok' });
    expect(seen.at(-1)).toEqual({ path: '/healthz?deep=1', host: 'check.internal' });
    status = 503;
    expect(await probeOnce(spec())).toEqual({ ok: false, detail: 'status 503' });
    expect(await probeOnce(spec({ expectedStatus: { min: 500, max: 599 } }))).toEqual({ ok: true, detail: 'ok' });
  });

  it('a refused connection fails with its code; tcp succeeds on connect', async () => {
    const p = await closedPort();
    expect(await probeOnce(spec({ port: p }))).toEqual({ ok: false, detail: 'ECONNREFUSED' });
    expect(await probeOnce(spec({ type: 'tcp', port: p }))).toEqual({ ok: false, detail: 'ECONNREFUSED' });
    expect(await probeOnce(spec({ type: 'tcp' }))).toEqual({ ok: true, detail: 'ok' });
  });

  it('a target that never answers fails by the timeout', async () => {
    expect(await probeOnce(spec({ port: hole.port, timeoutMs: 200 }))).toEqual({ ok: false, detail: 'timeout' });
    expect(await probeOnce(spec({ type: 'tcp', port: hole.port, timeoutMs: 200 }))).toEqual({ ok: false, detail: 'timeout' });
  });
});

describe('HealthProber', () => {
  it('checks repeatedly, then stops when closed (a check in progress is dropped)', async () => {
    status = 200;
    const results: ProbeResult[] = [];
    const prober = new HealthProber(spec({ intervalMs: 20, timeoutMs: 5_000 }), (r) => results.push(r));
    while (results.length < 3) await new Promise((r) => setTimeout(r, 10));
    await prober.close();
    const n = results.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(results.length).toBe(n);
    expect(results.every((r) => r.ok)).toBe(true);
  });
});
