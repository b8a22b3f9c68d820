// Proxy-side agent client: one multiplexed connection per AgentConnection (UDS or gRPC), and an
// AgentClient that owns the current connection and reconnects on demand. Every call has its own
// deadline and AbortSignal; responses are matched by correlation id; the pending map is bounded by
// maxConcurrentCalls. Any protocol violation resets the connection and fails every pending call.
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { encodeFrame, FrameDecoder, writeCorked } from './codec.ts';
import { fromAgentToProxy, GRPC_CHANNEL_OPTIONS, loadAgentService, toProxyToAgent } from './grpc.ts';
import type { AgentCapabilities, AgentResponse, CallMessage, CancelReasonName, HealthStatusMessage, JsonValue, MetricsReportMessage, ConfigUpdateRequestMessage, WireMessage } from './types.ts';
import { CANCEL_REASONS, FLOW_ACTIONS, PROTOCOL_VERSION, correlationIdOf, responseCorrelationId } from './types.ts';

export type AgentErrorCode =
  | 'AGENT_TIMEOUT' // the call's deadline passed without a response
  | 'AGENT_CONNECT_TIMEOUT' // connect + handshake did not finish in connectTimeoutMs
  | 'AGENT_UNAVAILABLE' // cannot connect, or the connection dropped (agent killed, stream ended)
  | 'AGENT_HANDSHAKE' // the agent refused the handshake or answered with an unsupported version
  | 'AGENT_PROTOCOL' // the agent sent bytes or messages that violate the protocol
  | 'AGENT_OVERLOADED' // maxConcurrentCalls reached, or the agent asked for a pause (flow control)
  | 'AGENT_CANCELLED' // the caller's AbortSignal fired
  | 'AGENT_BAD_CALL' // the call itself is unusable (duplicate correlation id, frame too large)
  | 'AGENT_CLOSED'; // the client was closed

export class AgentCallError extends Error {
  readonly code: AgentErrorCode;
  readonly agentId: string;
  constructor(code: AgentErrorCode, agentId: string, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'AgentCallError';
    this.code = code;
    this.agentId = agentId;
  }
}

export type AgentEndpoint = { kind: 'uds'; path: string } | { kind: 'grpc'; address: string };

export interface AgentConnectionOptions {
  agentId: string;
  endpoint: AgentEndpoint;
  /** Connect + handshake deadline. Default 5000. */
  connectTimeoutMs?: number;
  /** Bound on calls in flight on one connection. Default 100. */
  maxConcurrentCalls?: number;
  /** The agent's config, pushed as JSON in the handshake. Default null. */
  config?: JsonValue;
  proxyId?: string;
  proxyVersion?: string;
  /** Ping every this many ms while connected; 0 disables. Default 10000. */
  keepaliveIntervalMs?: number;
  /** A ping unanswered for this long resets the connection. Default 5000. */
  keepaliveTimeoutMs?: number;
  onHealth?: (h: HealthStatusMessage) => void;
  onMetrics?: (m: MetricsReportMessage) => void;
  onConfigUpdate?: (u: ConfigUpdateRequestMessage) => void;
}

export interface CallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

interface Wire {
  /** null when sent; an error message when the message cannot be encoded (too large). */
  send(msg: WireMessage): string | null;
  close(): void;
}

interface WireHooks {
  onMessage(msg: WireMessage): void;
  onFailure(err: AgentCallError): void;
}

interface Pending {
  resolve(r: AgentResponse): void;
  reject(e: AgentCallError): void;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
}

function openUds(agentId: string, path: string, hooks: WireHooks): Wire {
  const socket = net.createConnection({ path });
  const decoder = new FrameDecoder();
  let open = true;
  socket.on('data', (chunk: Buffer) => {
    const r = decoder.pushMessages(chunk);
    if (!r.ok) {
      hooks.onFailure(new AgentCallError('AGENT_PROTOCOL', agentId, r.error.message));
      return;
    }
    for (const m of r.value) {
      if (!open) return;
      hooks.onMessage(m);
    }
  });
  socket.on('error', (e) => hooks.onFailure(new AgentCallError('AGENT_UNAVAILABLE', agentId, e.message, { cause: e })));
  socket.on('close', () => hooks.onFailure(new AgentCallError('AGENT_UNAVAILABLE', agentId, 'connection closed by the agent')));
  return {
    send(msg) {
      const f = encodeFrame(msg);
      if (!f.ok) return f.error.message;
      writeCorked(socket, f.value);
      return null;
    },
    close() {
      open = false;
      socket.destroy();
    },
  };
}

function openGrpc(agentId: string, address: string, hooks: WireHooks): Wire {
  const Ctor = loadAgentService();
  // A channel of its own per pool connection (grpc-js would otherwise share one subchannel per address).
  const client = new Ctor(address, grpc.credentials.createInsecure(), { ...GRPC_CHANNEL_OPTIONS, 'grpc.use_local_subchannel_pool': 1 });
  const stream = (client as unknown as { ProcessStream(): grpc.ClientDuplexStream<unknown, unknown> }).ProcessStream();
  let open = true;
  stream.on('data', (obj: Record<string, unknown>) => {
    if (!open) return;
    const r = fromAgentToProxy(obj);
    if (!r.ok) hooks.onFailure(new AgentCallError('AGENT_PROTOCOL', agentId, r.error));
    else if (r.value !== null) hooks.onMessage(r.value);
  });
  stream.on('error', (e: Error) => {
    if (open) hooks.onFailure(new AgentCallError('AGENT_UNAVAILABLE', agentId, e.message, { cause: e }));
  });
  stream.on('end', () => {
    if (open) hooks.onFailure(new AgentCallError('AGENT_UNAVAILABLE', agentId, 'stream ended by the agent'));
  });
  return {
    send(msg) {
      let obj: unknown;
      try {
        obj = toProxyToAgent(msg);
      } catch (e) {
        return String(e);
      }
      stream.write(obj);
      return null;
    },
    close() {
      open = false;
      stream.cancel();
      client.close();
    },
  };
}

/** One handshaken, multiplexed connection to an agent. */
export class AgentConnection {
  readonly agentId: string;
  readonly maxConcurrentCalls: number;
  #wire: Wire | null = null;
  #pending = new Map<string, Pending>();
  #closed = false;
  #closeError: AgentCallError | null = null;
  #closeListeners: ((e: AgentCallError) => void)[] = [];
  #handshake: { resolve(c: AgentCapabilities): void; reject(e: AgentCallError): void } | null = null;
  #capabilities: AgentCapabilities | null = null;
  #pingSeq = 0;
  #pings = new Map<number, { resolve(rttMs: number): void; reject(e: AgentCallError): void; timer: NodeJS.Timeout; sentAt: number }>();
  #keepalive: NodeJS.Timeout | null = null;
  #paused = false;
  #opts: AgentConnectionOptions;
  /** Responses whose correlation id matched no pending call (late after a timeout, or bogus). */
  unmatchedResponses = 0;
  lastHealth: HealthStatusMessage | null = null;

  private constructor(opts: AgentConnectionOptions) {
    this.agentId = opts.agentId;
    this.maxConcurrentCalls = opts.maxConcurrentCalls ?? 100;
    this.#opts = opts;
  }

  /** Connects and handshakes within connectTimeoutMs (and before `signal` aborts). */
  static open(opts: AgentConnectionOptions, signal?: AbortSignal): Promise<AgentConnection> {
    const conn = new AgentConnection(opts);
    return conn.#open(signal);
  }

  get capabilities(): AgentCapabilities {
    if (this.#capabilities === null) throw new Error('not handshaken');
    return this.#capabilities;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** Called once, when the connection closes for any reason. */
  onClose(listener: (e: AgentCallError) => void): void {
    if (this.#closed && this.#closeError !== null) listener(this.#closeError);
    else this.#closeListeners.push(listener);
  }

  #open(signal?: AbortSignal): Promise<AgentConnection> {
    const { agentId, endpoint } = this.#opts;
    const connectTimeoutMs = this.#opts.connectTimeoutMs ?? 5000;
    return new Promise<AgentConnection>((resolve, reject) => {
      const timer = setTimeout(() => this.#reset(new AgentCallError('AGENT_CONNECT_TIMEOUT', agentId, `connect and handshake took longer than ${connectTimeoutMs} ms`)), connectTimeoutMs);
      const onAbort = (): void => this.#reset(new AgentCallError('AGENT_CANCELLED', agentId, 'connect aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.#handshake = {
        resolve: (caps) => {
          done();
          this.#capabilities = caps;
          this.#startKeepalive();
          resolve(this);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      if (signal?.aborted) {
        onAbort();
        return;
      }
      const hooks: WireHooks = { onMessage: (m) => this.#receive(m), onFailure: (e) => this.#reset(e) };
      this.#wire = endpoint.kind === 'uds' ? openUds(agentId, endpoint.path, hooks) : openGrpc(agentId, endpoint.address, hooks);
      this.#wire.send({
        kind: 'handshake_request',
        payload: {
          supported_versions: [PROTOCOL_VERSION],
          proxy_id: this.#opts.proxyId ?? 'sentinel-proxy',
          proxy_version: this.#opts.proxyVersion ?? '0.1.0',
          config: this.#opts.config ?? null,
          supported_encodings: ['json'],
        },
      });
    });
  }

  /** Sends one event and resolves with the agent's response matched by correlation id. */
  call(msg: CallMessage, opts: CallOptions): Promise<AgentResponse> {
    const cid = correlationIdOf(msg);
    const id = this.agentId;
    if (this.#closed || this.#wire === null) return Promise.reject(this.#closeError ?? new AgentCallError('AGENT_UNAVAILABLE', id, 'not connected'));
    if (opts.signal?.aborted) return Promise.reject(new AgentCallError('AGENT_CANCELLED', id, 'aborted before sending'));
    if (this.#paused) return Promise.reject(new AgentCallError('AGENT_OVERLOADED', id, 'agent asked the proxy to pause (flow control)'));
    if (this.#pending.size >= this.maxConcurrentCalls) return Promise.reject(new AgentCallError('AGENT_OVERLOADED', id, `${this.maxConcurrentCalls} calls already in flight`));
    if (this.#pending.has(cid)) return Promise.reject(new AgentCallError('AGENT_BAD_CALL', id, `correlation id ${cid} already in flight`));
    return new Promise<AgentResponse>((resolve, reject) => {
      const entry: Pending = {
        resolve,
        reject,
        signal: opts.signal,
        onAbort: null,
        timer: setTimeout(() => {
          if (this.#settle(cid) === undefined) return;
          this.#sendCancel(cid, 'timeout');
          reject(new AgentCallError('AGENT_TIMEOUT', id, `no response within ${opts.timeoutMs} ms`));
        }, opts.timeoutMs),
      };
      if (opts.signal !== undefined) {
        entry.onAbort = () => {
          if (this.#settle(cid) === undefined) return;
          // The abort reason, when it names a cancel reason (AbortController.abort('timeout')), travels in the frame.
          const r: unknown = opts.signal?.reason;
          this.#sendCancel(cid, typeof r === 'string' && Object.hasOwn(CANCEL_REASONS, r) ? (r as CancelReasonName) : 'client_disconnect');
          reject(new AgentCallError('AGENT_CANCELLED', id, 'call aborted'));
        };
        opts.signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.#pending.set(cid, entry);
      const sendError = (this.#wire as Wire).send(msg);
      if (sendError !== null) {
        this.#settle(cid);
        reject(new AgentCallError('AGENT_BAD_CALL', id, sendError));
      }
    });
  }

  /** Round trip time of one ping, in ms. */
  ping(timeoutMs: number): Promise<number> {
    if (this.#closed || this.#wire === null) return Promise.reject(this.#closeError ?? new AgentCallError('AGENT_UNAVAILABLE', this.agentId, 'not connected'));
    const sequence = ++this.#pingSeq;
    return new Promise<number>((resolve, reject) => {
      const sentAt = performance.now();
      const timer = setTimeout(() => {
        this.#pings.delete(sequence);
        reject(new AgentCallError('AGENT_TIMEOUT', this.agentId, `no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pings.set(sequence, { resolve, reject, timer, sentAt });
      (this.#wire as Wire).send({ kind: 'ping', payload: { sequence, timestamp_ms: Date.now() } });
    });
  }

  /** Closes the connection; pending calls fail with AGENT_CLOSED. */
  close(): void {
    this.#reset(new AgentCallError('AGENT_CLOSED', this.agentId, 'connection closed by the proxy'));
  }

  #settle(cid: string): Pending | undefined {
    const p = this.#pending.get(cid);
    if (p === undefined) return undefined;
    this.#pending.delete(cid);
    clearTimeout(p.timer);
    if (p.onAbort !== null) p.signal?.removeEventListener('abort', p.onAbort);
    return p;
  }

  #sendCancel(cid: string, reason: CancelReasonName): void {
    if (this.#closed || this.#wire === null) return;
    this.#wire.send({ kind: 'cancel', payload: { correlation_id: cid, reason: CANCEL_REASONS[reason], timestamp_ms: Date.now() } });
  }

  #receive(m: WireMessage): void {
    if (this.#closed) return;
    if (this.#handshake !== null) {
      if (m.kind !== 'handshake_response') return this.#reset(new AgentCallError('AGENT_PROTOCOL', this.agentId, `expected handshake_response, got ${m.kind}`));
      const h = m.payload;
      if (!h.success) return this.#reset(new AgentCallError('AGENT_HANDSHAKE', this.agentId, `agent refused the handshake: ${h.error ?? 'no reason given'}`));
      if (h.protocol_version !== PROTOCOL_VERSION) return this.#reset(new AgentCallError('AGENT_HANDSHAKE', this.agentId, `agent chose protocol version ${h.protocol_version}`));
      if (h.encoding !== 'json') return this.#reset(new AgentCallError('AGENT_HANDSHAKE', this.agentId, `agent chose encoding ${h.encoding}, which was not offered`));
      const hs = this.#handshake;
      this.#handshake = null;
      hs.resolve(h.capabilities);
      return;
    }
    switch (m.kind) {
      case 'agent_response': {
        const cid = responseCorrelationId(m.payload);
        const p = cid === undefined ? undefined : this.#settle(cid);
        if (p === undefined) this.unmatchedResponses++;
        else p.resolve(m.payload);
        return;
      }
      case 'pong': {
        const w = this.#pings.get(m.payload.sequence);
        if (w !== undefined) {
          this.#pings.delete(m.payload.sequence);
          clearTimeout(w.timer);
          w.resolve(performance.now() - w.sentAt);
        }
        return;
      }
      case 'ping':
        // Ping/Pong may go either way: answer by echoing the payload.
        this.#wire?.send({ kind: 'pong', payload: m.payload });
        return;
      case 'health_status':
        this.lastHealth = m.payload;
        this.#opts.onHealth?.(m.payload);
        return;
      case 'metrics_report':
        this.#opts.onMetrics?.(m.payload);
        return;
      case 'config_update_request':
        this.#opts.onConfigUpdate?.(m.payload);
        return;
      case 'flow_control':
        if (m.payload.action === FLOW_ACTIONS.pause) this.#paused = true;
        else if (m.payload.action === FLOW_ACTIONS.resume || m.payload.action === 0) this.#paused = false;
        return;
      default:
        return this.#reset(new AgentCallError('AGENT_PROTOCOL', this.agentId, `agent sent ${m.kind}, which only the proxy may send`));
    }
  }

  #startKeepalive(): void {
    const every = this.#opts.keepaliveIntervalMs ?? 10_000;
    if (every <= 0) return;
    const timeoutMs = this.#opts.keepaliveTimeoutMs ?? 5000;
    this.#keepalive = setInterval(() => {
      this.ping(timeoutMs).catch((e: unknown) => {
        if (e instanceof AgentCallError && e.code === 'AGENT_TIMEOUT') this.#reset(new AgentCallError('AGENT_UNAVAILABLE', this.agentId, 'keepalive ping unanswered'));
      });
    }, every);
    this.#keepalive.unref();
  }

  #reset(e: AgentCallError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = e;
    if (this.#keepalive !== null) clearInterval(this.#keepalive);
    this.#wire?.close();
    const hs = this.#handshake;
    this.#handshake = null;
    hs?.reject(e);
    for (const cid of [...this.#pending.keys()]) this.#settle(cid)?.reject(e);
    for (const [seq, w] of this.#pings) {
      clearTimeout(w.timer);
      this.#pings.delete(seq);
      w.reject(e);
    }
    for (const l of this.#closeListeners.splice(0)) l(e);
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, agentId: string): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(new AgentCallError('AGENT_CANCELLED', agentId, 'aborted while connecting'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AgentCallError('AGENT_CANCELLED', agentId, 'aborted while connecting'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * Owns the current connection to one agent; connects on first use and again after the connection
 * is lost (no background loop: the caller's next call reconnects, bounded by its own deadline).
 */
export class AgentClient {
  readonly agentId: string;
  #opts: AgentConnectionOptions;
  #conn: AgentConnection | null = null;
  #connecting: Promise<AgentConnection> | null = null;
  #closed = false;

  constructor(opts: AgentConnectionOptions) {
    this.agentId = opts.agentId;
    this.#opts = opts;
  }

  get connected(): boolean {
    return this.#conn !== null && !this.#conn.closed;
  }

  get capabilities(): AgentCapabilities | null {
    return this.connected ? (this.#conn as AgentConnection).capabilities : null;
  }

  get inFlight(): number {
    return this.#conn?.inFlight ?? 0;
  }

  /** The live connection, connecting (single-flight) when there is none. */
  connect(signal?: AbortSignal): Promise<AgentConnection> {
    if (this.#closed) return Promise.reject(new AgentCallError('AGENT_CLOSED', this.agentId, 'client closed'));
    if (this.#conn !== null && !this.#conn.closed) return Promise.resolve(this.#conn);
    if (this.#connecting !== null) return this.#connecting;
    const p = AgentConnection.open(this.#opts, signal).then(
      (c) => {
        this.#connecting = null;
        if (this.#closed) {
          c.close();
          throw new AgentCallError('AGENT_CLOSED', this.agentId, 'client closed');
        }
        this.#conn = c;
        return c;
      },
      (e: unknown) => {
        this.#connecting = null;
        throw e;
      },
    );
    this.#connecting = p;
    return p;
  }

  async call(msg: CallMessage, opts: CallOptions): Promise<AgentResponse> {
    const conn = this.#conn !== null && !this.#conn.closed ? this.#conn : await raceAbort(this.connect(), opts.signal, this.agentId);
    return conn.call(msg, opts);
  }

  async ping(timeoutMs: number): Promise<number> {
    const conn = await this.connect();
    return conn.ping(timeoutMs);
  }

  close(): void {
    this.#closed = true;
    this.#conn?.close();
    this.#conn = null;
  }
}
