// `agents { agent "id" { … } }`: external agent processes Sentinel connects to (docs/agents.md).
// Every key is read here; Zentinel keys Sentinel spells differently are `unknown-key` errors with a
// hint naming the Sentinel key, and Zentinel features Sentinel lacks are `not-implemented`.
import type { AgentBodyConfig, AgentCircuitBreakerConfig, AgentConfig, AgentEvent, AgentFailureMode, AgentHealthCheckConfig, AgentJson, AgentTransportConfig } from '../types.ts';
import type { LNode, LValue } from '../kdl.ts';
import { suggestionHint } from '../diagnostics.ts';
import { NEVER_MUTABLE } from '../../core/headers.ts';
import { checkAddress, checkBlockNode, error, locOf, nodePath, q, readBool, readEnum, readId, readInt, readManyStrings, readSecsAsMs, readString, rejectProps, walkBlock } from './reader.ts';
import type { Ctx } from './reader.ts';

export interface AgentAcc {
  readonly config: AgentConfig;
  readonly node: LNode;
}

/** Event names as written in `events …` (Zentinel's spellings and aliases) → the event. */
const EVENT_NAMES: Readonly<Record<string, AgentEvent>> = {
  request_headers: 'request_headers',
  'request-headers': 'request_headers',
  request_body: 'request_body',
  'request-body': 'request_body',
  response_headers: 'response_headers',
  'response-headers': 'response_headers',
  response_body: 'response_body',
  'response-body': 'response_body',
  request_complete: 'request_complete',
  'request-complete': 'request_complete',
  log: 'request_complete',
};
const EVENTS_NOT_IMPLEMENTED = ['websocket_frame', 'websocket-frame', 'guardrail', 'guardrail_inspect'];

export const AGENT_DEFAULTS = {
  timeoutMs: 1000,
  connectTimeoutMs: 5000,
  failureMode: 'closed' as AgentFailureMode,
  maxConcurrentCalls: 100,
  poolSize: 4,
  body: { mode: 'buffer', maxBytes: 1024 * 1024, chunkTimeoutMs: 5000 } as AgentBodyConfig,
  circuitBreaker: { enabled: true, failureThreshold: 5, successThreshold: 2, openMs: 30_000, halfOpenMaxRequests: 1 } as AgentCircuitBreakerConfig,
  healthCheck: { enabled: true, intervalMs: 10_000, timeoutMs: 5_000 } as AgentHealthCheckConfig,
};

/** Longest Unix socket path the kernel accepts (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH_BYTES = 107;
/** Largest `config { }` JSON pushed in a handshake (the frame limit is 16 MiB, gRPC 10 MiB). */
export const MAX_AGENT_CONFIG_BYTES = 1024 * 1024;
const MAX_CONFIG_DEPTH = 32;
const MAX_MS = 3_600_000;

/** Zentinel keys with a different Sentinel spelling: key → where it lives in Sentinel. */
const ZENTINEL_KEYS: Readonly<Record<string, string>> = {
  'max-request-body-bytes': 'use body { max-bytes N }',
  'max-response-body-bytes': 'use body { max-bytes N } (one limit for request and response bodies)',
  'request-body-mode': 'use body { mode "buffer" } or body { mode "stream" }',
  'response-body-mode': 'use body { mode "buffer" } or body { mode "stream" }',
  'chunk-timeout-ms': 'use body { chunk-timeout-ms N }',
  'protocol-version': 'remove it: Sentinel speaks agent protocol v2 only',
  connections: 'use pool-size N',
  path: 'use unix-socket "/path/to.sock"',
  address: 'use grpc "host:port"',
};

const FAILURE_MODES: readonly AgentFailureMode[] = ['open', 'closed'];

export function readFailureMode(ctx: Ctx, n: LNode, p: string): AgentFailureMode | undefined {
  return readEnum(ctx, n, p, FAILURE_MODES);
}

function readTransport(ctx: Ctx, n: LNode, p: string, label: string): AgentTransportConfig | undefined {
  if (n.name === 'unix-socket') {
    const path = readString(ctx, n, p);
    if (path === undefined) return undefined;
    const pos = n.args[0]?.pos ?? n.pos;
    if (path === '') {
      error(ctx, n, pos, 'invalid-value', `${label}: unix-socket path must not be empty`, p);
      return undefined;
    }
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
      error(ctx, n, pos, 'invalid-value', `${label}: unix-socket path is ${Buffer.byteLength(path)} bytes; the kernel limit is ${MAX_SOCKET_PATH_BYTES}`, p, 'use a shorter path, e.g. under /run');
      return undefined;
    }
    // eslint-disable-next-line no-control-regex -- a NUL or control character cannot be in a socket path
    if (/[\u0000-\u001f]/.test(path)) {
      error(ctx, n, pos, 'invalid-value', `${label}: unix-socket path contains a control character`, p);
      return undefined;
    }
    return { kind: 'uds', path };
  }
  // grpc "host:port" (Zentinel writes "http://host:port"; both are accepted)
  if (n.hasBlock) {
    error(ctx, n, n.pos, 'not-implemented', `${label}: gRPC options (tls, tls-insecure, ca-cert, client-cert, client-key) are not implemented yet`, p, 'agents are reached over plaintext gRPC; keep them on loopback or a private network');
    return undefined;
  }
  const s = readString(ctx, n, p);
  if (s === undefined) return undefined;
  const pos = n.args[0]?.pos ?? n.pos;
  if (s.startsWith('https://')) {
    error(ctx, n, pos, 'not-implemented', `${label}: gRPC over TLS is not implemented yet`, p, 'use grpc "host:port" (plaintext)');
    return undefined;
  }
  const hostPort = s.startsWith('http://') ? s.slice('http://'.length).replace(/\/$/, '') : s;
  const addr = checkAddress(ctx, n, pos, hostPort, p, 1);
  return addr === undefined ? undefined : { kind: 'grpc', host: addr.host, port: addr.port };
}

function readEvents(ctx: Ctx, n: LNode, p: string): AgentEvent[] | undefined {
  const values = readManyStrings(ctx, n, p);
  if (values === undefined) return undefined;
  const out: AgentEvent[] = [];
  let ok = true;
  for (const { value, pos } of values) {
    const ev = Object.hasOwn(EVENT_NAMES, value) ? EVENT_NAMES[value] : undefined;
    if (ev === undefined) {
      ok = false;
      if (EVENTS_NOT_IMPLEMENTED.includes(value)) error(ctx, n, pos, 'not-implemented', `agent event ${q(value)} is not implemented yet`, p, 'supported: "request_headers", "request_body", "response_headers", "response_body", "request_complete"');
      else error(ctx, n, pos, 'invalid-value', `unknown agent event ${q(value)}`, p, suggestionHint(value, [...Object.keys(EVENT_NAMES), ...EVENTS_NOT_IMPLEMENTED], 'valid events'));
      continue;
    }
    if (out.includes(ev)) {
      ok = false;
      error(ctx, n, pos, 'duplicate-value', `agent event ${q(value)} is listed twice`, p);
      continue;
    }
    out.push(ev);
  }
  return ok ? out : undefined;
}

function readBody(ctx: Ctx, n: LNode, p: string, label: string): AgentBodyConfig {
  checkBlockNode(ctx, n, p);
  const body = { ...AGENT_DEFAULTS.body };
  walkBlock(ctx, n, p, {
    label: `${label} body`,
    keys: {
      mode: (c, cp) => { body.mode = readEnum(ctx, c, cp, ['buffer', 'stream'] as const, ['hybrid']) ?? body.mode; },
      'max-bytes': (c, cp) => { body.maxBytes = readInt(ctx, c, cp, 1, 1024 * 1024 * 1024) ?? body.maxBytes; },
      'chunk-timeout-ms': (c, cp) => { body.chunkTimeoutMs = readInt(ctx, c, cp, 1, MAX_MS) ?? body.chunkTimeoutMs; },
    },
  });
  return body;
}

function readBreaker(ctx: Ctx, n: LNode, p: string, label: string): AgentCircuitBreakerConfig {
  checkBlockNode(ctx, n, p);
  const b = { ...AGENT_DEFAULTS.circuitBreaker };
  walkBlock(ctx, n, p, {
    label: `${label} circuit-breaker`,
    keys: {
      enabled: (c, cp) => { b.enabled = readBool(ctx, c, cp) ?? b.enabled; },
      'failure-threshold': (c, cp) => { b.failureThreshold = readInt(ctx, c, cp, 1, 10_000) ?? b.failureThreshold; },
      'success-threshold': (c, cp) => { b.successThreshold = readInt(ctx, c, cp, 1, 10_000) ?? b.successThreshold; },
      'timeout-secs': (c, cp) => { b.openMs = readSecsAsMs(ctx, c, cp) ?? b.openMs; },
      'half-open-max-requests': (c, cp) => { b.halfOpenMaxRequests = readInt(ctx, c, cp, 1, 10_000) ?? b.halfOpenMaxRequests; },
    },
    misplaced: { 'timeout-seconds': 'use timeout-secs (seconds, fractions allowed)' },
  });
  return b;
}

function readHealthCheck(ctx: Ctx, n: LNode, p: string, label: string): AgentHealthCheckConfig {
  checkBlockNode(ctx, n, p);
  const h = { ...AGENT_DEFAULTS.healthCheck };
  walkBlock(ctx, n, p, {
    label: `${label} health-check`,
    keys: {
      enabled: (c, cp) => { h.enabled = readBool(ctx, c, cp) ?? h.enabled; },
      'interval-ms': (c, cp) => { h.intervalMs = readInt(ctx, c, cp, 100, MAX_MS) ?? h.intervalMs; },
      'timeout-ms': (c, cp) => { h.timeoutMs = readInt(ctx, c, cp, 1, MAX_MS) ?? h.timeoutMs; },
    },
  });
  return h;
}

function readAllowedMutations(ctx: Ctx, n: LNode, p: string): string[] | undefined {
  const values = readManyStrings(ctx, n, p);
  if (values === undefined) return undefined;
  const out: string[] = [];
  let ok = true;
  for (const { value, pos } of values) {
    const lower = value.toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) {
      ok = false;
      error(ctx, n, pos, 'invalid-value', `${q(value)} is not a header name`, p);
    } else if (NEVER_MUTABLE.has(lower)) {
      ok = false;
      error(ctx, n, pos, 'invalid-value', `agents may never change ${q(lower)}`, p, 'hop-by-hop and message-framing headers are always protected');
    } else if (!out.includes(lower)) out.push(lower);
  }
  return ok ? out : undefined;
}

// ---------- config { } → JSON ----------

function scalar(v: LValue): AgentJson {
  return v.value as AgentJson;
}

/**
 * One KDL node's JSON value: children → object (or array when every child is named `-`), one
 * argument → that value, several → an array, properties → an object. Mixing arguments with
 * properties or children, a repeated key, or a bare key are errors: every value has one meaning.
 */
function nodeToJson(ctx: Ctx, n: LNode, p: string, depth: number): AgentJson | undefined {
  if (depth > MAX_CONFIG_DEPTH) {
    error(ctx, n, n.pos, 'invalid-value', `config is nested more than ${MAX_CONFIG_DEPTH} levels deep`, p);
    return undefined;
  }
  const hasArgs = n.args.length > 0;
  const hasProps = n.props.size > 0;
  if (hasArgs && (hasProps || n.hasBlock)) {
    error(ctx, n, n.pos, 'conflict', `config key ${q(n.name)} mixes values with ${hasProps ? 'properties' : 'a { } block'}`, p, 'write key "a" "b" (array), key x=1 (object) or key { x 1 } (object), not a mix');
    return undefined;
  }
  if (n.hasBlock && n.children.length > 0 && n.children.every((c) => c.name === '-')) {
    if (hasProps) {
      error(ctx, n, n.pos, 'conflict', `config key ${q(n.name)} mixes properties with a "-" list`, p);
      return undefined;
    }
    const arr: AgentJson[] = [];
    let ok = true;
    n.children.forEach((c, i) => {
      const v = nodeToJson(ctx, c, `${p}/-[${i}]`, depth + 1);
      if (v === undefined) ok = false;
      else arr.push(v);
    });
    return ok ? arr : undefined;
  }
  if (n.hasBlock || hasProps) {
    const obj: Record<string, AgentJson> = Object.create(null) as Record<string, AgentJson>;
    let ok = true;
    for (const [k, v] of n.props) obj[k] = scalar(v);
    for (const c of n.children) {
      const cp = `${p}/${c.name}`;
      if (c.name === '-') {
        ok = false;
        error(ctx, c, c.pos, 'conflict', `"-" list items mixed with named keys in ${q(n.name)}`, cp, 'use only "-" children for an array');
        continue;
      }
      if (Object.hasOwn(obj, c.name)) {
        ok = false;
        error(ctx, c, c.pos, 'duplicate-key', `config key ${q(c.name)} is set twice in ${q(n.name)}`, cp, 'give several values on one line (key "a" "b") or use "-" children for an array');
        continue;
      }
      const v = nodeToJson(ctx, c, cp, depth + 1);
      if (v === undefined) ok = false;
      else obj[c.name] = v;
    }
    return ok ? { ...obj } : undefined;
  }
  if (!hasArgs) {
    error(ctx, n, n.pos, 'missing-argument', `config key ${q(n.name)} needs a value`, p, `e.g. ${n.name} #true`);
    return undefined;
  }
  return n.args.length === 1 ? scalar(n.args[0] as LValue) : n.args.map(scalar);
}

function readAgentJsonConfig(ctx: Ctx, n: LNode, p: string, label: string): AgentJson | undefined {
  if (n.args.length > 0) {
    error(ctx, n, n.pos, 'invalid-value', `${label} config is a { } block`, p, 'e.g. config { paths "/admin" "/internal" }');
    return undefined;
  }
  const v = nodeToJson(ctx, n, p, 0);
  if (v === undefined) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(v));
  if (bytes > MAX_AGENT_CONFIG_BYTES) {
    error(ctx, n, n.pos, 'invalid-value', `${label} config is ${bytes} bytes as JSON; the limit is ${MAX_AGENT_CONFIG_BYTES}`, p, 'load large lists in the agent itself (e.g. from a file it reads)');
    return undefined;
  }
  return v;
}

// ---------- the agent ----------

export function readAgent(ctx: Ctx, node: LNode, parentPath: string): AgentAcc | undefined {
  const typeProp = node.props.get('type');
  if (typeProp !== undefined) {
    error(ctx, node, typeProp.pos, 'unknown-property', 'agent types (type=…) do not exist in Sentinel: every agent speaks the same protocol', `${parentPath}/agent`, 'remove type=…');
  }
  const id = readId(ctx, { ...node, props: new Map([...node.props].filter(([k]) => k !== 'type')) }, `${parentPath}/agent`, 'agent');
  const path = nodePath(parentPath, node, id);
  const label = `agent ${id !== undefined ? q(id) : ''}`.trim();
  let transport: AgentTransportConfig | undefined;
  let transportNode: LNode | undefined;
  let transportOk = true;
  let events: AgentEvent[] = ['request_headers'];
  let timeoutMs = AGENT_DEFAULTS.timeoutMs;
  let connectTimeoutMs = AGENT_DEFAULTS.connectTimeoutMs;
  let failureMode = AGENT_DEFAULTS.failureMode;
  let maxConcurrentCalls = AGENT_DEFAULTS.maxConcurrentCalls;
  let poolSize = AGENT_DEFAULTS.poolSize;
  let body = AGENT_DEFAULTS.body;
  let circuitBreaker = AGENT_DEFAULTS.circuitBreaker;
  let healthCheck = AGENT_DEFAULTS.healthCheck;
  let allowHeaderMutations: string[] = [];
  let config: AgentJson = null;
  const onTransport = (n: LNode, p: string): void => {
    if (transportNode !== undefined) {
      error(ctx, n, n.pos, 'conflict', `${label} has two transports (${transportNode.name} and ${n.name})`, p, 'an agent is reached over exactly one: unix-socket "…" or grpc "…"');
      transportOk = false;
      return;
    }
    transportNode = n;
    transport = readTransport(ctx, n, p, label);
    if (transport === undefined) transportOk = false;
  };
  walkBlock(ctx, node, path, {
    label,
    keys: {
      'unix-socket': onTransport,
      grpc: onTransport,
      events: (n, p) => { events = readEvents(ctx, n, p) ?? events; },
      'timeout-ms': (n, p) => { timeoutMs = readInt(ctx, n, p, 1, MAX_MS) ?? timeoutMs; },
      'connect-timeout-ms': (n, p) => { connectTimeoutMs = readInt(ctx, n, p, 1, MAX_MS) ?? connectTimeoutMs; },
      'failure-mode': (n, p) => { failureMode = readFailureMode(ctx, n, p) ?? failureMode; },
      'max-concurrent-calls': (n, p) => { maxConcurrentCalls = readInt(ctx, n, p, 1, 100_000) ?? maxConcurrentCalls; },
      'pool-size': (n, p) => { poolSize = readInt(ctx, n, p, 1, 64) ?? poolSize; },
      body: (n, p) => { body = readBody(ctx, n, p, label); },
      'circuit-breaker': (n, p) => { circuitBreaker = readBreaker(ctx, n, p, label); },
      'health-check': (n, p) => { healthCheck = readHealthCheck(ctx, n, p, label); },
      'allow-header-mutation': (n, p) => { allowHeaderMutations = readAllowedMutations(ctx, n, p) ?? allowHeaderMutations; },
      config: (n, p) => {
        rejectProps(ctx, n, p);
        const v = readAgentJsonConfig(ctx, n, p, label);
        if (v !== undefined) config = v;
      },
    },
    notImplemented: ['http', 'reverse-listener'],
    misplaced: ZENTINEL_KEYS,
  });
  if (transportNode === undefined) {
    error(ctx, node, node.pos, 'missing-key', `${label} has no transport`, path, 'add unix-socket "/run/agent.sock" or grpc "127.0.0.1:50051"');
    return undefined;
  }
  if (id === undefined || !transportOk || transport === undefined) return undefined;
  return {
    node,
    config: { id, transport, events, timeoutMs, connectTimeoutMs, failureMode, maxConcurrentCalls, poolSize, body, circuitBreaker, healthCheck, allowHeaderMutations, config, loc: locOf(node) },
  };
}
