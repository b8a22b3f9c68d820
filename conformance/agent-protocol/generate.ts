// Regenerates the golden files from cases.ts: node conformance/agent-protocol/generate.ts
// Review the diff: a changed .hex means the wire format changed.
import { writeFileSync } from 'node:fs';
import { encodeFrame } from '../../src/protocol/codec.ts';
import { grpcDecode, grpcEncode } from './grpc-wire.ts';
import { CASES, DECODE_ONLY, INVALID } from './cases.ts';

const dir = new URL('./', import.meta.url);

export function toHex(b: Buffer): string {
  return `${(b.toString('hex').match(/.{1,64}/g) ?? []).join('\n')}\n`;
}

function frameOf(type: number, text: string): Buffer {
  const p = Buffer.from(text, 'utf8');
  const h = Buffer.alloc(5);
  h.writeUInt32BE(p.length + 1, 0);
  h.writeUInt8(type, 4);
  return Buffer.concat([h, p]);
}

for (const c of CASES) {
  const f = encodeFrame(c.message);
  if (!f.ok) throw new Error(`${c.name}: ${f.error.message}`);
  writeFileSync(new URL(`frames/${c.name}.hex`, dir), toHex(f.value));
  writeFileSync(new URL(`frames/${c.name}.json`, dir), `${JSON.stringify({ description: c.description, message: c.message }, null, 2)}\n`);
}
for (const c of DECODE_ONLY) {
  writeFileSync(new URL(`frames/decode-only-${c.name}.hex`, dir), toHex(frameOf(c.type, c.payloadText)));
  writeFileSync(new URL(`frames/decode-only-${c.name}.json`, dir), `${JSON.stringify({ description: c.description, decode_only: true, message: c.expected }, null, 2)}\n`);
}
for (const c of INVALID) {
  writeFileSync(new URL(`invalid/${c.name}.hex`, dir), `${c.hex}\n`);
  writeFileSync(new URL(`invalid/${c.name}.json`, dir), `${JSON.stringify({ error: c.code }, null, 2)}\n`);
}
// gRPC: the protobuf bytes of the same messages (ProcessStream ProxyToAgent / AgentToProxy), and
// what they decode back to (the documented gRPC mapping differences, docs/agent-protocol.md §7).
for (const c of CASES) {
  const bytes = grpcEncode(c.message);
  const back = grpcDecode(c.message.kind, bytes);
  if (!back.ok || back.value === null) throw new Error(`${c.name}: gRPC round trip failed`);
  writeFileSync(new URL(`grpc/${c.name}.hex`, dir), toHex(bytes));
  writeFileSync(new URL(`grpc/${c.name}.json`, dir), `${JSON.stringify({ description: c.description, message: back.value }, null, 2)}\n`);
}
process.stdout.write(`wrote ${CASES.length + DECODE_ONLY.length} frames, ${INVALID.length} invalid\n`);
