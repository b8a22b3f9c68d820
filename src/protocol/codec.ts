// UDS framing: [u32 BE length = 1 + payload bytes][u8 type][payload]. Payload is UTF-8 JSON.
// Encoding is strict (an oversize message is refused before anything is written); decoding is
// total: every function here returns a result, never throws, and never allocates more than the
// bytes it was actually given.
import type { MessageKind, WireMessage } from './types.ts';
import { MAX_FRAME_BYTES, MESSAGE_CODES, kindOfCode } from './types.ts';
import { parsePayload } from './validate.ts';

export const FRAME_HEADER_BYTES = 5;

export type CodecErrorCode = 'FRAME_EMPTY' | 'FRAME_TOO_LARGE' | 'UNKNOWN_TYPE' | 'BAD_JSON' | 'BAD_SHAPE' | 'DECODER_FAILED';

export interface CodecError {
  readonly code: CodecErrorCode;
  readonly message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: CodecError };

export interface RawFrame {
  readonly type: number;
  readonly payload: Buffer;
}

function err(code: CodecErrorCode, message: string): { ok: false; error: CodecError } {
  return { ok: false, error: { code, message } };
}

/** Serialises a message payload to its JSON bytes (always JSON: msgpack is not offered). */
export function encodePayload(msg: WireMessage): Buffer {
  return Buffer.from(JSON.stringify(msg.payload), 'utf8');
}

/** One complete frame, or FRAME_TOO_LARGE when it would exceed the 16 MiB limit. */
export function encodeFrame(msg: WireMessage, maxFrameBytes = MAX_FRAME_BYTES): Result<Buffer> {
  const payload = encodePayload(msg);
  const length = payload.length + 1;
  if (length > maxFrameBytes) return err('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds ${maxFrameBytes}`);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(length, 0);
  out.writeUInt8(MESSAGE_CODES[msg.kind], 4);
  payload.copy(out, FRAME_HEADER_BYTES);
  return { ok: true, value: out };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes one raw frame's payload into a typed message. */
export function decodeFrame(frame: RawFrame): Result<WireMessage> {
  const kind = kindOfCode(frame.type);
  if (kind === undefined) return err('UNKNOWN_TYPE', `unknown message type 0x${frame.type.toString(16).padStart(2, '0')}`);
  return decodePayload(kind, frame.payload);
}

export function decodePayload(kind: MessageKind, payload: Uint8Array): Result<WireMessage> {
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(payload));
  } catch {
    return err('BAD_JSON', `${kind}: payload is not valid UTF-8 JSON`);
  }
  const shaped = parsePayload(kind, value);
  if (!shaped.ok) return err('BAD_SHAPE', shaped.error);
  return { ok: true, value: { kind, payload: shaped.value } as WireMessage };
}

export type PushResult = { ok: true; frames: RawFrame[] } | { ok: false; error: CodecError };

/**
 * Reassembles frames from arbitrarily chunked bytes. The declared length is checked against the
 * limit as soon as the 4 length bytes are in, before any payload is buffered; the type byte is
 * checked as soon as it is in. After the first error the decoder stays failed (the stream is out of
 * sync and must be reset).
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #failed: CodecError | null = null;

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held waiting for the rest of a frame. Never more than one frame plus one chunk. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  get failed(): CodecError | null {
    return this.#failed;
  }

  push(chunk: Uint8Array): PushResult {
    if (this.#failed !== null) return { ok: false, error: this.#failed };
    try {
      if (chunk.length > 0) {
        this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
        this.#buffered += chunk.length;
      }
      const frames: RawFrame[] = [];
      while (this.#buffered >= 4) {
        const length = this.#peekLength();
        if (length === null) break;
        if (length === 0) return this.#fail('FRAME_EMPTY', 'zero-length frame');
        if (length > this.maxFrameBytes) return this.#fail('FRAME_TOO_LARGE', `declared frame of ${length} bytes exceeds ${this.maxFrameBytes}`);
        if (this.#buffered < FRAME_HEADER_BYTES) break;
        const type = this.#byteAt(4);
        if (kindOfCode(type) === undefined) return this.#fail('UNKNOWN_TYPE', `unknown message type 0x${type.toString(16).padStart(2, '0')}`);
        if (this.#buffered < 4 + length) break;
        const whole = this.#take(4 + length);
        frames.push({ type, payload: whole.subarray(FRAME_HEADER_BYTES) });
      }
      return { ok: true, frames };
    } catch (e) {
      return this.#fail('DECODER_FAILED', `decoder failed: ${String(e)}`);
    }
  }

  /** Convenience: push and decode every complete frame into typed messages. */
  pushMessages(chunk: Uint8Array): Result<WireMessage[]> {
    const pushed = this.push(chunk);
    if (!pushed.ok) return pushed;
    const out: WireMessage[] = [];
    for (const f of pushed.frames) {
      const m = decodeFrame(f);
      if (!m.ok) {
        this.#failed = m.error;
        this.#drop();
        return m;
      }
      out.push(m.value);
    }
    return { ok: true, value: out };
  }

  #fail(code: CodecErrorCode, message: string): PushResult {
    this.#failed = { code, message };
    this.#drop();
    return { ok: false, error: this.#failed };
  }

  #drop(): void {
    this.#chunks = [];
    this.#buffered = 0;
  }

  #byteAt(i: number): number {
    let off = i;
    for (const c of this.#chunks) {
      if (off < c.length) return c[off] as number;
      off -= c.length;
    }
    return -1;
  }

  #peekLength(): number | null {
    if (this.#buffered < 4) return null;
    return ((this.#byteAt(0) << 24) >>> 0) + (this.#byteAt(1) << 16) + (this.#byteAt(2) << 8) + this.#byteAt(3);
  }

  /** Removes and returns the first n buffered bytes (n <= buffered). */
  #take(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.#chunks[0] as Buffer;
        const need = n - filled;
        if (c.length <= need) {
          c.copy(out, filled);
          filled += c.length;
          this.#chunks.shift();
        } else {
          c.copy(out, filled, 0, need);
          this.#chunks[0] = c.subarray(need);
          filled += need;
        }
      }
    }
    this.#buffered -= n;
    return out;
  }
}

function uncork(socket: { uncork(): void }): void {
  socket.uncork();
}

/**
 * Writes a frame, corking the socket until the next tick: frames written in the same tick (many
 * requests' events, many answers) leave in one writev instead of one syscall each.
 */
export function writeCorked(socket: { cork(): void; uncork(): void; write(b: Buffer): boolean; writableCorked: number }, frame: Buffer): void {
  if (socket.writableCorked === 0) {
    socket.cork();
    process.nextTick(uncork, socket);
  }
  socket.write(frame);
}
