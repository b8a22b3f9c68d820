// Request bodies in agent stream mode: each chunk goes to the agents in order, then upstream; memory
// stays at one or two chunks. (Buffer mode reads with src/pipeline/body.ts bufferRequestBody.)
import { Readable } from 'node:stream';
import { bodyLimit, declaredLength } from '../pipeline/body.ts';
import type { CallMessage } from '../protocol/types.ts';
import type { AgentExchange, AgentSlot } from './exchange.ts';

/**
 * Stream mode: the request body flows client → agents → upstream one chunk at a time. A chunk is
 * held until the next one (or the end) arrives, so the last chunk carries `is_last`; it is sent to
 * each member agent in filter order (a mutation feeds the next agent), then pushed to `source`,
 * which the forward phase sends upstream. Backpressure from upstream pauses the client. A block or
 * a fail-closed failure ends the exchange (before the response head: the agent's reply; after:
 * an aborted response) and destroys `source`, which aborts the upstream request.
 */
export class StreamInspector {
  readonly source: Readable;
  private readonly st: AgentExchange;
  private readonly members: readonly AgentSlot[];
  private held: Buffer | null = null;
  private received = 0;
  private index = 0;
  private readonly total: number;
  private waitingRead = false;
  private stopped = false;
  private busy = false;
  private readonly queue: { chunk: Buffer; isLast: boolean }[] = [];

  constructor(st: AgentExchange, members: readonly AgentSlot[]) {
    this.st = st;
    this.members = members;
    const cl = declaredLength(st.ex);
    this.total = cl >= 0 ? cl : -1;
    this.source = new Readable({
      read: () => {
        if (this.waitingRead) {
          this.waitingRead = false;
          if (!this.stopped && !this.busy) st.ex.req.resume();
        }
      },
      destroy: (err, cb) => {
        this.stop();
        cb(err);
      },
    });
    const req = st.ex.req;
    req.on('data', this.onData);
    req.on('end', this.onEnd);
    req.on('error', this.onError);
  }

  private readonly onData = (chunk: Buffer): void => {
    const prev = this.held;
    this.held = chunk;
    if (prev === null) return; // wait for the next chunk (or the end) to know whether this is the last
    this.st.ex.req.pause();
    this.enqueue(prev, false);
  };

  // 'end' may be emitted while the request is paused (once its last chunk was read), so work is
  // queued and done one chunk at a time: calls for one request never overlap.
  private readonly onEnd = (): void => {
    const last = this.held ?? Buffer.alloc(0);
    this.held = null;
    this.enqueue(last, true);
  };

  private enqueue(chunk: Buffer, isLast: boolean): void {
    this.queue.push({ chunk, isLast });
    if (!this.busy) void this.run();
  }

  private async run(): Promise<void> {
    this.busy = true;
    for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
      await this.process(item.chunk, item.isLast);
      if (this.stopped) break;
    }
    this.busy = false;
    if (!this.stopped && !this.waitingRead) this.st.ex.req.resume();
  }

  private readonly onError = (): void => {
    this.stop();
    this.source.destroy(new Error('client request body aborted'));
  };

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const req = this.st.ex.req;
    req.off('data', this.onData);
    req.off('end', this.onEnd);
    req.off('error', this.onError);
  }

  private async process(chunk: Buffer, isLast: boolean): Promise<void> {
    const st = this.st;
    const ex = st.ex;
    this.received += chunk.length;
    if (this.received > bodyLimit(ex)) {
      // The route's own limit: refused as any route refuses a chunked body over it.
      ex.limitExceeded('body_bytes', 'PAYLOAD_TOO_LARGE');
      return this.abort();
    }
    const index = this.index++;
    let data = chunk;
    for (const s of this.members) {
      if (s.bypassed) continue;
      if (this.received > s.filter.agent.body.maxBytes) {
        if (!st.overLimit(s, 'request_body')) return this.abort();
        continue;
      }
      const payload: CallMessage = {
        kind: 'request_body_chunk',
        payload: { correlation_id: s.cid, data: data.toString('base64'), is_last: isLast, chunk_index: index, bytes_received: this.received, ...(this.total >= 0 ? { total_size: this.total } : {}) },
      };
      const t0 = performance.now();
      const r = await s.filter.manager.call(payload, s.filter.agent.body.chunkTimeoutMs, st.signal(), s.conn);
      if (this.stopped || ex.finished) return this.abort();
      const o = st.settle(s, 'request_body', r, t0);
      // The request head is already upstream: request header operations cannot apply any more.
      if (!st.afterSequential(s, o, 'request_body', false)) return this.abort();
      if (o.kind === 'answer') {
        const mut = o.res.request_body_mutation;
        if (mut !== null && mut.chunk_index === index && mut.data !== null) data = mut.data === '' ? Buffer.alloc(0) : Buffer.from(mut.data, 'base64');
      }
    }
    if (this.stopped) return;
    const more = data.length === 0 ? true : this.source.push(data);
    if (isLast) {
      this.stop();
      this.source.push(null);
      return;
    }
    if (!more) this.waitingRead = true;
  }

  private abort(): void {
    this.stop();
    if (!this.source.destroyed) this.source.destroy(new Error('request body refused by an agent'));
  }
}
