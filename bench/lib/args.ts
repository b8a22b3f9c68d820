// Command-line options of `npm run bench`. Pure.
import { parseAlgorithm } from '../../src/core/load-balancing.ts';
import type { BodyKind } from './types.ts';

export const ALL_SCENARIOS = ['direct', 'sentinel', 'sentinel-agent', 'nginx', 'haproxy', 'http-proxy', 'sentinel-2w', 'sentinel-2w-primary', 'sentinel-2w-close', 'sentinel-2w-primary-close', 'nginx-2w', 'sentinel-deployments', 'sentinel-accesslog', 'sentinel-trace-1pct', 'sentinel-trace-100pct', 'sentinel-rl-local', 'sentinel-rl-redis'] as const;

/** Sentinel with one observability feature on: each reported against `sentinel` (all off) in the same run. */
export const OBSERVABILITY_SCENARIOS: readonly string[] = ['sentinel-accesslog', 'sentinel-trace-1pct', 'sentinel-trace-100pct'];

/** Sentinel with one rate-limit filter on every request (never reached): each reported against `sentinel` in the same run. */
export const RATE_LIMIT_SCENARIOS: readonly string[] = ['sentinel-rl-local', 'sentinel-rl-redis'];

/**
 * Load-balancing algorithms measured over a three-target pool (`adaptive` is the same selector as
 * `peak_ewma`, so it is not measured twice). round_robin is the baseline of the ratios.
 */
export const LB_ALGORITHMS = [
  'round_robin', 'weighted', 'least_connections', 'weighted_least_connections', 'random', 'p2c', 'ip_hash', 'consistent_hash',
  'maglev', 'peak_ewma', 'sticky',
] as const;

export interface BenchArgs {
  readonly quick: boolean;
  readonly scenarios: readonly string[];
  readonly durationS: number;
  readonly warmupS: number;
  readonly passes: number;
  readonly connections: readonly number[];
  readonly bodies: readonly BodyKind[];
  readonly paced: boolean;
  readonly pacedScenarios: readonly string[];
  /** Algorithms of the load-balancing runs (empty: none); round_robin is always among them. */
  readonly lbAlgorithms: readonly string[];
  /** Measured seconds of each load-balancing run. */
  readonly lbDurationS: number;
  /** Longest wait before each run for the machine's cores to go quiet. */
  readonly quietWaitMs: number;
  readonly jsonPath: string | null;
  readonly loadTool: 'auto' | 'wrk' | 'node';
  readonly backend: 'auto' | 'node';
  /** Run the HTTPS / HTTP/2 and idle-connection measurements (bench/lib/protocols.ts). */
  readonly protocols: boolean;
  /** Idle keep-alive connections for the RSS measurement. */
  readonly idleConnections: number;
  readonly help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick               short runs for CI/dev: 3 s, 1 pass, 50 connections, 13 B body only
  --scenarios a,b       scenarios to run (default all available: ${ALL_SCENARIOS.join(',')})
  --duration S          measurement seconds per run (default 10, quick 3)
  --warmup S            warm-up seconds before each run (default 3, quick 1)
  --passes N            interleaved passes, best one reported (default 3, quick 1)
  --connections 50,256  connection counts (default 50,256, quick 50)
  --bodies small,large  13 B (/) and/or 64 KiB (/big) bodies (default both, quick small)
  --no-paced            skip the equal-load (paced ~5k req/s) latency runs
  --lb a,b              load-balancing algorithms over a three-target pool, req/s ÷ round_robin in the same run
                        (default all: ${LB_ALGORITHMS.join(',')}; round_robin is always added)
  --lb-duration S       measurement seconds per load-balancing run (default min(duration, 5))
  --no-lb               skip the load-balancing runs
  --load wrk|node       force the load generator (default: wrk when installed)
  --backend auto|node   force the Node origin instead of nginx as the backend (default: nginx when installed)
  --json PATH           also write the results JSON to PATH
  --no-protocols        skip the HTTPS (TLS 1.3) / HTTP/2 and idle-connection runs (Sentinel vs nginx, h2load)
  --idle-conns N        idle keep-alive connections for the RSS measurement (default 10000; 0 skips it)
  --help`;

function positiveInt(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer, got ${v ?? 'nothing'}`);
  return n;
}

function list(flag: string, v: string | undefined): string[] {
  if (v === undefined || v.trim() === '') throw new Error(`${flag} needs a comma-separated list`);
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Parses argv (without node and script). Throws Error with a readable message on bad input. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const quick = argv.includes('--quick');
  let scenarios: readonly string[] = ALL_SCENARIOS;
  let durationS = quick ? 3 : 10;
  let warmupS = quick ? 1 : 3;
  let passes = quick ? 1 : 3;
  let connections: readonly number[] = quick ? [50] : [50, 256];
  let bodies: readonly BodyKind[] = quick ? ['small'] : ['small', 'large'];
  let paced = true;
  let lbAlgorithms: readonly string[] = LB_ALGORITHMS;
  let lbDurationS: number | null = null;
  let jsonPath: string | null = null;
  let loadTool: BenchArgs['loadTool'] = 'auto';
  let backend: BenchArgs['backend'] = 'auto';
  let protocols = true;
  let idleConnections = 10_000;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--quick':
        break;
      case '--scenarios': {
        const s = list(flag, value());
        const unknown = s.filter((x) => !(ALL_SCENARIOS as readonly string[]).includes(x));
        if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${ALL_SCENARIOS.join(', ')}`);
        scenarios = s;
        break;
      }
      case '--duration':
        durationS = positiveInt(flag, value());
        break;
      case '--warmup': {
        const v = value();
        const n = Number(v);
        if (v === undefined || !Number.isInteger(n) || n < 0) throw new Error(`--warmup needs a non-negative integer, got ${v ?? 'nothing'}`);
        warmupS = n;
        break;
      }
      case '--passes':
        passes = positiveInt(flag, value());
        break;
      case '--connections':
        connections = list(flag, value()).map((c) => positiveInt(flag, c));
        break;
      case '--bodies': {
        const b = list(flag, value());
        for (const x of b) if (x !== 'small' && x !== 'large') throw new Error(`--bodies takes small and/or large, got ${x}`);
        bodies = b as BodyKind[];
        break;
      }
      case '--no-paced':
        paced = false;
        break;
      case '--lb': {
        const algos = list(flag, value());
        const unknown = algos.filter((x) => parseAlgorithm(x) === null);
        if (unknown.length > 0) throw new Error(`unknown load-balancing algorithm(s) ${unknown.join(', ')}; known: ${LB_ALGORITHMS.join(', ')}`);
        const canonical = algos.map((x) => parseAlgorithm(x) as string);
        lbAlgorithms = [...new Set(['round_robin', ...canonical])];
        break;
      }
      case '--lb-duration':
        lbDurationS = positiveInt(flag, value());
        break;
      case '--no-lb':
        lbAlgorithms = [];
        break;
      case '--load': {
        const v = value();
        if (v !== 'wrk' && v !== 'node') throw new Error(`--load takes wrk or node, got ${v ?? 'nothing'}`);
        loadTool = v;
        break;
      }
      case '--backend': {
        const v = value();
        if (v !== 'auto' && v !== 'node') throw new Error(`--backend takes auto or node, got ${v ?? 'nothing'}`);
        backend = v;
        break;
      }
      case '--no-protocols':
        protocols = false;
        break;
      case '--idle-conns': {
        const v = value();
        const n = Number(v);
        if (v === undefined || !Number.isInteger(n) || n < 0) throw new Error(`--idle-conns needs a non-negative integer, got ${v ?? 'nothing'}`);
        idleConnections = n;
        break;
      }
      case '--json': {
        const v = value();
        if (v === undefined || v === '') throw new Error('--json needs a path');
        jsonPath = v;
        break;
      }
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  const pacedScenarios = ['direct', 'sentinel', 'sentinel-agent', 'nginx', 'sentinel-deployments', 'sentinel-rl-local', 'sentinel-rl-redis'].filter((s) => scenarios.includes(s));
  return {
    quick,
    scenarios,
    durationS,
    warmupS,
    passes,
    connections,
    bodies,
    paced,
    pacedScenarios,
    lbAlgorithms,
    lbDurationS: lbDurationS ?? Math.min(durationS, 5),
    quietWaitMs: quick ? 3000 : 15_000,
    jsonPath,
    loadTool,
    backend,
    protocols,
    idleConnections,
    help,
  };
}
