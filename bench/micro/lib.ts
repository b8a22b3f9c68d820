// Shared by the micro-benchmarks: a calibrated ops/s measurement, and committed baselines that a
// run is compared with. Micro-benchmarks are not tests: the machine is shared and noisy, so a run
// prints its ratio to the committed baseline and never fails on it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Ops/s of `fn`: calibrated batches of ~10 ms for ~durationMs, median of `rounds`. */
export function measure(fn: () => number, durationMs: number, rounds: number): number {
  let sink = 0;
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) sink += fn();
    if (performance.now() - t0 >= 10) break;
    batch *= 2;
  }
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let ops = 0;
    const t0 = performance.now();
    let elapsedMs = 0;
    while (elapsedMs < durationMs) {
      for (let i = 0; i < batch; i++) sink += fn();
      ops += batch;
      elapsedMs = performance.now() - t0;
    }
    results.push((ops / elapsedMs) * 1000);
  }
  if (sink === -1) console.log('unreachable');
  results.sort((a, b) => a - b);
  return results[Math.floor(results.length / 2)] as number;
}

export function machine(): { cpu: string; cores: number; platform: string; loadAverage1m: number } {
  const cpu = cpus();
  return { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, platform: `${process.platform}-${process.arch}`, loadAverage1m: Number((loadavg()[0] ?? 0).toFixed(2)) };
}

export function baselinePath(name: string): string {
  return fileURLToPath(new URL(`./baselines/${name}.json`, import.meta.url));
}

/** The committed baseline's `cases` (case → field → ops/s), or null. */
export function readBaseline(name: string): Record<string, Record<string, number>> | null {
  const path = baselinePath(name);
  if (!existsSync(path)) return null;
  return (JSON.parse(readFileSync(path, 'utf8')) as { cases: Record<string, Record<string, number>> }).cases;
}

export function writeBaseline(name: string, extra: Record<string, unknown>, cases: Record<string, unknown>): string {
  const out = baselinePath(name);
  mkdirSync(dirname(out), { recursive: true });
  const doc = { benchmark: name, date: new Date().toISOString(), node: process.version, machine: machine(), ...extra, unit: 'ops/s (median of 5 rounds)', cases };
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  return out;
}

export function fmtOps(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(12);
}

/** "×0.97 of baseline" for a measured value against the committed one (or "no baseline"). */
export function vsBaseline(baseline: Record<string, Record<string, number>> | null, caseName: string, field: string, value: number): string {
  const b = baseline?.[caseName]?.[field];
  return typeof b === 'number' && b > 0 ? `×${(value / b).toFixed(2)} of baseline` : 'no baseline';
}

/**
 * Measures every case (ops/s, median of 5 rounds of ~400 ms), prints each with its ratio to the
 * committed baseline `name`, and writes the new baseline unless `--no-write` was given.
 */
export function runCases(name: string, cases: Record<string, () => number>, opts: { readonly header?: string; readonly extra?: Record<string, unknown>; readonly width?: number } = {}): void {
  const write = !process.argv.includes('--no-write');
  const baseline = readBaseline(name);
  const results: Record<string, { opsPerSec: number }> = {};
  console.log(opts.header ?? `${name}: node ${process.version}`);
  for (const [caseName, fn] of Object.entries(cases)) {
    const ops = measure(fn, 400, 5);
    results[caseName] = { opsPerSec: Math.round(ops) };
    console.log(`${caseName.padEnd(opts.width ?? 26)} ${fmtOps(ops)} ops/s  ${vsBaseline(baseline, caseName, 'opsPerSec', ops)}`);
  }
  if (write) console.log(`wrote ${writeBaseline(name, opts.extra ?? {}, results)}`);
}
