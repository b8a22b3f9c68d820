// Pins src/protocol/agent_v2.proto to Zentinel's upstream proto (zentinelproxy/zentinel-agent-go-sdk
// v2/proto/agent_v2.proto, the same file as crates/agent-protocol/proto/agent_v2.proto): every
// upstream message keeps its field names, numbers, labels and types, so protobuf bytes interoperate.
// Sentinel's own fields are numbered 1000 and above; this test also checks that nothing of ours
// sits below 1000 in an upstream message.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROTO_PATH, fromAgentToProxy, fromProxyToAgent, loadAgentService, toAgentToProxy, toProxyToAgent } from '../../src/protocol/grpc.ts';
import { allowResponse } from '../../src/protocol/types.ts';

/** Upstream fields, in declaration order: `name=number:label type`. Checked by hand against upstream. */
const UPSTREAM: Record<string, string> = {
  AgentCapabilities: 'protocol_version=1:uint32 | agent_id=2:string | name=3:string | version=4:string | supported_events=5:repeated int32 | features=6:AgentFeatures | limits=7:AgentLimits | health_config=8:HealthConfig',
  AgentFeatures: 'streaming_body=1:bool | websocket=2:bool | guardrails=3:bool | config_push=4:bool | metrics_export=5:bool | concurrent_requests=6:uint32 | cancellation=7:bool | flow_control=8:bool | health_reporting=9:bool',
  AgentLimits: 'max_body_size=1:uint64 | max_concurrency=2:uint32 | preferred_chunk_size=3:uint64 | max_memory=4:optional uint64 | max_processing_time_ms=5:optional uint64',
  HealthConfig: 'report_interval_ms=1:uint32 | include_load_metrics=2:bool | include_resource_metrics=3:bool',
  HandshakeRequest: 'supported_versions=1:repeated uint32 | proxy_id=2:string | proxy_version=3:string | config_json=4:string',
  HandshakeResponse: 'protocol_version=1:uint32 | capabilities=2:AgentCapabilities | success=3:bool | error=4:optional string',
  HealthStatus: 'agent_id=1:string | state=2:int32 | message=3:optional string | load=4:optional LoadMetrics | resources=5:optional ResourceMetrics | valid_until_ms=6:optional uint64 | timestamp_ms=7:uint64 | disabled_features=10:repeated string | timeout_multiplier=11:float | drain_eta_ms=12:optional uint64 | unhealthy_reason=13:optional string | recoverable=14:bool',
  LoadMetrics: 'in_flight=1:uint32 | queue_depth=2:uint32 | avg_latency_ms=3:float | p50_latency_ms=4:float | p95_latency_ms=5:float | p99_latency_ms=6:float | requests_processed=7:uint64 | requests_rejected=8:uint64 | requests_timed_out=9:uint64',
  ResourceMetrics: 'cpu_percent=1:optional float | memory_bytes=2:optional uint64 | memory_limit=3:optional uint64 | active_threads=4:optional uint32 | open_fds=5:optional uint32 | fd_limit=6:optional uint32 | connections=7:optional uint32',
  CancelRequest: 'correlation_id=1:string | reason=2:int32 | timestamp_ms=3:uint64 | blocking_agent_id=4:optional string | manual_reason=5:optional string',
  ConfigUpdateRequest: 'request_id=1:string | timestamp_ms=2:uint64 | request_reload=10:RequestReload | rule_update=11:RuleUpdate | list_update=12:ListUpdate | restart_required=13:RestartRequired | config_error=14:ConfigError',
  RequestReload: '',
  RuleUpdate: 'rule_set=1:string | rules=2:repeated RuleDefinition | remove_rules=3:repeated string',
  ListUpdate: 'list_id=1:string | add=2:repeated string | remove=3:repeated string',
  RestartRequired: 'reason=1:string | grace_period_ms=2:uint64',
  ConfigError: 'error=1:string | field=2:optional string',
  RuleDefinition: 'id=1:string | priority=2:int32 | definition_json=3:string | enabled=4:bool | description=5:optional string | tags=6:repeated string',
  ConfigUpdateResponse: 'request_id=1:string | accepted=2:bool | error=3:optional string | timestamp_ms=4:uint64',
  ShutdownRequest: 'reason=1:int32 | grace_period_ms=2:uint64 | timestamp_ms=3:uint64',
  DrainRequest: 'duration_ms=1:uint64 | reason=2:int32 | timestamp_ms=3:uint64',
  LogMessage: 'level=1:int32 | message=2:string | correlation_id=3:optional string | fields=4:map<string, string> | timestamp_ms=5:uint64',
  MetricsReport: 'agent_id=1:string | timestamp_ms=2:uint64 | interval_ms=3:uint64 | counters=4:repeated CounterMetric | gauges=5:repeated GaugeMetric | histograms=6:repeated HistogramMetric',
  CounterMetric: 'name=1:string | help=2:optional string | labels=3:map<string, string> | value=4:uint64',
  GaugeMetric: 'name=1:string | help=2:optional string | labels=3:map<string, string> | value=4:double',
  HistogramMetric: 'name=1:string | help=2:optional string | labels=3:map<string, string> | sum=4:double | count=5:uint64 | buckets=6:repeated HistogramBucket',
  HistogramBucket: 'le=1:double | count=2:uint64',
  FlowControlSignal: 'correlation_id=1:optional string | action=2:int32 | buffer_available=3:optional uint64 | timestamp_ms=4:uint64',
  RequestMetadata: 'correlation_id=1:string | request_id=2:string | client_ip=3:string | client_port=4:uint32 | server_name=5:optional string | protocol=6:string | tls_version=7:optional string | route_id=8:optional string | upstream_id=9:optional string | timestamp_ms=10:uint64 | traceparent=11:optional string',
  Header: 'name=1:string | value=2:string',
  HeaderOp: 'set=1:Header | add=2:Header | remove=3:string',
  RequestHeadersEvent: 'metadata=1:RequestMetadata | method=2:string | uri=3:string | http_version=4:string | headers=5:repeated Header',
  ResponseHeadersEvent: 'correlation_id=1:string | status_code=2:uint32 | headers=3:repeated Header',
  BodyChunkEvent: 'correlation_id=1:string | chunk_index=2:uint32 | data=3:bytes | is_last=4:bool | total_size=5:optional uint64 | bytes_transferred=6:uint64 | proxy_buffer_available=7:uint64 | timestamp_ms=8:uint64',
  WebSocketFrameEvent: 'correlation_id=1:string | client_to_server=2:bool | frame_type=3:int32 | payload=4:bytes',
  GuardrailInspectEvent: 'correlation_id=1:string | content=2:string | content_type=3:int32 | model=4:optional string | context_json=5:string',
  RequestCompleteEvent: 'correlation_id=1:string | status_code=2:uint32 | duration_ms=3:uint64 | bytes_received=4:uint64 | bytes_sent=5:uint64 | upstream=6:optional string | from_cache=7:bool | error=8:optional string',
  ConfigureEvent: 'config_json=1:string | config_version=2:optional string | is_initial=3:bool | timestamp_ms=4:uint64',
  Ping: 'sequence=1:uint64 | timestamp_ms=2:uint64',
  Pong: 'sequence=1:uint64 | ping_timestamp_ms=2:uint64 | timestamp_ms=3:uint64',
  AuditMetadata: 'tags=1:repeated string | rule_ids=2:repeated string | confidence=3:optional float | reason_codes=4:repeated string | custom=5:map<string, string>',
  AllowDecision: '',
  BlockDecision: 'status=1:uint32 | body=2:optional string | headers=3:repeated Header',
  RedirectDecision: 'url=1:string | status=2:uint32',
  ChallengeDecision: 'challenge_type=1:string | params=2:map<string, string>',
  ProxyToAgent: 'handshake=1:HandshakeRequest | request_headers=2:RequestHeadersEvent | request_body_chunk=3:BodyChunkEvent | response_headers=4:ResponseHeadersEvent | response_body_chunk=5:BodyChunkEvent | websocket_frame=6:WebSocketFrameEvent | guardrail=7:GuardrailInspectEvent | request_complete=8:RequestCompleteEvent | cancel=9:CancelRequest | configure=10:ConfigureEvent | ping=11:Ping',
  AgentToProxy: 'handshake=1:HandshakeResponse | response=2:AgentResponse | health=3:HealthStatus | metrics=4:MetricsReport | config_update=5:ConfigUpdateRequest | flow_control=6:FlowControlSignal | pong=7:Pong | log=8:LogMessage',
  AgentResponse: 'correlation_id=1:string | allow=2:AllowDecision | block=3:BlockDecision | redirect=4:RedirectDecision | challenge=5:ChallengeDecision | request_headers=10:repeated HeaderOp | response_headers=11:repeated HeaderOp | audit=12:optional AuditMetadata | processing_time_ms=13:optional uint64 | needs_more=14:bool',
  AgentControl: 'health=1:HealthStatus | metrics=2:MetricsReport | config_update=3:ConfigUpdateRequest | log=4:LogMessage',
  ProxyControl: 'configure=1:ConfigureEvent | shutdown=2:ShutdownRequest | drain=3:DrainRequest | config_response=4:ConfigUpdateResponse',
};

const UPSTREAM_ENUMS: Record<string, string> = {
  EventType: 'EVENT_TYPE_UNSPECIFIED=0 EVENT_TYPE_REQUEST_HEADERS=1 EVENT_TYPE_REQUEST_BODY_CHUNK=2 EVENT_TYPE_RESPONSE_HEADERS=3 EVENT_TYPE_RESPONSE_BODY_CHUNK=4 EVENT_TYPE_REQUEST_COMPLETE=5 EVENT_TYPE_WEBSOCKET_FRAME=6 EVENT_TYPE_GUARDRAIL_INSPECT=7 EVENT_TYPE_CONFIGURE=8',
  HealthState: 'HEALTH_STATE_UNSPECIFIED=0 HEALTH_STATE_HEALTHY=1 HEALTH_STATE_DEGRADED=2 HEALTH_STATE_DRAINING=3 HEALTH_STATE_UNHEALTHY=4',
  FlowAction: 'FLOW_ACTION_UNSPECIFIED=0 FLOW_ACTION_PAUSE=1 FLOW_ACTION_RESUME=2 FLOW_ACTION_UPDATE_CAPACITY=3',
  CancelReason: 'CANCEL_REASON_UNSPECIFIED=0 CANCEL_REASON_CLIENT_DISCONNECT=1 CANCEL_REASON_TIMEOUT=2 CANCEL_REASON_BLOCKED_BY_AGENT=3 CANCEL_REASON_UPSTREAM_ERROR=4 CANCEL_REASON_PROXY_SHUTDOWN=5 CANCEL_REASON_MANUAL=6',
  LogLevel: 'LOG_LEVEL_UNSPECIFIED=0 LOG_LEVEL_DEBUG=1 LOG_LEVEL_INFO=2 LOG_LEVEL_WARN=3 LOG_LEVEL_ERROR=4',
  GuardrailContentType: 'GUARDRAIL_CONTENT_TYPE_UNSPECIFIED=0 GUARDRAIL_CONTENT_TYPE_PROMPT=1 GUARDRAIL_CONTENT_TYPE_RESPONSE=2 GUARDRAIL_CONTENT_TYPE_SYSTEM=3 GUARDRAIL_CONTENT_TYPE_TOOL_CALL=4 GUARDRAIL_CONTENT_TYPE_TOOL_RESULT=5',
};

interface Parsed {
  pkg: string;
  messages: Map<string, { name: string; number: number; decl: string }[]>;
  enums: Map<string, string[]>;
  rpcs: string[];
}

/** A small parser for the restricted proto3 style of our file (one declaration per line). */
function parseProto(text: string): Parsed {
  const messages = new Map<string, { name: string; number: number; decl: string }[]>();
  const enums = new Map<string, string[]>();
  const rpcs: string[] = [];
  let pkg = '';
  const stack: { kind: 'message' | 'enum' | 'oneof' | 'service'; name: string }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if (line === 'syntax = "proto3";') continue;
    if ((m = /^package ([\w.]+);$/.exec(line)) !== null) pkg = m[1] as string;
    else if ((m = /^message (\w+) \{\}$/.exec(line)) !== null) messages.set(m[1] as string, []);
    else if ((m = /^(message|enum|oneof|service) (\w+) \{$/.exec(line)) !== null) {
      const kind = m[1] as 'message' | 'enum' | 'oneof' | 'service';
      const name = m[2] as string;
      stack.push({ kind, name });
      if (kind === 'message') messages.set(name, []);
      if (kind === 'enum') enums.set(name, []);
    } else if (line === '}') stack.pop();
    else if ((m = /^rpc (\w+)\((stream )?(\w+)\) returns \((stream )?(\w+)\);$/.exec(line)) !== null) rpcs.push(`${m[1]}(${m[2] ?? ''}${m[3]}) ${m[4] ?? ''}${m[5]}`);
    else if ((m = /^(\w+) = (\d+);$/.exec(line)) !== null) enums.get(stack[stack.length - 1]?.name ?? '')?.push(`${m[1]}=${m[2]}`);
    else if ((m = /^(optional |repeated )?(map<[^>]+>|[\w.]+) (\w+) = (\d+);$/.exec(line)) !== null) {
      const owner = [...stack].reverse().find((s) => s.kind === 'message');
      messages.get(owner?.name ?? '')?.push({ name: m[3] as string, number: Number(m[4]), decl: `${m[3]}=${m[4]}:${m[1] ?? ''}${m[2]}` });
    } else throw new Error(`unparsed proto line: ${line}`);
  }
  return { pkg, messages, enums, rpcs };
}

const proto = parseProto(readFileSync(PROTO_PATH, 'utf8'));

describe('agent_v2.proto matches Zentinel upstream', () => {
  it('package and service', () => {
    expect(proto.pkg).toBe('zentinel.agent.v2');
    expect(proto.rpcs).toEqual([
      'ProcessStream(stream ProxyToAgent) stream AgentToProxy',
      'ControlStream(stream AgentControl) stream ProxyControl',
      'ProcessEvent(ProxyToAgent) AgentToProxy',
    ]);
  });

  for (const [name, pinned] of Object.entries(UPSTREAM)) {
    it(`message ${name}: upstream field names, numbers and types`, () => {
      const fields = proto.messages.get(name);
      expect(fields, `message ${name} is missing`).toBeDefined();
      const ours = (fields ?? []).filter((f) => f.number < 1000).map((f) => f.decl).join(' | ');
      expect(ours).toBe(pinned);
    });
  }

  it('every Sentinel field is numbered 1000 or above, and numbers are unique per message', () => {
    for (const [name, fields] of proto.messages) {
      const numbers = fields.map((f) => f.number);
      expect(new Set(numbers).size, name).toBe(numbers.length);
      if (Object.hasOwn(UPSTREAM, name)) {
        const extra = fields.filter((f) => !(UPSTREAM[name] as string).split(' | ').includes(f.decl));
        for (const f of extra) expect(f.number, `${name}.${f.name}`).toBeGreaterThanOrEqual(1000);
      }
    }
  });

  for (const [name, pinned] of Object.entries(UPSTREAM_ENUMS)) {
    it(`enum ${name}`, () => {
      expect(proto.enums.get(name)?.join(' ')).toBe(pinned);
    });
  }
});

describe('gRPC mapping quirks that differ from the UDS shapes', () => {
  const svc = loadAgentService().service;
  const wire = (m: Parameters<typeof toProxyToAgent>[0]): Buffer => svc.ProcessStream!.requestSerialize(toProxyToAgent(m));

  it('cancel reasons are 0-based on UDS and 1-based on gRPC (client_disconnect: 0 ↔ 1)', () => {
    // ProxyToAgent.cancel (field 9, LEN) → CancelRequest { correlation_id "c" (1), reason 1 (2), timestamp_ms 5 (3) }
    expect(wire({ kind: 'cancel', payload: { correlation_id: 'c', reason: 0, timestamp_ms: 5 } }).toString('hex')).toBe('4a070a0163100118 05'.replace(/ /g, ''));
    const back = fromProxyToAgent(svc.ProcessStream!.requestDeserialize(Buffer.from('4a070a016310021805', 'hex')) as Record<string, unknown>);
    expect(back).toEqual({ ok: true, value: { kind: 'cancel', payload: { correlation_id: 'c', reason: 1, timestamp_ms: 5 } } });
  });

  it('supported_events: configure is 0 on UDS and EVENT_TYPE_CONFIGURE (8) on gRPC', () => {
    const caps = { agent_id: 'a', name: 'a', version: '1', supported_events: [0, 1], features: { streaming_body: false, websocket: false, guardrails: false, config_push: true, metrics_export: false, concurrent_requests: 0, cancellation: false, flow_control: false, health_reporting: false }, limits: { max_body_size: 0, max_concurrency: 0, preferred_chunk_size: 0 } };
    const obj = toAgentToProxy({ kind: 'handshake_response', payload: { protocol_version: 2, capabilities: caps, success: true, encoding: 'json' } });
    expect((obj['handshake'] as { capabilities: { supported_events: number[] } }).capabilities.supported_events).toEqual([8, 1]);
    const back = fromAgentToProxy(svc.ProcessStream!.responseDeserialize(svc.ProcessStream!.responseSerialize(obj)) as Record<string, unknown>);
    expect(back.ok && back.value !== null && back.value.kind === 'handshake_response' && back.value.payload.capabilities.supported_events).toEqual([0, 1]);
  });

  it('AgentResponse.needs_more is field 14 and the correlation id field 1 (a Zentinel agent\'s answer)', () => {
    // What a Zentinel agent built from the upstream proto sends: no Sentinel extensions.
    const bytes = svc.ProcessStream!.responseSerialize({ response: { correlation_id: 'c-7', block: { status: 403, body: 'no' }, audit: { rule_ids: ['r'], custom: { k: 'v' } }, needs_more: true } });
    // AgentToProxy.response = field 2 (LEN); inside: 0a 03 "c-7", 1a (block, field 3), …, 62 (audit, field 12), 70 01 (needs_more, field 14)
    expect(bytes.toString('hex')).toBe('121d' + '0a03632d37' + '1a07' + '08930312026e6f' + '620b' + '1201' + '72' + '2a06' + '0a016b120176' + '7001');
    const r = fromAgentToProxy(svc.ProcessStream!.responseDeserialize(bytes) as Record<string, unknown>);
    expect(r).toEqual({ ok: true, value: { kind: 'agent_response', payload: { ...allowResponse(), decision: { block: { status: 403, body: 'no' } }, needs_more: true, audit: { tags: [], rule_ids: ['r'], reason_codes: [], custom: { k: 'v', correlation_id: 'c-7' } } } } });
  });

  it('a LogMessage from the agent is valid and carries nothing to act on', () => {
    const bytes = svc.ProcessStream!.responseSerialize({ log: { level: 2, message: 'hello' } });
    expect(fromAgentToProxy(svc.ProcessStream!.responseDeserialize(bytes) as Record<string, unknown>)).toEqual({ ok: true, value: null });
  });

  it('request metadata from a Zentinel proxy (timestamp_ms only) gets an RFC 3339 timestamp', () => {
    const bytes = svc.ProcessStream!.requestSerialize({ request_headers: { metadata: { correlation_id: 'c', request_id: 'r', client_ip: '::1', client_port: 1, protocol: 'HTTP/1.1', timestamp_ms: 1795000000000 }, method: 'GET', uri: '/', http_version: 'HTTP/1.1', headers: [{ name: 'host', value: 'x' }] } });
    const r = fromProxyToAgent(svc.ProcessStream!.requestDeserialize(bytes) as Record<string, unknown>);
    expect(r.ok && r.value.kind === 'request_headers' && r.value.payload.metadata.timestamp).toBe(new Date(1795000000000).toISOString());
  });
});
