// gRPC transport glue: loads agent_v2.proto and maps between the canonical (UDS/JSON) message
// shapes and the protobuf objects of zentinel.agent.v2. Decoding goes through the same shape
// checks as UDS (validate.ts), so both transports accept exactly the same messages.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { AgentCapabilities, BodyMutation, ConfigUpdateKind, HeaderOp, JsonValue, MessageKind, WireMessage } from './types.ts';
import { CANCEL_REASONS, MAX_GRPC_MESSAGE_BYTES } from './types.ts';
import { parsePayload } from './validate.ts';

export const PROTO_PATH = fileURLToPath(new URL('./agent_v2.proto', import.meta.url));
export const SERVICE_NAME = 'zentinel.agent.v2.AgentServiceV2';

export const GRPC_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_GRPC_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_GRPC_MESSAGE_BYTES,
};

let cached: grpc.ServiceClientConstructor | null = null;

/** The generated client constructor; `.service` is the service definition for servers. */
export function loadAgentService(): grpc.ServiceClientConstructor {
  if (cached !== null) return cached;
  const def = protoLoader.loadSync(PROTO_PATH, { keepCase: true, longs: Number, enums: Number, defaults: true, arrays: true, objects: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { zentinel: { agent: { v2: { AgentServiceV2: grpc.ServiceClientConstructor } } } };
  cached = pkg.zentinel.agent.v2.AgentServiceV2;
  return cached;
}

type P = Record<string, any>;

function headersToList(h: Record<string, string[]>): P[] {
  const out: P[] = [];
  for (const name of Object.keys(h)) for (const value of h[name] ?? []) out.push({ name, value });
  return out;
}

function listToHeaders(list: P[] | undefined): Record<string, string[]> {
  const out = Object.create(null) as Record<string, string[]>;
  for (const h of list ?? []) (out[h['name']] ??= []).push(h['value']);
  return out;
}

function b64ToBytes(s: string): Buffer {
  return Buffer.from(s, 'base64');
}

function bytesToB64(b: Uint8Array | undefined): string {
  return b === undefined ? '' : Buffer.from(b).toString('base64');
}

/** Encodes JSON for a `*_json` field; null becomes the empty string. */
function jsonText(v: JsonValue | undefined): string {
  return v === undefined || v === null ? '' : JSON.stringify(v);
}

/** Decodes a `*_json` field; empty means null. Throws on invalid JSON (callers catch). */
function parseJsonText(s: string | undefined): JsonValue {
  return s === undefined || s === null || s === '' ? null : (JSON.parse(s) as JsonValue);
}

function opt<T>(v: T | null | undefined): T | undefined {
  return v === null ? undefined : v;
}

/** RFC 3339 → epoch ms (0 when unparseable). */
function msOf(timestamp: string): number {
  const t = Date.parse(timestamp);
  return Number.isFinite(t) && t >= 0 ? t : 0;
}

// Event numbering differs: UDS capabilities count configure as 0, the gRPC EventType enum as 8
// (and 0 is UNSPECIFIED). The swap is its own inverse; other values pass unchanged.
function swapConfigureEvent(e: number): number {
  return e === 0 ? 8 : e === 8 ? 0 : e;
}

// Cancel reasons: UDS is 0-based (client_disconnect = 0), gRPC 1-based (0 = unspecified).
const CANCEL_UNSPECIFIED_AS = CANCEL_REASONS.manual;

const FRAME_TYPES: Readonly<Record<string, number>> = { continuation: 0, text: 1, binary: 2, ping: 3, pong: 4, close: 5 };
const OPCODE_OF_FRAME_TYPE = ['continuation', 'text', 'binary', 'ping', 'pong', 'close'];

/** A float field: a value outside float32 range is left out (confidence is 0..1 in practice). */
function floatOrUndefined(v: number | undefined): number | undefined {
  return v !== undefined && Number.isFinite(Math.fround(v)) ? v : undefined;
}

/** audit.custom values are JSON on UDS and strings on gRPC: strings travel as they are. */
function customToProto(custom: Record<string, JsonValue>): Record<string, string> {
  // No prototype: a "__proto__" key is data, not a setter.
  const out = Object.create(null) as Record<string, string>;
  for (const k of Object.keys(custom)) {
    const v = custom[k];
    out[k] = typeof v === 'string' ? v : JSON.stringify(v ?? null);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// proxy → agent
// ---------------------------------------------------------------------------------------------

export function toProxyToAgent(msg: WireMessage): P {
  switch (msg.kind) {
    case 'handshake_request': {
      const p = msg.payload;
      return { handshake: { supported_versions: p.supported_versions, proxy_id: p.proxy_id, proxy_version: p.proxy_version, config_json: jsonText(p.config) } };
    }
    case 'request_headers': {
      const p = msg.payload;
      const m = p.metadata;
      const metadata: P = {
        correlation_id: m.correlation_id,
        request_id: m.request_id,
        client_ip: m.client_ip,
        client_port: m.client_port,
        server_name: m.server_name,
        protocol: m.protocol,
        tls_version: m.tls_version,
        route_id: m.route_id,
        upstream_id: m.upstream_id,
        timestamp_ms: msOf(m.timestamp),
        traceparent: m.traceparent,
        tls_cipher: m.tls_cipher,
        timestamp: m.timestamp,
      };
      return { request_headers: { metadata, method: p.method, uri: p.uri, http_version: m.protocol, headers: headersToList(p.headers) } };
    }
    case 'request_body_chunk': {
      const p = msg.payload;
      return { request_body_chunk: { correlation_id: p.correlation_id, chunk_index: p.chunk_index, data: b64ToBytes(p.data), is_last: p.is_last, total_size: p.total_size, bytes_transferred: p.bytes_received } };
    }
    case 'response_headers': {
      const p = msg.payload;
      return { response_headers: { correlation_id: p.correlation_id, status_code: p.status, headers: headersToList(p.headers) } };
    }
    case 'response_body_chunk': {
      const p = msg.payload;
      return { response_body_chunk: { correlation_id: p.correlation_id, chunk_index: p.chunk_index, data: b64ToBytes(p.data), is_last: p.is_last, total_size: p.total_size, bytes_transferred: p.bytes_sent } };
    }
    case 'request_complete': {
      const p = msg.payload;
      return { request_complete: { correlation_id: p.correlation_id, status_code: p.status, duration_ms: p.duration_ms, bytes_received: p.request_body_size, bytes_sent: p.response_body_size, error: p.error, upstream_attempts: p.upstream_attempts } };
    }
    case 'websocket_frame': {
      const p = msg.payload;
      return {
        websocket_frame: {
          correlation_id: p.correlation_id, client_to_server: p.client_to_server, frame_type: FRAME_TYPES[p.opcode] ?? 0, payload: b64ToBytes(p.data),
          opcode: p.opcode, frame_index: p.frame_index, fin: p.fin, route_id: p.route_id, client_ip: p.client_ip,
        },
      };
    }
    case 'guardrail_inspect': {
      const p = msg.payload;
      return {
        guardrail: {
          correlation_id: p.correlation_id, content: p.content, content_type: 1, model: p.model, context_json: '',
          inspection_type: p.inspection_type, categories: p.categories, route_id: p.route_id, metadata: p.metadata,
        },
      };
    }
    case 'configure': {
      const p = msg.payload;
      return { configure: { config_json: jsonText(p.config), config_version: p.config_version, is_initial: p.is_initial, timestamp_ms: p.timestamp_ms, correlation_id: p.correlation_id } };
    }
    case 'cancel': {
      const p = msg.payload;
      return { cancel: { correlation_id: p.correlation_id, reason: p.reason + 1, timestamp_ms: p.timestamp_ms, blocking_agent_id: p.blocking_agent_id, manual_reason: p.manual_reason } };
    }
    case 'ping':
      return { ping: { sequence: msg.payload.sequence, timestamp_ms: msg.payload.timestamp_ms } };
    default:
      throw new Error(`${msg.kind} does not travel proxy → agent`);
  }
}

/** `value` null: a valid message with nothing to act on (a LogMessage from the agent). */
export type MapResult = { ok: true; value: WireMessage } | { ok: false; error: string };
export type AgentMapResult = { ok: true; value: WireMessage | null } | { ok: false; error: string };

function finish<K extends MessageKind>(kind: K, shaped: P): MapResult {
  const r = parsePayload(kind, shaped);
  return r.ok ? { ok: true, value: { kind, payload: r.value } as WireMessage } : { ok: false, error: r.error };
}

/** Total: a malformed protobuf object yields an error, never a throw. */
export function fromProxyToAgent(m: P): MapResult {
  try {
    const which = m['message'] as string | undefined;
    const v = (which === undefined ? undefined : m[which]) as P | undefined;
    if (v === undefined || v === null) return { ok: false, error: 'ProxyToAgent: empty message' };
    switch (which) {
      case 'handshake':
        return finish('handshake_request', { supported_versions: v['supported_versions'], proxy_id: v['proxy_id'], proxy_version: v['proxy_version'], config: parseJsonText(v['config_json']) });
      case 'request_headers': {
        const md = v['metadata'] as P | null | undefined;
        if (md === null || md === undefined) return { ok: false, error: 'RequestHeadersEvent: no metadata' };
        const ms = md['timestamp_ms'] as number;
        const metadata: P = {
          correlation_id: md['correlation_id'],
          request_id: md['request_id'],
          client_ip: md['client_ip'],
          client_port: md['client_port'],
          server_name: opt(md['server_name']),
          protocol: md['protocol'] !== '' ? md['protocol'] : v['http_version'],
          tls_version: opt(md['tls_version']),
          tls_cipher: opt(md['tls_cipher']),
          route_id: opt(md['route_id']),
          upstream_id: opt(md['upstream_id']),
          timestamp: md['timestamp'] ?? (ms > 0 ? new Date(ms).toISOString() : ''),
          traceparent: opt(md['traceparent']),
        };
        return finish('request_headers', { metadata, method: v['method'], uri: v['uri'], headers: listToHeaders(v['headers']) });
      }
      case 'request_body_chunk':
        return finish('request_body_chunk', { correlation_id: v['correlation_id'], data: bytesToB64(v['data']), is_last: v['is_last'], total_size: opt(v['total_size']), chunk_index: v['chunk_index'], bytes_received: v['bytes_transferred'] });
      case 'response_headers':
        return finish('response_headers', { correlation_id: v['correlation_id'], status: v['status_code'], headers: listToHeaders(v['headers']) });
      case 'response_body_chunk':
        return finish('response_body_chunk', { correlation_id: v['correlation_id'], data: bytesToB64(v['data']), is_last: v['is_last'], total_size: opt(v['total_size']), chunk_index: v['chunk_index'], bytes_sent: v['bytes_transferred'] });
      case 'request_complete':
        return finish('request_complete', { correlation_id: v['correlation_id'], status: v['status_code'], duration_ms: v['duration_ms'], request_body_size: v['bytes_received'], response_body_size: v['bytes_sent'], upstream_attempts: v['upstream_attempts'] ?? 1, error: opt(v['error']) });
      case 'websocket_frame':
        return finish('websocket_frame', {
          correlation_id: v['correlation_id'],
          opcode: v['opcode'] ?? OPCODE_OF_FRAME_TYPE[v['frame_type'] as number] ?? 'binary',
          data: bytesToB64(v['payload']),
          client_to_server: v['client_to_server'],
          frame_index: v['frame_index'] ?? 0,
          fin: v['fin'] ?? true,
          route_id: opt(v['route_id']),
          client_ip: v['client_ip'] ?? '',
        });
      case 'guardrail':
        return finish('guardrail_inspect', {
          correlation_id: v['correlation_id'], inspection_type: v['inspection_type'] ?? 'prompt_injection', content: v['content'], model: opt(v['model']),
          categories: v['categories'], route_id: opt(v['route_id']), metadata: v['metadata'],
        });
      case 'configure':
        return finish('configure', { correlation_id: v['correlation_id'] ?? '', config: parseJsonText(v['config_json']), config_version: opt(v['config_version']), is_initial: v['is_initial'], timestamp_ms: v['timestamp_ms'] });
      case 'cancel': {
        const r = v['reason'] as number;
        return finish('cancel', { correlation_id: v['correlation_id'], reason: Number.isInteger(r) && r >= 1 ? r - 1 : CANCEL_UNSPECIFIED_AS, timestamp_ms: v['timestamp_ms'], blocking_agent_id: opt(v['blocking_agent_id']), manual_reason: opt(v['manual_reason']) });
      }
      case 'ping':
        return finish('ping', { sequence: v['sequence'], timestamp_ms: v['timestamp_ms'] });
      default:
        return { ok: false, error: `ProxyToAgent: unknown message ${String(which)}` };
    }
  } catch (e) {
    return { ok: false, error: `ProxyToAgent: ${String(e)}` };
  }
}

// ---------------------------------------------------------------------------------------------
// agent → proxy
// ---------------------------------------------------------------------------------------------

function opToProto(op: HeaderOp): P {
  if ('set' in op) return { set: op.set };
  if ('add' in op) return { add: op.add };
  return { remove: op.remove.name };
}

function opFromProto(op: P): P {
  if (op['operation'] === 'set') return { set: op['set'] };
  if (op['operation'] === 'add') return { add: op['add'] };
  if (op['operation'] === 'remove') return { remove: { name: op['remove'] } };
  return {};
}

function mutationToProto(m: BodyMutation | null): P | undefined {
  if (m === null) return undefined;
  return m.data === null ? { chunk_index: m.chunk_index } : { data: b64ToBytes(m.data), chunk_index: m.chunk_index };
}

function mutationFromProto(m: P | null | undefined): P | null {
  if (m === null || m === undefined) return null;
  return { data: m['data'] === undefined || m['data'] === null ? null : bytesToB64(m['data']), chunk_index: m['chunk_index'] };
}

function capabilitiesToProto(c: AgentCapabilities, protocolVersion: number): P {
  return { protocol_version: protocolVersion, agent_id: c.agent_id, name: c.name, version: c.version, supported_events: c.supported_events.map(swapConfigureEvent), features: c.features, limits: c.limits };
}

function capabilitiesFromProto(c: P | null | undefined): P | undefined {
  if (c === null || c === undefined) return undefined;
  const events = c['supported_events'] as unknown;
  return {
    agent_id: c['agent_id'], name: c['name'], version: c['version'],
    supported_events: Array.isArray(events) ? events.map((e) => (typeof e === 'number' ? swapConfigureEvent(e) : e)) : events,
    features: c['features'] ?? {},
    limits: c['limits'] ?? {},
  };
}

const isObj = (d: JsonValue | undefined): d is Record<string, JsonValue> => typeof d === 'object' && d !== null && !Array.isArray(d);
const strOf = (v: JsonValue | undefined): string => (typeof v === 'string' ? v : '');
const strsOf = (v: JsonValue | undefined): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const uintOf = (v: JsonValue | undefined): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);

/** The oneof member for a config_update_request, filled from `detail` where its shape fits. */
function configUpdateToProto(kind: ConfigUpdateKind, detail: JsonValue | undefined): P {
  const d = isObj(detail) ? detail : {};
  switch (kind) {
    case 'request_reload': return { request_reload: {} };
    case 'rule_update': return { rule_update: { rule_set: strOf(d['rule_set']), rules: [], remove_rules: strsOf(d['remove_rules']) } };
    case 'list_update': return { list_update: { list_id: strOf(d['list_id']), add: strsOf(d['add']), remove: strsOf(d['remove']) } };
    case 'restart_required': return { restart_required: { reason: strOf(d['reason']), grace_period_ms: uintOf(d['grace_period_ms']) } };
    case 'config_error': return { config_error: { error: strOf(d['error']), field: typeof d['field'] === 'string' ? d['field'] : undefined } };
  }
}

/** `detail` rebuilt from a oneof member sent by a peer without `detail_json` (non-default fields only). */
function detailFromProto(sub: P | undefined): JsonValue | undefined {
  if (sub === undefined || sub === null) return undefined;
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(sub)) {
    if (k.startsWith('_') || v === undefined || v === null || v === '' || v === 0 || v === false) continue;
    if (Array.isArray(v)) {
      if (v.length === 0) continue;
      out[k] = k === 'rules' ? (v as P[]).map((r) => ({ id: r['id'], priority: r['priority'], definition: parseJsonText(r['definition_json']), enabled: r['enabled'] })) : (v as JsonValue[]);
      continue;
    }
    out[k] = v as JsonValue;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

export function toAgentToProxy(msg: WireMessage): P {
  switch (msg.kind) {
    case 'handshake_response': {
      const p = msg.payload;
      return { handshake: { protocol_version: p.protocol_version, capabilities: capabilitiesToProto(p.capabilities, p.protocol_version), success: p.success, error: p.error } };
    }
    case 'agent_response': {
      const p = msg.payload;
      const cid = p.audit.custom['correlation_id'];
      const d = p.decision;
      const decision: P =
        d === 'allow'
          ? { allow: {} }
          : 'block' in d
            ? { block: { status: d.block.status, body: d.block.body, headers: Object.entries(d.block.headers ?? {}).map(([name, value]) => ({ name, value })) } }
            : 'redirect' in d
              ? { redirect: d.redirect }
              : { challenge: d.challenge };
      const ws = p.websocket_decision;
      return {
        response: {
          correlation_id: typeof cid === 'string' ? cid : '',
          ...decision,
          request_headers: p.request_headers.map(opToProto),
          response_headers: p.response_headers.map(opToProto),
          audit: { tags: p.audit.tags, rule_ids: p.audit.rule_ids, confidence: floatOrUndefined(p.audit.confidence), reason_codes: p.audit.reason_codes, custom: customToProto(p.audit.custom) },
          needs_more: p.needs_more,
          version: p.version,
          routing_metadata: p.routing_metadata,
          request_body_mutation: mutationToProto(p.request_body_mutation),
          response_body_mutation: mutationToProto(p.response_body_mutation),
          websocket_decision: ws === null ? undefined : ws === 'allow' ? { allow: {} } : ws === 'drop' ? { drop: {} } : { close: ws.close },
        },
      };
    }
    case 'health_status': {
      const p = msg.payload;
      return { health: { agent_id: p.agent_id, state: p.state, message: p.message, timestamp_ms: p.timestamp_ms, load: p.in_flight === undefined ? undefined : { in_flight: p.in_flight } } };
    }
    case 'metrics_report': {
      const p = msg.payload;
      return { metrics: { agent_id: p.agent_id, timestamp_ms: p.timestamp_ms, counters: p.counters, gauges: p.gauges } };
    }
    case 'config_update_request': {
      const p = msg.payload;
      return { config_update: { request_id: p.request_id, timestamp_ms: p.timestamp_ms, ...configUpdateToProto(p.kind, p.detail), detail_json: p.detail === undefined ? undefined : JSON.stringify(p.detail) } };
    }
    case 'flow_control': {
      const p = msg.payload;
      return { flow_control: { correlation_id: p.correlation_id, action: p.action, buffer_available: p.capacity, timestamp_ms: 0 } };
    }
    case 'pong':
      // Our pong echoes the ping; Zentinel's carries the ping's timestamp as ping_timestamp_ms.
      return { pong: { sequence: msg.payload.sequence, ping_timestamp_ms: msg.payload.timestamp_ms, timestamp_ms: msg.payload.timestamp_ms } };
    default:
      throw new Error(`${msg.kind} does not travel agent → proxy`);
  }
}

export function fromAgentToProxy(m: P): AgentMapResult {
  try {
    const which = m['message'] as string | undefined;
    const v = (which === undefined ? undefined : m[which]) as P | undefined;
    if (v === undefined || v === null) return { ok: false, error: 'AgentToProxy: empty message' };
    switch (which) {
      case 'handshake':
        return finish('handshake_response', { protocol_version: v['protocol_version'], capabilities: capabilitiesFromProto(v['capabilities']), success: v['success'], error: opt(v['error']), encoding: 'json' });
      case 'response': {
        const which2 = v['decision'] as string | undefined;
        let decision: unknown = 'allow';
        if (which2 === 'block') {
          const b = v['block'] as P;
          const headers = Object.create(null) as Record<string, string>;
          for (const h of (b['headers'] as P[] | undefined) ?? []) headers[h['name']] = h['value'];
          decision = { block: { status: b['status'], body: opt(b['body']), headers: Object.keys(headers).length > 0 ? headers : undefined } };
        } else if (which2 === 'redirect') decision = { redirect: v['redirect'] };
        else if (which2 === 'challenge') decision = { challenge: v['challenge'] };
        const a = (v['audit'] as P | null | undefined) ?? {};
        const custom = Object.create(null) as Record<string, JsonValue>;
        const rawCustom = (a['custom'] as Record<string, string> | undefined) ?? {};
        for (const k of Object.keys(rawCustom)) custom[k] = rawCustom[k] as string;
        if (typeof v['correlation_id'] === 'string' && v['correlation_id'] !== '') custom['correlation_id'] = v['correlation_id'];
        const ws = v['websocket_decision'] as P | null | undefined;
        return finish('agent_response', {
          version: v['version'] ?? 2,
          decision,
          request_headers: ((v['request_headers'] as P[] | undefined) ?? []).map(opFromProto),
          response_headers: ((v['response_headers'] as P[] | undefined) ?? []).map(opFromProto),
          routing_metadata: v['routing_metadata'],
          audit: { tags: a['tags'], rule_ids: a['rule_ids'], confidence: opt(a['confidence']), reason_codes: a['reason_codes'], custom },
          needs_more: v['needs_more'],
          request_body_mutation: mutationFromProto(v['request_body_mutation']),
          response_body_mutation: mutationFromProto(v['response_body_mutation']),
          websocket_decision: ws === null || ws === undefined ? null : ws['action'] === 'close' ? { close: ws['close'] } : ws['action'],
        });
      }
      case 'health': {
        const load = v['load'] as P | null | undefined;
        return finish('health_status', { agent_id: v['agent_id'], state: v['state'], timestamp_ms: v['timestamp_ms'], message: opt(v['message']), in_flight: load === null || load === undefined ? undefined : load['in_flight'] });
      }
      case 'metrics': {
        const strip = (list: P[] | undefined): P[] => (list ?? []).map((s) => ({ name: s['name'], value: s['value'], labels: s['labels'] }));
        return finish('metrics_report', { agent_id: v['agent_id'], timestamp_ms: v['timestamp_ms'], counters: strip(v['counters']), gauges: strip(v['gauges']) });
      }
      case 'config_update': {
        const kind = v['update_type'] as string | undefined;
        const detail = typeof v['detail_json'] === 'string' ? parseJsonText(v['detail_json']) : detailFromProto(kind === undefined ? undefined : v[kind]);
        return finish('config_update_request', { request_id: v['request_id'], timestamp_ms: v['timestamp_ms'], kind: kind ?? 'request_reload', detail: detail ?? undefined });
      }
      case 'flow_control':
        return finish('flow_control', { action: v['action'], correlation_id: opt(v['correlation_id']), capacity: opt(v['buffer_available']) });
      case 'pong':
        return finish('pong', { sequence: v['sequence'], timestamp_ms: v['ping_timestamp_ms'] });
      case 'log':
        // Informational (the agent's own log line): valid, nothing for the proxy to act on.
        return { ok: true, value: null };
      default:
        return { ok: false, error: `AgentToProxy: unknown message ${String(which)}` };
    }
  } catch (e) {
    return { ok: false, error: `AgentToProxy: ${String(e)}` };
  }
}
