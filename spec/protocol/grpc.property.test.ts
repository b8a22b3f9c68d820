import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromAgentToProxy, fromProxyToAgent, loadAgentService, toAgentToProxy, toProxyToAgent } from '../../src/protocol/grpc.ts';
import type { JsonValue, MessageKind, WireMessage } from '../../src/protocol/types.ts';
import { messageOf } from './arbitraries.ts';

const PROXY_TO_AGENT: MessageKind[] = ['handshake_request', 'request_headers', 'request_body_chunk', 'response_headers', 'response_body_chunk', 'request_complete', 'websocket_frame', 'guardrail_inspect', 'configure', 'cancel', 'ping'];
const AGENT_TO_PROXY: MessageKind[] = ['handshake_response', 'agent_response', 'health_status', 'metrics_report', 'config_update_request', 'flow_control', 'pong'];

/** The documented differences of the gRPC mapping (docs/agent-protocol.md §7). */
function expected(m: WireMessage): WireMessage {
  const c = structuredClone(m) as WireMessage;
  switch (c.kind) {
    case 'handshake_request':
      // gRPC has no encoding negotiation (protobuf is the encoding).
      delete c.payload.supported_encodings;
      break;
    case 'handshake_response':
      c.payload.encoding = 'json';
      break;
    case 'request_headers':
    case 'response_headers':
      // Headers travel as a repeated (name, value) list: a name with no values disappears.
      for (const k of Object.keys(c.payload.headers)) if (c.payload.headers[k]?.length === 0) delete c.payload.headers[k];
      break;
    case 'agent_response': {
      const d = c.payload.decision;
      if (typeof d === 'object' && 'block' in d && d.block.headers !== undefined && Object.keys(d.block.headers).length === 0) delete d.block.headers;
      // Zentinel's AuditMetadata: confidence is a float, custom values are strings.
      if (c.payload.audit.confidence !== undefined) {
        const f = Math.fround(c.payload.audit.confidence);
        if (Number.isFinite(f)) c.payload.audit.confidence = f;
        else delete c.payload.audit.confidence;
      }
      // Rebuilt without a prototype: a "__proto__" key is data here, as in the decoder.
      const custom = Object.create(null) as Record<string, JsonValue>;
      for (const [k, v] of Object.entries(c.payload.audit.custom)) custom[k] = typeof v === 'string' ? v : JSON.stringify(v ?? null);
      c.payload.audit.custom = custom;
      break;
    }
    default:
  }
  return c;
}

describe('gRPC mapping: canonical → protobuf bytes → canonical', () => {
  const svc = loadAgentService().service;
  for (const kind of PROXY_TO_AGENT) {
    it(`round-trips ${kind} as ProxyToAgent`, () => {
      fc.assert(
        fc.property(messageOf(kind), (m) => {
          const bytes = svc.ProcessStream!.requestSerialize(toProxyToAgent(m));
          const back = fromProxyToAgent(svc.ProcessStream!.requestDeserialize(bytes) as Record<string, unknown>);
          expect(back).toEqual({ ok: true, value: expected(m) });
        }),
        { numRuns: 100 },
      );
    });
  }
  for (const kind of AGENT_TO_PROXY) {
    it(`round-trips ${kind} as AgentToProxy`, () => {
      fc.assert(
        fc.property(messageOf(kind), (m) => {
          const bytes = svc.ProcessStream!.responseSerialize(toAgentToProxy(m));
          const back = fromAgentToProxy(svc.ProcessStream!.responseDeserialize(bytes) as Record<string, unknown>);
          const want = expected(m);
          // The correlation id travels in AgentResponse.correlation_id; an empty one is "none".
          if (want.kind === 'agent_response' && want.payload.audit.custom['correlation_id'] === '') delete want.payload.audit.custom['correlation_id'];
          expect(back).toEqual({ ok: true, value: want });
        }),
        { numRuns: 100 },
      );
    });
  }

  it('a "__proto__" key in audit.custom is data on gRPC too (fixed counterexample)', () => {
    const custom = JSON.parse('{"__proto__":null,"correlation_id":"c"}') as Record<string, JsonValue>;
    const m: WireMessage = { kind: 'agent_response', payload: { version: 2, decision: 'allow', request_headers: [], response_headers: [], routing_metadata: {}, audit: { tags: [], rule_ids: [], reason_codes: [], custom }, needs_more: false, request_body_mutation: null, response_body_mutation: null, websocket_decision: null } };
    const back = fromAgentToProxy(svc.ProcessStream!.responseDeserialize(svc.ProcessStream!.responseSerialize(toAgentToProxy(m))) as Record<string, unknown>);
    expect(back.ok && back.value?.kind === 'agent_response' && Object.entries(back.value.payload.audit.custom)).toEqual([['__proto__', 'null'], ['correlation_id', 'c']]);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('is total on arbitrary protobuf bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        let obj: unknown;
        try {
          obj = svc.ProcessStream!.responseDeserialize(Buffer.from(bytes));
        } catch {
          return; // protobuf itself rejected the bytes (grpc-js turns this into a stream error)
        }
        const r = fromAgentToProxy(obj as Record<string, unknown>);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});
