// Agent-protocol decoding with warm and with cold caches. One request at a time, the proxy and its
// agent share a core and each runs right after the other (and the HTTP work) has evicted its code
// and data; this reproduces that state with an 8 MiB memory sweep before each timed decode, to
// show why a decode costs several times its warm figure in place (bench/README.md, "Agent latency
// at light load"). Print only: no baseline, the cold figure depends on the machine's caches.
//
//   node bench/micro/codec-cold.ts
import { FrameDecoder, encodeFrame } from '../../src/protocol/codec.ts';
import type { WireMessage } from '../../src/protocol/types.ts';
import { percentileSorted } from '../lib/stats.ts';

const CID = 'kqz1t0u-1a';
/** What the echo agent answers (4 header mutations), and the event the proxy sends it (bench config). */
const RESPONSE = {
  kind: 'agent_response',
  payload: {
    version: 2, decision: 'allow',
    request_headers: [
      { set: { name: 'X-Echo-Correlation-Id', value: CID } }, { set: { name: 'X-Echo-Method', value: 'GET' } },
      { set: { name: 'X-Echo-Path', value: '/' } }, { set: { name: 'X-Echo-Client-Ip', value: '127.0.0.1' } },
    ],
    response_headers: [], routing_metadata: {},
    audit: { tags: [], rule_ids: [], reason_codes: [], custom: { correlation_id: CID } },
    needs_more: false, request_body_mutation: null, response_body_mutation: null, websocket_decision: null,
  },
} as WireMessage;
const REQUEST = {
  kind: 'request_headers',
  payload: {
    correlation_id: CID,
    metadata: { correlation_id: CID, request_id: '0193a7f0-6c1e-7b1a-9f00-1c2d3e4f5a6b', client_ip: '127.0.0.1', client_port: 40000, protocol: 'HTTP/1.1', route_id: 'all', upstream_id: 'backend', timestamp: '2026-12-07T09:00:00.000Z' },
    method: 'GET', uri: '/', headers: { host: ['127.0.0.1:8080'], connection: ['keep-alive'] },
  },
} as WireMessage;

const sweep = new Uint8Array(8 << 20);
let sink = 0;
function evictCaches(): void {
  for (let i = 0; i < sweep.length; i += 64) sink += (sweep[i] = ((sweep[i] as number) + 1) & 0xff);
}

/** p50 of `f` in µs: warm (back to back) and cold (each call after the sweep). */
function measure(f: () => void): { warm: number; cold: number } {
  for (let i = 0; i < 20_000; i++) f();
  const warm: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t = process.hrtime.bigint();
    f();
    warm.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  const cold: number[] = [];
  for (let i = 0; i < 400; i++) {
    evictCaches();
    const t = process.hrtime.bigint();
    f();
    cold.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  warm.sort((a, b) => a - b);
  cold.sort((a, b) => a - b);
  return { warm: percentileSorted(warm, 50), cold: percentileSorted(cold, 50) };
}

const decoder = new FrameDecoder();
const cases: [string, () => void][] = [];
for (const [name, msg] of [['agent response', RESPONSE], ['request-headers event', REQUEST]] as const) {
  const frame = encodeFrame(msg);
  if (!frame.ok) throw new Error(frame.error.message);
  const bytes = frame.value;
  const json = bytes.subarray(5).toString('utf8');
  cases.push([`decode ${name} (${bytes.length} B frame)`, () => void decoder.pushMessages(bytes)]);
  cases.push([`  of which JSON.parse`, () => void JSON.parse(json)]);
  cases.push([`encode ${name}`, () => void encodeFrame(msg)]);
}
console.log('p50 per call, warm (back to back) and cold (after an 8 MiB sweep)');
for (const [name, f] of cases) {
  const r = measure(f);
  console.log(`  ${name.padEnd(44)} warm ${r.warm.toFixed(2).padStart(6)} µs   cold ${r.cold.toFixed(2).padStart(6)} µs   ×${(r.cold / r.warm).toFixed(1)}`);
}
if (sink === -1) console.log('');
