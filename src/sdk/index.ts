// Public surface of the Agent SDK.
export { createAgent } from './agent.ts';
export type { Agent, AgentDefinition, AgentHealth, AgentHealthState, AgentMetrics, EventContext, ListenInfo, ListenOptions } from './agent.ts';
export { allow, block, challenge, needsMore, redirect, toResponse, Verdict } from './decision.ts';
export type { BodyAction, HandlerResult } from './decision.ts';
export type {
  AgentResponse,
  ConfigureEvent,
  GuardrailInspectEvent,
  HeaderMap,
  JsonValue,
  RequestBodyChunkEvent,
  RequestCompleteEvent,
  RequestHeadersEvent,
  RequestMetadata,
  ResponseBodyChunkEvent,
  ResponseHeadersEvent,
  WebSocketFrameEvent,
} from '../protocol/types.ts';
