// Runs one load-generator pass: wrk where installed, else bench/load/node-load.ts. Pinned with the backend.
import path from 'node:path';
import { BENCH_DIR, nodeBin, which } from './env.ts';
import type { Pinning } from './env.ts';
import { spawnTracked } from './procs.ts';
import type { LoadResult } from './types.ts';
import { parseWrkOutput } from './wrk-parse.ts';

export type LoadTool = 'wrk' | 'node';

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly durationS: number;
  /** Paced mode: exponential think time (mean 20 ms) before each request, ~5k req/s at 100 connections. */
  readonly paced: boolean;
  /** Extra request headers (wrk -H, or the Node generator's 5th argument as JSON). */
  readonly headers?: Readonly<Record<string, string>>;
}

export const PACED_CONNECTIONS = 100;
export const PACED_THINK_MEAN_MS = 20;

export function pickLoadTool(requested: 'auto' | LoadTool): LoadTool {
  if (requested === 'node') return 'node';
  if (which('wrk')) return 'wrk';
  if (requested === 'wrk') throw new Error('--load wrk requested but wrk is not installed');
  return 'node';
}

export function loadArgv(tool: LoadTool, spec: LoadSpec, pinning: Pinning): string[] {
  if (tool === 'wrk') {
    return [
      ...pinning.load,
      which('wrk') as string,
      '-t1',
      `-c${spec.connections}`,
      `-d${spec.durationS}s`,
      '--latency',
      ...Object.entries(spec.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
      ...(spec.paced ? ['-s', path.join(BENCH_DIR, 'load', 'pace.lua')] : []),
      spec.url,
    ];
  }
  return [
    ...pinning.load,
    nodeBin(),
    path.join(BENCH_DIR, 'load', 'node-load.ts'),
    spec.url,
    String(spec.connections),
    String(spec.durationS),
    String(spec.paced ? PACED_THINK_MEAN_MS : 0),
    ...(spec.headers !== undefined ? [JSON.stringify(spec.headers)] : []),
  ];
}

/** Runs the generator to completion and returns its parsed result; throws with its output if it fails. */
export async function runLoad(tool: LoadTool, spec: LoadSpec, pinning: Pinning): Promise<LoadResult> {
  const proc = spawnTracked(`load ${tool}`, loadArgv(tool, spec, pinning), { captureStdout: true });
  const exit = await proc.exited;
  const out = proc.stdout;
  if (exit.code !== 0) throw new Error(`${tool} exited with ${exit.code ?? exit.signal}: ${(out + proc.stderrTail).trim().slice(0, 500)}`);
  if (tool === 'wrk') return parseWrkOutput(out);
  try {
    return JSON.parse(out.trim().split('\n').pop() ?? '') as LoadResult;
  } catch {
    throw new Error(`node load generator printed no result: ${(out + proc.stderrTail).trim().slice(0, 500)}`);
  }
}
