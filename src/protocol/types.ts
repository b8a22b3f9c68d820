// Zentinel agent protocol v2: every message, in its JSON (UDS) shape. Field names are snake_case
// exactly as they travel on the wire; docs/agent-protocol.md is the normative description.
// This is the canonical in-memory model: the gRPC transport maps to and from it (grpc-mapping.ts).

export const PROTOCOL_VERSION = 2;
/** Largest UDS frame: the 4-byte length field counts type byte + payload and must not exceed this. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Largest gRPC message either side accepts. */
export const MAX_GRPC_MESSAGE_BYTES = 10 * 1024 * 1024;

/** UDS message type byte for each message kind. */
export const MESSAGE_CODES = {
  handshake_request: 0x01,
  handshake_response: 0x02,
  request_headers: 0x10,
  request_body_chunk: 0x11,
  response_headers: 0x12,
  response_body_chunk: 0x13,
  request_complete: 0x14,
  websocket_frame: 0x15,
  guardrail_inspect: 0x16,
  configure: 0x17,
  agent_response: 0x20,
  health_status: 0x30,
  metrics_report: 0x31,
  config_update_request: 0x32,
  flow_control: 0x33,
  cancel: 0x40,
  ping: 0x41,
  pong: 0x42,
} as const;

export type MessageKind = keyof typeof MESSAGE_CODES;
export type MessageCode = (typeof MESSAGE_CODES)[MessageKind];

export const MESSAGE_KINDS = Object.keys(MESSAGE_CODES) as MessageKind[];

const KIND_BY_CODE = new Map<number, MessageKind>(MESSAGE_KINDS.map((k) => [MESSAGE_CODES[k], k]));
export function kindOfCode(code: number): MessageKind | undefined {
  return KIND_BY_CODE.get(code);
}

/** Event type integers as used in `capabilities.supported_events` (UDS numbering). */
export const EVENT_TYPES = {
  configure: 0,
  request_headers: 1,
  request_body_chunk: 2,
  response_headers: 3,
  response_body_chunk: 4,
  request_complete: 5,
  websocket_frame: 6,
  guardrail_inspect: 7,
} as const;
export type EventKind = keyof typeof EVENT_TYPES;

/** Cancel reasons travel as integers on UDS (Zentinel serialises `reason as i32`). */
export const CANCEL_REASONS = {
  client_disconnect: 0,
  timeout: 1,
  blocked_by_agent: 2,
  upstream_error: 3,
  proxy_shutdown: 4,
  manual: 5,
} as const;
export type CancelReasonName = keyof typeof CANCEL_REASONS;

/** `health_status.state` integers (0 is reserved for "unspecified"). */
export const HEALTH_STATES = { healthy: 1, degraded: 2, draining: 3, unhealthy: 4 } as const;
export type HealthStateName = keyof typeof HEALTH_STATES;

/** `flow_control.action` integers (0 is reserved for "unspecified", read as resume). */
export const FLOW_ACTIONS = { pause: 1, resume: 2, update_capacity: 3 } as const;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Header multimap: lower-case name → values in arrival order. */
export type HeaderMap = Record<string, string[]>;

export type Encoding = 'json' | 'msgpack';

// ---------------------------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------------------------

export interface HandshakeRequest {
  supported_versions: number[];
  proxy_id: string;
  proxy_version: string;
  /** The agent's `config { }` block, pushed on connect. null when none is configured. */
  config: JsonValue;
  /** Encodings the proxy accepts after the handshake, in preference order. Omitted = json only. */
  supported_encodings?: Encoding[];
}

export interface AgentFeatures {
  streaming_body: boolean;
  websocket: boolean;
  guardrails: boolean;
  config_push: boolean;
  metrics_export: boolean;
  /** How many calls the agent processes concurrently on one connection (0 = unspecified). */
  concurrent_requests: number;
  cancellation: boolean;
  flow_control: boolean;
  health_reporting: boolean;
}

export interface AgentLimits {
  max_body_size: number;
  max_concurrency: number;
  preferred_chunk_size: number;
}

export interface AgentCapabilities {
  agent_id: string;
  name: string;
  version: string;
  supported_events: number[];
  features: AgentFeatures;
  limits: AgentLimits;
}

export interface HandshakeResponse {
  protocol_version: number;
  capabilities: AgentCapabilities;
  success: boolean;
  error?: string;
  encoding: Encoding;
}

// ---------------------------------------------------------------------------------------------
// Events (proxy → agent)
// ---------------------------------------------------------------------------------------------

export interface RequestMetadata {
  correlation_id: string;
  request_id: string;
  client_ip: string;
  client_port: number;
  server_name?: string;
  protocol: string;
  tls_version?: string;
  tls_cipher?: string;
  route_id?: string;
  upstream_id?: string;
  /** RFC 3339 time the request started. */
  timestamp: string;
  traceparent?: string;
}

export interface RequestHeadersEvent {
  /** Injected at the top level too, as Zentinel does on UDS; always equal to metadata.correlation_id. */
  correlation_id: string;
  metadata: RequestMetadata;
  method: string;
  /** Path and query. */
  uri: string;
  headers: HeaderMap;
}

export interface RequestBodyChunkEvent {
  correlation_id: string;
  /** Base64 (standard alphabet, padded). */
  data: string;
  is_last: boolean;
  total_size?: number;
  chunk_index: number;
  bytes_received: number;
}

export interface ResponseHeadersEvent {
  correlation_id: string;
  status: number;
  headers: HeaderMap;
}

export interface ResponseBodyChunkEvent {
  correlation_id: string;
  data: string;
  is_last: boolean;
  total_size?: number;
  chunk_index: number;
  bytes_sent: number;
}

export interface RequestCompleteEvent {
  correlation_id: string;
  status: number;
  duration_ms: number;
  request_body_size: number;
  response_body_size: number;
  upstream_attempts: number;
  error?: string;
}

export type WebSocketOpcode = 'continuation' | 'text' | 'binary' | 'close' | 'ping' | 'pong';
export const WEBSOCKET_OPCODES: readonly WebSocketOpcode[] = ['continuation', 'text', 'binary', 'close', 'ping', 'pong'];

export interface WebSocketFrameEvent {
  correlation_id: string;
  opcode: WebSocketOpcode;
  data: string;
  client_to_server: boolean;
  frame_index: number;
  fin: boolean;
  route_id?: string;
  client_ip: string;
}

export interface GuardrailInspectEvent {
  correlation_id: string;
  inspection_type: 'prompt_injection' | 'pii_detection';
  content: string;
  model?: string;
  categories: string[];
  route_id?: string;
  metadata: Record<string, string>;
}

export interface ConfigureEvent {
  correlation_id: string;
  config: JsonValue;
  config_version?: string;
  is_initial: boolean;
  timestamp_ms: number;
}

export interface CancelMessage {
  correlation_id: string;
  /** One of CANCEL_REASONS (integer on the wire; names are accepted on decode and mapped). */
  reason: number;
  timestamp_ms: number;
  blocking_agent_id?: string;
  manual_reason?: string;
}

export interface PingMessage {
  sequence: number;
  timestamp_ms: number;
}

/** The agent echoes the ping payload unchanged. */
export type PongMessage = PingMessage;

// ---------------------------------------------------------------------------------------------
// Agent → proxy
// ---------------------------------------------------------------------------------------------

export type Decision =
  | 'allow'
  | { block: { status: number; body?: string; headers?: Record<string, string> } }
  | { redirect: { url: string; status: number } }
  | { challenge: { challenge_type: string; params: Record<string, string> } };

export type HeaderOp =
  | { set: { name: string; value: string } }
  | { add: { name: string; value: string } }
  | { remove: { name: string } };

/** data: null = pass the chunk through, "" = drop it, base64 = replace it. */
export interface BodyMutation {
  data: string | null;
  chunk_index: number;
}

export interface AuditMetadata {
  tags: string[];
  rule_ids: string[];
  confidence?: number;
  reason_codes: string[];
  custom: Record<string, JsonValue>;
}

export type WebSocketDecision = 'allow' | 'drop' | { close: { code: number; reason: string } };

export interface AgentResponse {
  version: number;
  decision: Decision;
  request_headers: HeaderOp[];
  response_headers: HeaderOp[];
  routing_metadata: Record<string, string>;
  audit: AuditMetadata;
  needs_more: boolean;
  request_body_mutation: BodyMutation | null;
  response_body_mutation: BodyMutation | null;
  websocket_decision: WebSocketDecision | null;
}

export interface HealthStatusMessage {
  agent_id: string;
  /** One of HEALTH_STATES. */
  state: number;
  message?: string;
  in_flight?: number;
  timestamp_ms: number;
}

export interface MetricSample {
  name: string;
  value: number;
  labels: Record<string, string>;
}

export interface MetricsReportMessage {
  agent_id: string;
  timestamp_ms: number;
  counters: MetricSample[];
  gauges: MetricSample[];
}

export type ConfigUpdateKind = 'request_reload' | 'rule_update' | 'list_update' | 'restart_required' | 'config_error';
export const CONFIG_UPDATE_KINDS: readonly ConfigUpdateKind[] = ['request_reload', 'rule_update', 'list_update', 'restart_required', 'config_error'];

export interface ConfigUpdateRequestMessage {
  request_id: string;
  kind: ConfigUpdateKind;
  detail?: JsonValue;
  timestamp_ms: number;
}

export interface FlowControlMessage {
  /** One of FLOW_ACTIONS. */
  action: number;
  correlation_id?: string;
  capacity?: number;
}

// ---------------------------------------------------------------------------------------------
// The tagged union every codec function works on.
// ---------------------------------------------------------------------------------------------

export interface PayloadByKind {
  handshake_request: HandshakeRequest;
  handshake_response: HandshakeResponse;
  request_headers: RequestHeadersEvent;
  request_body_chunk: RequestBodyChunkEvent;
  response_headers: ResponseHeadersEvent;
  response_body_chunk: ResponseBodyChunkEvent;
  request_complete: RequestCompleteEvent;
  websocket_frame: WebSocketFrameEvent;
  guardrail_inspect: GuardrailInspectEvent;
  configure: ConfigureEvent;
  agent_response: AgentResponse;
  health_status: HealthStatusMessage;
  metrics_report: MetricsReportMessage;
  config_update_request: ConfigUpdateRequestMessage;
  flow_control: FlowControlMessage;
  cancel: CancelMessage;
  ping: PingMessage;
  pong: PongMessage;
}

export type WireMessage = { [K in MessageKind]: { kind: K; payload: PayloadByKind[K] } }[MessageKind];
export type MessageOf<K extends MessageKind> = { kind: K; payload: PayloadByKind[K] };

/** Events the proxy sends and the agent answers with an agent_response. */
export const CALL_KINDS = [
  'request_headers',
  'request_body_chunk',
  'response_headers',
  'response_body_chunk',
  'request_complete',
  'websocket_frame',
  'guardrail_inspect',
  'configure',
] as const;
export type CallKind = (typeof CALL_KINDS)[number];
export type CallMessage = { [K in CallKind]: { kind: K; payload: PayloadByKind[K] } }[CallKind];

export function isCallKind(kind: MessageKind): kind is CallKind {
  return (CALL_KINDS as readonly string[]).includes(kind);
}

/** The correlation id a call event carries. */
export function correlationIdOf(msg: CallMessage): string {
  return msg.payload.correlation_id;
}

export function allowResponse(): AgentResponse {
  return {
    version: PROTOCOL_VERSION,
    decision: 'allow',
    request_headers: [],
    response_headers: [],
    routing_metadata: {},
    audit: { tags: [], rule_ids: [], reason_codes: [], custom: {} },
    needs_more: false,
    request_body_mutation: null,
    response_body_mutation: null,
    websocket_decision: null,
  };
}

/** The correlation id an agent_response is routed by on UDS (`audit.custom.correlation_id`). */
export function responseCorrelationId(res: AgentResponse): string | undefined {
  const v = res.audit.custom['correlation_id'];
  return typeof v === 'string' ? v : undefined;
}
