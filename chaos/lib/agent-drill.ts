// The shared shape of the agent drills: one agent "guard" (a real agent process: the reference echo
// agent, or the test agent where a call must hang) in front of the catch-all route, an upstream that
// says whether the agent saw the request, and the failure mode under test. The expectation texts are
// built from the constants below, the same ones the config is written from.
import type { AgentHandle } from '../../spec/helpers/containers.ts';
import { ERROR_TABLE } from '../../src/core/errors.ts';
import { MARGIN_MS, drillConfig, fmtMs } from './drill.ts';
import type { Drill, DrillSentinel } from './drill.ts';
import { maxMs, minMs, outcomeKey, send, timeToRecover, timeUntil } from './http.ts';
import type { Outcome } from './http.ts';
import { sumOf } from './metrics.ts';
import type { Sample } from './metrics.ts';

export type FailureMode = 'open' | 'closed';
export const FAILURE_MODES: readonly FailureMode[] = ['closed', 'open'];

export const AGENT_ID = 'guard';
/** timeout-ms of the agent's calls. */
export const AGENT_TIMEOUT_MS = 1000;
export const POOL_SIZE = 2;
/** circuit-breaker { failure-threshold; success-threshold; timeout-secs } */
export const FAILURE_THRESHOLD = 5;
export const SUCCESS_THRESHOLD = 2;
export const BREAKER_OPEN_MS = 2000;
/** The pool's reconnect backoff ceiling: 5 s plus 20 % jitter (src/agents/manager.ts). */
export const RECONNECT_MAX_MS = 6000;
/** From "the agent is back" to a request it inspects: a reconnect, then the breaker's open time, plus the margin. */
export const AGENT_RECOVERY_MS = RECONNECT_MAX_MS + BREAKER_OPEN_MS + MARGIN_MS;
export const AGENT_RECOVERY_TEXT = `reconnect backoff ceiling ${fmtMs(RECONNECT_MAX_MS)} + breaker timeout-secs ${BREAKER_OPEN_MS / 1000} s + ${fmtMs(MARGIN_MS)} = ${fmtMs(AGENT_RECOVERY_MS)}`;

/** What the upstream answers: whether the agent's headers reached it. */
export const INSPECTED = 'inspected';
export const UNINSPECTED = 'uninspected';

const bodyOf = (o: Outcome): string | null => (o.status === 200 && o.complete && o.body !== null ? o.body.toString('utf8') : null);
/** 200, and the agent's headers reached the upstream (the agent answered "allow"). */
export const inspected = (o: Outcome): boolean => bodyOf(o) === INSPECTED;
/** 200 without the agent's headers: the agent was skipped (fail-open bypass). */
export const bypassed = (o: Outcome): boolean => bodyOf(o) === UNINSPECTED;
export const countOf = (outcomes: readonly Outcome[], ok: (o: Outcome) => boolean): number => outcomes.filter(ok).length;
/** "200 inspected", "200 uninspected", else the status and error code. */
export const agentOutcomeKey = (o: Outcome): string => {
  const body = bodyOf(o);
  return body === INSPECTED || body === UNINSPECTED ? `200 ${body}` : outcomeKey(o);
};

/** d.expectOutcomes, tallied as inspected / uninspected / status and code. */
export function expectAgentOutcomes(d: Drill, what: string, expected: string, outcomes: readonly Outcome[], ok: (o: Outcome) => boolean): void {
  d.expectOutcomes(what, expected, outcomes, ok, agentOutcomeKey);
}

/** How a call failed, as the metrics label it: calls_total{outcome}, bypasses_total{reason}. */
export type AgentFailure = 'timeout' | 'error' | 'circuit_open';
export const FAILURE_CODE = { timeout: 'AGENT_TIMEOUT', error: 'AGENT_UNAVAILABLE', circuit_open: 'AGENT_CIRCUIT_OPEN' } as const satisfies Record<AgentFailure, keyof typeof ERROR_TABLE>;

/** What a client gets for a failed call: fail-closed the error of the table, fail-open the upstream's 200 uninspected. */
export function answerText(mode: FailureMode, failure: AgentFailure): string {
  const code = FAILURE_CODE[failure];
  return mode === 'closed' ? `${ERROR_TABLE[code].status} ${code}` : `200 ${UNINSPECTED} (bypass)`;
}

export function isAnswer(mode: FailureMode, failure: AgentFailure): (o: Outcome) => boolean {
  const code = FAILURE_CODE[failure];
  return mode === 'closed' ? (o) => o.status === ERROR_TABLE[code].status && o.code === code : bypassed;
}

/** The metric deltas of `n` calls failed with `failure`, as expectation text. */
export function failureMetricsText(mode: FailureMode, failure: AgentFailure, n: number): string {
  const parts = [`sentinel_agent_calls_total{outcome="${failure}"} +${n}`];
  if (failure === 'timeout') parts.push(`sentinel_agent_timeouts_total +${n}`);
  parts.push(mode === 'closed' ? `sentinel_errors_total{code="${FAILURE_CODE[failure]}"} +${n}` : `sentinel_agent_bypasses_total{reason="${failure}"} +${n}, sentinel_errors_total{code="${FAILURE_CODE[failure]}"} +0`);
  return parts.join(', ');
}

/** Checks the deltas of `failureMetricsText`. */
export function expectFailureMetrics(d: Drill, mode: FailureMode, before: readonly Sample[], after: readonly Sample[], failure: AgentFailure, n: number): void {
  const agent = { agent: AGENT_ID };
  d.expectDelta(before, after, 'sentinel_agent_calls_total', { ...agent, event: 'request_headers', outcome: failure }, n);
  if (failure === 'timeout') d.expectDelta(before, after, 'sentinel_agent_timeouts_total', { ...agent, event: 'request_headers' }, n);
  if (mode === 'closed') d.expectDelta(before, after, 'sentinel_errors_total', { code: FAILURE_CODE[failure] }, n);
  else {
    d.expectDelta(before, after, 'sentinel_agent_bypasses_total', { ...agent, reason: failure }, n);
    d.expectDelta(before, after, 'sentinel_errors_total', { code: FAILURE_CODE[failure] }, 0);
  }
}

/** Requests sent at once while the agent does not answer in time (frozen, slow): failure-threshold, so they open the breaker. */
export const TIMEOUT_BURST = FAILURE_THRESHOLD;
/** Each of them is answered within timeout-ms plus the margin. */
export const TIMEOUT_BOUND_MS = AGENT_TIMEOUT_MS + MARGIN_MS;
/** The agent's connections stay open: once it answers in time again, only the breaker's open time stands between it and the next request. */
export const BREAKER_RECOVERY_MS = BREAKER_OPEN_MS + MARGIN_MS;
export const BREAKER_RECOVERY_TEXT = `breaker timeout-secs ${BREAKER_OPEN_MS / 1000} s + ${fmtMs(MARGIN_MS)} = ${fmtMs(BREAKER_RECOVERY_MS)}`;

export function timeoutBurstText(mode: FailureMode): string {
  return (
    `${TIMEOUT_BURST} requests at once: all ${answerText(mode, 'timeout')}, none before 0.9 × timeout-ms = ${fmtMs(AGENT_TIMEOUT_MS * 0.9)}, ` +
    `each within timeout-ms + ${fmtMs(MARGIN_MS)} = ${fmtMs(TIMEOUT_BOUND_MS)}; ${failureMetricsText(mode, 'timeout', TIMEOUT_BURST)}`
  );
}

/**
 * TIMEOUT_BURST requests at once while the agent does not answer in time: each gets the failure
 * mode's answer to a timeout, no sooner than timeout-ms and within the bound, the metrics count the
 * timeouts, and the breaker is open. Resolves with the metrics scraped after them.
 */
export async function expectTimeoutBurst(d: Drill, s: DrillSentinel, mode: FailureMode, before: readonly Sample[], what: string, path: string): Promise<Sample[]> {
  d.progress(`sending ${TIMEOUT_BURST} requests at once`);
  const outcomes = await sendAtOnce(s.port, Array.from({ length: TIMEOUT_BURST }, (_, i) => `${path}/${i}`));
  const after = await s.metrics();
  expectAgentOutcomes(d, what, `all ${answerText(mode, 'timeout')}`, outcomes, isAnswer(mode, 'timeout'));
  d.expectAtLeast('fastest answer', minMs(outcomes), AGENT_TIMEOUT_MS * 0.9);
  d.expectAtMost('slowest answer', maxMs(outcomes), TIMEOUT_BOUND_MS);
  expectFailureMetrics(d, mode, before, after, 'timeout', TIMEOUT_BURST);
  d.expectValue(after, 'sentinel_agent_breaker_state', { agent: AGENT_ID }, 2, 'open');
  return after;
}

/** The `agents { }` endpoint line for an agent handle, or for a Toxiproxy proxy in front of a gRPC agent. */
export function endpointKdl(target: AgentHandle | { readonly grpc: string }): string {
  if ('socket' in target && target.socket !== null) return `unix-socket "${target.socket}"`;
  if (target.grpc === null) throw new Error('agent handle without an endpoint');
  return `grpc "${target.grpc}"`;
}

export interface GuardOptions {
  readonly mode: FailureMode;
  /** `unix-socket "…"` or `grpc "…"` (endpointKdl). */
  readonly endpoint: string;
  readonly timeoutMs?: number;
  /** Wait until the pool is connected (sentinel_agent_healthy 1) before returning; default true. */
  readonly waitConnected?: boolean;
}

export function guardConfig(upstream: string, o: GuardOptions): string {
  return drillConfig({
    targets: [upstream],
    filters: [AGENT_ID],
    blocks: `
agents {
  agent "${AGENT_ID}" {
    ${o.endpoint}
    timeout-ms ${o.timeoutMs ?? AGENT_TIMEOUT_MS}
    connect-timeout-ms 1000
    pool-size ${POOL_SIZE}
    failure-mode "${o.mode}"
    circuit-breaker { failure-threshold ${FAILURE_THRESHOLD}; success-threshold ${SUCCESS_THRESHOLD}; timeout-secs ${BREAKER_OPEN_MS / 1000}; half-open-max-requests 1 }
  }
}
filters { filter "${AGENT_ID}" { type "agent"; agent "${AGENT_ID}" } }`,
  });
}

/** Upstream answering whether the agent's headers reached it (echo agent: X-Echo-*, test agent: x-cid), and Sentinel with the agent on every route. */
export async function startGuarded(d: Drill, o: GuardOptions): Promise<DrillSentinel> {
  const up = await d.upstream((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(req.headers['x-echo-correlation-id'] !== undefined || req.headers['x-cid'] !== undefined ? INSPECTED : UNINSPECTED);
  });
  const s = await d.sentinel(guardConfig(up.address, o));
  if (o.waitConnected !== false) {
    d.progress('waiting for the agent pool to connect');
    const ms = await timeUntil(async () => sumOf(await s.metrics(), 'sentinel_agent_healthy', { agent: AGENT_ID }) === 1, 20_000, d.signal, 100);
    if (ms === null) throw new Error(`agent "${AGENT_ID}" not connected (sentinel_agent_healthy 1) within 20 s`);
  }
  return s;
}

/** A baseline: `n` requests, every one inspected by the agent. */
export async function expectBaseline(d: Drill, s: DrillSentinel, n = 3): Promise<void> {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < n; i++) outcomes.push(await send(s.port, '/baseline'));
  expectAgentOutcomes(d, 'baseline', `${n}×200 ${INSPECTED}`, outcomes, inspected);
}

/**
 * Once the agent is back: the time to the first request it inspects (within `bound`), then
 * `followUps` requests all inspected, the breaker closed and the agent healthy again, with the same
 * proxy process still running (no restart).
 */
export async function expectAgentRecovery(d: Drill, s: DrillSentinel, boundMs: number, followUps = 5): Promise<void> {
  d.progress('waiting for the agent to inspect requests again');
  const ms = await timeToRecover(s.port, '/recover', boundMs + 1000, d.signal, inspected);
  d.expectRecovery(ms, boundMs, `200 ${INSPECTED}`);
  const after = await sendInTurn(s.port, '/after', followUps);
  expectAgentOutcomes(d, 'after recovery', `${followUps}×200 ${INSPECTED}`, after, inspected);
  const m = await s.metrics();
  d.expectValue(m, 'sentinel_agent_breaker_state', { agent: AGENT_ID }, 0, 'closed');
  d.expectValue(m, 'sentinel_agent_healthy', { agent: AGENT_ID }, 1);
  const running = s.child.exitCode === null && s.child.signalCode === null;
  d.check('proxy process', 'the same one, never restarted', running ? `pid ${s.child.pid}, running since the start` : `exited ${s.child.exitCode ?? s.child.signalCode}`, running);
}

/** The recovery part of an expectation. */
export function recoveryText(what: string, boundText: string): string {
  return `${what} → the next request is inspected again within ${boundText}, then the breaker is closed (0) and the agent healthy (1), with no proxy restart`;
}

/** Sends one request per path at once (they run concurrently); resolves with every outcome. */
export function sendAtOnce(port: number, paths: readonly string[], timeoutMs = 30_000): Promise<Outcome[]> {
  return Promise.all(paths.map((p) => send(port, p, { timeoutMs })));
}

/** Sends `n` requests one after the other. */
export async function sendInTurn(port: number, path: string, n: number): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let i = 0; i < n; i++) out.push(await send(port, path));
  return out;
}

export const modeText = (mode: FailureMode): string => `failure-mode "${mode}"`;
