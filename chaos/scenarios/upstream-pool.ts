// One target of a three-target pool dies (its Toxiproxy proxy is disabled): retries and passive
// outlier ejection keep every client request whole; when it comes back it is used again.
import type { Proxy } from 'toxiproxy-node-client';
import { MARGIN_MS, drillConfig, fmtMs } from '../lib/drill.ts';
import type { Drill, DrillSentinel } from '../lib/drill.ts';
import { sendMany } from '../lib/http.ts';
import type { Outcome } from '../lib/http.ts';
import { sumOf } from '../lib/metrics.ts';
import type { Sample } from '../lib/metrics.ts';
import type { Scenario } from '../lib/scenario.ts';

const NAMES = ['a', 'b', 'c'] as const;
const REQUESTS = 60;
const CONCURRENCY = 4;
const EJECTION_SECS = 2;
const MAX_ATTEMPTS = 3;
/** Attempts that can reach the dead target: the requests in flight when it died, then one per ejection period. */
const maxDeadAttempts = (elapsedMs: number): number => CONCURRENCY + 1 + Math.floor(elapsedMs / (EJECTION_SECS * 1000));
const BACK_MS = EJECTION_SECS * 1000 + MARGIN_MS;

const POLICY = `outlier-detection { consecutive-failures 1; base-ejection-secs ${EJECTION_SECS}; max-ejection-secs ${EJECTION_SECS} }
    retry-policy { max-attempts ${MAX_ATTEMPTS}; backoff 0; max-backoff 0 }`;

interface Pool {
  readonly s: DrillSentinel;
  readonly proxies: Record<(typeof NAMES)[number], Proxy>;
}

/** Three upstreams answering their own name, each behind a Toxiproxy proxy; Sentinel round-robins over the proxies. */
async function startPool(d: Drill): Promise<Pool> {
  const proxies = {} as Record<(typeof NAMES)[number], Proxy>;
  for (const name of NAMES) {
    const up = await d.upstream((_req, res) => res.end(name));
    proxies[name] = await d.faultProxy(up.address);
  }
  const s = await d.sentinel(drillConfig({ targets: NAMES.map((n) => proxies[n].listen), app: POLICY }));
  const baseline = await sendMany(s.port, '/', 30, 1);
  d.check('baseline', 'all 200, every target answering', `${served(baseline)}`, baseline.every((o) => o.status === 200) && NAMES.every((n) => count(baseline, n) > 0));
  return { s, proxies };
}

const count = (outcomes: readonly Outcome[], name: string): number => outcomes.filter((o) => o.status === 200 && o.body?.toString('utf8') === name).length;
const served = (outcomes: readonly Outcome[]): string => NAMES.map((n) => `${n} ${count(outcomes, n)}`).join(', ');
const disable = (p: Proxy): Promise<unknown> => p.update({ enabled: false, listen: p.listen, upstream: p.upstream });
const enable = (p: Proxy): Promise<unknown> => p.update({ enabled: true, listen: p.listen, upstream: p.upstream });

async function killB(d: Drill, pool: Pool): Promise<void> {
  const b = pool.proxies.b.listen;
  d.progress('disabling target b');
  await disable(pool.proxies.b);
  const before = await pool.s.metrics();
  const started = performance.now();
  const outcomes = await sendMany(pool.s.port, '/', REQUESTS, CONCURRENCY);
  const elapsedMs = performance.now() - started;
  const after = await pool.s.metrics();
  d.expectOutcomes('clients', `${REQUESTS}×200 (no client-visible failure)`, outcomes, (o) => o.status === 200 && o.complete);
  d.check('served by', 'a and c only', served(outcomes), count(outcomes, 'a') + count(outcomes, 'c') === REQUESTS);
  const failed = { upstream: 'app', target: b, outcome: 'UPSTREAM_CONNECT_FAILED' };
  d.expectDelta(before, after, 'sentinel_upstream_requests_total', failed, { atLeast: 1 });
  const attempts = sumDelta(before, after, 'sentinel_upstream_requests_total', failed);
  d.check('attempts reaching dead b', `≤ ${maxDeadAttempts(elapsedMs)} (in flight + 1 per ${EJECTION_SECS} s ejection)`, String(attempts), attempts <= maxDeadAttempts(elapsedMs));
  d.expectDelta(before, after, 'sentinel_upstream_ejections_total', { upstream: 'app', target: b, result: 'enforced' }, { atLeast: 1 });
  d.expectDelta(before, after, 'sentinel_upstream_retries_total', { upstream: 'app', reason: 'UPSTREAM_CONNECT_FAILED' }, { atLeast: 1 });
  d.expectDelta(before, after, 'sentinel_errors_total', {}, 0);
}

function sumDelta(before: readonly Sample[], after: readonly Sample[], name: string, labels: Record<string, string>): number {
  return sumOf(after, name, labels) - sumOf(before, name, labels);
}

export const scenarios: Scenario<Drill>[] = [
  {
    name: 'upstream-one-of-three-dead',
    area: 'upstream',
    fault: `one of three targets (round_robin) dies: its Toxiproxy proxy is disabled; outlier-detection consecutive-failures 1, ejection ${EJECTION_SECS} s; retry-policy max-attempts ${MAX_ATTEMPTS}`,
    expectation:
      `${REQUESTS} requests (${CONCURRENCY} at a time): all 200, served by the two live targets; attempts reaching the dead one ≥ 1 and ≤ ${CONCURRENCY} + 1 + one per ${EJECTION_SECS} s ` +
      `(sentinel_upstream_requests_total{outcome="UPSTREAM_CONNECT_FAILED"}); sentinel_upstream_ejections_total{result="enforced"} ≥ +1; ` +
      `sentinel_upstream_retries_total{reason="UPSTREAM_CONNECT_FAILED"} ≥ +1; sentinel_errors_total +0`,
    ci: true,
    timeoutMs: 90_000,
    async run(d) {
      await killB(d, await startPool(d));
    },
  },
  {
    name: 'upstream-target-back',
    area: 'upstream',
    fault: `the dead target of upstream-one-of-three-dead comes back (proxy enabled again) after its ${EJECTION_SECS} s ejection`,
    expectation:
      `as upstream-one-of-three-dead while it is down; once enabled again, it answers a request within max-ejection-secs ${EJECTION_SECS} s + ${fmtMs(MARGIN_MS)} = ${fmtMs(BACK_MS)}, ` +
      `then takes at least 5 of the next 30 requests (round_robin: 10); no client-visible failure throughout`,
    ci: false,
    timeoutMs: 90_000,
    async run(d) {
      const pool = await startPool(d);
      await killB(d, pool);
      d.progress('enabling target b again');
      await enable(pool.proxies.b);
      const back = performance.now();
      const seen: Outcome[] = [];
      let firstMs: number | null = null;
      while (firstMs === null && performance.now() - back <= BACK_MS + 1000 && !d.signal.aborted) {
        const [o] = await sendMany(pool.s.port, '/', 1, 1);
        seen.push(o!);
        if (count([o!], 'b') === 1) firstMs = performance.now() - back;
        else await new Promise((r) => setTimeout(r, 50));
      }
      d.check('b answers again', `within ${fmtMs(BACK_MS)}`, firstMs === null ? `not within ${fmtMs(BACK_MS + 1000)}` : `after ${fmtMs(firstMs)}`, firstMs !== null && firstMs <= BACK_MS);
      const after = await sendMany(pool.s.port, '/', 30, 1);
      d.check('b share of the next 30', '≥ 5', String(count(after, 'b')), count(after, 'b') >= 5);
      d.expectOutcomes('clients while b came back', 'all 200', [...seen, ...after], (o) => o.status === 200 && o.complete);
    },
  },
];
