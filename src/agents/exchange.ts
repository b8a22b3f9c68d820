// One request's dealings with its route's agents (docs/agents.md):
//
// - request headers: every subscribed agent of a group is called in parallel; outcomes are merged in
//   filter order (block > fail-closed failure > challenge > redirect > allow); a block that no
//   earlier agent can outrank ends the wait early and cancels the rest;
// - request body: buffered (whole body, one event) or streamed (one event per chunk, forwarded as it
//   is allowed), agents one after another, stopping at the first non-allow; mutations chain;
// - response headers and body: the same, sequentially (src/agents/response.ts);
// - request complete: sent once the exchange is finalized, not waited for.
//
// While a call is pending the exchange's `pending` is this object, so a client disconnect or the
// total timeout cancels the calls (a cancel frame goes to the agent) and ends the exchange.
import { Readable } from 'node:stream';
import { errorBody } from '../core/errors.ts';
import type { ProxyError } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { AgentEvent } from '../config/types.ts';
import type { Exchange, Pending } from '../pipeline/exchange.ts';
import { pushOps } from '../pipeline/header-ops.ts';
import type { AgentConnection } from '../protocol/client.ts';
import type { AgentResponse, CallMessage, CancelReasonName, RequestHeadersEvent } from '../protocol/types.ts';
import type { CallFailure, CallResult } from './manager.ts';
import type { CallOutcome } from './metrics.ts';
import type { AgentFilter } from './filter.ts';
import { newCorrelationId, requestHeadersEvent } from './events.ts';
import { actionOf, blockStatus, checkBlockHeaders, checkHeaderOps, earlyBlock, mergeVerdict, validRedirect } from './rules.ts';
import type { Outcome, Verdict } from './rules.ts';
import { StreamInspector } from './body.ts';
import { admitRequestBody, bodyLimit, bufferRequestBody, countedBody } from '../pipeline/body.ts';
import { AgentResponsePhase } from './response.ts';

/** One agent filter's part in one request. */
export class AgentSlot {
  readonly filter: AgentFilter;
  readonly cid: string;
  /** The connection the request's first call went to; later events of the request follow it. */
  conn: AgentConnection | null = null;
  /** A fail-open failure: the agent is not asked again for this request. */
  bypassed = false;

  constructor(filter: AgentFilter, cid: string) {
    this.filter = filter;
    this.cid = cid;
  }
}

const FAILURE_OUTCOME: Readonly<Record<CallFailure, CallOutcome>> = {
  timeout: 'timeout',
  unavailable: 'error',
  protocol: 'error',
  circuit_open: 'circuit_open',
  overloaded: 'overloaded',
  cancelled: 'cancelled',
};

const FAILURE_CODE: Readonly<Record<CallFailure, ErrorCode>> = {
  timeout: 'AGENT_TIMEOUT',
  unavailable: 'AGENT_UNAVAILABLE',
  protocol: 'AGENT_UNAVAILABLE',
  circuit_open: 'AGENT_CIRCUIT_OPEN',
  overloaded: 'AGENT_UNAVAILABLE',
  cancelled: 'CLIENT_CLOSED_REQUEST',
};

function jsonHeaders(): string[] {
  return ['content-type', 'application/json', 'cache-control', 'no-store'];
}

export class AgentExchange implements Pending {
  readonly ex: Exchange;
  readonly slots: AgentSlot[] = [];
  /** Correlation id shared by the agents of this request (each agent has its own connections). */
  private readonly cid: string;
  /** Aborts the calls in flight (one controller per batch; cancel() and complete() abort it). */
  private current: AbortController | null = null;
  private headersEvent: RequestHeadersEvent | null = null;
  private completed = false;

  constructor(ex: Exchange) {
    this.ex = ex;
    this.cid = newCorrelationId();
  }

  // ---- Pending ----

  cancel(reason: ProxyError): void {
    this.abortCalls(reason.code === 'REQUEST_TIMEOUT' ? 'timeout' : 'client_disconnect');
    const ex = this.ex;
    if (ex.pending === this) ex.pending = null;
    ex.fail(reason.code);
  }

  private abortCalls(reason: CancelReasonName): void {
    const ac = this.current;
    this.current = null;
    if (ac !== null && !ac.signal.aborted) ac.abort(reason);
  }

  /** The controller of the next batch of calls. */
  private batch(): AbortSignal {
    const ac = new AbortController();
    this.current = ac;
    return ac.signal;
  }

  // ---- admit: request headers, then request body ----

  /** Runs a group of agent filters for this request. Resolves false when the exchange ended. */
  async admit(members: readonly AgentFilter[]): Promise<boolean> {
    const start = this.slots.length;
    for (const f of members) {
      // One correlation id per request; a second filter on the same agent needs its own.
      const shared = this.slots.some((s) => s.filter.manager === f.manager);
      this.slots.push(new AgentSlot(f, shared ? `${this.cid}.${this.slots.length}` : this.cid));
    }
    const end = this.slots.length;
    if (!(await this.requestHeaders(start, end))) return false;
    if (this.ex.hasRequestBody()) {
      let any = false;
      for (let i = start; i < end; i++) if ((this.slots[i] as AgentSlot).filter.onRequestBody) any = true;
      if (any && !(await this.requestBody(start, end))) return false;
    }
    if (this.ex.responseInterceptor === null) {
      for (let i = start; i < end; i++) {
        const f = (this.slots[i] as AgentSlot).filter;
        if (f.onResponseHeaders || f.onResponseBody) {
          // Sees the upstream response first; it reads the slots when the head arrives, so agents
          // of later groups on the route are included.
          this.ex.responseInterceptor = new AgentResponsePhase(this);
          break;
        }
      }
    }
    return !this.ex.finished;
  }

  private headersMessage(slot: AgentSlot): CallMessage {
    const base = (this.headersEvent ??= requestHeadersEvent(this.ex, this.cid));
    if (slot.cid === this.cid) return { kind: 'request_headers', payload: base };
    return { kind: 'request_headers', payload: { ...base, correlation_id: slot.cid, metadata: { ...base.metadata, correlation_id: slot.cid } } };
  }

  private async requestHeaders(start: number, end: number): Promise<boolean> {
    const ex = this.ex;
    const n = end - start;
    const outcomes: (Outcome | undefined)[] = new Array(n);
    let waiting = 0;
    const signal = this.batch();
    let decided = -1;
    await new Promise<void>((resolve) => {
      for (let i = 0; i < n; i++) {
        const slot = this.slots[start + i] as AgentSlot;
        if (!slot.filter.onRequestHeaders) {
          outcomes[i] = { kind: 'none' };
          continue;
        }
        waiting++;
        const t0 = performance.now();
        void slot.filter.manager.call(this.headersMessage(slot), slot.filter.timeoutMs, signal, null).then((r) => {
          outcomes[i] = this.settle(slot, 'request_headers', r, t0);
          if (--waiting === 0) resolve();
          else if (decided < 0 && (decided = earlyBlock(outcomes)) >= 0) {
            // An agent blocked and every agent before it has answered: nothing can outrank it.
            this.abortCalls('blocked_by_agent');
            resolve();
          }
        });
      }
      if (waiting === 0) resolve();
      else ex.pending = this;
    });
    if (ex.pending === this) ex.pending = null;
    this.current = null;
    if (ex.finished) return false;
    for (let i = 0; i < n; i++) if (outcomes[i] === undefined) outcomes[i] = { kind: 'failure', failure: 'cancelled' };
    const verdict = mergeVerdict(outcomes as Outcome[], this.slots.slice(start, end).map((s) => s.filter.failureMode));
    const allow = verdict.action === 'allow';
    for (let i = 0; i < n; i++) {
      const o = outcomes[i] as Outcome;
      if (o.kind === 'answer') this.applyOps(this.slots[start + i] as AgentSlot, o.res, allow);
    }
    if (allow) return true;
    this.enforce(verdict, this.slots[start + verdict.index] as AgentSlot, outcomes[verdict.index] as Outcome, 'request_headers');
    return false;
  }

  private async requestBody(start: number, end: number): Promise<boolean> {
    const ex = this.ex;
    const members: AgentSlot[] = [];
    let stream = true;
    for (let i = start; i < end; i++) {
      const s = this.slots[i] as AgentSlot;
      if (!s.filter.onRequestBody || s.bypassed) continue;
      members.push(s);
      if (s.filter.agent.body.mode !== 'stream') stream = false;
    }
    if (members.length === 0) return true;
    // The route's body limit and `Expect: 100-continue` come first: a body the route refuses is
    // never read, nor shown to an agent.
    if (!admitRequestBody(ex)) return false;
    if (stream) {
      // Chunks go to the agents as they arrive and upstream once allowed: the forward phase reads
      // the inspected stream instead of the request.
      ex.requestBodyStream = new StreamInspector(this, members).source;
      return true;
    }
    let limit = 0;
    for (const s of members) limit = Math.max(limit, s.filter.agent.body.maxBytes);
    const routeLimit = bodyLimit(ex);
    ex.pending = this;
    const read = await bufferRequestBody(ex, Math.min(limit, routeLimit));
    if (ex.pending === this) ex.pending = null;
    if (ex.finished) return false;
    if (!read.ok && read.reason === 'aborted') {
      ex.fail('CLIENT_CLOSED_REQUEST');
      return false;
    }
    if (!read.ok) {
      if (routeLimit <= limit) {
        // Over the route's own limit: refused as any route refuses it.
        ex.limitExceeded('body_bytes', 'PAYLOAD_TOO_LARGE');
        return false;
      }
      // Larger than every member's limit: a fail-closed member refuses it, the others are skipped.
      for (const s of members) if (!this.overLimit(s, 'request_body')) return false;
      // Every member is fail-open: the body goes upstream uninspected, including what was read,
      // still counted against the route's limit.
      ex.requestBodyStream = Readable.from(countedBody(ex, replay(read.read, ex), routeLimit));
      return true;
    }
    const original = read.body;
    let body = original;
    const signal = this.batch();
    for (const s of members) {
      if (body.length > s.filter.agent.body.maxBytes) {
        if (!this.overLimit(s, 'request_body')) return false;
        continue;
      }
      const msg: CallMessage = { kind: 'request_body_chunk', payload: { correlation_id: s.cid, data: body.toString('base64'), is_last: true, total_size: body.length, chunk_index: 0, bytes_received: body.length } };
      const t0 = performance.now();
      ex.pending = this;
      const r = await s.filter.manager.call(msg, s.filter.timeoutMs, signal, s.conn);
      if (ex.pending === this) ex.pending = null;
      if (ex.finished) return false;
      const o = this.settle(s, 'request_body', r, t0);
      if (!this.afterSequential(s, o, 'request_body')) return false;
      if (o.kind === 'answer') {
        const mut = o.res.request_body_mutation;
        if (mut !== null && mut.chunk_index === 0 && mut.data !== null) body = mut.data === '' ? Buffer.alloc(0) : Buffer.from(mut.data, 'base64');
      }
    }
    this.current = null;
    if (body !== original) {
      ex.body = body;
      ex.requestHeaderOps = pushOps(ex.requestHeaderOps, [{ op: 'set', name: 'content-length', value: String(body.length) }]);
    }
    return true;
  }

  // ---- shared steps ----

  /** Records a call's result (metrics, connection affinity, bypass) and turns it into an outcome. */
  settle(slot: AgentSlot, event: AgentEvent, r: CallResult, t0: number): Outcome {
    const f = slot.filter;
    const seconds = (performance.now() - t0) / 1000;
    let failure: CallFailure;
    let detail: string;
    if (r.ok) {
      slot.conn ??= r.conn;
      const d = r.res.decision;
      // A redirect the proxy will not send (bad status or target) is the agent failing, not a verdict.
      if (typeof d !== 'object' || !('redirect' in d) || validRedirect(d.redirect.url, d.redirect.status)) {
        f.m[event].done(actionOf(d), seconds);
        return { kind: 'answer', res: r.res };
      }
      failure = 'protocol';
      detail = `redirect the proxy does not send (status ${d.redirect.status})`;
    } else {
      failure = r.failure;
      detail = r.detail;
    }
    f.m[event].done(FAILURE_OUTCOME[failure], seconds);
    if (failure !== 'cancelled' && f.failureMode === 'open') {
      slot.bypassed = true;
      f.bypassed(failure === 'unavailable' || failure === 'protocol' ? 'error' : failure);
    }
    return { kind: 'failure', failure, detail };
  }

  /**
   * After one sequential call (body and response events): a non-allow answer or a fail-closed
   * failure is enforced and ends the chain (false); an allow or a bypassed failure goes on.
   */
  afterSequential(slot: AgentSlot, o: Outcome, event: AgentEvent, requestOps = true): boolean {
    if (o.kind === 'answer') {
      const action = actionOf(o.res.decision);
      this.applyOps(slot, o.res, requestOps && action === 'allow');
      if (action === 'allow') return true;
      this.enforce({ action, index: 0 }, slot, o, event);
      return false;
    }
    if (o.kind === 'failure' && slot.filter.failureMode === 'closed') {
      this.enforce({ action: 'fail', index: 0, failure: o.failure }, slot, o, event);
      return false;
    }
    return true;
  }

  /** A body over an agent's limit: fail-closed refuses the request (false), fail-open skips the agent. */
  overLimit(slot: AgentSlot, event: AgentEvent): boolean {
    const f = slot.filter;
    if (f.failureMode === 'open') {
      slot.bypassed = true;
      f.bypassed('body_too_large');
      return true;
    }
    const code: ErrorCode = event === 'response_body' ? 'AGENT_RESPONSE_TOO_LARGE' : 'AGENT_BODY_TOO_LARGE';
    this.ex.audit('agent', 'fail-closed', 'body over the agent limit', { decided_by: f.agent.id, filter: f.id, event, max_bytes: f.agent.body.maxBytes });
    this.fail(code);
    return false;
  }

  /** The agent's header operations, checked against the rules; request ops only when `request`. */
  applyOps(slot: AgentSlot, res: AgentResponse, request: boolean): void {
    const ex = this.ex;
    const allowed = slot.filter.agent.allowHeaderMutations;
    if (request && res.request_headers.length > 0) {
      const c = checkHeaderOps(res.request_headers, 'request', allowed);
      ex.requestHeaderOps = pushOps(ex.requestHeaderOps, c.ops);
      if (c.rejected > 0) slot.filter.rejectedRequestOps.inc(c.rejected);
    }
    if (res.response_headers.length > 0) {
      const c = checkHeaderOps(res.response_headers, 'response', allowed);
      ex.responseHeaderOps = pushOps(ex.responseHeaderOps, c.ops);
      if (c.rejected > 0) slot.filter.rejectedResponseOps.inc(c.rejected);
    }
  }

  /** Ends the exchange as a non-allow verdict says: the agent's reply, or the failure's error. */
  enforce(verdict: Verdict, slot: AgentSlot, outcome: Outcome, event: AgentEvent): void {
    const ex = this.ex;
    const f = slot.filter;
    const agent = f.agent.id;
    if (verdict.action === 'fail') {
      // The detail is for operators (audit log); the client sees only the error code.
      ex.audit('agent', 'fail-closed', verdict.failure, { decided_by: agent, filter: f.id, event, ...(outcome.kind === 'failure' && outcome.detail !== undefined ? { detail: outcome.detail } : {}) });
      this.fail(FAILURE_CODE[verdict.failure]);
      return;
    }
    if (outcome.kind !== 'answer') return;
    const res = outcome.res;
    const d = res.decision;
    const a = res.audit;
    const extra = { decided_by: agent, filter: f.id, event, rule_ids: a.rule_ids, reason_codes: a.reason_codes, tags: a.tags, ...(a.confidence !== undefined ? { confidence: a.confidence } : {}) };
    const reason = a.reason_codes[0] ?? `${verdict.action} by agent`;
    if (typeof d === 'object' && 'redirect' in d) {
      ex.audit('agent', 'redirect', reason, { ...extra, status: d.redirect.status, location: d.redirect.url });
      this.reply(d.redirect.status, ['location', d.redirect.url], null, null);
      return;
    }
    if (typeof d === 'object' && 'challenge' in d) {
      ex.audit('agent', 'challenge', reason, { ...extra, status: 403, challenge_type: d.challenge.challenge_type });
      const body = JSON.stringify({ error: { code: 'AGENT_CHALLENGE', message: 'The request must pass a challenge first.', request_id: ex.requestId }, challenge: { type: d.challenge.challenge_type, params: d.challenge.params } });
      this.reply(403, jsonHeaders(), body, 'AGENT_CHALLENGE');
      return;
    }
    if (typeof d === 'object' && 'block' in d) {
      const status = blockStatus(d.block.status);
      const h = checkBlockHeaders(d.block.headers, f.agent.allowHeaderMutations);
      if (h.rejected > 0) f.rejectedResponseOps.inc(h.rejected);
      ex.audit('agent', 'block', reason, { ...extra, status });
      let headers = h.list;
      let body: string;
      if (d.block.body !== undefined) {
        body = d.block.body;
        if (!headers.some((x, i) => i % 2 === 0 && x.toLowerCase() === 'content-type')) headers.push('content-type', 'text/plain; charset=utf-8');
      } else {
        headers = [...jsonHeaders(), ...headers.filter((_, i, arr) => i % 2 === 0 ? arr[i]?.toLowerCase() !== 'content-type' : arr[i - 1]?.toLowerCase() !== 'content-type')];
        body = errorBody('AGENT_BLOCKED', ex.requestId);
      }
      this.reply(status, headers, body, 'AGENT_BLOCKED');
    }
  }

  private reply(status: number, headers: string[], body: string | null, code: ErrorCode | null): void {
    const ex = this.ex;
    if (ex.finished) return;
    if (ex.res.headersSent) {
      // A verdict on the response body after the head went out: the only honest signal left is to
      // abort the client connection (never a truncated body that looks complete).
      ex.fail(code ?? 'AGENT_BLOCKED');
      return;
    }
    if (code !== null) ex.errorCode = code;
    ex.reply(status, headers, body);
  }

  private fail(code: ErrorCode): void {
    if (!this.ex.finished) this.ex.fail(code);
  }

  // ---- complete ----

  /** In finalize (once): stops calls still out, sends request_complete to subscribed agents. */
  complete(): void {
    if (this.completed) return;
    this.completed = true;
    const ex = this.ex;
    this.abortCalls(ex.errorCode === 'CLIENT_CLOSED_REQUEST' ? 'client_disconnect' : ex.errorCode === 'REQUEST_TIMEOUT' ? 'timeout' : 'upstream_error');
    let durationMs = -1;
    for (const s of this.slots) {
      const f = s.filter;
      if (!f.onRequestComplete || s.bypassed) continue;
      if (durationMs < 0) durationMs = Math.round(Number(process.hrtime.bigint() - ex.startNs) / 1e6);
      const payload = { correlation_id: s.cid, status: ex.status, duration_ms: durationMs, request_body_size: ex.bytesIn, response_body_size: ex.bytesOut, upstream_attempts: ex.attempts };
      f.m.request_complete.done('allow', 0);
      f.manager.notify({ kind: 'request_complete', payload: ex.errorCode === undefined ? payload : { ...payload, error: ex.errorCode } }, f.timeoutMs, s.conn);
    }
  }

  /** For the streamed body and the response phase: a signal for the next sequential calls. */
  signal(): AbortSignal {
    return this.current?.signal ?? this.batch();
  }
}

/** The bytes already read, then the rest of the request (fail-open agents skipped an oversize body). */
async function* replay(chunks: readonly Buffer[], ex: Exchange): AsyncGenerator<Buffer> {
  yield* chunks;
  for await (const c of ex.req) yield c as Buffer;
}
