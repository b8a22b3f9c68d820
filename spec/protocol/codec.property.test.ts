import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, FrameDecoder } from '../../src/protocol/codec.ts';
import type { WireMessage } from '../../src/protocol/types.ts';
import { MAX_FRAME_BYTES, MESSAGE_CODES, MESSAGE_KINDS } from '../../src/protocol/types.ts';
import { anyMessage, messageOf } from './arbitraries.ts';

function encode(m: WireMessage): Buffer {
  const f = encodeFrame(m);
  if (!f.ok) throw new Error(f.error.message);
  return f.value;
}

function decodeAll(bytes: Uint8Array, chunks: number[] = []): WireMessage[] {
  const d = new FrameDecoder();
  const out: WireMessage[] = [];
  let off = 0;
  for (const c of [...chunks, bytes.length]) {
    const end = Math.min(bytes.length, off + c);
    const r = d.pushMessages(bytes.subarray(off, end));
    if (!r.ok) throw new Error(r.error.message);
    out.push(...r.value);
    off = end;
    if (off >= bytes.length) break;
  }
  return out;
}

function frame(type: number, payload: Buffer | string): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const h = Buffer.alloc(5);
  h.writeUInt32BE(p.length + 1, 0);
  h.writeUInt8(type, 4);
  return Buffer.concat([h, p]);
}

describe('codec: decode(encode(m)) = m', () => {
  for (const kind of MESSAGE_KINDS) {
    it(`round-trips ${kind}`, () => {
      fc.assert(
        fc.property(messageOf(kind), (m) => {
          const bytes = encode(m);
          expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
          expect(bytes[4]).toBe(MESSAGE_CODES[kind]);
          expect(decodeAll(bytes)).toEqual([m]);
        }),
        { numRuns: 150 },
      );
    });
  }
});

describe('FrameDecoder', () => {
  it('reassembles the same frames under arbitrary re-chunking', () => {
    fc.assert(
      fc.property(fc.array(anyMessage, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 200 }), (msgs, cuts) => {
        const bytes = Buffer.concat(msgs.map(encode));
        expect(decodeAll(bytes, cuts)).toEqual(msgs);
      }),
      { numRuns: 200 },
    );
  });

  it('byte-at-a-time delivery yields each frame exactly when its last byte arrives', () => {
    fc.assert(
      fc.property(fc.array(anyMessage, { minLength: 1, maxLength: 3 }), (msgs) => {
        const frames = msgs.map(encode);
        const bytes = Buffer.concat(frames);
        const ends = new Set<number>();
        let acc = 0;
        for (const f of frames) ends.add((acc += f.length));
        const d = new FrameDecoder();
        for (let i = 0; i < bytes.length; i++) {
          const r = d.push(bytes.subarray(i, i + 1));
          expect(r.ok).toBe(true);
          if (r.ok) expect(r.frames.length).toBe(ends.has(i + 1) ? 1 : 0);
        }
        expect(d.bufferedBytes).toBe(0);
      }),
      { numRuns: 50 },
    );
  });

  it('is total on arbitrary bytes: never throws, returns frames or an error', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (chunks) => {
        const d = new FrameDecoder();
        for (const c of chunks) {
          const r = d.pushMessages(c);
          if (!r.ok) {
            expect(typeof r.error.code).toBe('string');
            // stays failed
            expect(d.pushMessages(Buffer.from([0])).ok).toBe(false);
            return;
          }
        }
        // whatever is left is strictly less than one complete frame
        expect(d.bufferedBytes).toBeLessThan(5 + 300 * 8);
      }),
      { numRuns: 500 },
    );
  });

  it('is total on arbitrary payloads behind a valid header for every type code', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.jsonValue().map((j) => Buffer.from(JSON.stringify(j) ?? 'null'))), (type, payload) => {
        const r = new FrameDecoder().pushMessages(frame(type, Buffer.from(payload)));
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a declared length over 16 MiB as soon as the 4 length bytes arrive, without buffering', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_FRAME_BYTES + 1, max: 0xffffffff }), (len) => {
        const d = new FrameDecoder();
        const h = Buffer.alloc(4);
        h.writeUInt32BE(len, 0);
        const r = d.push(h);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error.code).toBe('FRAME_TOO_LARGE');
        expect(d.bufferedBytes).toBe(0);
      }),
    );
  });

  it('accepts a frame of exactly 16 MiB and refuses one byte more', () => {
    const exact = Buffer.alloc(4);
    exact.writeUInt32BE(MAX_FRAME_BYTES, 0);
    const d = new FrameDecoder();
    expect(d.push(Buffer.concat([exact, Buffer.from([0x41])])).ok).toBe(true);
    const over = Buffer.alloc(4);
    over.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    expect(new FrameDecoder().push(over).ok).toBe(false);
  });

  it('encodeFrame refuses a message whose frame would exceed the limit', () => {
    const m: WireMessage = { kind: 'request_body_chunk', payload: { correlation_id: 'c', data: 'A'.repeat(MAX_FRAME_BYTES), is_last: true, chunk_index: 0, bytes_received: 0 } };
    const r = encodeFrame(m);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('FRAME_TOO_LARGE');
  });

  it('rejects a zero-length frame and an unknown type byte', () => {
    const r0 = new FrameDecoder().push(Buffer.from([0, 0, 0, 0]));
    expect(r0.ok ? null : r0.error.code).toBe('FRAME_EMPTY');
    const r1 = new FrameDecoder().push(frame(0x99, '{}'));
    expect(r1.ok ? null : r1.error.code).toBe('UNKNOWN_TYPE');
  });

  it('rejects invalid JSON, invalid UTF-8 and wrong shapes with an error result', () => {
    expect(decodeFrame({ type: 0x41, payload: Buffer.from('{not json') })).toMatchObject({ ok: false, error: { code: 'BAD_JSON' } });
    expect(decodeFrame({ type: 0x41, payload: Buffer.from([0x7b, 0xff, 0x7d]) })).toMatchObject({ ok: false, error: { code: 'BAD_JSON' } });
    expect(decodeFrame({ type: 0x41, payload: Buffer.from('{"sequence":-1}') })).toMatchObject({ ok: false, error: { code: 'BAD_SHAPE' } });
    expect(decodeFrame({ type: 0x20, payload: Buffer.from('{"decision":{"block":{"status":"x"}}}') })).toMatchObject({ ok: false, error: { code: 'BAD_SHAPE' } });
    expect(decodeFrame({ type: 0x20, payload: Buffer.from('[]') })).toMatchObject({ ok: false, error: { code: 'BAD_SHAPE' } });
  });

  it('survives deeply nested JSON without throwing', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const r = decodeFrame({ type: 0x17, payload: Buffer.from(`{"config":${deep}}`) });
    expect(typeof r.ok).toBe('boolean');
  });

  it('treats a "__proto__" header name as data, not as a prototype', () => {
    const r = decodeFrame({ type: 0x12, payload: Buffer.from('{"correlation_id":"c","status":200,"headers":{"__proto__":["x"]}}') });
    expect(r.ok).toBe(true);
    if (r.ok && r.value.kind === 'response_headers') {
      expect(Object.keys(r.value.payload.headers)).toEqual(['__proto__']);
      expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    }
  });

  it('accepts Zentinel-style nulls for optional fields and cancel reasons by name', () => {
    const r = decodeFrame({ type: 0x10, payload: Buffer.from(JSON.stringify({ correlation_id: 'c', metadata: { correlation_id: 'c', request_id: 'r', client_ip: '1.2.3.4', client_port: 1, server_name: null, protocol: 'HTTP/1.1', tls_version: null, tls_cipher: null, route_id: null, upstream_id: null, timestamp: 't', traceparent: null }, method: 'GET', uri: '/', headers: {} })) });
    expect(r.ok).toBe(true);
    const c = decodeFrame({ type: 0x40, payload: Buffer.from('{"correlation_id":"c","reason":"timeout","timestamp_ms":1}') });
    expect(c).toMatchObject({ ok: true, value: { payload: { reason: 1 } } });
  });
});
