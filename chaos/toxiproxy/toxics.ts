// Toxic definitions (the API shape) and their per-connection stages (the behaviour).
//
// A stage is one toxic applied to one direction of one connection. Stages form a chain: each
// receives chunks with push()/end() and hands them on through its StageContext. The link that
// owns the chain routes emit() to the next stage, so stages can be added, replaced and removed on
// live connections (see link.ts). Semantics follow Toxiproxy v2's toxics/*.go; differences are
// listed in README.md.

export const TOXIC_TYPES = ['latency', 'bandwidth', 'slow_close', 'timeout', 'reset_peer', 'slicer', 'limit_data'] as const;
export type ToxicType = (typeof TOXIC_TYPES)[number];

export const STREAMS = ['upstream', 'downstream'] as const;
/** upstream = client → server, downstream = server → client. */
export type Stream = (typeof STREAMS)[number];

/** Attribute names per type, in Toxiproxy's JSON order; all are integers defaulting to 0. */
export const TOXIC_ATTRIBUTES = {
  latency: ['latency', 'jitter'],
  bandwidth: ['rate'],
  slow_close: ['delay'],
  timeout: ['timeout'],
  reset_peer: ['timeout'],
  slicer: ['average_size', 'size_variation', 'delay'],
  limit_data: ['bytes'],
} as const satisfies Record<ToxicType, readonly string[]>;

export type ToxicAttributes = Readonly<Record<string, number>>;

/** The API representation of a toxic; field order matches Toxiproxy's JSON. */
export interface ToxicSpec {
  readonly attributes: ToxicAttributes;
  readonly name: string;
  readonly type: ToxicType;
  readonly stream: Stream;
  readonly toxicity: number;
}

export function isToxicType(value: unknown): value is ToxicType {
  return typeof value === 'string' && (TOXIC_TYPES as readonly string[]).includes(value);
}

export function isStream(value: unknown): value is Stream {
  return typeof value === 'string' && (STREAMS as readonly string[]).includes(value);
}

export type AttributesResult = { readonly ok: true; readonly attributes: ToxicAttributes } | { readonly ok: false; readonly message: string };

/**
 * Decodes `raw` onto `base` the way Go's json.Decode fills the toxic struct: known fields must be
 * integers (null keeps the old value), unknown fields are ignored, absent fields keep `base`.
 */
export function decodeAttributes(type: ToxicType, raw: unknown, base?: ToxicAttributes): AttributesResult {
  const out: Record<string, number> = {};
  for (const field of TOXIC_ATTRIBUTES[type]) out[field] = base?.[field] ?? 0;
  if (raw === undefined || raw === null) return { ok: true, attributes: out };
  if (typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, message: 'attributes must be an object' };
  const rec = raw as Record<string, unknown>;
  for (const field of TOXIC_ATTRIBUTES[type]) {
    const v = rec[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      return { ok: false, message: `attributes.${field}: cannot unmarshal ${JSON.stringify(v)} into an integer` };
    }
    out[field] = v;
  }
  return { ok: true, attributes: out };
}

/** What a stage may do to the connection it runs in. */
export interface StageContext {
  emit(chunk: Buffer): void;
  emitEnd(): void;
  /** Reset the whole connection (RST to both peers). */
  reset(): void;
  random(): number;
  /** Monotonic milliseconds. */
  now(): number;
}

export interface Stage {
  /** Bytes held inside the stage (for backpressure). */
  readonly pendingBytes: number;
  push(chunk: Buffer): void;
  end(): void;
  /**
   * The toxic is being removed ('remove') or replaced by an updated one ('update'): hand on
   * held data now. May emit end (a removed timeout toxic closes the stream, as in Toxiproxy).
   */
  detach(reason: 'remove' | 'update'): void;
  /** True while the stage still has a timer that must run after detach (reset_peer). */
  readonly keepsRunning: boolean;
  /** The connection is gone: clear timers, drop data. */
  dispose(): void;
}

/** Per-connection state that survives a toxic update (Toxiproxy's StatefulToxic). */
export interface StageState {
  bytesTransmitted: number;
}

export function newStageState(): StageState {
  return { bytesTransmitted: 0 };
}

function attr(spec: ToxicSpec, name: string): number {
  return spec.attributes[name] ?? 0;
}

/** Builds the stage for one connection; the toxicity roll happens here (per connection, per (re)start). */
export function createStage(spec: ToxicSpec, ctx: StageContext, state: StageState): Stage {
  if (!(ctx.random() < spec.toxicity)) return noopStage(ctx);
  switch (spec.type) {
    case 'latency':
      return latencyStage(attr(spec, 'latency'), attr(spec, 'jitter'), ctx);
    case 'bandwidth':
      return bandwidthStage(attr(spec, 'rate'), ctx);
    case 'slow_close':
      return slowCloseStage(attr(spec, 'delay'), ctx);
    case 'timeout':
      return timeoutStage(attr(spec, 'timeout'), ctx);
    case 'reset_peer':
      return resetPeerStage(attr(spec, 'timeout'), ctx);
    case 'slicer':
      return slicerStage(attr(spec, 'average_size'), attr(spec, 'size_variation'), attr(spec, 'delay'), ctx);
    case 'limit_data':
      return limitDataStage(attr(spec, 'bytes'), ctx, state);
  }
}

function noopStage(ctx: StageContext): Stage {
  return {
    pendingBytes: 0,
    keepsRunning: false,
    push: (chunk) => ctx.emit(chunk),
    end: () => ctx.emitEnd(),
    detach: () => {},
    dispose: () => {},
  };
}

interface Timed {
  readonly chunk: Buffer | null; // null = end of stream
  readonly dueAt: number;
}

/** Each chunk is held latency ± jitter ms from its arrival; order is kept; end follows the data. */
function latencyStage(latencyMs: number, jitterMs: number, ctx: StageContext): Stage {
  const queue: Timed[] = [];
  let timer: NodeJS.Timeout | undefined;
  let pendingBytes = 0;
  const delayMs = (): number => {
    let d = latencyMs;
    if (jitterMs > 0) d += Math.floor(ctx.random() * 2 * jitterMs) - jitterMs;
    return Math.max(0, d);
  };
  const pump = (): void => {
    timer = undefined;
    while (queue.length > 0) {
      const head = queue[0] as Timed;
      const waitMs = head.dueAt - ctx.now();
      if (waitMs > 0) {
        timer = setTimeout(pump, Math.ceil(waitMs));
        return;
      }
      queue.shift();
      if (head.chunk === null) {
        ctx.emitEnd();
        return;
      }
      pendingBytes -= head.chunk.length;
      ctx.emit(head.chunk);
    }
  };
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const items = queue.splice(0);
    pendingBytes = 0;
    for (const item of items) {
      if (item.chunk === null) ctx.emitEnd();
      else ctx.emit(item.chunk);
    }
  };
  return {
    get pendingBytes() {
      return pendingBytes;
    },
    keepsRunning: false,
    push(chunk) {
      pendingBytes += chunk.length;
      queue.push({ chunk, dueAt: ctx.now() + delayMs() });
      if (timer === undefined) pump();
    },
    end() {
      queue.push({ chunk: null, dueAt: 0 });
      if (timer === undefined) pump();
    },
    detach: flush,
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
      pendingBytes = 0;
    },
  };
}

/** Largest piece the bandwidth toxic sends at once: 100 ms worth of data (as Toxiproxy does). */
export function bandwidthPieces(chunk: Buffer, rateKBps: number): Buffer[] {
  const max = rateKBps * 100;
  if (chunk.length <= max) return [chunk];
  const pieces: Buffer[] = [];
  for (let off = 0; off < chunk.length; off += max) pieces.push(chunk.subarray(off, off + max));
  return pieces;
}

/**
 * Throttles to `rate` KB/s (1 KB = 1000 bytes): each piece costs length/rate ms, carried as a
 * sleep debt corrected by the time actually slept, as in Toxiproxy. rate <= 0 stalls the stream
 * (Toxiproxy loops forever sending empty chunks).
 */
function bandwidthStage(rateKBps: number, ctx: StageContext): Stage {
  const queue: Buffer[] = [];
  let pendingBytes = 0;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  let sleepMs = 0;
  let startedAt = 0;
  const schedule = (): void => {
    const head = queue[0];
    if (head === undefined) {
      if (ended) ctx.emitEnd();
      return;
    }
    if (rateKBps <= 0) return; // stalled
    sleepMs += head.length / rateKBps;
    startedAt = ctx.now();
    timer = setTimeout(fire, Math.max(0, Math.ceil(sleepMs)));
  };
  const fire = (): void => {
    timer = undefined;
    sleepMs -= ctx.now() - startedAt;
    const piece = queue.shift();
    if (piece === undefined) return;
    pendingBytes -= piece.length;
    ctx.emit(piece);
    schedule();
  };
  return {
    get pendingBytes() {
      return pendingBytes;
    },
    keepsRunning: false,
    push(chunk) {
      const idle = queue.length === 0 && timer === undefined;
      for (const piece of rateKBps > 0 ? bandwidthPieces(chunk, rateKBps) : [chunk]) queue.push(piece);
      pendingBytes += chunk.length;
      if (idle) schedule();
    },
    end() {
      ended = true;
      if (queue.length === 0 && timer === undefined) ctx.emitEnd();
    },
    detach() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const items = queue.splice(0);
      pendingBytes = 0;
      for (const item of items) ctx.emit(item);
      if (ended) ctx.emitEnd();
    },
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
      pendingBytes = 0;
    },
  };
}

/** Passes data; holds the end of stream for `delay` ms. */
function slowCloseStage(delayMs: number, ctx: StageContext): Stage {
  let timer: NodeJS.Timeout | undefined;
  return {
    pendingBytes: 0,
    keepsRunning: false,
    push: (chunk) => ctx.emit(chunk),
    end() {
      timer = setTimeout(() => {
        timer = undefined;
        ctx.emitEnd();
      }, Math.max(0, delayMs));
    },
    detach() {
      if (timer === undefined) return;
      clearTimeout(timer);
      timer = undefined;
      ctx.emitEnd();
    },
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Drops all data. With timeout > 0 the stream is closed once no data arrived for `timeout` ms
 * (Toxiproxy re-arms its time.After on every chunk); with 0 it is held open. Removing the toxic
 * closes the stream (Toxiproxy's Cleanup), updating it restarts the timer.
 */
function timeoutStage(timeoutMs: number, ctx: StageContext): Stage {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const close = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (closed) return;
    closed = true;
    ctx.emitEnd();
  };
  const arm = (): void => {
    if (timeoutMs <= 0 || closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(close, timeoutMs);
  };
  arm();
  return {
    pendingBytes: 0,
    keepsRunning: false,
    push: () => arm(),
    end: close,
    detach(reason) {
      if (reason === 'remove') close();
      else if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
    },
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * On the first chunk (or end) in its direction, waits `timeout` ms then resets the connection
 * (RST both ways); data from then on is dropped. A pending reset still fires if the toxic is
 * removed meanwhile (Toxiproxy's sleep is not interruptible either).
 */
function resetPeerStage(timeoutMs: number, ctx: StageContext): Stage {
  let timer: NodeJS.Timeout | undefined;
  let triggered = false;
  const trigger = (): void => {
    if (triggered) return;
    triggered = true;
    if (timeoutMs <= 0) {
      ctx.reset();
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      ctx.reset();
    }, timeoutMs);
  };
  return {
    pendingBytes: 0,
    get keepsRunning() {
      return timer !== undefined;
    },
    push: trigger,
    end: trigger,
    detach: () => {},
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Offsets at which the slicer cuts [start, end): Toxiproxy's recursive halving with a random
 * shift of ±variation, until a piece is within average + variation. Returns piece boundaries
 * (first = start, last = end, strictly increasing).
 */
export function sliceOffsets(length: number, averageSize: number, sizeVariation: number, random: () => number): number[] {
  const avg = Math.max(1, averageSize);
  const variation = Math.max(0, Math.min(sizeVariation, avg - 1));
  const cuts: number[] = [0];
  const stack: Array<[number, number]> = [[0, length]];
  // Depth-first, left before right, so the cuts come out sorted.
  while (stack.length > 0) {
    const [start, end] = stack.pop() as [number, number];
    if (end - start - avg <= variation) {
      cuts.push(end);
      continue;
    }
    const shift = variation > 0 ? Math.floor(random() * 2 * variation) - variation : 0;
    const mid = Math.min(end - 1, Math.max(start + 1, start + Math.floor((end - start) / 2) + shift));
    stack.push([mid, end], [start, mid]);
  }
  return cuts;
}

/** Cuts every chunk into small pieces (see sliceOffsets), `delay` µs apart. */
function slicerStage(averageSize: number, sizeVariation: number, delayUs: number, ctx: StageContext): Stage {
  const queue: Buffer[] = [];
  let pendingBytes = 0;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  const pump = (): void => {
    timer = undefined;
    running = true;
    while (true) {
      const piece = queue.shift();
      if (piece === undefined) {
        running = false;
        if (ended) ctx.emitEnd();
        return;
      }
      pendingBytes -= piece.length;
      ctx.emit(piece);
      if (delayUs > 0) {
        timer = setTimeout(pump, delayUs / 1000);
        return;
      }
    }
  };
  return {
    get pendingBytes() {
      return pendingBytes;
    },
    keepsRunning: false,
    push(chunk) {
      const cuts = sliceOffsets(chunk.length, averageSize, sizeVariation, ctx.random);
      for (let i = 1; i < cuts.length; i++) queue.push(chunk.subarray(cuts[i - 1], cuts[i]));
      pendingBytes += chunk.length;
      if (!running && timer === undefined) pump();
    },
    end() {
      ended = true;
      if (!running && timer === undefined && queue.length === 0) ctx.emitEnd();
    },
    detach() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const rest = queue.splice(0);
      pendingBytes = 0;
      if (rest.length > 0) ctx.emit(Buffer.concat(rest));
      if (ended) ctx.emitEnd();
    },
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
      pendingBytes = 0;
    },
  };
}

/** Passes at most `bytes` bytes in its direction, then closes the stream. */
function limitDataStage(limitBytes: number, ctx: StageContext, state: StageState): Stage {
  let closed = false;
  return {
    pendingBytes: 0,
    keepsRunning: false,
    push(chunk) {
      if (closed) return;
      const remaining = Math.max(0, limitBytes - state.bytesTransmitted);
      const out = remaining < chunk.length ? chunk.subarray(0, remaining) : chunk;
      if (out.length > 0) {
        state.bytesTransmitted += out.length;
        ctx.emit(out);
      }
      if (limitBytes - state.bytesTransmitted <= 0) {
        closed = true;
        ctx.emitEnd();
      }
    },
    end() {
      if (closed) return;
      closed = true;
      ctx.emitEnd();
    },
    detach: () => {},
    dispose: () => {},
  };
}
