// Agent round trip, both ends in one process: the proxy's AgentManager calls the echo agent (the
// SDK) over a real Unix socket with a request-headers event. With no second process there is no
// scheduling between processes, so this is the CPU cost of one round trip (proxy encode, socket,
// agent decode, handler, encode, proxy decode, correlation): sequential calls (latency of one call
// at a time) and 64 calls in flight (throughput with frames batched per tick).
//
//   node bench/micro/agent-roundtrip.ts            # measure, print (ratio to the committed baseline), write the baseline
//   node bench/micro/agent-roundtrip.ts --no-write # measure and print only
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentManager } from '../../src/agents/manager.ts';
import { registerAgentMetrics } from '../../src/agents/metrics.ts';
import type { AgentConfig } from '../../src/config/types.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import type { CallMessage } from '../../src/protocol/types.ts';
import { createEchoAgent } from '../../agents/echo/echo.ts';
import { fmtOps, readBaseline, vsBaseline, writeBaseline } from './lib.ts';
import { median, percentileSorted } from '../lib/stats.ts';

const NAME = 'agent-roundtrip';
const DURATION_MS = 2000;
const ROUNDS = 5;

function event(i: number): CallMessage {
  const cid = `c-${i}`;
  return {
    kind: 'request_headers',
    payload: {
      correlation_id: cid,
      metadata: { correlation_id: cid, request_id: `r-${i}`, client_ip: '192.0.2.10', client_port: 40000, protocol: 'HTTP/1.1', route_id: 'api', upstream_id: 'backend', timestamp: '2026-12-07T01:00:00.000Z' },
      method: 'GET',
      uri: '/api/users?page=2',
      headers: { host: ['app.example.com'], 'user-agent': ['Mozilla/5.0'], accept: ['*/*'], 'x-request-id': [`r-${i}`] },
    },
  };
}


async function main(): Promise<void> {
  const write = !process.argv.includes('--no-write');
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-agent-'));
  const socket = join(dir, 'echo.sock');
  const agent = createEchoAgent();
  await agent.listen({ socket });
  const config: AgentConfig = {
    id: 'echo', transport: { kind: 'uds', path: socket }, events: ['request_headers'], timeoutMs: 5000, connectTimeoutMs: 5000,
    failureMode: 'closed', maxConcurrentCalls: 1000, poolSize: 1, body: { mode: 'buffer', maxBytes: 1024, chunkTimeoutMs: 1000 },
    circuitBreaker: { enabled: true, failureThreshold: 5, successThreshold: 2, openMs: 1000, halfOpenMaxRequests: 1 },
    healthCheck: { enabled: false, intervalMs: 10_000, timeoutMs: 5000 }, allowHeaderMutations: [], config: null, loc: { file: '', line: 0, column: 0 },
  };
  const manager = new AgentManager({ config, metrics: registerAgentMetrics(new Metrics({ processMetrics: false })), logger: null, proxyVersion: 'bench' });
  const signal = new AbortController().signal;
  let n = 0;
  const call = async (): Promise<void> => {
    const r = await manager.call(event(n++), 5000, signal, null);
    if (!r.ok) throw new Error(`agent call failed: ${r.failure} ${r.detail}`);
  };
  for (let i = 0; i < 200 && manager.connections().ready === 0; i++) await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < 2000; i++) await call(); // warm-up

  // Sequential: one call at a time, per-call latency.
  const seqRounds: number[] = [];
  const latencies: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let ops = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < DURATION_MS) {
      const s = performance.now();
      await call();
      latencies.push(performance.now() - s);
      ops++;
    }
    seqRounds.push((ops / (performance.now() - t0)) * 1000);
  }
  // 64 in flight: throughput.
  const parRounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let ops = 0;
    const t0 = performance.now();
    const worker = async (): Promise<void> => {
      while (performance.now() - t0 < DURATION_MS) {
        await call();
        ops++;
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    parRounds.push((ops / (performance.now() - t0)) * 1000);
  }
  await manager.close();
  await agent.close(100);
  rmSync(dir, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  const cases = {
    sequential: { opsPerSec: Math.round(median(seqRounds)), p50Us: Math.round(percentileSorted(latencies, 50) * 1000), p99Us: Math.round(percentileSorted(latencies, 99) * 1000) },
    'in-flight-64': { opsPerSec: Math.round(median(parRounds)) },
  };
  const baseline = readBaseline(NAME);
  console.log(`agent round trip in one process (echo over a Unix socket), median of ${ROUNDS} rounds of ${DURATION_MS} ms`);
  console.log(`  sequential     ${fmtOps(cases.sequential.opsPerSec)} calls/s   p50 ${cases.sequential.p50Us} µs, p99 ${cases.sequential.p99Us} µs   ${vsBaseline(baseline, 'sequential', 'opsPerSec', cases.sequential.opsPerSec)}`);
  console.log(`  64 in flight   ${fmtOps(cases['in-flight-64'].opsPerSec)} calls/s   ${vsBaseline(baseline, 'in-flight-64', 'opsPerSec', cases['in-flight-64'].opsPerSec)}`);
  if (write) console.log(`baseline written: ${writeBaseline(NAME, {}, cases)}`);
}

await main();
