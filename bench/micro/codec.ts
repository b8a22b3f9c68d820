// Agent-protocol codec micro-benchmark: encoding and decoding the UDS frames the proxy exchanges
// with agents on every request (src/protocol/codec.ts).
//
//   node bench/micro/codec.ts            # measure, print (with the ratio to the committed baseline), write the baseline
//   node bench/micro/codec.ts --no-write # measure and print only
//
// Cases: a request-headers event (12 headers, full metadata) and an allow response with header
// mutations: encode to a frame, and decode from bytes through FrameDecoder (as read off a socket,
// one frame per chunk and 64 frames per chunk).
import { FrameDecoder, decodeFrame, encodeFrame } from '../../src/protocol/codec.ts';
import type { WireMessage } from '../../src/protocol/types.ts';
import { runCases } from './lib.ts';

const HEADERS: Record<string, string[]> = {
  host: ['app.example.com'], 'user-agent': ['Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0'],
  accept: ['text/html,application/xhtml+xml'], 'accept-language': ['en-US,en;q=0.5'], 'accept-encoding': ['gzip, br'],
  cookie: ['session=abc123; theme=dark'], 'x-forwarded-for': ['198.51.100.7'], 'x-request-id': ['4f1c2b7e'],
  traceparent: ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'], 'sec-fetch-dest': ['document'],
  'sec-fetch-mode': ['navigate'], priority: ['u=0, i'],
};

const REQUEST = {
  kind: 'request_headers',
  payload: {
    correlation_id: 'c-1',
    metadata: {
      correlation_id: 'c-1', request_id: 'req-1', client_ip: '192.0.2.10', client_port: 40000, server_name: 'app.example.com',
      protocol: 'HTTP/1.1', route_id: 'api', upstream_id: 'backend', timestamp: '2026-12-07T01:00:00.000Z',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
    method: 'GET',
    uri: '/api/users?page=2',
    headers: HEADERS,
  },
} as unknown as WireMessage;

const RESPONSE = {
  kind: 'agent_response',
  payload: {
    version: 2,
    decision: 'allow',
    request_headers: [{ set: { name: 'X-User', value: 'u1' } }, { remove: { name: 'X-Internal' } }],
    response_headers: [{ add: { name: 'X-Checked', value: 'waf' } }],
    routing_metadata: {},
    audit: { tags: ['ok'], rule_ids: [], reason_codes: [], custom: { correlation_id: 'c-1' } },
    needs_more: false,
  },
} as unknown as WireMessage;

function frame(m: WireMessage): Buffer {
  const r = encodeFrame(m);
  if (!r.ok) throw new Error(`cannot encode ${m.kind}: ${r.error.message}`);
  // The sample must round-trip, or the benchmark measures an error path.
  const d = new FrameDecoder().push(r.value);
  if (!d.ok || d.frames.length !== 1 || !decodeFrame(d.frames[0] as never).ok) throw new Error(`${m.kind} does not round-trip`);
  return r.value;
}

function main(): void {
  const reqFrame = frame(REQUEST);
  const resFrame = frame(RESPONSE);
  const batch64 = Buffer.concat(Array.from({ length: 64 }, () => resFrame));
  const decodeAll = (bytes: Buffer): number => {
    const r = new FrameDecoder().push(bytes);
    if (!r.ok) return 0;
    let n = 0;
    for (const f of r.frames) if (decodeFrame(f).ok) n++;
    return n;
  };
  const cases: Record<string, () => number> = {
    'encode-request-headers': () => (encodeFrame(REQUEST) as { ok: true; value: Buffer }).value.length,
    'decode-request-headers': () => decodeAll(reqFrame),
    'encode-agent-response': () => (encodeFrame(RESPONSE) as { ok: true; value: Buffer }).value.length,
    'decode-agent-response': () => decodeAll(resFrame),
    'decode-64-responses-one-chunk': () => decodeAll(batch64),
  };
  runCases('codec', cases, {
    header: `codec: node ${process.version}; request-headers frame ${reqFrame.length} B, agent-response frame ${resFrame.length} B`,
    extra: { requestHeadersFrameBytes: reqFrame.length, agentResponseFrameBytes: resFrame.length },
    width: 30,
  });
}

main();
