// Agent filters as request filters. `AgentFilter` is one `filter "id" { type "agent" }` of a
// snapshot: the agent's manager (from the registry), its per-filter timeout and failure mode, and
// pre-bound metrics. Routes do not run agent filters one by one: consecutive agent filters of a
// route are one `AgentGroup`, so that their request-header events go out in parallel and are
// merged in filter order (src/agents/exchange.ts does the per-request work).
import type { AgentConfig, AgentEvent, AgentFailureMode, AgentFilterConfig } from '../config/types.ts';
import type { CompileContext } from '../compile/context.ts';
import type { Exchange } from '../pipeline/exchange.ts';
import type { FilterResult, RequestFilter } from '../pipeline/filters.ts';
import { AgentManager, agentKey } from './manager.ts';
import { registerAgentMetrics } from './metrics.ts';
import type { AgentEventMetrics, AgentMetricHandles, BypassReason } from './metrics.ts';
import { AgentExchange } from './exchange.ts';

type Child = ReturnType<AgentMetricHandles['bypasses']['labels']>;

export class AgentFilter implements RequestFilter {
  readonly id: string;
  readonly kind = 'agent';
  readonly agent: AgentConfig;
  readonly manager: AgentManager;
  /** Deadline of header, buffered-body and response calls. */
  readonly timeoutMs: number;
  readonly failureMode: AgentFailureMode;
  readonly onRequestHeaders: boolean;
  readonly onRequestBody: boolean;
  readonly onResponseHeaders: boolean;
  readonly onResponseBody: boolean;
  readonly onRequestComplete: boolean;
  readonly m: Readonly<Record<AgentEvent, AgentEventMetrics>>;
  readonly rejectedRequestOps: Child;
  readonly rejectedResponseOps: Child;
  private readonly bypassChildren: Record<BypassReason, Child>;
  private alone: AgentGroup | null = null;

  constructor(f: AgentFilterConfig, agent: AgentConfig, manager: AgentManager, metrics: AgentMetricHandles) {
    this.id = f.id;
    this.agent = agent;
    this.manager = manager;
    this.timeoutMs = f.timeoutMs ?? agent.timeoutMs;
    this.failureMode = f.failureMode ?? agent.failureMode;
    const ev = new Set(agent.events);
    this.onRequestHeaders = ev.has('request_headers');
    this.onRequestBody = ev.has('request_body');
    this.onResponseHeaders = ev.has('response_headers');
    this.onResponseBody = ev.has('response_body');
    this.onRequestComplete = ev.has('request_complete');
    const id = agent.id;
    this.m = {
      request_headers: metrics.event(id, 'request_headers'),
      request_body: metrics.event(id, 'request_body'),
      response_headers: metrics.event(id, 'response_headers'),
      response_body: metrics.event(id, 'response_body'),
      request_complete: metrics.event(id, 'request_complete'),
    };
    this.rejectedRequestOps = metrics.mutationsRejected.labels(id, 'request');
    this.rejectedResponseOps = metrics.mutationsRejected.labels(id, 'response');
    this.bypassChildren = {
      timeout: metrics.bypasses.labels(id, 'timeout'),
      error: metrics.bypasses.labels(id, 'error'),
      circuit_open: metrics.bypasses.labels(id, 'circuit_open'),
      overloaded: metrics.bypasses.labels(id, 'overloaded'),
      body_too_large: metrics.bypasses.labels(id, 'body_too_large'),
    };
  }

  bypassed(reason: BypassReason): void {
    this.bypassChildren[reason].inc();
  }

  /** Run alone (a route whose filter list was not composed): a group of one. */
  onRequest(ex: Exchange): FilterResult {
    this.alone ??= new AgentGroup([this]);
    return this.alone.onRequest(ex);
  }

  onComplete(ex: Exchange): void {
    ex.agents?.complete();
  }
}

/** Consecutive agent filters of a route, run as one admit step. */
export class AgentGroup implements RequestFilter {
  readonly id: string;
  readonly kind = 'agent';
  readonly members: readonly AgentFilter[];

  constructor(members: readonly AgentFilter[]) {
    this.members = members;
    this.id = members.map((m) => m.id).join('+');
  }

  onRequest(ex: Exchange): FilterResult {
    const st = (ex.agents ??= new AgentExchange(ex));
    return st.admit(this.members);
  }

  onComplete(ex: Exchange): void {
    ex.agents?.complete();
  }
}

/** Builds the filter of `filter "id" { type "agent" }`, taking the agent's manager from the registry. */
export function buildAgentFilter(f: AgentFilterConfig, cc: CompileContext): AgentFilter {
  const agent = cc.config.agents.find((a) => a.id === f.agent);
  // The loader rejects dangling references; reaching this is a bug, not a user error.
  if (agent === undefined) throw new Error(`filter "${f.id}" names unknown agent "${f.agent}"`);
  const metrics = registerAgentMetrics(cc.metrics);
  const manager = cc.acquire(agentKey(agent), () => new AgentManager({ config: agent, metrics, logger: cc.logger, proxyVersion: cc.version }));
  return new AgentFilter(f, agent, manager, metrics);
}

/**
 * A route's filter list with each run of consecutive agent filters folded into one AgentGroup
 * (their request-header calls go out in parallel). Other filters are kept in place.
 */
export function groupAgentFilters(filters: readonly RequestFilter[]): RequestFilter[] {
  const out: RequestFilter[] = [];
  let run: AgentFilter[] = [];
  const flush = (): void => {
    if (run.length > 0) out.push(new AgentGroup(run));
    run = [];
  };
  for (const f of filters) {
    if (f instanceof AgentFilter) run.push(f);
    else {
      flush();
      out.push(f);
    }
  }
  flush();
  return out;
}
