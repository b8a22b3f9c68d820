// `npm run bench`: side-by-side benchmark of direct / sentinel / nginx / haproxy / http-proxy on loopback.
// See bench/README.md. Writes bench/results/<timestamp>.json, latest.json and latest.svg.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OBSERVABILITY_SCENARIOS, RATE_LIMIT_SCENARIOS, parseBenchArgs, USAGE } from './lib/args.ts';
import { BENCH_DIR } from './lib/env.ts';
import { installCleanupHandlers } from './lib/procs.ts';
import { runBench } from './lib/runner.ts';
import type { BenchResult } from './lib/runner.ts';
import { renderBarChart, resultsPanels } from './lib/svg.ts';
import { renderIdleTable, renderLbTable, renderPacedTable, renderProtocolTable, renderThroughputTable, renderVersusTable } from './lib/table.ts';

/** `2026-11-23T14-05-09Z`: an ISO time usable as a file name. */
export function fileTimestamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

export function writeResults(result: BenchResult, extraJsonPath: string | null): { json: string; svg: string } {
  const dir = path.join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const stamped = path.join(dir, `${fileTimestamp(new Date(result.meta.startedAt))}.json`);
  writeFileSync(stamped, json);
  writeFileSync(path.join(dir, 'latest.json'), json);
  if (extraJsonPath) writeFileSync(extraJsonPath, json);
  const svgPath = path.join(dir, 'latest.svg');
  const title = `Sentinel bench, ${result.meta.startedAt.slice(0, 16).replace('T', ' ')} UTC`;
  const subtitle = `${result.meta.pinning}; load ${result.meta.loadTool}; backend ${result.meta.backend}; node ${result.meta.node}`;
  writeFileSync(svgPath, renderBarChart(title, resultsPanels(result.cells, result.paced), subtitle));
  return { json: stamped, svg: svgPath };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  installCleanupHandlers();
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  log(
    `bench: scenarios ${args.scenarios.join(',')}; ${args.passes} pass(es); ${args.durationS} s runs after ${args.warmupS} s warm-up; ` +
      `connections ${args.connections.join(',')}; bodies ${args.bodies.join(',')}${args.paced ? `; paced: ${args.pacedScenarios.join(',')}` : ''}` +
      `${args.lbAlgorithms.length > 0 ? `; load balancing (${args.lbDurationS} s runs): ${args.lbAlgorithms.join(',')}` : ''}`,
  );
  const { protocols, idleConnections, ...rest } = args;
  const result = await runBench({
    ...rest,
    log,
    ...(protocols ? {
      protocols: {
        passes: args.passes,
        durationS: args.durationS,
        warmupS: Math.min(args.warmupS, 2),
        h1Connections: 50,
        h2Connections: 8,
        h2Streams: 16,
        idleConnections,
      },
    } : {}),
  });
  const { json, svg } = writeResults(result, args.jsonPath);
  const out: string[] = ['', `Saturated (${result.meta.loadTool === 'wrk' ? 'wrk -t1 -cN' : 'Node closed-loop generator, N connections'}, best of ${args.passes} pass(es); ÷ = req/s ratio in this run)`, renderThroughputTable(result.cells)];
  if (result.paced.length > 0) out.push('', 'Equal load (paced ~5k req/s, 100 connections; medians of passes; added = minus direct)', renderPacedTable(result.paced));
  if (result.lb.length > 0) {
    out.push('', `Load balancing: Sentinel over three targets, 13 B, c${args.connections[0] ?? 50}, best of ${args.passes} pass(es); ÷ round_robin in this run`, renderLbTable(result.lb));
  }
  const versus = renderVersusTable(result.cells, result.paced, 'sentinel-deployments', 'sentinel');
  if (versus !== null) out.push('', 'Deployment routing (warm caches) against the plain proxy route, same run (baseline = sentinel)', versus);
  // The cost of each observability feature alone: the same proxy with everything off is the baseline.
  for (const name of OBSERVABILITY_SCENARIOS) {
    const cost = renderVersusTable(result.cells, result.paced, name, 'sentinel');
    if (cost !== null) out.push('', `Observability cost: ${name} against sentinel with access log, metrics and tracing off, same run`, cost);
  }
  // The cost of a rate-limit decision, local and in Redis: the same proxy without the filter is the baseline.
  for (const name of RATE_LIMIT_SCENARIOS) {
    const cost = renderVersusTable(result.cells, result.paced, name, 'sentinel');
    if (cost !== null) out.push('', `Rate-limit cost: ${name} (a limit on every request, never reached) against sentinel without it, same run`, cost);
  }
  const p = result.protocols;
  if (p !== undefined) {
    if (p.cells.length > 0) out.push('', `HTTPS and HTTP/2 (h2load; HTTP/1.1: 50 connections; HTTP/2: 8 connections × 16 streams; same certificate; best of ${args.passes} pass(es))`, renderProtocolTable(p.cells));
    if (p.idle.length > 0) out.push('', 'Idle keep-alive connections (each after one request): proxy RSS', renderIdleTable(p.idle));
    if (p.skipped !== null) out.push(`protocols: ${p.skipped}`);
    for (const e of p.errors) out.push(`FAILED protocols: ${e}`);
  }
  for (const s of result.skipped) out.push(`skipped ${s.scenario}: ${s.reason}`);
  for (const e of result.errors) out.push(`FAILED ${e.scenario} (pass ${e.pass}): ${e.message}`);
  out.push('', `${result.meta.pinning}; load ${result.meta.loadTool}; backend ${result.meta.backend}; node ${result.meta.node}`, `results: ${json}`, `chart:   ${svg}`, '');
  process.stdout.write(out.join('\n'));
  return result.errors.length > 0 || (result.protocols?.errors.length ?? 0) > 0 ? 1 : 0;
}

if (import.meta.main) process.exitCode = await main();
