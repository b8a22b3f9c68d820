// Agent metric handles: registered once per metrics registry at start-up (registerAgentMetrics),
// pre-bound per agent and event when a filter is built, so a call costs a few increments. The
// gauges are read at scrape time from the live managers.
import type { Counter, Gauge, Histogram } from 'prom-client';
import { AGENT_METRICS } from '../observability/catalogue/agents.ts';
import { perRegistry } from '../observability/metrics.ts';
import type { Metrics } from '../observability/metrics.ts';

export type AgentEventLabel = 'request_headers' | 'request_body' | 'response_headers' | 'response_body' | 'request_complete';

/** Outcome of one call, the `outcome` label. */
export type CallOutcome = 'allow' | 'block' | 'redirect' | 'challenge' | 'timeout' | 'error' | 'circuit_open' | 'overloaded' | 'cancelled';
export const CALL_OUTCOMES: readonly CallOutcome[] = ['allow', 'block', 'redirect', 'challenge', 'timeout', 'error', 'circuit_open', 'overloaded', 'cancelled'];

export type BypassReason = 'timeout' | 'error' | 'circuit_open' | 'overloaded' | 'body_too_large';

/** What the gauges read from one agent manager at scrape time. */
export interface AgentGaugeSource {
  readonly agentId: string;
  /** 0 closed, 1 half-open, 2 open. */
  breakerState(): number;
  healthy(): boolean;
  connections(): { ready: number; connecting: number; down: number };
}

type Child<T extends { labels(...v: string[]): unknown }> = ReturnType<T['labels']>;

/** Pre-bound children of one agent and event. */
export class AgentEventMetrics {
  readonly duration: Child<Histogram<string>>;
  readonly timeouts: Child<Counter<string>>;
  private readonly outcomes: Record<CallOutcome, Child<Counter<string>>>;

  constructor(m: AgentMetricHandles, agent: string, event: AgentEventLabel) {
    this.duration = m.duration.labels(agent, event);
    this.timeouts = m.timeouts.labels(agent, event);
    const o = {} as Record<CallOutcome, Child<Counter<string>>>;
    for (const outcome of CALL_OUTCOMES) o[outcome] = m.calls.labels(agent, event, outcome);
    this.outcomes = o;
  }

  /** Counts one finished call. */
  done(outcome: CallOutcome, seconds: number): void {
    this.outcomes[outcome].inc();
    this.duration.observe(seconds);
    if (outcome === 'timeout') this.timeouts.inc();
  }
}

export class AgentMetricHandles {
  readonly calls: Counter<string>;
  readonly duration: Histogram<string>;
  readonly timeouts: Counter<string>;
  readonly bypasses: Counter<string>;
  readonly reconnects: Counter<string>;
  readonly mutationsRejected: Counter<string>;
  /** Live managers, newest last: a reload that replaces an agent's manager reports the new one. */
  readonly sources = new Set<AgentGaugeSource>();

  constructor(metrics: Metrics) {
    const c = AGENT_METRICS;
    this.calls = metrics.counter(c.agentCalls);
    this.duration = metrics.histogram(c.agentDuration);
    this.timeouts = metrics.counter(c.agentTimeouts);
    this.bypasses = metrics.counter(c.agentBypasses);
    this.reconnects = metrics.counter(c.agentReconnects);
    this.mutationsRejected = metrics.counter(c.agentMutationsRejected);
    const sources = this.sources;
    metrics.gauge(c.agentBreakerState, (g: Gauge<string>) => {
      g.reset();
      for (const s of sources) g.labels(s.agentId).set(s.breakerState());
    });
    metrics.gauge(c.agentHealthy, (g: Gauge<string>) => {
      g.reset();
      for (const s of sources) g.labels(s.agentId).set(s.healthy() ? 1 : 0);
    });
    metrics.gauge(c.agentPoolConnections, (g: Gauge<string>) => {
      g.reset();
      for (const s of sources) {
        const n = s.connections();
        g.labels(s.agentId, 'ready').set(n.ready);
        g.labels(s.agentId, 'connecting').set(n.connecting);
        g.labels(s.agentId, 'down').set(n.down);
      }
    });
  }

  event(agent: string, event: AgentEventLabel): AgentEventMetrics {
    return new AgentEventMetrics(this, agent, event);
  }
}

/** The agent handles of a metrics registry, registering them the first time (idempotent). */
export const registerAgentMetrics: (metrics: Metrics) => AgentMetricHandles = perRegistry((m) => new AgentMetricHandles(m));
