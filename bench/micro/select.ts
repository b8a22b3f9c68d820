// Selection micro-benchmark: picks/s per algorithm with 3 and 100 endpoints, and the ratio to
// round_robin measured in the same run. Not a test: numbers are noisy (shared 2-core machine).
//
//   node bench/micro/select.ts           # table
//   node bench/micro/select.ts --json    # table, then the results as JSON
//
// Each pick runs select() on a rotating pool of 1,024 request contexts (distinct client IPs, a
// tenant header, a session cookie, half of them carrying a valid sticky cookie), then reports the
// outcome with onResult() when the selector has it (peak_ewma learns from it; it reads the real
// monotonic clock). All endpoints available; in-flight counts vary with the pick so the
// load-aware algorithms do real comparisons.

import { cpus, loadavg } from 'node:os';
import { createSelector, makeEndpoints } from '../../src/upstream/select/create-selector.ts';
import { stickyCookieValue } from '../../src/upstream/select/sticky.ts';
import { ALGORITHMS } from '../../src/upstream/select/types.ts';
import type { Algorithm, EndpointState, SelectContext, Selector, SelectorOptions } from '../../src/upstream/select/types.ts';

const SIZES = [3, 100] as const;
const ROUND_MS = 150;
const ROUNDS = 5;
const SECRET = 'bench-secret';

const OPTIONS: Partial<Record<Algorithm, SelectorOptions>> = {
  consistent_hash: { hashKey: 'header:x-tenant' },
  maglev: { hashKey: 'cookie:session' },
  sticky: { sticky: { secret: SECRET, fallback: 'round_robin' } },
};

function contexts(endpointIds: readonly string[]): SelectContext[] {
  const out: SelectContext[] = [];
  for (let k = 0; k < 1024; k++) {
    const sticky = k % 2 === 0 ? `; SERVERID=${stickyCookieValue(SECRET, endpointIds[k % endpointIds.length]!)}` : '';
    out.push({
      clientIp: `10.${(k >> 8) & 255}.${k & 255}.${(k * 7) & 255}`,
      path: `/api/items/${k}`,
      headers: { 'x-tenant': `tenant-${k % 97}`, cookie: `session=s${k}${sticky}; theme=dark` },
      query: `page=${k % 10}&user=u${k}`,
    });
  }
  return out;
}

/** Picks/s: calibrated batches of ~10 ms, median over ROUNDS rounds of ROUND_MS. */
function measure(sel: Selector, ctxs: readonly SelectContext[], state: EndpointState, load: Uint32Array): number {
  const mask = ctxs.length - 1;
  let c = 0;
  let sink = 0;
  const run = (n: number): void => {
    for (let k = 0; k < n; k++) {
      const i = sel.select(ctxs[c++ & mask]!, state);
      sink += i;
      load[i] = (load[i]! + 1) & 7; // varying in-flight counts, bounded
      sel.onResult?.(i, 5 + (k & 15), true);
    }
  };
  let batch = 64;
  for (;;) {
    const t0 = performance.now();
    run(batch);
    if (performance.now() - t0 >= 10) break;
    batch *= 2;
  }
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let picks = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      run(batch);
      picks += batch;
      elapsed = performance.now() - t0;
    }
    rates.push((picks / elapsed) * 1000);
  }
  if (sink === Number.MIN_SAFE_INTEGER) console.log(sink);
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

interface Row {
  algorithm: Algorithm;
  endpoints: number;
  picksPerSec: number;
  ratioVsRoundRobin: number;
}

function main(): void {
  const rows: Row[] = [];
  for (const n of SIZES) {
    const eps = makeEndpoints(Array.from({ length: n }, (_, i) => ({ host: `10.20.${i >> 8}.${i & 255}`, port: 8080, weight: 1 + (i % 3) })));
    const ctxs = contexts(eps.map((e) => e.id));
    const load = new Uint32Array(n);
    const state: EndpointState = { available: () => true, inFlight: (i) => load[i]! };
    const selectors = ALGORITHMS.map((a) => createSelector(a, eps, OPTIONS[a] ?? {}));
    // Warm every selector through the shared call sites first, so round_robin (measured first)
    // does not enjoy a monomorphic call site the others lose: the ratios compare like with like.
    for (const sel of selectors) for (let k = 0; k < 20_000; k++) sel.onResult?.(sel.select(ctxs[k & 1023]!, state), 5, true);
    let rr = 0;
    for (const [j, algorithm] of ALGORITHMS.entries()) {
      const rate = measure(selectors[j]!, ctxs, state, load);
      if (algorithm === 'round_robin') rr = rate;
      rows.push({ algorithm, endpoints: n, picksPerSec: rate, ratioVsRoundRobin: rate / rr });
    }
  }
  const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);
  console.log(`selection micro-benchmark  node ${process.version}  ${cpus().length} cpu  load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('algorithm                     endpoints   picks/s    vs round_robin');
  for (const r of rows) {
    console.log(`${r.algorithm.padEnd(30)}${String(r.endpoints).padStart(9)}${fmt(r.picksPerSec).padStart(11)}${r.ratioVsRoundRobin.toFixed(2).padStart(15)}`);
  }
  if (process.argv.includes('--json')) console.log(JSON.stringify(rows, null, 2));
}

main();
