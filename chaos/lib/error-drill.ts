// The common shape of "the target fails → clients get one clean error → the fault goes → service is
// back" drills: an upstream behind a Toxiproxy proxy, Sentinel pointed at the proxy, a baseline 200,
// the fault, N requests, the checks (status and code, latency bounds, metric deltas), the fault
// removed, and the time to the first 200. The expectation text is generated from the same numbers.
import type { Proxy } from 'toxiproxy-node-client';
import { drillConfig, fmtMs } from './drill.ts';
import type { Drill } from './drill.ts';
import { maxMs, minMs, send, sendMany, timeToRecover } from './http.ts';

export interface ErrorDrill {
  readonly requests: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  readonly status: number;
  /** The error code clients must see, and the one counted in sentinel_errors_total. */
  readonly code: string;
  /** When the error is a timeout: its configured value, "headers-secs 1 s", and in ms (no answer before 0.9 × it). */
  readonly waitsFor?: { readonly text: string; readonly ms: number };
  /** Upper bound on every answer, and where it comes from ("connect-secs 1 s + 1500 ms"). */
  readonly bound: { readonly text: string; readonly ms: number };
  /** Also check sentinel_upstream_requests_total{upstream="app",outcome=<code>}. */
  readonly upstreamOutcome?: boolean;
  readonly recoveryMs: number;
  /** What undoing the fault is called in the expectation ("proxy enabled again", "toxic removed"). */
  readonly undoText: string;
  /** Breaks the proxy; resolves with the function that mends it. */
  inject(proxy: Proxy): Promise<() => Promise<unknown>>;
}

export function errorDrillExpectation(e: ErrorDrill): string {
  const parts = [`${e.requests} requests${e.concurrency > 1 ? ` (${e.concurrency} at a time)` : ''}: all ${e.status} ${e.code}`];
  if (e.waitsFor !== undefined) parts.push(`none before 0.9 × ${e.waitsFor.text} = ${fmtMs(e.waitsFor.ms * 0.9)}`);
  parts.push(`each within ${e.bound.text} = ${fmtMs(e.bound.ms)}`);
  const metrics = [`sentinel_errors_total{code="${e.code}"} +${e.requests}`];
  if (e.upstreamOutcome === true) metrics.push(`sentinel_upstream_requests_total{outcome="${e.code}"} +${e.requests}`);
  return `${parts.join(', ')}; ${metrics.join('; ')}; ${e.undoText} → 200 within ${fmtMs(e.recoveryMs)}`;
}

export async function runErrorDrill(d: Drill, e: ErrorDrill): Promise<void> {
  const up = await d.upstream((_req, res) => res.end('ok'));
  const proxy = await d.faultProxy(up.address);
  const s = await d.sentinel(drillConfig({ targets: [proxy.listen] }));
  const baseline = await send(s.port, '/');
  d.check('baseline', '200', String(baseline.status ?? baseline.error), baseline.status === 200);

  d.progress('injecting the fault');
  const undo = await e.inject(proxy);
  const before = await s.metrics();
  d.progress(`sending ${e.requests} requests`);
  const outcomes = await sendMany(s.port, '/', e.requests, e.concurrency);
  const after = await s.metrics();
  d.expectOutcomes('status', `all ${e.status} ${e.code}`, outcomes, (o) => o.status === e.status && o.code === e.code);
  if (e.waitsFor !== undefined) d.expectAtLeast('fastest answer', minMs(outcomes), e.waitsFor.ms * 0.9);
  d.expectAtMost('slowest answer', maxMs(outcomes), e.bound.ms);
  d.expectDelta(before, after, 'sentinel_errors_total', { code: e.code }, e.requests);
  if (e.upstreamOutcome === true) d.expectDelta(before, after, 'sentinel_upstream_requests_total', { upstream: 'app', outcome: e.code }, e.requests);

  d.progress('removing the fault');
  await undo();
  d.expectRecovery(await timeToRecover(s.port, '/', e.recoveryMs, d.signal), e.recoveryMs);
}
