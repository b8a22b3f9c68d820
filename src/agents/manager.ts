// The proxy's side of one configured agent: a pool of handshaken connections with reconnect and
// backoff, the agent's circuit breaker, the max-concurrent-calls semaphore (with a bounded wait
// queue), health, and call(). It lives in the runtime registry under
// `agent|<transport>|<address>|<id>|<settings hash>`, so connections survive a reload that does not
// change them; a reload that changes the connection settings or the pushed config makes a new
// manager (new connections, new handshake) and retires the old one once its generation drained.
//
// Connections are opened eagerly at creation and kept open. Each pool slot reconnects on its own
// after a loss, with exponential backoff (100 ms doubling to 5 s, ±20 % jitter), until close().
import { createHash } from 'node:crypto';
import type { AgentConfig } from '../config/types.ts';
import type { Logger } from '../observability/log.ts';
import type { Resource } from '../runtime/registry.ts';
import { AgentCallError, AgentConnection } from '../protocol/client.ts';
import type { AgentConnectionOptions, AgentEndpoint } from '../protocol/client.ts';
import type { AgentResponse, CallMessage, EventKind, HealthStatusMessage } from '../protocol/types.ts';
import { EVENT_TYPES, HEALTH_STATES } from '../protocol/types.ts';
import { Breaker } from '../upstream/health/breaker.ts';
import type { BreakerState } from '../upstream/health/breaker.ts';
import { monotonicClock } from '../upstream/health/clock.ts';
import type { Clock } from '../upstream/health/clock.ts';
import type { AgentGaugeSource, AgentMetricHandles } from './metrics.ts';

/** Why a call produced no answer. */
export type CallFailure = 'timeout' | 'unavailable' | 'protocol' | 'circuit_open' | 'overloaded' | 'cancelled';

export type CallResult =
  | { readonly ok: true; readonly res: AgentResponse; readonly conn: AgentConnection }
  | { readonly ok: false; readonly failure: CallFailure; readonly detail: string };

export const PROXY_ID = 'sentinel-proxy';

const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 5000;

/** Events of the config mapped to the capability numbers an agent announces (UDS numbering). */
const EVENT_CAPABILITY: Readonly<Record<AgentConfig['events'][number], { kind: EventKind; code: number }>> = {
  request_headers: { kind: 'request_headers', code: EVENT_TYPES.request_headers },
  request_body: { kind: 'request_body_chunk', code: EVENT_TYPES.request_body_chunk },
  response_headers: { kind: 'response_headers', code: EVENT_TYPES.response_headers },
  response_body: { kind: 'response_body_chunk', code: EVENT_TYPES.response_body_chunk },
  request_complete: { kind: 'request_complete', code: EVENT_TYPES.request_complete },
};

/** The registry key: what defines the connections (transport, pool, breaker, pushed config). */
export function agentKey(a: AgentConfig): string {
  const address = a.transport.kind === 'uds' ? a.transport.path : `${a.transport.host.includes(':') ? `[${a.transport.host}]` : a.transport.host}:${a.transport.port}`;
  const settings = JSON.stringify([a.poolSize, a.connectTimeoutMs, a.maxConcurrentCalls, a.circuitBreaker, a.healthCheck, a.config]);
  const hash = createHash('sha256').update(settings).digest('hex').slice(0, 16);
  return `agent|${a.transport.kind}|${address}|${a.id}|${hash}`;
}

function endpointOf(a: AgentConfig): AgentEndpoint {
  if (a.transport.kind === 'uds') return { kind: 'uds', path: a.transport.path };
  const host = a.transport.host.includes(':') ? `[${a.transport.host}]` : a.transport.host;
  return { kind: 'grpc', address: `${host}:${a.transport.port}` };
}

function classify(e: unknown): CallFailure {
  if (!(e instanceof AgentCallError)) return 'unavailable';
  switch (e.code) {
    case 'AGENT_TIMEOUT': return 'timeout';
    case 'AGENT_CANCELLED': return 'cancelled';
    case 'AGENT_OVERLOADED': return 'overloaded';
    case 'AGENT_PROTOCOL':
    case 'AGENT_BAD_CALL':
      return 'protocol';
    default: return 'unavailable';
  }
}

type SlotState = 'connecting' | 'ready' | 'down';

interface Slot {
  readonly index: number;
  state: SlotState;
  conn: AgentConnection | null;
  /** Consecutive failed connects (for backoff); 0 after a handshake. */
  failures: number;
  timer: NodeJS.Timeout | null;
  /** The agent said it is draining or unhealthy: no new calls on this connection. */
  unusable: boolean;
}

interface Waiter {
  resolve(ok: boolean): void;
  timer: NodeJS.Timeout;
}

export interface AgentManagerOptions {
  readonly config: AgentConfig;
  readonly metrics: AgentMetricHandles;
  readonly logger: Logger | null;
  readonly proxyVersion: string;
  readonly clock?: Clock;
}

const noop = (): void => undefined;

export class AgentManager implements Resource, AgentGaugeSource {
  readonly agentId: string;
  readonly config: AgentConfig;
  private readonly slots: Slot[] = [];
  private readonly breaker: Breaker | null;
  private readonly metrics: AgentMetricHandles;
  private readonly logger: Logger | null;
  private readonly connOptions: Omit<AgentConnectionOptions, 'onHealth'>;
  private closed = false;
  /** Calls admitted (holding a semaphore slot). */
  private running = 0;
  /** Calls waiting for a semaphore slot, oldest first; bounded by maxConcurrentCalls. */
  private readonly queue: Waiter[] = [];
  /** Calls waiting for a connection to become ready. */
  private readyWaiters: Waiter[] = [];
  private everConnected = false;
  private warnedEvents = false;

  constructor(o: AgentManagerOptions) {
    const a = o.config;
    this.agentId = a.id;
    this.config = a;
    this.metrics = o.metrics;
    this.logger = o.logger;
    const clock = o.clock ?? monotonicClock;
    const b = a.circuitBreaker;
    this.breaker = b.enabled
      ? new Breaker({ failureThreshold: b.failureThreshold, successThreshold: b.successThreshold, openMs: b.openMs, halfOpenMaxProbes: b.halfOpenMaxRequests }, clock, (from, to) => this.onBreaker(from, to))
      : null;
    this.connOptions = {
      agentId: a.id,
      endpoint: endpointOf(a),
      connectTimeoutMs: a.connectTimeoutMs,
      // One connection never carries more calls than the whole agent may have in flight.
      maxConcurrentCalls: a.maxConcurrentCalls,
      config: a.config,
      proxyId: PROXY_ID,
      proxyVersion: o.proxyVersion,
      keepaliveIntervalMs: a.healthCheck.enabled ? a.healthCheck.intervalMs : 0,
      keepaliveTimeoutMs: a.healthCheck.timeoutMs,
    };
    for (let i = 0; i < a.poolSize; i++) {
      const slot: Slot = { index: i, state: 'down', conn: null, failures: 0, timer: null, unusable: false };
      this.slots.push(slot);
      this.connect(slot);
    }
    this.metrics.sources.add(this);
  }

  // ---- AgentGaugeSource ----

  breakerState(): number {
    const s = this.breaker?.state ?? 'closed';
    return s === 'closed' ? 0 : s === 'half-open' ? 1 : 2;
  }

  healthy(): boolean {
    if (this.breaker !== null && this.breaker.state === 'open') return false;
    return this.slots.some((s) => s.state === 'ready' && !s.unusable);
  }

  connections(): { ready: number; connecting: number; down: number } {
    let ready = 0;
    let connecting = 0;
    let down = 0;
    for (const s of this.slots) {
      if (s.state === 'ready') ready++;
      else if (s.state === 'connecting') connecting++;
      else down++;
    }
    return { ready, connecting, down };
  }

  get inFlight(): number {
    return this.running;
  }

  // ---- calls ----

  /**
   * Sends one event and waits for the answer, within `timeoutMs` in total (semaphore queue,
   * connection wait and the call itself). `conn` pins the call to a connection (the events of one
   * request after its headers go where its headers went); a pinned connection that is gone fails
   * the call. Never rejects.
   */
  async call(msg: CallMessage, timeoutMs: number, signal: AbortSignal, conn: AgentConnection | null): Promise<CallResult> {
    if (this.closed) return { ok: false, failure: 'unavailable', detail: 'agent manager closed' };
    if (signal.aborted) return { ok: false, failure: 'cancelled', detail: 'aborted before sending' };
    const breaker = this.breaker;
    if (breaker !== null && !breaker.allow()) return { ok: false, failure: 'circuit_open', detail: 'circuit breaker open' };
    const deadline = performance.now() + timeoutMs;
    // A free slot is taken at once (no promise to wait on); otherwise wait in the bounded queue.
    if (this.running < this.config.maxConcurrentCalls) this.running++;
    else if (!(await this.acquire(deadline))) {
      breaker?.release();
      return { ok: false, failure: 'overloaded', detail: `${this.config.maxConcurrentCalls} calls in flight and ${this.queue.length} waiting` };
    }
    try {
      let c = conn;
      if (c === null) {
        c = this.pick();
        if (c === null && this.slots.some((s) => s.state === 'connecting')) {
          await this.waitReady(deadline);
          c = this.pick();
        }
        if (c === null) {
          breaker?.onFailure();
          return { ok: false, failure: 'unavailable', detail: 'no connection to the agent' };
        }
      } else if (c.closed) {
        breaker?.onFailure();
        return { ok: false, failure: 'unavailable', detail: 'the connection of this request was lost' };
      }
      const left = Math.max(1, Math.ceil(deadline - performance.now()));
      try {
        const res = await c.call(msg, { timeoutMs: left, signal });
        breaker?.onSuccess();
        return { ok: true, res, conn: c };
      } catch (e) {
        const failure = classify(e);
        if (failure === 'cancelled' || failure === 'overloaded') breaker?.release();
        else breaker?.onFailure();
        return { ok: false, failure, detail: (e as Error).message };
      }
    } finally {
      this.releaseSlot();
    }
  }

  /** Fire-and-forget (request_complete): sent on the request's connection or any ready one. */
  notify(msg: CallMessage, timeoutMs: number, conn: AgentConnection | null): void {
    const c = conn !== null && !conn.closed ? conn : this.pick();
    if (c === null) return;
    // The answer is read only to complete the call; its content is ignored by design.
    c.call(msg, { timeoutMs }).catch(noop);
  }

  /** Waits in the bounded queue for a slot (all taken); false when the queue is full or the deadline passes. */
  private acquire(deadline: number): Promise<boolean> {
    if (this.queue.length >= this.config.maxConcurrentCalls) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const w: Waiter = {
        resolve,
        timer: setTimeout(() => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          resolve(false);
        }, Math.max(1, deadline - performance.now())),
      };
      this.queue.push(w);
    });
  }

  private releaseSlot(): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      clearTimeout(next.timer);
      next.resolve(true); // the slot passes to the waiter: `running` stays
    } else this.running--;
  }

  /** The ready connection with the fewest calls in flight (round-robin among equals). */
  private pick(): AgentConnection | null {
    let best: AgentConnection | null = null;
    let bestLoad = Infinity;
    // Ties go to the first connection in pool order: at light load one connection (its socket, its
    // buffers, the agent's session) carries the calls instead of rotating over idle ones. Under load
    // the fewest-in-flight rule spreads the calls.
    for (const s of this.slots) {
      if (s.state !== 'ready' || s.unusable || s.conn === null || s.conn.closed) continue;
      const load = s.conn.inFlight;
      if (load < bestLoad) {
        best = s.conn;
        bestLoad = load;
        if (load === 0) break;
      }
    }
    return best;
  }

  private waitReady(deadline: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const w: Waiter = {
        resolve,
        timer: setTimeout(() => {
          this.readyWaiters = this.readyWaiters.filter((x) => x !== w);
          resolve(false);
        }, Math.max(1, deadline - performance.now())),
      };
      this.readyWaiters.push(w);
    });
  }

  private wakeReadyWaiters(): void {
    const ws = this.readyWaiters;
    if (ws.length === 0) return;
    this.readyWaiters = [];
    for (const w of ws) {
      clearTimeout(w.timer);
      w.resolve(true);
    }
  }

  // ---- connections ----

  private connect(slot: Slot): void {
    if (this.closed) return;
    slot.timer = null;
    slot.state = 'connecting';
    slot.unusable = false;
    const opts: AgentConnectionOptions = { ...this.connOptions, onHealth: (h) => this.onHealth(slot, h) };
    AgentConnection.open(opts).then(
      (conn) => {
        if (this.closed) {
          conn.close();
          return;
        }
        slot.conn = conn;
        slot.state = 'ready';
        slot.failures = 0;
        this.onConnected(conn);
        conn.onClose((e) => this.onLost(slot, conn, e));
        this.wakeReadyWaiters();
      },
      (e: unknown) => {
        slot.state = 'down';
        this.onConnectFailed(slot, e);
        this.scheduleReconnect(slot);
        // Nothing is connecting any more: waiting calls fail now rather than at their deadline.
        if (!this.slots.some((s) => s.state === 'connecting')) this.wakeReadyWaiters();
      },
    );
  }

  private scheduleReconnect(slot: Slot): void {
    if (this.closed || slot.timer !== null) return;
    this.metrics.reconnects.labels(this.agentId).inc();
    const exp = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(slot.failures, 16));
    const delay = Math.round(exp * (0.8 + Math.random() * 0.4));
    slot.failures++;
    slot.timer = setTimeout(() => this.connect(slot), delay);
    slot.timer.unref();
  }

  private onLost(slot: Slot, conn: AgentConnection, e: AgentCallError): void {
    if (slot.conn !== conn) return;
    slot.conn = null;
    slot.state = 'down';
    slot.unusable = false;
    if (this.closed) return;
    if (!this.slots.some((s) => s.state === 'ready')) {
      this.logger?.warn({ agent: this.agentId, slot: slot.index, reason: e.code, detail: e.message }, 'agent connection lost');
    }
    this.scheduleReconnect(slot);
  }

  private onConnected(conn: AgentConnection): void {
    const readyBefore = this.slots.filter((s) => s.state === 'ready').length;
    if (!this.everConnected || readyBefore === 1) {
      const caps = conn.capabilities;
      this.logger?.info({ agent: this.agentId, agent_name: caps.name, agent_version: caps.version, transport: this.config.transport.kind }, this.everConnected ? 'agent reconnected' : 'agent connected');
    }
    this.everConnected = true;
    if (!this.warnedEvents) {
      const supported = new Set(conn.capabilities.supported_events);
      const missing = this.config.events.filter((e) => !supported.has(EVENT_CAPABILITY[e].code));
      if (missing.length > 0) {
        this.warnedEvents = true;
        this.logger?.warn({ agent: this.agentId, events: missing }, 'agent does not announce support for configured events; it will be sent them anyway');
      }
    }
  }

  private onConnectFailed(slot: Slot, e: unknown): void {
    // Log the first failure of a run only (a down agent would otherwise log every backoff step).
    if (slot.failures > 0 || this.closed) return;
    const err = e instanceof AgentCallError ? e : null;
    const fields = { agent: this.agentId, slot: slot.index, reason: err?.code ?? 'AGENT_UNAVAILABLE', detail: (e as Error)?.message };
    if (err?.code === 'AGENT_HANDSHAKE') this.logger?.error(fields, 'agent refused the handshake');
    else if (slot.index === 0) this.logger?.warn(fields, 'agent connection failed; retrying with backoff');
  }

  private onHealth(slot: Slot, h: HealthStatusMessage): void {
    const unusable = h.state === HEALTH_STATES.draining || h.state === HEALTH_STATES.unhealthy;
    if (unusable !== slot.unusable) {
      slot.unusable = unusable;
      this.logger?.info({ agent: this.agentId, slot: slot.index, state: h.state, message: h.message }, unusable ? 'agent reports it is not taking calls' : 'agent reports it is healthy again');
    }
  }

  private onBreaker(from: BreakerState, to: BreakerState): void {
    const fields = { agent: this.agentId, from, to };
    if (to === 'open') this.logger?.warn(fields, 'agent circuit breaker opened');
    else this.logger?.info(fields, 'agent circuit breaker changed state');
  }

  // ---- lifecycle ----

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.metrics.sources.delete(this);
    for (const s of this.slots) {
      if (s.timer !== null) clearTimeout(s.timer);
      s.timer = null;
      s.conn?.close();
      s.conn = null;
      s.state = 'down';
    }
    for (const w of this.queue.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.wakeReadyWaiters();
    return Promise.resolve();
  }
}
