// Decision helpers: allow(), block(), redirect(), challenge() start a Verdict; its chainable
// methods add header operations, body mutations, audit data and needs_more. A handler returns a
// Verdict (or a raw AgentResponse, or nothing for allow).
import type { AgentResponse, BodyMutation, Decision, HeaderOp, JsonValue, WebSocketDecision } from '../protocol/types.ts';
import { allowResponse } from '../protocol/types.ts';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export class Verdict {
  readonly response: AgentResponse;

  constructor(decision: Decision) {
    this.response = allowResponse();
    this.response.decision = decision;
  }

  setRequestHeader(name: string, value: string): this {
    return this.#op('request_headers', { set: { name, value } });
  }
  addRequestHeader(name: string, value: string): this {
    return this.#op('request_headers', { add: { name, value } });
  }
  removeRequestHeader(name: string): this {
    return this.#op('request_headers', { remove: { name } });
  }
  setResponseHeader(name: string, value: string): this {
    return this.#op('response_headers', { set: { name, value } });
  }
  addResponseHeader(name: string, value: string): this {
    return this.#op('response_headers', { add: { name, value } });
  }
  removeResponseHeader(name: string): this {
    return this.#op('response_headers', { remove: { name } });
  }

  /** Replace (Uint8Array/string), drop ('drop') or pass ('pass') the request body chunk. */
  requestBody(chunkIndex: number, action: BodyAction): this {
    this.response.request_body_mutation = mutation(chunkIndex, action);
    return this;
  }
  responseBody(chunkIndex: number, action: BodyAction): this {
    this.response.response_body_mutation = mutation(chunkIndex, action);
    return this;
  }

  /** Ask for the following events (e.g. more body chunks) before the decision is final. */
  needsMore(value = true): this {
    this.response.needs_more = value;
    return this;
  }

  websocket(decision: WebSocketDecision): this {
    this.response.websocket_decision = decision;
    return this;
  }

  tag(...tags: string[]): this {
    this.response.audit.tags.push(...tags);
    return this;
  }
  rule(...ruleIds: string[]): this {
    this.response.audit.rule_ids.push(...ruleIds);
    return this;
  }
  reason(...codes: string[]): this {
    this.response.audit.reason_codes.push(...codes);
    return this;
  }
  confidence(value: number): this {
    this.response.audit.confidence = value;
    return this;
  }
  custom(key: string, value: JsonValue): this {
    this.response.audit.custom[key] = value;
    return this;
  }
  routing(key: string, value: string): this {
    this.response.routing_metadata[key] = value;
    return this;
  }

  #op(list: 'request_headers' | 'response_headers', op: HeaderOp): this {
    this.response[list].push(op);
    return this;
  }
}

export type BodyAction = 'pass' | 'drop' | Uint8Array | string;

function mutation(chunkIndex: number, action: BodyAction): BodyMutation {
  if (action === 'pass') return { data: null, chunk_index: chunkIndex };
  if (action === 'drop') return { data: '', chunk_index: chunkIndex };
  const bytes = typeof action === 'string' ? Buffer.from(action, 'utf8') : Buffer.from(action);
  return { data: bytes.toString('base64'), chunk_index: chunkIndex };
}

export function allow(): Verdict {
  return new Verdict('allow');
}

export function block(status = 403, body?: string, headers?: Record<string, string>): Verdict {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`block status ${status} is not an HTTP status`);
  const b: { status: number; body?: string; headers?: Record<string, string> } = { status };
  if (body !== undefined) b.body = body;
  if (headers !== undefined) b.headers = { ...headers };
  return new Verdict({ block: b });
}

export function redirect(url: string, status = 302): Verdict {
  if (!REDIRECT_STATUSES.has(status)) throw new RangeError(`redirect status ${status} is not one of 301, 302, 303, 307, 308`);
  return new Verdict({ redirect: { url, status } });
}

export function challenge(challengeType: string, params: Record<string, string> = {}): Verdict {
  return new Verdict({ challenge: { challenge_type: challengeType, params: { ...params } } });
}

/** allow().needsMore(): the agent wants the next events before it decides. */
export function needsMore(): Verdict {
  return allow().needsMore();
}

export type HandlerResult = Verdict | AgentResponse | undefined | void;

export function toResponse(r: HandlerResult): AgentResponse {
  if (r === undefined || r === null) return allowResponse();
  if (r instanceof Verdict) return r.response;
  return r;
}
