// Golden frames: every file pair frames/<name>.hex + .json pins the exact bytes of one message.
// Encode must produce the bytes (except decode-only cases), decode must produce the message;
// invalid/<name>.hex must be refused with the named error. Regenerate with generate.ts only when
// the wire format is meant to change.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/protocol/codec.ts';
import type { WireMessage } from '../../src/protocol/types.ts';
import { MESSAGE_CODES, MESSAGE_KINDS } from '../../src/protocol/types.ts';
import { grpcDecode, grpcEncode } from './grpc-wire.ts';

const dir = new URL('./', import.meta.url);
const hex = (name: string): Buffer => Buffer.from(readFileSync(new URL(name, dir), 'utf8').replace(/\s+/g, ''), 'hex');
const frames = readdirSync(new URL('frames/', dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
const grpcFrames = readdirSync(new URL('grpc/', dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
const invalid = readdirSync(new URL('invalid/', dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();

interface Golden {
  description: string;
  decode_only?: boolean;
  message: WireMessage;
}

describe('agent protocol golden frames', () => {
  it('cover every message type', () => {
    const kinds = new Set(frames.map((n) => (JSON.parse(readFileSync(new URL(`frames/${n}.json`, dir), 'utf8')) as Golden).message.kind));
    expect([...kinds].sort()).toEqual([...MESSAGE_KINDS].sort());
  });

  for (const name of frames) {
    const golden = JSON.parse(readFileSync(new URL(`frames/${name}.json`, dir), 'utf8')) as Golden;
    const bytes = hex(`frames/${name}.hex`);
    it(`${name}: ${golden.description}`, () => {
      expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
      expect(bytes[4]).toBe(MESSAGE_CODES[golden.message.kind]);
      const r = new FrameDecoder().pushMessages(bytes);
      expect(r).toEqual({ ok: true, value: [golden.message] });
      if (golden.decode_only !== true) {
        const e = encodeFrame(golden.message);
        expect(e.ok && e.value.toString('hex')).toBe(bytes.toString('hex'));
      }
    });
  }

  for (const name of invalid) {
    const { error } = JSON.parse(readFileSync(new URL(`invalid/${name}.json`, dir), 'utf8')) as { error: string };
    it(`invalid/${name} is refused with ${error}`, () => {
      const r = new FrameDecoder().pushMessages(hex(`invalid/${name}.hex`));
      expect(r.ok ? 'accepted' : r.error.code).toBe(error);
    });
  }

  // gRPC: the ProcessStream protobuf bytes of the same cases. Encoding the UDS message must give
  // the bytes; decoding the bytes must give the recorded message (equal to the UDS one except for
  // the documented mapping differences, docs/agent-protocol.md §7).
  it('gRPC goldens exist for every UDS case', () => {
    expect(grpcFrames).toEqual(frames.filter((n) => !n.startsWith('decode-only-')));
  });
  for (const name of grpcFrames) {
    const uds = JSON.parse(readFileSync(new URL(`frames/${name}.json`, dir), 'utf8')) as Golden;
    const golden = JSON.parse(readFileSync(new URL(`grpc/${name}.json`, dir), 'utf8')) as Golden;
    const bytes = hex(`grpc/${name}.hex`);
    it(`gRPC ${name}: ${golden.description}`, () => {
      expect(grpcEncode(uds.message).toString('hex')).toBe(bytes.toString('hex'));
      expect(grpcDecode(golden.message.kind, bytes)).toEqual({ ok: true, value: golden.message });
    });
  }
});
