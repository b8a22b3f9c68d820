// The Agent SDK: createAgent({ name, onRequestHeaders, … }) and serve it on a Unix socket, on gRPC,
// or both. Calls on one connection are processed concurrently and answered in completion order,
// each response carrying its correlation id (UDS: audit.custom.correlation_id; gRPC: the field).
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { encodeFrame, FrameDecoder, writeCorked } from '../protocol/codec.ts';
import { fromProxyToAgent, GRPC_CHANNEL_OPTIONS, loadAgentService, toAgentToProxy } from '../protocol/grpc.ts';
import type {
  AgentCapabilities,
  AgentResponse,
  CallMessage,
  ConfigureEvent,
  GuardrailInspectEvent,
  HandshakeRequest,
  HandshakeResponse,
  JsonValue,
  RequestBodyChunkEvent,
  RequestCompleteEvent,
  RequestHeadersEvent,
  ResponseBodyChunkEvent,
  ResponseHeadersEvent,
  WebSocketFrameEvent,
  WireMessage,
} from '../protocol/types.ts';
import { EVENT_TYPES, HEALTH_STATES, PROTOCOL_VERSION, allowResponse, isCallKind } from '../protocol/types.ts';
import type { HandlerResult } from './decision.ts';
import { block, toResponse } from './decision.ts';

export interface EventContext {
  /** Aborted when the proxy cancels the call, the connection drops, or the agent shuts down. */
  readonly signal: AbortSignal;
  /** The latest config pushed by the proxy (handshake or configure event). */
  readonly config: JsonValue;
}

type Handler<E> = (event: E, ctx: EventContext) => HandlerResult | Promise<HandlerResult>;

export interface AgentDefinition {
  name: string;
  /** Defaults to name. */
  id?: string;
  version?: string;
  onRequestHeaders?: Handler<RequestHeadersEvent>;
  onRequestBodyChunk?: Handler<RequestBodyChunkEvent>;
  onResponseHeaders?: Handler<ResponseHeadersEvent>;
  onResponseBodyChunk?: Handler<ResponseBodyChunkEvent>;
  onRequestComplete?: Handler<RequestCompleteEvent>;
  onWebSocketFrame?: Handler<WebSocketFrameEvent>;
  onGuardrailInspect?: Handler<GuardrailInspectEvent>;
  /** Return false (or throw) to reject a config; rejection in the handshake fails the handshake. */
  onConfigure?: (config: JsonValue, event: ConfigureEvent | null) => boolean | void | Promise<boolean | void>;
  /** Decision sent when a handler throws. Default: block 500 with reason code AGENT_HANDLER_ERROR. */
  onHandlerError?: (err: unknown, msg: CallMessage) => HandlerResult;
  /** Calls processed at once per agent (further calls queue). Default 256. */
  maxConcurrency?: number;
  /** Send a health_status to every connected proxy this often (ms); 0 = only when draining. Default 10000. */
  healthIntervalMs?: number;
  maxBodyBytes?: number;
}

export interface ListenOptions {
  /** Unix socket path; a stale socket file there is removed first. */
  socket?: string;
  /** host:port for gRPC, e.g. 127.0.0.1:0. */
  grpc?: string;
}

export interface ListenInfo {
  socket?: string;
  /** host:port actually bound (the port resolved when 0 was asked). */
  grpc?: string;
}

export type AgentHealthState = 'healthy' | 'draining' | 'stopped';

export interface AgentHealth {
  state: AgentHealthState;
  inFlight: number;
  connections: number;
}

export interface AgentMetrics {
  /** Events received, by kind. */
  events: Record<string, number>;
  /** Responses sent, by decision (allow, block, redirect, challenge). */
  decisions: Record<string, number>;
  handlerErrors: number;
  cancelled: number;
  protocolErrors: number;
  connectionsAccepted: number;
}

export interface Agent {
  readonly name: string;
  readonly capabilities: AgentCapabilities;
  readonly config: JsonValue;
  listen(opts: ListenOptions): Promise<ListenInfo>;
  /** Stops accepting, lets in-flight calls finish (up to drainTimeoutMs, default 10000), then closes. */
  close(drainTimeoutMs?: number): Promise<void>;
  health(): AgentHealth;
  metrics(): AgentMetrics;
  /** The agent's own metrics in the Prometheus text format (served by the runner's --metrics). */
  metricsText(): string;
  /** Applies a config as if pushed by the proxy (used for --config files and reloads). */
  configure(config: JsonValue): Promise<boolean>;
}

interface Session {
  send(msg: WireMessage): void;
  close(): void;
  calls: Map<string, Call>;
  /** Handshake done: agent-initiated messages (health) may be sent. */
  ready?: boolean;
}

/**
 * One call being processed: the runtime's bookkeeping. Its handler gets `ctx`, which shows only the
 * EventContext (the bookkeeping stays out of the handler's reach). The AbortSignal is made on first
 * use: most handlers never look at it, and an AbortController per call is not free.
 */
class Call {
  readonly session: Session;
  readonly msg: CallMessage;
  readonly cid: string;
  readonly onEnd: (() => void) | null;
  aborted = false;
  holdsSlot = false;
  readonly ctx: EventContext;
  #ac: AbortController | null = null;
  #onAbort: (c: Call) => void;

  constructor(session: Session, msg: CallMessage, config: JsonValue, onAbort: (c: Call) => void, onEnd: (() => void) | null) {
    this.session = session;
    this.msg = msg;
    this.cid = msg.payload.correlation_id;
    this.#onAbort = onAbort;
    this.onEnd = onEnd;
    this.ctx = new CallContext(this, config);
  }

  get signal(): AbortSignal {
    if (this.#ac === null) {
      this.#ac = new AbortController();
      if (this.aborted) this.#ac.abort();
    }
    return this.#ac.signal;
  }

  /** Cancelled by the proxy, by the connection dropping, or by shutdown. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#onAbort(this);
    this.#ac?.abort();
  }
}

class CallContext implements EventContext {
  readonly #call: Call;
  readonly config: JsonValue;

  constructor(call: Call, config: JsonValue) {
    this.#call = call;
    this.config = config;
  }

  get signal(): AbortSignal {
    return this.#call.signal;
  }
}

function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function decisionName(r: AgentResponse): string {
  return typeof r.decision === 'string' ? r.decision : (Object.keys(r.decision)[0] ?? 'unknown');
}

export function createAgent(def: AgentDefinition): Agent {
  return new AgentRuntime(def);
}

class AgentRuntime implements Agent {
  readonly name: string;
  readonly capabilities: AgentCapabilities;
  #def: AgentDefinition;
  #config: JsonValue = null;
  #state: AgentHealthState = 'healthy';
  #sessions = new Set<Session>();
  #udsServers: { server: net.Server; path: string }[] = [];
  #grpcServers: grpc.Server[] = [];
  #healthTimer: NodeJS.Timeout | null = null;
  #idleWaiters: (() => void)[] = [];
  /** Calls waiting for a concurrency slot, in arrival order. */
  #queue: Call[] = [];
  #running = 0;
  #passing = false;
  readonly #maxConcurrency: number;
  /** Every call not ended yet: the calls in flight (cancelled at shutdown, whatever their session). */
  #calls = new Set<Call>();
  #metrics: AgentMetrics = { events: {}, decisions: {}, handlerErrors: 0, cancelled: 0, protocolErrors: 0, connectionsAccepted: 0 };

  constructor(def: AgentDefinition) {
    this.#def = def;
    this.name = def.name;
    const events: number[] = [EVENT_TYPES.configure];
    const add = (cond: unknown, e: number): void => {
      if (cond !== undefined) events.push(e);
    };
    add(def.onRequestHeaders, EVENT_TYPES.request_headers);
    add(def.onRequestBodyChunk, EVENT_TYPES.request_body_chunk);
    add(def.onResponseHeaders, EVENT_TYPES.response_headers);
    add(def.onResponseBodyChunk, EVENT_TYPES.response_body_chunk);
    add(def.onRequestComplete, EVENT_TYPES.request_complete);
    add(def.onWebSocketFrame, EVENT_TYPES.websocket_frame);
    add(def.onGuardrailInspect, EVENT_TYPES.guardrail_inspect);
    const maxConcurrency = def.maxConcurrency ?? 256;
    this.#maxConcurrency = maxConcurrency;
    this.capabilities = {
      agent_id: def.id ?? def.name,
      name: def.name,
      version: def.version ?? '0.1.0',
      supported_events: events,
      features: {
        streaming_body: def.onRequestBodyChunk !== undefined || def.onResponseBodyChunk !== undefined,
        websocket: def.onWebSocketFrame !== undefined,
        guardrails: def.onGuardrailInspect !== undefined,
        config_push: true,
        metrics_export: false,
        concurrent_requests: maxConcurrency,
        cancellation: true,
        flow_control: false,
        health_reporting: true,
      },
      limits: { max_body_size: def.maxBodyBytes ?? 0, max_concurrency: maxConcurrency, preferred_chunk_size: 0 },
    };
  }

  get config(): JsonValue {
    return this.#config;
  }

  health(): AgentHealth {
    return { state: this.#state, inFlight: this.#calls.size, connections: this.#sessions.size };
  }

  metrics(): AgentMetrics {
    return structuredClone(this.#metrics);
  }

  metricsText(): string {
    const m = this.#metrics;
    const id = promLabel(this.capabilities.agent_id);
    const out: string[] = [];
    const family = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) out.push(`${name}{agent="${id}"${labels}} ${v}`);
    };
    family('sentinel_agent_sdk_events_total', 'counter', 'Events received from proxies, by kind.', Object.entries(m.events).map(([k, v]) => [`,kind="${promLabel(k)}"`, v]));
    family('sentinel_agent_sdk_decisions_total', 'counter', 'Answers sent, by decision.', Object.entries(m.decisions).map(([k, v]) => [`,decision="${promLabel(k)}"`, v]));
    family('sentinel_agent_sdk_handler_errors_total', 'counter', 'Handlers that threw (answered with the error decision).', [['', m.handlerErrors]]);
    family('sentinel_agent_sdk_cancelled_total', 'counter', 'Calls the proxy cancelled (deadline, client gone).', [['', m.cancelled]]);
    family('sentinel_agent_sdk_protocol_errors_total', 'counter', 'Connections closed for a protocol violation.', [['', m.protocolErrors]]);
    family('sentinel_agent_sdk_connections_accepted_total', 'counter', 'Proxy connections accepted.', [['', m.connectionsAccepted]]);
    family('sentinel_agent_sdk_connections', 'gauge', 'Proxy connections open now.', [['', this.#sessions.size]]);
    family('sentinel_agent_sdk_in_flight', 'gauge', 'Calls being processed now.', [['', this.#calls.size]]);
    family('sentinel_agent_sdk_up', 'gauge', '1 while serving, 0 while draining or stopped.', [['', this.#state === 'healthy' ? 1 : 0]]);
    return `${out.join('\n')}\n`;
  }

  /** Sends the current health to every proxy past its handshake. */
  #reportHealth(): void {
    const state = this.#state === 'healthy' ? HEALTH_STATES.healthy : HEALTH_STATES.draining;
    for (const s of this.#sessions) {
      if (s.ready === true) s.send({ kind: 'health_status', payload: { agent_id: this.capabilities.agent_id, state, in_flight: this.#calls.size, timestamp_ms: Date.now() } });
    }
  }

  async configure(config: JsonValue, event: ConfigureEvent | null = null): Promise<boolean> {
    try {
      const ok = this.#def.onConfigure === undefined ? true : (await this.#def.onConfigure(config, event)) !== false;
      if (ok) this.#config = config;
      return ok;
    } catch {
      return false;
    }
  }

  async listen(opts: ListenOptions): Promise<ListenInfo> {
    if (this.#state !== 'healthy') throw new Error('agent is closing');
    const every = this.#def.healthIntervalMs ?? 10_000;
    if (every > 0 && this.#healthTimer === null) {
      this.#healthTimer = setInterval(() => this.#reportHealth(), every);
      this.#healthTimer.unref();
    }
    const info: ListenInfo = {};
    if (opts.socket !== undefined) info.socket = await this.#listenUds(opts.socket);
    if (opts.grpc !== undefined) info.grpc = await this.#listenGrpc(opts.grpc);
    return info;
  }

  async close(drainTimeoutMs = 10_000): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'draining';
    if (this.#healthTimer !== null) clearInterval(this.#healthTimer);
    this.#healthTimer = null;
    // Tell connected proxies we are draining (best effort: they stop sending new calls), stop accepting.
    this.#reportHealth();
    const udsClosed = this.#udsServers.map(({ server }) => new Promise<void>((r) => server.close(() => r())));
    if (this.#calls.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, drainTimeoutMs);
        this.#idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    for (const c of [...this.#calls]) c.abort();
    for (const s of [...this.#sessions]) {
      s.close();
      this.#endSession(s);
    }
    await Promise.all(udsClosed);
    for (const { path } of this.#udsServers) removeStaleSocket(path);
    await Promise.all(this.#grpcServers.map((g) => new Promise<void>((r) => g.tryShutdown(() => r()))));
    for (const g of this.#grpcServers) g.forceShutdown();
    this.#state = 'stopped';
  }

  // -------------------------------------------------------------------------------------------

  async #handshake(req: HandshakeRequest): Promise<HandshakeResponse> {
    const base = { protocol_version: PROTOCOL_VERSION, capabilities: this.capabilities, encoding: 'json' as const };
    if (!req.supported_versions.includes(PROTOCOL_VERSION)) return { ...base, success: false, error: `unsupported protocol versions ${JSON.stringify(req.supported_versions)}; this agent speaks 2` };
    if (this.#state !== 'healthy') return { ...base, success: false, error: 'agent is draining' };
    if (req.config !== null && !(await this.configure(req.config))) return { ...base, success: false, error: 'configuration rejected' };
    return { ...base, success: true };
  }

  /** Calls a handler; its result, or the promise of it when the handler is async. */
  #invoke(msg: CallMessage, ctx: EventContext): HandlerResult | Promise<HandlerResult> {
    const d = this.#def;
    switch (msg.kind) {
      case 'request_headers':
        return d.onRequestHeaders?.(msg.payload, ctx);
      case 'request_body_chunk':
        return d.onRequestBodyChunk?.(msg.payload, ctx);
      case 'response_headers':
        return d.onResponseHeaders?.(msg.payload, ctx);
      case 'response_body_chunk':
        return d.onResponseBodyChunk?.(msg.payload, ctx);
      case 'request_complete':
        return d.onRequestComplete?.(msg.payload, ctx);
      case 'websocket_frame':
        return d.onWebSocketFrame?.(msg.payload, ctx);
      case 'guardrail_inspect':
        return d.onGuardrailInspect?.(msg.payload, ctx);
      case 'configure':
        return this.configure(msg.payload.config, msg.payload).then((ok) => (ok ? undefined : block(500, 'Configuration rejected')));
    }
  }

  #toResponse(msg: CallMessage, r: HandlerResult): AgentResponse {
    if (msg.kind === 'websocket_frame' && r === undefined) return { ...allowResponse(), websocket_decision: 'allow' };
    return toResponse(r);
  }

  #errorResponse(err: unknown, msg: CallMessage): AgentResponse {
    this.#metrics.handlerErrors++;
    const h = this.#def.onHandlerError;
    if (h !== undefined) {
      try {
        return toResponse(h(err, msg));
      } catch {
        // fall through to the default
      }
    }
    return block(500).reason('AGENT_HANDLER_ERROR').response;
  }

  /**
   * Takes one call. It runs at once when a concurrency slot is free (a synchronous handler is
   * answered in the same tick, with no promise in between), else it queues for a slot. A cancelled
   * call stops counting at once (in flight, concurrency slot): nobody waits for its answer, so
   * neither drain nor other calls wait for it; a handler that ignores its signal runs on in the
   * background, unanswered. `onEnd` runs once, when the call ends: answered, or cancelled.
   */
  #handleCall(session: Session, msg: CallMessage, onEnd: (() => void) | null = null): void {
    const events = this.#metrics.events;
    events[msg.kind] = (events[msg.kind] ?? 0) + 1;
    const call = new Call(session, msg, this.#config, this.#endCall, onEnd);
    session.calls.set(call.cid, call);
    this.#calls.add(call);
    if (this.#running < this.#maxConcurrency && this.#queue.length === 0) {
      this.#running++;
      call.holdsSlot = true;
      this.#run(call);
    } else this.#queue.push(call);
  }

  #run(call: Call): void {
    let r: HandlerResult | Promise<HandlerResult>;
    try {
      r = this.#invoke(call.msg, call.ctx);
    } catch (err) {
      this.#answer(call, this.#errorResponse(err, call.msg));
      return;
    }
    if (isThenable(r)) {
      // Promise.resolve: a foreign thenable that misbehaves still settles through a real promise.
      Promise.resolve(r).then(
        (v) => this.#answer(call, this.#toResponse(call.msg, v)),
        (err: unknown) => this.#answer(call, this.#errorResponse(err, call.msg)),
      );
    } else this.#answer(call, this.#toResponse(call.msg, r));
  }

  /** The handler finished: answer unless the call was cancelled meanwhile, then let it go. */
  #answer(call: Call, res: AgentResponse): void {
    if (!call.aborted) {
      try {
        const out: AgentResponse = { ...res, audit: { ...res.audit, custom: { ...res.audit.custom, correlation_id: call.cid } } };
        const name = decisionName(out);
        call.session.send({ kind: 'agent_response', payload: out });
        const decisions = this.#metrics.decisions;
        decisions[name] = (decisions[name] ?? 0) + 1;
      } catch {
        // The handler's answer is not a response, or cannot be serialised (a cycle, a BigInt): the
        // proxy still gets an answer for this call, and the connection goes on.
        this.#metrics.handlerErrors++;
        this.#metrics.decisions['block'] = (this.#metrics.decisions['block'] ?? 0) + 1;
        try {
          call.session.send({ kind: 'agent_response', payload: block(500).reason('AGENT_RESPONSE_INVALID').custom('correlation_id', call.cid).response });
        } catch {
          // the connection itself failed: its close fails the proxy's call
        }
      }
    }
    this.#endCall(call);
  }

  /** A call ends (answered or cancelled): idempotent. Its slot passes to the next queued call; `onEnd` runs once. */
  readonly #endCall = (call: Call): void => {
    if (call.session.calls.get(call.cid) === call) call.session.calls.delete(call.cid);
    const wasInFlight = this.#calls.delete(call);
    if (call.holdsSlot) {
      call.holdsSlot = false;
      this.#passSlot();
    }
    if (!wasInFlight) return;
    call.onEnd?.();
    if (this.#calls.size === 0) for (const w of this.#idleWaiters.splice(0)) w();
  };

  #passSlot(): void {
    this.#running--;
    // One loop runs the queue: a call that ends inside it (a synchronous handler) frees its slot and
    // returns here, instead of starting the next call from its own stack frame (thousands of queued
    // synchronous calls would otherwise recurse once per call).
    if (this.#passing) return;
    this.#passing = true;
    try {
      while (this.#running < this.#maxConcurrency) {
        const next = this.#queue.shift();
        if (next === undefined) break;
        if (next.aborted) continue; // cancelled while queued: it stopped counting already
        this.#running++;
        next.holdsSlot = true;
        this.#run(next);
      }
    } finally {
      this.#passing = false;
    }
  }

  /** Handles one post-handshake message from the proxy. Returns false on a protocol violation. */
  #onMessage(session: Session, m: WireMessage): boolean {
    if (isCallKind(m.kind)) {
      this.#handleCall(session, m as CallMessage);
      return true;
    }
    switch (m.kind) {
      case 'ping':
        session.send({ kind: 'pong', payload: m.payload });
        return true;
      case 'cancel': {
        const ac = session.calls.get(m.payload.correlation_id);
        if (ac !== undefined) {
          this.#metrics.cancelled++;
          session.calls.delete(m.payload.correlation_id);
          ac.abort();
        }
        return true;
      }
      default:
        this.#metrics.protocolErrors++;
        return false;
    }
  }

  #endSession(session: Session): void {
    if (!this.#sessions.delete(session)) return;
    for (const ac of session.calls.values()) ac.abort();
    session.calls.clear();
  }

  #listenUds(path: string): Promise<string> {
    removeStaleSocket(path);
    const server = net.createServer((socket) => this.#acceptUds(socket));
    this.#udsServers.push({ server, path });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve(path);
      });
    });
  }

  #acceptUds(socket: net.Socket): void {
    if (this.#state !== 'healthy') {
      socket.destroy();
      return;
    }
    this.#metrics.connectionsAccepted++;
    const decoder = new FrameDecoder();
    let handshaken = false;
    let handshaking = false;
    const session: Session = {
      calls: new Map(),
      send: (msg) => {
        const f = encodeFrame(msg);
        if (f.ok && !socket.destroyed) writeCorked(socket, f.value);
        else if (!f.ok) {
          // A response too large for a frame: answer with a block so the proxy is not left waiting.
          if (msg.kind === 'agent_response') {
            const cid = msg.payload.audit.custom['correlation_id'];
            const fallback = block(500).reason('AGENT_RESPONSE_TOO_LARGE').custom('correlation_id', cid ?? null).response;
            const f2 = encodeFrame({ kind: 'agent_response', payload: fallback });
            if (f2.ok) socket.write(f2.value);
          }
        }
      },
      close: () => {
        // Answers written this tick are still corked: flush them, then close (destroy after a grace
        // period if the proxy does not read).
        if (socket.destroyed) return;
        if (socket.writableCorked > 0) socket.uncork();
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      },
    };
    this.#sessions.add(session);
    socket.on('error', () => this.#endSession(session));
    socket.on('close', () => this.#endSession(session));
    socket.on('data', (chunk: Buffer) => {
      const r = decoder.pushMessages(chunk);
      if (!r.ok) {
        this.#metrics.protocolErrors++;
        socket.destroy();
        return;
      }
      for (const m of r.value) {
        if (!handshaken) {
          if (m.kind !== 'handshake_request' || handshaking) {
            this.#metrics.protocolErrors++;
            socket.destroy();
            return;
          }
          handshaking = true;
          void this.#handshake(m.payload).then((res) => {
            session.send({ kind: 'handshake_response', payload: res });
            if (res.success) handshaken = session.ready = true;
            else socket.end();
          });
          continue;
        }
        if (!this.#onMessage(session, m)) {
          socket.destroy();
          return;
        }
      }
    });
  }

  #listenGrpc(address: string): Promise<string> {
    const Ctor = loadAgentService();
    const server = new grpc.Server(GRPC_CHANNEL_OPTIONS);
    this.#grpcServers.push(server);
    server.addService(Ctor.service, {
      ProcessStream: (call: grpc.ServerDuplexStream<unknown, unknown>) => this.#acceptGrpcStream(call),
      ProcessEvent: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => this.#grpcUnary(call, cb),
      ControlStream: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        // Agent-initiated control is not used by this SDK; the stream is accepted and ended cleanly.
        call.on('data', () => undefined);
        call.end();
      },
    });
    const host = address.slice(0, address.lastIndexOf(':'));
    return new Promise((resolve, reject) => {
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e, port) => {
        if (e !== null) reject(e);
        else resolve(`${host}:${port}`);
      });
    });
  }

  #acceptGrpcStream(call: grpc.ServerDuplexStream<unknown, unknown>): void {
    if (this.#state !== 'healthy') {
      call.end();
      return;
    }
    this.#metrics.connectionsAccepted++;
    let handshaken = false;
    let handshaking = false;
    let ended = false;
    const session: Session = {
      calls: new Map(),
      send: (msg) => {
        if (ended) return;
        try {
          call.write(toAgentToProxy(msg));
        } catch (e) {
          // An answer that cannot be converted: the caller answers with an error decision instead.
          if (msg.kind === 'agent_response') throw e;
        }
      },
      close: () => {
        if (!ended) {
          ended = true;
          call.end();
        }
      },
    };
    this.#sessions.add(session);
    const finish = (): void => {
      ended = true;
      this.#endSession(session);
    };
    call.on('error', finish);
    call.on('cancelled', finish);
    call.on('end', () => {
      session.close();
      finish();
    });
    call.on('data', (obj: Record<string, unknown>) => {
      const r = fromProxyToAgent(obj);
      if (!r.ok) {
        this.#metrics.protocolErrors++;
        session.close();
        return;
      }
      const m = r.value;
      if (!handshaken) {
        if (m.kind !== 'handshake_request' || handshaking) {
          this.#metrics.protocolErrors++;
          session.close();
          return;
        }
        handshaking = true;
        void this.#handshake(m.payload).then((res) => {
          session.send({ kind: 'handshake_response', payload: res });
          if (res.success) handshaken = session.ready = true;
          else session.close();
        });
        return;
      }
      if (!this.#onMessage(session, m)) session.close();
    });
  }

  #grpcUnary(call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>): void {
    const r = fromProxyToAgent(call.request as Record<string, unknown>);
    if (!r.ok || !isCallKind(r.value.kind)) {
      this.#metrics.protocolErrors++;
      cb({ code: grpc.status.INVALID_ARGUMENT, details: r.ok ? `${r.value.kind} is not an event` : r.error });
      return;
    }
    const msg = r.value as CallMessage;
    const replies: WireMessage[] = [];
    const session: Session = { calls: new Map(), send: (m) => replies.push(m), close: () => undefined };
    call.on('cancelled', () => session.calls.get(msg.payload.correlation_id)?.abort());
    this.#handleCall(session, msg, () => {
      const reply = replies[0];
      if (reply === undefined) cb({ code: grpc.status.CANCELLED, details: 'call cancelled' });
      else cb(null, toAgentToProxy(reply));
    });
  }
}

/** A Prometheus label value (backslash, quote and newline escaped). */
function promLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function removeStaleSocket(path: string): void {
  try {
    if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // best effort: listen() reports the real problem
  }
}
