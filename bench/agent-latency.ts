// `node bench/agent-latency.ts`: what one agent round trip adds to a request's latency when nothing
// queues. One keep-alive connection, one request at a time, `sentinel` and `sentinel-agent`
// (scenarios/sentinel-agent.ts: the echo agent on request headers over a Unix socket) interleaved in
// rounds against the same backend, same run; reports p50 and p99 of each and the difference at p50.
// The saturated and paced runs of `npm run bench` show throughput and latency under load; this is
// the light-load figure the agent target is stated in (< 0.3 ms added at p50 on loopback).
// It also reports each process's CPU time per measured request (utime + stime from /proc, all
// threads): one request at a time, the added latency is close to the added CPU of the proxy and the
// agent, which share a core.
//
// With `--baseline DIR` (another checkout of the project, with its node_modules), the same echo agent
// scenario runs a third time from that checkout, in the same interleaved rounds: a change to the
// agent path (proxy side or SDK) is measured against its baseline under the same machine conditions.
//
//   node bench/agent-latency.ts [--rounds N] [--requests N] [--warmup N] [--baseline DIR]
import { request, Agent } from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.ts';
import { detectPinning, makeTempDir, removeDir } from './lib/env.ts';
import { installCleanupHandlers } from './lib/procs.ts';
import { clkTck, processTicks } from './lib/proc-stats.ts';
import { sentinelScenario } from './scenarios/sentinel.ts';
import { sentinelAgentScenario, sentinelAgentScenarioAt } from './scenarios/sentinel-agent.ts';
import type { RunningScenario, Scenario } from './scenarios/types.ts';
import { percentileSorted } from './lib/stats.ts';


/** `agent` for the echo agent's process, `proxy` for the rest (from its command line). */
function roleOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('/agents/echo/') ? 'agent' : 'proxy';
  } catch {
    return 'proxy';
  }
}

function get(url: URL, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: '/', agent }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, requests: { type: 'string', default: '500' }, warmup: { type: 'string', default: '2000' }, baseline: { type: 'string' } } });
  const rounds = Number(values.rounds);
  const perRound = Number(values.requests);
  installCleanupHandlers();
  const pinning = detectPinning();
  const backend = await startBackend(pinning, 'auto', 0);
  const scenarios: Scenario[] = [sentinelScenario, sentinelAgentScenario];
  if (values.baseline !== undefined) {
    const base = sentinelAgentScenarioAt(path.resolve(values.baseline), 'agent@baseline');
    const why = base.unavailableReason();
    if (why !== null) throw new Error(`--baseline: ${why}`);
    scenarios.push(base);
  }
  const running: { s: Scenario; r: RunningScenario; dir: string; agent: Agent; lat: number[]; cpu: Map<number, number> }[] = [];
  try {
    for (const s of scenarios) {
      const dir = makeTempDir(s.name);
      const r = await s.start({ backend: { host: backend.host, port: backend.port }, backends: [{ host: backend.host, port: backend.port }], tmpDir: dir, pinning });
      running.push({ s, r, dir, agent: new Agent({ keepAlive: true, maxSockets: 1 }), lat: [], cpu: new Map() });
    }
    // Warm each scenario first: V8 optimises the proxy's hot paths over the first thousand or so
    // requests, and requests measured before that make up most of an unwarmed run's p99.
    const warmup = Number(values.warmup);
    for (const x of running) {
      const url = new URL(x.r.url);
      for (let i = 0; i < warmup; i++) await get(url, x.agent);
    }
    for (let round = 0; round < rounds; round++) {
      for (const x of running) {
        const url = new URL(x.r.url);
        for (let i = 0; i < 50; i++) await get(url, x.agent); // warm the connection and the JIT
        const before = x.r.pids.map(processTicks);
        for (let i = 0; i < perRound; i++) {
          const t0 = performance.now();
          await get(url, x.agent);
          x.lat.push(performance.now() - t0);
        }
        x.r.pids.forEach((pid, i) => x.cpu.set(pid, (x.cpu.get(pid) ?? 0) + processTicks(pid) - (before[i] as number)));
      }
    }
    const p50: Record<string, number> = {};
    process.stdout.write(`sequential requests, 1 keep-alive connection, ${warmup} warm-up requests each, then ${rounds} interleaved rounds of ${perRound}; ${pinning.note}; backend ${backend.kind}\n`);
    for (const x of running) {
      x.lat.sort((a, b) => a - b);
      p50[x.s.name] = percentileSorted(x.lat, 50);
      const usPerTick = 1e6 / clkTck();
      const cpu = [...x.cpu].map(([pid, ticks]) => `${roleOf(pid)} ${Math.round((ticks * usPerTick) / x.lat.length)} µs`).join(', ');
      process.stdout.write(`  ${x.s.name.padEnd(15)} p50 ${percentileSorted(x.lat, 50).toFixed(3)} ms   p99 ${percentileSorted(x.lat, 99).toFixed(3)} ms   CPU per request: ${cpu}\n`);
    }
    process.stdout.write(`  agent round trip adds ${((p50['sentinel-agent'] ?? 0) - (p50['sentinel'] ?? 0)).toFixed(3)} ms at p50\n`);
    if (p50['agent@baseline'] !== undefined) {
      process.stdout.write(`  with the baseline's proxy and agent (${values.baseline}): adds ${(p50['agent@baseline'] - (p50['sentinel'] ?? 0)).toFixed(3)} ms at p50\n`);
    }
  } finally {
    for (const x of running) {
      x.agent.destroy();
      await x.r.stop();
      removeDir(x.dir);
    }
    await backend.stop();
  }
}

await main();
