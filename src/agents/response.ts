// The response phase of agents (response_headers, response_body), through the response hook of the
// forward phase (src/pipeline/response-hook.ts). Agents are asked one after another in filter
// order and the first non-allow decides, as for request bodies.
//
// - Head: agents subscribed to response_headers see the upstream's status and headers before the
//   client does; their response header operations apply to what the client gets; a block replaces
//   the upstream response (which is discarded).
// - Body, buffer mode: the whole body (up to the largest max-bytes of the subscribed agents) is
//   collected, sent as one event, possibly replaced, and sent to the client with a correct
//   Content-Length. The head waits for the verdict, so a block is still a clean local reply.
// - Body, stream mode: the head goes out first (without Content-Length: agents may change the
//   length), then each chunk once every agent allowed it. A block mid-body can only abort the
//   client connection (never a truncated body that looks complete).
//
// Everything the upstream delivers is queued and handled in order, one item at a time; the upstream
// is paused while an agent decides, so memory stays bounded by a chunk or two (or max-bytes in
// buffer mode).
import type { ResponseInterceptor, ResponseRelay } from '../pipeline/response-hook.ts';
import type { CallMessage } from '../protocol/types.ts';
import { headerMap } from './events.ts';
import type { AgentExchange, AgentSlot } from './exchange.ts';

type Item =
  | { readonly kind: 'head'; readonly status: number; readonly headers: string[]; readonly statusMessage: string | undefined }
  | { readonly kind: 'data'; readonly chunk: Buffer }
  | { readonly kind: 'end' };

type Mode = 'pass' | 'buffer' | 'stream';

function setHeader(headers: string[], name: string, value: string | null): void {
  let w = 0;
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === name) continue;
    headers[w++] = headers[i] as string;
    headers[w++] = headers[i + 1] as string;
  }
  headers.length = w;
  if (value !== null) headers.push(name, value);
}

export class AgentResponsePhase implements ResponseInterceptor {
  private readonly st: AgentExchange;
  private readonly queue: Item[] = [];
  private relay: ResponseRelay | null = null;
  private busy = false;
  private paused = false;
  private stopped = false;
  private mode: Mode = 'pass';
  private bodySlots: AgentSlot[] = [];
  private status = 0;
  private headers: string[] = [];
  private statusMessage: string | undefined;
  // buffer mode
  private buffered: Buffer[] = [];
  private size = 0;
  private limit = 0;
  // stream mode
  private held: Buffer | null = null;
  private index = 0;
  private sent = 0;

  constructor(st: AgentExchange) {
    this.st = st;
  }

  onHead(relay: ResponseRelay, status: number, headers: string[], statusMessage: string | undefined): void {
    this.relay = relay;
    this.push({ kind: 'head', status, headers, statusMessage });
  }

  onData(relay: ResponseRelay, chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Plain relay once nothing is left to decide (no body agents, or all bypassed).
    if (this.mode === 'pass' && !this.busy && this.queue.length === 0 && this.status !== 0) relay.write(chunk);
    else this.push({ kind: 'data', chunk });
  }

  onEnd(relay: ResponseRelay): void {
    this.push({ kind: 'end' });
    this.relay = relay;
  }

  private push(item: Item): void {
    if (this.stopped) return;
    if (item.kind === 'data' && item.chunk.length === 0) return;
    this.queue.push(item);
    if (!this.busy) void this.run();
  }

  /**
   * Handles queued items in order. The upstream is paused only while an agent is being asked
   * (and resumed once, when the queue is empty): pausing and resuming undici around work that
   * finishes synchronously makes it re-deliver empty chunks in a loop.
   */
  private async run(): Promise<void> {
    this.busy = true;
    for (let item = this.queue.shift(); item !== undefined && !this.stopped; item = this.queue.shift()) {
      const work = item.kind === 'head' ? this.head(item.status, item.headers, item.statusMessage) : item.kind === 'data' ? this.data(item.chunk) : this.end();
      if (work === undefined) continue;
      if (!this.paused) {
        this.paused = true;
        this.relay?.pause();
      }
      await work;
    }
    this.busy = false;
    if (this.paused && !this.stopped) {
      this.paused = false;
      this.relay?.resume();
    }
  }

  /** Ends the phase: the exchange was ended (a verdict, a failure) or is gone. */
  private stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.buffered = [];
  }

  private active(event: 'response_headers' | 'response_body'): AgentSlot[] {
    const out: AgentSlot[] = [];
    for (const s of this.st.slots) {
      if (s.bypassed) continue;
      if (event === 'response_headers' ? s.filter.onResponseHeaders : s.filter.onResponseBody) out.push(s);
    }
    return out;
  }

  /** The head: asks the response_headers agents (async), else decides the body mode at once. */
  private head(status: number, headers: string[], statusMessage: string | undefined): Promise<void> | undefined {
    this.status = status;
    this.headers = headers;
    this.statusMessage = statusMessage;
    const headerSlots = this.active('response_headers');
    if (headerSlots.length === 0) {
      this.startBody();
      return undefined;
    }
    return this.askHead(headerSlots);
  }

  private async askHead(headerSlots: readonly AgentSlot[]): Promise<void> {
    const map = headerMap(this.headers);
    for (const s of headerSlots) {
      const msg: CallMessage = { kind: 'response_headers', payload: { correlation_id: s.cid, status: this.status, headers: map } };
      if ((await this.callAndSettle(s, msg, 'response_headers', s.filter.timeoutMs)) === null) return;
    }
    this.startBody();
  }

  private startBody(): void {
    const status = this.status;
    const noBody = this.st.ex.req.method === 'HEAD' || status === 204 || status === 304;
    this.bodySlots = noBody ? [] : this.active('response_body');
    if (this.bodySlots.length === 0) {
      this.mode = 'pass';
      this.commit();
      return;
    }
    let allStream = true;
    for (const s of this.bodySlots) {
      this.limit = Math.max(this.limit, s.filter.agent.body.maxBytes);
      if (s.filter.agent.body.mode !== 'stream') allStream = false;
    }
    if (allStream) {
      // The length may change chunk by chunk: no Content-Length (chunked to the client).
      setHeader(this.headers, 'content-length', null);
      this.mode = 'stream';
      this.commit();
    } else this.mode = 'buffer';
  }

  /** Writes the head; a refused head ends the phase (the forward phase failed the exchange). */
  private commit(): boolean {
    const relay = this.relay as ResponseRelay;
    if (relay.commitHead(this.status, this.headers, this.statusMessage)) return true;
    this.stop();
    return false;
  }

  private data(chunk: Buffer): Promise<void> | undefined {
    const relay = this.relay as ResponseRelay;
    if (this.mode === 'pass') {
      relay.write(chunk);
      return undefined;
    }
    if (this.mode === 'buffer') {
      this.size += chunk.length;
      this.buffered.push(chunk);
      if (this.size > this.limit) this.overLimit();
      return undefined;
    }
    const prev = this.held;
    this.held = chunk;
    return prev === null ? undefined : this.streamChunk(prev, false).then(() => undefined);
  }

  /** Buffer mode past the largest limit: fail-closed agents refuse, fail-open ones are skipped. */
  private overLimit(): void {
    const st = this.st;
    for (const s of this.bodySlots) {
      if (s.bypassed) continue;
      if (s.filter.failureMode === 'closed') {
        (this.relay as ResponseRelay).discard();
        st.overLimit(s, 'response_body');
        this.stop();
        return;
      }
      st.overLimit(s, 'response_body');
    }
    // Everyone skipped it: the response goes out uninspected, starting with what was collected.
    this.mode = 'pass';
    if (!this.commit()) return;
    const relay = this.relay as ResponseRelay;
    for (const c of this.buffered) relay.write(c);
    this.buffered = [];
  }

  private end(): Promise<void> | undefined {
    const relay = this.relay as ResponseRelay;
    if (this.mode === 'buffer') return this.endBuffered();
    if (this.mode === 'stream' && this.held !== null) {
      const last = this.held;
      this.held = null;
      return this.streamChunk(last, true).then((ok) => {
        if (!ok) return;
        relay.finish();
        this.stop();
      });
    }
    relay.finish();
    this.stop();
    return undefined;
  }

  private async endBuffered(): Promise<void> {
    const relay = this.relay as ResponseRelay;
    const original = this.buffered.length === 1 ? (this.buffered[0] as Buffer) : Buffer.concat(this.buffered, this.size);
    this.buffered = [];
    let body = original;
    if (body.length > 0) {
      for (const s of this.bodySlots) {
        if (s.bypassed) continue;
        if (body.length > s.filter.agent.body.maxBytes) {
          if (s.filter.failureMode === 'closed') relay.discard();
          if (!this.st.overLimit(s, 'response_body')) return this.stop();
          continue;
        }
        const msg: CallMessage = { kind: 'response_body_chunk', payload: { correlation_id: s.cid, data: body.toString('base64'), is_last: true, total_size: body.length, chunk_index: 0, bytes_sent: body.length } };
        const out = await this.askBody(s, msg, s.filter.timeoutMs, 0);
        if (out === null) return;
        if (out !== undefined) body = out;
      }
    }
    if (body !== original) setHeader(this.headers, 'content-length', String(body.length));
    if (!this.commit()) return;
    if (body.length > 0) relay.write(body);
    relay.finish();
    this.stop();
  }

  private async streamChunk(chunk: Buffer, isLast: boolean): Promise<boolean> {
    this.sent += chunk.length;
    const index = this.index++;
    let data = chunk;
    for (const s of this.bodySlots) {
      if (s.bypassed) continue;
      if (this.sent > s.filter.agent.body.maxBytes) {
        // The head is out: a fail-closed refusal can only abort the client connection.
        if (!this.st.overLimit(s, 'response_body')) {
          (this.relay as ResponseRelay).discard();
          this.stop();
          return false;
        }
        continue;
      }
      const msg: CallMessage = { kind: 'response_body_chunk', payload: { correlation_id: s.cid, data: data.toString('base64'), is_last: isLast, chunk_index: index, bytes_sent: this.sent } };
      const out = await this.askBody(s, msg, s.filter.agent.body.chunkTimeoutMs, index);
      if (out === null) return false;
      if (out !== undefined) data = out;
    }
    if (data.length > 0) (this.relay as ResponseRelay).write(data);
    return true;
  }

  /** A body call: the replacement bytes, undefined (pass through) or null (the exchange ended). */
  private async askBody(s: AgentSlot, msg: CallMessage, timeoutMs: number, index: number): Promise<Buffer | undefined | null> {
    const o = await this.callAndSettle(s, msg, 'response_body', timeoutMs);
    if (o === null) return null;
    if (o.kind !== 'answer') return undefined;
    const mut = o.res.response_body_mutation;
    if (mut === null || mut.chunk_index !== index || mut.data === null) return undefined;
    return mut.data === '' ? Buffer.alloc(0) : Buffer.from(mut.data, 'base64');
  }

  private async callAndSettle(s: AgentSlot, msg: CallMessage, event: 'response_headers' | 'response_body', timeoutMs: number) {
    const st = this.st;
    const ex = st.ex;
    const t0 = performance.now();
    const r = await s.filter.manager.call(msg, timeoutMs, st.signal(), s.conn);
    if (ex.finished) {
      this.stop();
      return null;
    }
    const o = st.settle(s, event, r, t0);
    const decisive = (o.kind === 'answer' && o.res.decision !== 'allow') || (o.kind === 'failure' && s.filter.failureMode === 'closed');
    // The upstream response is dropped before a verdict replaces it.
    if (decisive) (this.relay as ResponseRelay).discard();
    if (!st.afterSequential(s, o, event, false)) {
      this.stop();
      return null;
    }
    return o;
  }
}
