// The gRPC side of the golden files: a message in, the ProcessStream protobuf bytes out, and back.
// Proxy → agent kinds are ProxyToAgent messages; agent → proxy kinds are AgentToProxy messages.
import { fromAgentToProxy, fromProxyToAgent, loadAgentService, toAgentToProxy, toProxyToAgent } from '../../src/protocol/grpc.ts';
import type { AgentMapResult } from '../../src/protocol/grpc.ts';
import type { MessageKind, WireMessage } from '../../src/protocol/types.ts';

const AGENT_TO_PROXY: ReadonlySet<MessageKind> = new Set(['handshake_response', 'agent_response', 'health_status', 'metrics_report', 'config_update_request', 'flow_control', 'pong']);

export function grpcEncode(m: WireMessage): Buffer {
  const svc = loadAgentService().service.ProcessStream!;
  return AGENT_TO_PROXY.has(m.kind) ? svc.responseSerialize(toAgentToProxy(m)) : svc.requestSerialize(toProxyToAgent(m));
}

export function grpcDecode(kind: MessageKind, bytes: Buffer): AgentMapResult {
  const svc = loadAgentService().service.ProcessStream!;
  return AGENT_TO_PROXY.has(kind)
    ? fromAgentToProxy(svc.responseDeserialize(bytes) as Record<string, unknown>)
    : fromProxyToAgent(svc.requestDeserialize(bytes) as Record<string, unknown>);
}
