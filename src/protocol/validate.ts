// Payload shape checks: turn a parsed JSON value into the typed payload of a message kind, or say
// why it is not one. Output objects hold only known fields; optional fields that are absent or
// null are left out (Zentinel serialises None as null). String-keyed maps are built without a
// prototype so a "__proto__" key is plain data.
import type {
  AgentCapabilities,
  AgentResponse,
  AuditMetadata,
  BodyMutation,
  Decision,
  HeaderMap,
  HeaderOp,
  JsonValue,
  MessageKind,
  MetricSample,
  PayloadByKind,
  RequestMetadata,
  WebSocketDecision,
  WebSocketOpcode,
} from './types.ts';
import { CANCEL_REASONS, CONFIG_UPDATE_KINDS, PROTOCOL_VERSION, WEBSOCKET_OPCODES } from './types.ts';

class ShapeError extends Error {}

type Obj = Record<string, unknown>;

function fail(path: string, what: string): never {
  throw new ShapeError(`${path}: expected ${what}`);
}

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object');
  return v as Obj;
}

function str(o: Obj, k: string, path: string): string {
  const v = o[k];
  if (typeof v !== 'string') fail(`${path}.${k}`, 'a string');
  return v;
}

function optStr(o: Obj, k: string, path: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(`${path}.${k}`, 'a string or null');
  return v;
}

function bool(o: Obj, k: string, path: string, dflt?: boolean): boolean {
  const v = o[k];
  if ((v === undefined || v === null) && dflt !== undefined) return dflt;
  if (typeof v !== 'boolean') fail(`${path}.${k}`, 'a boolean');
  return v;
}

function uint(o: Obj, k: string, path: string, dflt?: number): number {
  const v = o[k];
  if ((v === undefined || v === null) && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${path}.${k}`, 'a non-negative integer');
  return v;
}

function optUint(o: Obj, k: string, path: string): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  return uint(o, k, path);
}

function ranged(o: Obj, k: string, path: string, min: number, max: number): number {
  const v = uint(o, k, path);
  if (v < min || v > max) fail(`${path}.${k}`, `an integer in ${min}..${max}`);
  return v;
}

function strArray(v: unknown, path: string, dflt = false): string[] {
  if ((v === undefined || v === null) && dflt) return [];
  if (!Array.isArray(v)) fail(path, 'an array of strings');
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) {
    const s: unknown = v[i];
    if (typeof s !== 'string') fail(`${path}[${i}]`, 'a string');
    out.push(s);
  }
  return out;
}

function strRecord(v: unknown, path: string, dflt = false): Record<string, string> {
  if ((v === undefined || v === null) && dflt) return Object.create(null) as Record<string, string>;
  const o = obj(v, path);
  const out = Object.create(null) as Record<string, string>;
  for (const k of Object.keys(o)) {
    const s = o[k];
    if (typeof s !== 'string') fail(`${path}.${k}`, 'a string');
    out[k] = s;
  }
  return out;
}

function jsonRecord(v: unknown, path: string): Record<string, JsonValue> {
  if (v === undefined || v === null) return Object.create(null) as Record<string, JsonValue>;
  const o = obj(v, path);
  const out = Object.create(null) as Record<string, JsonValue>;
  for (const k of Object.keys(o)) out[k] = o[k] as JsonValue;
  return out;
}

function headerMap(v: unknown, path: string): HeaderMap {
  const o = obj(v, path);
  const out = Object.create(null) as HeaderMap;
  for (const k of Object.keys(o)) out[k] = strArray(o[k], `${path}.${k}`);
  return out;
}

function json(o: Obj, k: string): JsonValue {
  const v = o[k];
  return v === undefined ? null : (v as JsonValue);
}

function put<T extends object, K extends string, V>(target: T, k: K, v: V | undefined): void {
  if (v !== undefined) (target as Record<string, unknown>)[k] = v;
}

// ---------------------------------------------------------------------------------------------

function metadata(v: unknown, path: string): RequestMetadata {
  const o = obj(v, path);
  const m: RequestMetadata = {
    correlation_id: str(o, 'correlation_id', path),
    request_id: str(o, 'request_id', path),
    client_ip: str(o, 'client_ip', path),
    client_port: ranged(o, 'client_port', path, 0, 65535),
    protocol: str(o, 'protocol', path),
    timestamp: str(o, 'timestamp', path),
  };
  put(m, 'server_name', optStr(o, 'server_name', path));
  put(m, 'tls_version', optStr(o, 'tls_version', path));
  put(m, 'tls_cipher', optStr(o, 'tls_cipher', path));
  put(m, 'route_id', optStr(o, 'route_id', path));
  put(m, 'upstream_id', optStr(o, 'upstream_id', path));
  put(m, 'traceparent', optStr(o, 'traceparent', path));
  return m;
}

function capabilities(v: unknown, path: string): AgentCapabilities {
  const o = obj(v, path);
  const f = obj(o['features'] ?? {}, `${path}.features`);
  const l = obj(o['limits'] ?? {}, `${path}.limits`);
  const fp = `${path}.features`;
  const lp = `${path}.limits`;
  const events = o['supported_events'];
  if (!Array.isArray(events) || !events.every((e) => typeof e === 'number' && Number.isSafeInteger(e))) fail(`${path}.supported_events`, 'an array of integers');
  return {
    agent_id: str(o, 'agent_id', path),
    name: str(o, 'name', path),
    version: str(o, 'version', path),
    supported_events: events as number[],
    features: {
      streaming_body: bool(f, 'streaming_body', fp, false),
      websocket: bool(f, 'websocket', fp, false),
      guardrails: bool(f, 'guardrails', fp, false),
      config_push: bool(f, 'config_push', fp, false),
      metrics_export: bool(f, 'metrics_export', fp, false),
      concurrent_requests: uint(f, 'concurrent_requests', fp, 0),
      cancellation: bool(f, 'cancellation', fp, false),
      flow_control: bool(f, 'flow_control', fp, false),
      health_reporting: bool(f, 'health_reporting', fp, false),
    },
    limits: {
      max_body_size: uint(l, 'max_body_size', lp, 0),
      max_concurrency: uint(l, 'max_concurrency', lp, 0),
      preferred_chunk_size: uint(l, 'preferred_chunk_size', lp, 0),
    },
  };
}

function decision(v: unknown, path: string): Decision {
  if (v === 'allow' || v === undefined || v === null) return 'allow';
  const o = obj(v, path);
  const keys = Object.keys(o);
  if (keys.length !== 1) fail(path, '"allow" or an object with exactly one of block, redirect, challenge');
  if ('block' in o) {
    const b = obj(o['block'], `${path}.block`);
    const out: { status: number; body?: string; headers?: Record<string, string> } = { status: ranged(b, 'status', `${path}.block`, 100, 999) };
    put(out, 'body', optStr(b, 'body', `${path}.block`));
    if (b['headers'] !== undefined && b['headers'] !== null) out.headers = strRecord(b['headers'], `${path}.block.headers`);
    return { block: out };
  }
  if ('redirect' in o) {
    const r = obj(o['redirect'], `${path}.redirect`);
    return { redirect: { url: str(r, 'url', `${path}.redirect`), status: ranged(r, 'status', `${path}.redirect`, 300, 399) } };
  }
  if ('challenge' in o) {
    const c = obj(o['challenge'], `${path}.challenge`);
    return { challenge: { challenge_type: str(c, 'challenge_type', `${path}.challenge`), params: strRecord(c['params'], `${path}.challenge.params`, true) } };
  }
  return fail(path, 'a known decision');
}

function headerOps(v: unknown, path: string): HeaderOp[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(path, 'an array of header operations');
  return v.map((item: unknown, i: number): HeaderOp => {
    const p = `${path}[${i}]`;
    const o = obj(item, p);
    if (Object.keys(o).length !== 1) fail(p, 'exactly one of set, add, remove');
    if ('set' in o) {
      const s = obj(o['set'], `${p}.set`);
      return { set: { name: str(s, 'name', `${p}.set`), value: str(s, 'value', `${p}.set`) } };
    }
    if ('add' in o) {
      const s = obj(o['add'], `${p}.add`);
      return { add: { name: str(s, 'name', `${p}.add`), value: str(s, 'value', `${p}.add`) } };
    }
    if ('remove' in o) {
      const s = obj(o['remove'], `${p}.remove`);
      return { remove: { name: str(s, 'name', `${p}.remove`) } };
    }
    return fail(p, 'a known header operation');
  });
}

function bodyMutation(v: unknown, path: string): BodyMutation | null {
  if (v === undefined || v === null) return null;
  const o = obj(v, path);
  const d = o['data'];
  if (d !== undefined && d !== null && typeof d !== 'string') fail(`${path}.data`, 'a string or null');
  return { data: typeof d === 'string' ? d : null, chunk_index: uint(o, 'chunk_index', path, 0) };
}

function audit(v: unknown, path: string): AuditMetadata {
  const o = obj(v ?? {}, path);
  const a: AuditMetadata = {
    tags: strArray(o['tags'], `${path}.tags`, true),
    rule_ids: strArray(o['rule_ids'], `${path}.rule_ids`, true),
    reason_codes: strArray(o['reason_codes'], `${path}.reason_codes`, true),
    custom: jsonRecord(o['custom'], `${path}.custom`),
  };
  const c = o['confidence'];
  if (c !== undefined && c !== null) {
    if (typeof c !== 'number' || !Number.isFinite(c)) fail(`${path}.confidence`, 'a number');
    a.confidence = c;
  }
  return a;
}

function wsDecision(v: unknown, path: string): WebSocketDecision | null {
  if (v === undefined || v === null) return null;
  if (v === 'allow' || v === 'drop') return v;
  const o = obj(v, path);
  const c = obj(o['close'], `${path}.close`);
  return { close: { code: ranged(c, 'code', `${path}.close`, 0, 65535), reason: str(c, 'reason', `${path}.close`) } };
}

function agentResponse(o: Obj, p: string): AgentResponse {
  return {
    version: uint(o, 'version', p, PROTOCOL_VERSION),
    decision: decision(o['decision'], `${p}.decision`),
    request_headers: headerOps(o['request_headers'], `${p}.request_headers`),
    response_headers: headerOps(o['response_headers'], `${p}.response_headers`),
    routing_metadata: strRecord(o['routing_metadata'], `${p}.routing_metadata`, true),
    audit: audit(o['audit'], `${p}.audit`),
    needs_more: bool(o, 'needs_more', p, false),
    request_body_mutation: bodyMutation(o['request_body_mutation'], `${p}.request_body_mutation`),
    response_body_mutation: bodyMutation(o['response_body_mutation'], `${p}.response_body_mutation`),
    websocket_decision: wsDecision(o['websocket_decision'], `${p}.websocket_decision`),
  };
}

function samples(v: unknown, path: string): MetricSample[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(path, 'an array');
  return v.map((item: unknown, i: number) => {
    const o = obj(item, `${path}[${i}]`);
    const value = o['value'];
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${path}[${i}].value`, 'a number');
    return { name: str(o, 'name', `${path}[${i}]`), value, labels: strRecord(o['labels'], `${path}[${i}].labels`, true) };
  });
}

type Parser<K extends MessageKind> = (o: Obj, path: string) => PayloadByKind[K];

const PARSERS: { [K in MessageKind]: Parser<K> } = {
  handshake_request(o, p) {
    const versions = o['supported_versions'];
    if (!Array.isArray(versions) || !versions.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) fail(`${p}.supported_versions`, 'an array of integers');
    const out: PayloadByKind['handshake_request'] = {
      supported_versions: versions as number[],
      proxy_id: str(o, 'proxy_id', p),
      proxy_version: str(o, 'proxy_version', p),
      config: json(o, 'config'),
    };
    const enc = o['supported_encodings'];
    if (enc !== undefined && enc !== null) {
      // Unknown encodings are ignored (forward compatibility); the agent picks from the known ones.
      out.supported_encodings = strArray(enc, `${p}.supported_encodings`).filter((e): e is 'json' | 'msgpack' => e === 'json' || e === 'msgpack');
    }
    return out;
  },
  handshake_response(o, p) {
    const enc = o['encoding'] ?? 'json';
    if (enc !== 'json' && enc !== 'msgpack') fail(`${p}.encoding`, '"json" or "msgpack"');
    const out: PayloadByKind['handshake_response'] = {
      protocol_version: uint(o, 'protocol_version', p),
      capabilities: capabilities(o['capabilities'], `${p}.capabilities`),
      success: bool(o, 'success', p),
      encoding: enc,
    };
    put(out, 'error', optStr(o, 'error', p));
    return out;
  },
  request_headers(o, p) {
    const md = metadata(o['metadata'], `${p}.metadata`);
    const top = optStr(o, 'correlation_id', p);
    if (top !== undefined && top !== md.correlation_id) fail(`${p}.correlation_id`, 'the same value as metadata.correlation_id');
    return { correlation_id: md.correlation_id, metadata: md, method: str(o, 'method', p), uri: str(o, 'uri', p), headers: headerMap(o['headers'], `${p}.headers`) };
  },
  request_body_chunk(o, p) {
    const out: PayloadByKind['request_body_chunk'] = {
      correlation_id: str(o, 'correlation_id', p),
      data: str(o, 'data', p),
      is_last: bool(o, 'is_last', p),
      chunk_index: uint(o, 'chunk_index', p, 0),
      bytes_received: uint(o, 'bytes_received', p, 0),
    };
    put(out, 'total_size', optUint(o, 'total_size', p));
    return out;
  },
  response_headers(o, p) {
    return { correlation_id: str(o, 'correlation_id', p), status: ranged(o, 'status', p, 100, 999), headers: headerMap(o['headers'], `${p}.headers`) };
  },
  response_body_chunk(o, p) {
    const out: PayloadByKind['response_body_chunk'] = {
      correlation_id: str(o, 'correlation_id', p),
      data: str(o, 'data', p),
      is_last: bool(o, 'is_last', p),
      chunk_index: uint(o, 'chunk_index', p, 0),
      bytes_sent: uint(o, 'bytes_sent', p, 0),
    };
    put(out, 'total_size', optUint(o, 'total_size', p));
    return out;
  },
  request_complete(o, p) {
    const out: PayloadByKind['request_complete'] = {
      correlation_id: str(o, 'correlation_id', p),
      status: ranged(o, 'status', p, 0, 999),
      duration_ms: uint(o, 'duration_ms', p),
      request_body_size: uint(o, 'request_body_size', p),
      response_body_size: uint(o, 'response_body_size', p),
      upstream_attempts: uint(o, 'upstream_attempts', p),
    };
    put(out, 'error', optStr(o, 'error', p));
    return out;
  },
  websocket_frame(o, p) {
    const opcode = str(o, 'opcode', p);
    if (!(WEBSOCKET_OPCODES as readonly string[]).includes(opcode)) fail(`${p}.opcode`, WEBSOCKET_OPCODES.join('|'));
    const out: PayloadByKind['websocket_frame'] = {
      correlation_id: str(o, 'correlation_id', p),
      opcode: opcode as WebSocketOpcode,
      data: str(o, 'data', p),
      client_to_server: bool(o, 'client_to_server', p),
      frame_index: uint(o, 'frame_index', p),
      fin: bool(o, 'fin', p),
      client_ip: str(o, 'client_ip', p),
    };
    put(out, 'route_id', optStr(o, 'route_id', p));
    return out;
  },
  guardrail_inspect(o, p) {
    const t = str(o, 'inspection_type', p);
    if (t !== 'prompt_injection' && t !== 'pii_detection') fail(`${p}.inspection_type`, 'prompt_injection|pii_detection');
    const out: PayloadByKind['guardrail_inspect'] = {
      correlation_id: str(o, 'correlation_id', p),
      inspection_type: t,
      content: str(o, 'content', p),
      categories: strArray(o['categories'], `${p}.categories`, true),
      metadata: strRecord(o['metadata'], `${p}.metadata`, true),
    };
    put(out, 'model', optStr(o, 'model', p));
    put(out, 'route_id', optStr(o, 'route_id', p));
    return out;
  },
  configure(o, p) {
    const out: PayloadByKind['configure'] = {
      correlation_id: typeof o['correlation_id'] === 'string' ? o['correlation_id'] : '',
      config: json(o, 'config'),
      is_initial: bool(o, 'is_initial', p, false),
      timestamp_ms: uint(o, 'timestamp_ms', p, 0),
    };
    put(out, 'config_version', optStr(o, 'config_version', p));
    return out;
  },
  agent_response: agentResponse,
  health_status(o, p) {
    const out: PayloadByKind['health_status'] = { agent_id: typeof o['agent_id'] === 'string' ? o['agent_id'] : '', state: uint(o, 'state', p), timestamp_ms: uint(o, 'timestamp_ms', p, 0) };
    put(out, 'message', optStr(o, 'message', p));
    put(out, 'in_flight', optUint(o, 'in_flight', p));
    return out;
  },
  metrics_report(o, p) {
    return { agent_id: typeof o['agent_id'] === 'string' ? o['agent_id'] : '', timestamp_ms: uint(o, 'timestamp_ms', p, 0), counters: samples(o['counters'], `${p}.counters`), gauges: samples(o['gauges'], `${p}.gauges`) };
  },
  config_update_request(o, p) {
    const kind = str(o, 'kind', p);
    if (!(CONFIG_UPDATE_KINDS as readonly string[]).includes(kind)) fail(`${p}.kind`, CONFIG_UPDATE_KINDS.join('|'));
    const out: PayloadByKind['config_update_request'] = { request_id: str(o, 'request_id', p), kind: kind as PayloadByKind['config_update_request']['kind'], timestamp_ms: uint(o, 'timestamp_ms', p, 0) };
    if (o['detail'] !== undefined && o['detail'] !== null) out.detail = o['detail'] as JsonValue;
    return out;
  },
  flow_control(o, p) {
    const out: PayloadByKind['flow_control'] = { action: uint(o, 'action', p, 0) };
    put(out, 'correlation_id', optStr(o, 'correlation_id', p));
    put(out, 'capacity', optUint(o, 'capacity', p));
    return out;
  },
  cancel(o, p) {
    let reason = o['reason'];
    // Names are accepted and mapped to their integer (the docs spell them, the code sends ints).
    if (typeof reason === 'string' && Object.hasOwn(CANCEL_REASONS, reason)) reason = CANCEL_REASONS[reason as keyof typeof CANCEL_REASONS];
    const out: PayloadByKind['cancel'] = { correlation_id: str(o, 'correlation_id', p), reason: uint({ reason }, 'reason', p, 0), timestamp_ms: uint(o, 'timestamp_ms', p, 0) };
    put(out, 'blocking_agent_id', optStr(o, 'blocking_agent_id', p));
    put(out, 'manual_reason', optStr(o, 'manual_reason', p));
    return out;
  },
  ping(o, p) {
    return { sequence: uint(o, 'sequence', p), timestamp_ms: uint(o, 'timestamp_ms', p, 0) };
  },
  pong(o, p) {
    return { sequence: uint(o, 'sequence', p), timestamp_ms: uint(o, 'timestamp_ms', p, 0) };
  },
};

export type ShapeResult<K extends MessageKind> = { ok: true; value: PayloadByKind[K] } | { ok: false; error: string };

/** Checks and normalises a parsed JSON payload. Total: never throws. */
export function parsePayload<K extends MessageKind>(kind: K, value: unknown): ShapeResult<K> {
  try {
    const parser = PARSERS[kind] as Parser<K>;
    return { ok: true, value: parser(obj(value, kind), kind) };
  } catch (err) {
    return { ok: false, error: err instanceof ShapeError ? err.message : `${kind}: invalid payload` };
  }
}
