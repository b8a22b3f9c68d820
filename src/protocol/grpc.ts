// gRPC transport glue: loads agent_v2.proto and maps between the canonical (UDS/JSON) message
// shapes and the protobuf objects of zentinel.agent.v2. Decoding goes through the same shape
// checks as UDS (validate.ts), so both transports accept exactly the same messages.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { JsonValue, MessageKind, PayloadByKind, WireMessage } from './types.ts';
import { CONFIG_UPDATE_KINDS, MAX_GRPC_MESSAGE_BYTES } from './types.ts';
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

function jsonText(v: JsonValue | undefined): string {
  return v === undefined || v === null ? '' : JSON.stringify(v);
}

function parseJsonText(s: string | undefined): JsonValue {
  return s === undefined || s === '' ? null : (JSON.parse(s) as JsonValue);
}

function opt<T>(v: T | null | undefined): T | undefined {
  return v === null ? undefined : v;
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
      return { request_headers: { metadata: p.metadata, method: p.method, uri: p.uri, headers: headersToList(p.headers) } };
    }
    case 'request_body_chunk': {
      const p = msg.payload;
      return { request_body_chunk: { correlation_id: p.correlation_id, data: b64ToBytes(p.data), is_last: p.is_last, total_size: p.total_size, chunk_index: p.chunk_index, bytes_transferred: p.bytes_received } };
    }
    case 'response_headers': {
      const p = msg.payload;
      return { response_headers: { correlation_id: p.correlation_id, status: p.status, headers: headersToList(p.headers) } };
    }
    case 'response_body_chunk': {
      const p = msg.payload;
      return { response_body_chunk: { correlation_id: p.correlation_id, data: b64ToBytes(p.data), is_last: p.is_last, total_size: p.total_size, chunk_index: p.chunk_index, bytes_transferred: p.bytes_sent } };
    }
    case 'request_complete': {
      const p = msg.payload;
      return { request_complete: { correlation_id: p.correlation_id, status: p.status, duration_ms: p.duration_ms, bytes_received: p.request_body_size, bytes_sent: p.response_body_size, upstream_attempts: p.upstream_attempts, error: p.error } };
    }
    case 'websocket_frame': {
      const p = msg.payload;
      return { websocket_frame: { ...p, data: b64ToBytes(p.data) } };
    }
    case 'guardrail_inspect':
      return { guardrail: { ...msg.payload } };
    case 'configure': {
      const p = msg.payload;
      return { configure: { correlation_id: p.correlation_id, config_json: jsonText(p.config), config_version: p.config_version, is_initial: p.is_initial, timestamp_ms: p.timestamp_ms } };
    }
    case 'cancel':
      return { cancel: { ...msg.payload } };
    case 'ping':
      return { ping: { ...msg.payload } };
    default:
      throw new Error(`${msg.kind} does not travel proxy → agent`);
  }
}

export type MapResult = { ok: true; value: WireMessage } | { ok: false; error: string };

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
        const md = v['metadata'] as P | null;
        return finish('request_headers', { metadata: md, method: v['method'], uri: v['uri'], headers: listToHeaders(v['headers']) });
      }
      case 'request_body_chunk':
        return finish('request_body_chunk', { correlation_id: v['correlation_id'], data: bytesToB64(v['data']), is_last: v['is_last'], total_size: opt(v['total_size']), chunk_index: v['chunk_index'], bytes_received: v['bytes_transferred'] });
      case 'response_headers':
        return finish('response_headers', { correlation_id: v['correlation_id'], status: v['status'], headers: listToHeaders(v['headers']) });
      case 'response_body_chunk':
        return finish('response_body_chunk', { correlation_id: v['correlation_id'], data: bytesToB64(v['data']), is_last: v['is_last'], total_size: opt(v['total_size']), chunk_index: v['chunk_index'], bytes_sent: v['bytes_transferred'] });
      case 'request_complete':
        return finish('request_complete', { correlation_id: v['correlation_id'], status: v['status'], duration_ms: v['duration_ms'], request_body_size: v['bytes_received'], response_body_size: v['bytes_sent'], upstream_attempts: v['upstream_attempts'], error: opt(v['error']) });
      case 'websocket_frame':
        return finish('websocket_frame', { ...v, data: bytesToB64(v['data']) });
      case 'guardrail':
        return finish('guardrail_inspect', v);
      case 'configure':
        return finish('configure', { correlation_id: v['correlation_id'], config: parseJsonText(v['config_json']), config_version: opt(v['config_version']), is_initial: v['is_initial'], timestamp_ms: v['timestamp_ms'] });
      case 'cancel':
        return finish('cancel', v);
      case 'ping':
        return finish('ping', v);
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

function opToProto(op: PayloadByKind['agent_response']['request_headers'][number]): P {
  if ('set' in op) return { set: op.set };
  if ('add' in op) return { add: op.add };
  return { remove: op.remove.name };
}

function opFromProto(op: P): P {
  if (op['op'] === 'set') return { set: op['set'] };
  if (op['op'] === 'add') return { add: op['add'] };
  if (op['op'] === 'remove') return { remove: { name: op['remove'] } };
  return {};
}

function mutationToProto(m: PayloadByKind['agent_response']['request_body_mutation']): P | null {
  if (m === null) return null;
  return m.data === null ? { chunk_index: m.chunk_index } : { data: b64ToBytes(m.data), chunk_index: m.chunk_index };
}

function mutationFromProto(m: P | null | undefined): P | null {
  if (m === null || m === undefined) return null;
  return { data: m['data'] === undefined || m['data'] === null ? null : bytesToB64(m['data']), chunk_index: m['chunk_index'] };
}

export function toAgentToProxy(msg: WireMessage): P {
  switch (msg.kind) {
    case 'handshake_response': {
      const p = msg.payload;
      return { handshake: { protocol_version: p.protocol_version, capabilities: p.capabilities, success: p.success, error: p.error } };
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
          audit: { tags: p.audit.tags, rule_ids: p.audit.rule_ids, confidence: p.audit.confidence, reason_codes: p.audit.reason_codes, custom_json: JSON.stringify(p.audit.custom) },
          needs_more: p.needs_more,
          routing_metadata: p.routing_metadata,
          request_body_mutation: mutationToProto(p.request_body_mutation),
          response_body_mutation: mutationToProto(p.response_body_mutation),
          websocket_decision: ws === null ? null : ws === 'allow' ? { allow: {} } : ws === 'drop' ? { drop: {} } : { close: ws.close },
          version: p.version,
        },
      };
    }
    case 'health_status': {
      const p = msg.payload;
      return { health: { agent_id: p.agent_id, state: p.state, message: p.message, timestamp_ms: p.timestamp_ms, load: p.in_flight === undefined ? null : { in_flight: p.in_flight } } };
    }
    case 'metrics_report':
      return { metrics: { ...msg.payload } };
    case 'config_update_request': {
      const p = msg.payload;
      return { config_update: { request_id: p.request_id, timestamp_ms: p.timestamp_ms, [p.kind]: {}, detail_json: jsonText(p.detail) } };
    }
    case 'flow_control':
      return { flow_control: { ...msg.payload } };
    case 'pong':
      return { pong: { ...msg.payload } };
    default:
      throw new Error(`${msg.kind} does not travel agent → proxy`);
  }
}

export function fromAgentToProxy(m: P): MapResult {
  try {
    const which = m['message'] as string | undefined;
    const v = (which === undefined ? undefined : m[which]) as P | undefined;
    if (v === undefined || v === null) return { ok: false, error: 'AgentToProxy: empty message' };
    switch (which) {
      case 'handshake':
        return finish('handshake_response', { protocol_version: v['protocol_version'], capabilities: v['capabilities'], success: v['success'], error: opt(v['error']), encoding: 'json' });
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
        const a = (v['audit'] as P | null) ?? {};
        const custom = (parseJsonText(a['custom_json']) ?? {}) as Record<string, JsonValue>;
        if (typeof custom !== 'object' || Array.isArray(custom)) return { ok: false, error: 'AgentResponse: audit.custom_json is not an object' };
        if (typeof v['correlation_id'] === 'string' && v['correlation_id'] !== '') custom['correlation_id'] = v['correlation_id'];
        const ws = v['websocket_decision'] as P | null;
        return finish('agent_response', {
          version: v['version'] || 2,
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
      case 'health':
        return finish('health_status', { agent_id: v['agent_id'], state: v['state'], timestamp_ms: v['timestamp_ms'], message: opt(v['message']), in_flight: (v['load'] as P | null)?.['in_flight'] });
      case 'metrics':
        return finish('metrics_report', v);
      case 'config_update': {
        const kind = CONFIG_UPDATE_KINDS.find((k) => v['update'] === k);
        return finish('config_update_request', { request_id: v['request_id'], timestamp_ms: v['timestamp_ms'], kind, detail: parseJsonText(v['detail_json']) });
      }
      case 'flow_control':
        return finish('flow_control', { action: v['action'], correlation_id: opt(v['correlation_id']), capacity: opt(v['capacity']) });
      case 'pong':
        return finish('pong', v);
      default:
        return { ok: false, error: `AgentToProxy: unknown message ${String(which)}` };
    }
  } catch (e) {
    return { ok: false, error: `AgentToProxy: ${String(e)}` };
  }
}
