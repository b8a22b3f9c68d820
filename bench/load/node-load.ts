// Closed-loop Node load generator, used when wrk is not installed. Prints one LoadResult as JSON on stdout.
// Usage: node bench/load/node-load.ts URL CONNECTIONS DURATION_S [THINK_MEAN_MS] [HEADERS_JSON]
//   THINK_MEAN_MS > 0 = paced mode: each connection waits an exponential think time before each request
//   (the same shape as pace.lua for wrk). HEADERS_JSON: extra request headers, e.g. {"x-deployment-id":"d"}.
import { Pool } from 'undici';
import { percentileSorted } from '../lib/stats.ts';
import type { LoadResult } from '../lib/types.ts';

const [urlText, connText, durText, thinkText, headersText] = process.argv.slice(2);
const headers = headersText === undefined ? undefined : (JSON.parse(headersText) as Record<string, string>);
const connections = Number(connText);
const durationS = Number(durText);
const thinkMeanMs = Number(thinkText ?? 0);
if (urlText === undefined || !Number.isInteger(connections) || connections <= 0 || !(durationS > 0)) {
  process.stderr.write('usage: node-load.ts URL CONNECTIONS DURATION_S [THINK_MEAN_MS]\n');
  process.exit(2);
}
const url = new URL(urlText);
const pool = new Pool(url.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 2000, bodyTimeout: 2000 });

let latUs = new Float64Array(1 << 16);
let count = 0;
let non2xx = 0;
const socketErrors = { connect: 0, read: 0, write: 0, timeout: 0 };

function record(us: number): void {
  if (count === latUs.length) {
    const next = new Float64Array(latUs.length * 2);
    next.set(latUs);
    latUs = next;
  }
  latUs[count++] = us;
}

function classify(err: unknown): void {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT') socketErrors.connect++;
  else if (code.includes('TIMEOUT')) socketErrors.timeout++;
  else if (code === 'EPIPE') socketErrors.write++;
  else socketErrors.read++;
}

function think(): Promise<void> {
  const ms = Math.round(-Math.log(1 - Math.random()) * thinkMeanMs);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const path = url.pathname + url.search;
const start = performance.now();
const deadline = start + durationS * 1000;

async function worker(): Promise<void> {
  while (true) {
    if (thinkMeanMs > 0) await think();
    if (performance.now() >= deadline) return;
    const t0 = performance.now();
    try {
      const res = await pool.request({ path, method: 'GET', headers });
      for await (const _chunk of res.body) {
        // drain
      }
      record((performance.now() - t0) * 1000);
      if (res.statusCode < 200 || res.statusCode >= 400) non2xx++;
    } catch (err) {
      classify(err);
    }
  }
}

await Promise.all(Array.from({ length: connections }, () => worker()));
const elapsedS = (performance.now() - start) / 1000;
await pool.close();

const sorted = latUs.subarray(0, count).sort();
const ms = (p: number): number => percentileSorted(sorted, p) / 1000;
const result: LoadResult = {
  tool: 'node',
  requests: count,
  durationS: elapsedS,
  rps: count / elapsedS,
  p50Ms: ms(50),
  p75Ms: ms(75),
  p90Ms: ms(90),
  p99Ms: ms(99),
  non2xx,
  socketErrors,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
