// fast-check arbitraries for every protocol message, in the canonical (normalised) shape, so that
// decode(encode(m)) must give back exactly m.
import fc from 'fast-check';
import type { JsonValue, MessageKind, PayloadByKind, WireMessage } from '../../src/protocol/types.ts';
import { CONFIG_UPDATE_KINDS, MESSAGE_KINDS, WEBSOCKET_OPCODES } from '../../src/protocol/types.ts';

const u32 = fc.nat({ max: 0xffffffff });
const size = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const str = fc.string({ unit: 'grapheme', maxLength: 20 });
const key = fc.string({ minLength: 1, maxLength: 12 });
const b64 = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64'));
const strRecord = fc.dictionary(key, str, { maxKeys: 4 });
const json: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as JsonValue);
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d));
const headers = fc.dictionary(key, fc.array(str, { maxLength: 3 }), { maxKeys: 5 });

function opt<T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.option(a, { nil: undefined });
}

/** Record whose undefined values are removed (absent, not present-as-undefined). */
function rec<T extends object>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model).map((r) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
    return out as T;
  });
}

const metadata = rec<PayloadByKind['request_headers']['metadata']>({
  correlation_id: str,
  request_id: str,
  client_ip: fc.oneof(fc.ipV4(), fc.ipV6()),
  client_port: fc.nat({ max: 65535 }),
  server_name: opt(str),
  protocol: fc.constantFrom('HTTP/1.0', 'HTTP/1.1', 'HTTP/2'),
  tls_version: opt(str),
  tls_cipher: opt(str),
  route_id: opt(str),
  upstream_id: opt(str),
  timestamp: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  traceparent: opt(str),
});

const headerOp = fc.oneof(
  fc.record({ set: fc.record({ name: key, value: str }) }),
  fc.record({ add: fc.record({ name: key, value: str }) }),
  fc.record({ remove: fc.record({ name: key }) }),
);

const decision = fc.oneof(
  fc.constant('allow' as const),
  fc.record({ block: rec<{ status: number; body?: string; headers?: Record<string, string> }>({ status: fc.integer({ min: 100, max: 999 }), body: opt(str), headers: opt(strRecord) }) }),
  fc.record({ redirect: fc.record({ url: str, status: fc.constantFrom(301, 302, 303, 307, 308) }) }),
  fc.record({ challenge: fc.record({ challenge_type: str, params: strRecord }) }),
);

const mutation = fc.option(fc.record({ data: fc.option(fc.oneof(fc.constant(''), b64), { nil: null }), chunk_index: u32 }), { nil: null });
const sample = fc.record({ name: key, value: finite, labels: strRecord });

const caps = fc.record({
  agent_id: str,
  name: str,
  version: str,
  supported_events: fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 8 }),
  features: fc.record({
    streaming_body: fc.boolean(),
    websocket: fc.boolean(),
    guardrails: fc.boolean(),
    config_push: fc.boolean(),
    metrics_export: fc.boolean(),
    concurrent_requests: u32,
    cancellation: fc.boolean(),
    flow_control: fc.boolean(),
    health_reporting: fc.boolean(),
  }),
  limits: fc.record({ max_body_size: size, max_concurrency: u32, preferred_chunk_size: size }),
});

export const PAYLOADS: { [K in MessageKind]: fc.Arbitrary<PayloadByKind[K]> } = {
  handshake_request: rec({ supported_versions: fc.array(u32, { maxLength: 3 }), proxy_id: str, proxy_version: str, config: json, supported_encodings: opt(fc.array(fc.constantFrom('json' as const, 'msgpack' as const), { maxLength: 2 })) }),
  handshake_response: rec({ protocol_version: u32, capabilities: caps, success: fc.boolean(), error: opt(str), encoding: fc.constantFrom('json' as const, 'msgpack' as const) }),
  request_headers: fc.record({ metadata, method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), uri: str, headers }).map((r) => ({ correlation_id: r.metadata.correlation_id, ...r })),
  request_body_chunk: rec({ correlation_id: str, data: b64, is_last: fc.boolean(), total_size: opt(size), chunk_index: u32, bytes_received: size }),
  response_headers: fc.record({ correlation_id: str, status: fc.integer({ min: 100, max: 999 }), headers }),
  response_body_chunk: rec({ correlation_id: str, data: b64, is_last: fc.boolean(), total_size: opt(size), chunk_index: u32, bytes_sent: size }),
  request_complete: rec({ correlation_id: str, status: fc.integer({ min: 0, max: 999 }), duration_ms: size, request_body_size: size, response_body_size: size, upstream_attempts: u32, error: opt(str) }),
  websocket_frame: rec({ correlation_id: str, opcode: fc.constantFrom(...WEBSOCKET_OPCODES), data: b64, client_to_server: fc.boolean(), frame_index: size, fin: fc.boolean(), route_id: opt(str), client_ip: str }),
  guardrail_inspect: rec({ correlation_id: str, inspection_type: fc.constantFrom('prompt_injection' as const, 'pii_detection' as const), content: str, model: opt(str), categories: fc.array(str, { maxLength: 3 }), route_id: opt(str), metadata: strRecord }),
  configure: rec({ correlation_id: str, config: json, config_version: opt(str), is_initial: fc.boolean(), timestamp_ms: size }),
  agent_response: rec({
    version: u32,
    decision,
    request_headers: fc.array(headerOp, { maxLength: 4 }),
    response_headers: fc.array(headerOp, { maxLength: 4 }),
    routing_metadata: strRecord,
    audit: rec({ tags: fc.array(str, { maxLength: 3 }), rule_ids: fc.array(str, { maxLength: 3 }), confidence: opt(finite), reason_codes: fc.array(str, { maxLength: 3 }), custom: fc.dictionary(key, json, { maxKeys: 3 }) }),
    needs_more: fc.boolean(),
    request_body_mutation: mutation,
    response_body_mutation: mutation,
    websocket_decision: fc.option(fc.oneof(fc.constant('allow' as const), fc.constant('drop' as const), fc.record({ close: fc.record({ code: fc.nat({ max: 65535 }), reason: str }) })), { nil: null }),
  }),
  health_status: rec({ agent_id: str, state: fc.integer({ min: 0, max: 4 }), message: opt(str), in_flight: opt(u32), timestamp_ms: size }),
  metrics_report: fc.record({ agent_id: str, timestamp_ms: size, counters: fc.array(sample.map((s) => ({ ...s, value: Math.abs(Math.trunc(s.value)) % 2 ** 53 })), { maxLength: 3 }), gauges: fc.array(sample, { maxLength: 3 }) }),
  config_update_request: rec({ request_id: str, kind: fc.constantFrom(...CONFIG_UPDATE_KINDS), detail: opt(json.filter((j) => j !== null)), timestamp_ms: size }),
  flow_control: rec({ action: fc.integer({ min: 0, max: 3 }), correlation_id: opt(str), capacity: opt(u32) }),
  cancel: rec({ correlation_id: str, reason: fc.integer({ min: 0, max: 5 }), timestamp_ms: size, blocking_agent_id: opt(str), manual_reason: opt(str) }),
  ping: fc.record({ sequence: size, timestamp_ms: size }),
  pong: fc.record({ sequence: size, timestamp_ms: size }),
};

export function messageOf<K extends MessageKind>(kind: K): fc.Arbitrary<WireMessage> {
  return (PAYLOADS[kind] as fc.Arbitrary<unknown>).map((payload) => ({ kind, payload }) as WireMessage);
}

export const anyMessage: fc.Arbitrary<WireMessage> = fc.oneof(...MESSAGE_KINDS.map((k) => messageOf(k)));
