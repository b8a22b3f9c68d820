// Observability micro-benchmark: the per-request work of the access log and of tracing, in one
// process, so its cost can be read even when the machine is too busy for `npm run bench` to
// resolve a few percent (the full-proxy comparison is the "Observability cost" table there).
//
//   node bench/micro/observability.ts            # measure, print (ratio to the committed baseline), write the baseline
//   node bench/micro/observability.ts --no-write # measure and print only
//
// Each case is one request's worth of work, run in batches of 1000 with the event loop turned
// between batches, so writes and span exports (to a local OTLP sink in this process) are done and
// counted in the time, as in the proxy:
// - access-json / access-combined: sampling decision, record, write to a file;
// - access-sampled-0: the same at sample-rate 0 (the decision only);
// - trace-1pct / trace-100pct: a server span and one attempt span started and ended, exported.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logs } from '../../src/observability/log.ts';
import type { AccessLog, AccessRecord } from '../../src/observability/log.ts';
import { createTracer } from '../../src/observability/tracing.ts';
import type { Tracer } from '../../src/observability/tracing.ts';
import { fmtOps, readBaseline, vsBaseline, writeBaseline } from './lib.ts';

const BATCH = 1000;
const ROUNDS = 5;
const ROUND_MS = 1500;

const req = {
  method: 'GET', url: '/api/users/42', httpVersion: '1.1',
  headers: { host: 'app.example.com', 'user-agent': 'bench/1.0', referer: 'https://app.example.com/' },
  socket: { remoteAddress: '127.0.0.1' },
} as unknown as IncomingMessage;

const record: AccessRecord = {
  request_id: '9083f2ef-7380-460d-9c96-274d31a2c6df', trace_id: '9b0574b0a11e9998f6b10b06bd55332a', listener: 'main', client_ip: '127.0.0.1',
  method: 'GET', path: '/api/users/42', host: 'app.example.com', route: 'api', upstream: 'app', target: '127.0.0.1:3000', attempts: 1,
  status: 200, error_code: undefined, bytes_in: 0, bytes_out: 512, duration_ms: 1.234, upstream_ms: 1.01, agents_ms: 0,
};

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Requests/s of `fn`, the event loop turning between batches; median of rounds. */
async function measure(fn: () => void): Promise<number> {
  for (let i = 0; i < BATCH * 5; i++) fn(); // warm-up
  await turn();
  const results: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let ops = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ROUND_MS) {
      for (let i = 0; i < BATCH; i++) fn();
      ops += BATCH;
      await turn();
    }
    results.push((ops / (performance.now() - t0)) * 1000);
  }
  results.sort((a, b) => a - b);
  return results[Math.floor(results.length / 2)] as number;
}

function accessCase(log: AccessLog): () => void {
  return () => { if (log.sampled()) log.write(record, req); };
}

function traceCase(tracer: Tracer): () => void {
  return () => {
    const span = tracer.startRequest(req, null, null, 'main', record.request_id);
    const attempt = span.startAttempt('GET', 'app', '127.0.0.1:3000', 1);
    attempt.end(200, undefined);
    span.end({ route: 'api', status: 200, errorCode: undefined, upstream: 'app', target: '127.0.0.1:3000', attempts: 1, bytesIn: 0, bytesOut: 512 });
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-micro-obs-'));
  let spans = 0;
  const sink = createServer((q, s) => { q.resume(); q.on('end', () => { spans++; s.writeHead(200, { 'content-length': '0' }).end(); }); });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`;
  const logs = new Logs('silent');
  const accessCfg = { enabled: true, destination: join(dir, 'access.log'), format: 'json' as const, sampleRate: 1, bufferBytes: 0 };
  const cases: Record<string, () => void> = {
    'baseline-noop': () => undefined,
    'access-json': accessCase(logs.openAccessLog(accessCfg) as AccessLog),
    'access-combined': accessCase(logs.openAccessLog({ ...accessCfg, destination: join(dir, 'combined.log'), format: 'combined' }) as AccessLog),
    'access-sampled-0': accessCase(logs.openAccessLog({ ...accessCfg, destination: join(dir, 'none.log'), sampleRate: 0 }) as AccessLog),
  };
  const hooks = { spans: () => undefined, exportError: (m: string) => { process.stderr.write(`export error: ${m}\n`); } };
  const tracers: Tracer[] = [];
  for (const [name, rate] of [['trace-1pct', 0.01], ['trace-100pct', 1]] as const) {
    const t = await createTracer({ backend: 'otlp', endpoint, samplingRate: rate, serviceName: 'bench' }, '0.0.0', hooks);
    tracers.push(t);
    cases[name] = traceCase(t);
  }
  const baseline = readBaseline('observability');
  const results: Record<string, { opsPerSec: number; usPerOp: number }> = {};
  for (const [name, fn] of Object.entries(cases)) {
    const ops = await measure(fn);
    results[name] = { opsPerSec: Math.round(ops), usPerOp: Number((1e6 / ops).toFixed(3)) };
    process.stdout.write(`${name.padEnd(18)} ${fmtOps(ops)} ops/s  ${(1e6 / ops).toFixed(2).padStart(7)} µs/request  ${vsBaseline(baseline, name, 'opsPerSec', ops)}\n`);
  }
  for (const t of tracers) await t.shutdown(5000);
  await logs.flush();
  process.stdout.write(`(${spans} OTLP exports received)\n`);
  sink.closeAllConnections();
  sink.close();
  rmSync(dir, { recursive: true, force: true });
  if (!process.argv.includes('--no-write')) process.stdout.write(`baseline written: ${writeBaseline('observability', { batch: BATCH, rounds: ROUNDS, roundMs: ROUND_MS }, results)}\n`);
}

await main();
