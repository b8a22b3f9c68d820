// Linux /proc readings: process-tree CPU ticks and RSS, per-core busy time. Missing processes read as 0.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let clkTckCache: number | null = null;

/** Clock ticks per second of /proc/PID/stat and /proc/stat (USER_HZ), normally 100. */
export function clkTck(): number {
  if (clkTckCache === null) {
    try {
      clkTckCache = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTckCache = 100;
    }
  }
  return clkTckCache;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Parses the fields after `comm` in a /proc/PID/stat line; field N (1-based, as in proc(5)) is index N-3. */
export function parseStatFields(stat: string): string[] {
  const close = stat.lastIndexOf(')');
  return close < 0 ? [] : stat.slice(close + 2).trim().split(/\s+/);
}

/** utime + stime of one process (all its threads), in ticks. */
export function processTicks(pid: number): number {
  const f = parseStatFields(readText(`/proc/${pid}/stat`) ?? '');
  return Number(f[11] ?? 0) + Number(f[12] ?? 0);
}

/** cutime + cstime: CPU of the process's waited-for children, in ticks. */
export function childrenTicks(pid: number): number {
  const f = parseStatFields(readText(`/proc/${pid}/stat`) ?? '');
  return Number(f[13] ?? 0) + Number(f[14] ?? 0);
}

function directChildren(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const t of tasks) {
    const text = readText(`/proc/${pid}/task/${t}/children`) ?? '';
    for (const c of text.trim().split(/\s+/)) if (c !== '') out.push(Number(c));
  }
  return out;
}

/** The roots and all their descendants. */
export function treePids(roots: readonly number[]): number[] {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    if (seen.has(p)) continue;
    seen.add(p);
    stack.push(...directChildren(p));
  }
  return [...seen];
}

/** Per-pid ticks of a process tree at one instant. */
export type TickSnapshot = ReadonlyMap<number, number>;

export function snapshotTicks(roots: readonly number[]): TickSnapshot {
  return new Map(treePids(roots).map((p) => [p, processTicks(p)]));
}

/** Ticks spent between two snapshots; processes born in between count from zero. */
export function ticksBetween(before: TickSnapshot, after: TickSnapshot): number {
  let sum = 0;
  for (const [pid, t] of after) sum += Math.max(0, t - (before.get(pid) ?? 0));
  return sum;
}

/** VmRSS of a process tree, in MB (10^6 bytes). null when no process of the tree could be read. */
export function treeRssMb(roots: readonly number[]): number | null {
  let kb = 0;
  let found = false;
  for (const p of treePids(roots)) {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readText(`/proc/${p}/status`) ?? '');
    if (m) {
      kb += Number(m[1]);
      found = true;
    }
  }
  return found ? (kb * 1024) / 1e6 : null;
}

export interface CoreTimes {
  readonly busy: number;
  readonly total: number;
}

/** Busy and total ticks per core from /proc/stat (`cpuN` lines); busy excludes idle and iowait. */
export function readCoreTimes(): CoreTimes[] {
  const text = readText('/proc/stat') ?? '';
  const out: CoreTimes[] = [];
  for (const line of text.split('\n')) {
    if (!/^cpu\d+ /.test(line)) continue;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    out.push({ busy: total - idle, total });
  }
  return out;
}

/** Busy % per core between two readings. */
export function coreBusyPct(before: readonly CoreTimes[], after: readonly CoreTimes[]): number[] {
  return after.map((a, i) => {
    const b = before[i];
    if (!b) return 0;
    const dt = a.total - b.total;
    return dt > 0 ? ((a.busy - b.busy) / dt) * 100 : 0;
  });
}

export function totalBusyTicks(times: readonly CoreTimes[]): number {
  return times.reduce((s, t) => s + t.busy, 0);
}
