// Config → Snapshot: the frozen runtime form of one config generation. Pure apart from taking
// long-lived handles (pools, target health, probers, discovery sources) from the registry;
// `releaseSnapshot` gives them back.
import type { BuiltinHandler, Config, HeaderRule, ListenerConfig, RouteConfig, RoutePolicies, UpstreamConfig } from '../config/types.ts';
import { compileRouter } from '../routing/router.ts';
import type { Router } from '../routing/types.ts';
import type { Registry } from '../runtime/registry.ts';
import { UpstreamRuntime } from '../upstream/upstream.ts';
import { acquireTarget, targetSettings } from '../upstream/targets.ts';
import { DiscoveredTargets, FIRST_REFRESH_WAIT_MS } from '../upstream/discovered-targets.ts';
import { monotonicClock } from '../upstream/health/clock.ts';
import { DnsDiscoverer } from '../discovery/dns.ts';
import { FileDiscoverer } from '../discovery/file.ts';
import type { Metrics, RouteMetrics } from '../observability/metrics.ts';
import type { Logger } from '../observability/log.ts';
import type { ConcurrencyGate, RouteHandler } from '../pipeline/exchange.ts';
import type { RequestFilter } from '../pipeline/filters.ts';
import type { HeaderOp } from '../pipeline/header-ops.ts';
import { ProxyHandler } from '../pipeline/forward.ts';
import { BuiltinRouteHandler } from '../pipeline/builtin.ts';
import { DeploymentsHandler } from '../pipeline/deployments.ts';
import { deploymentMetrics } from '../deployments/metrics.ts';
import { createDeploymentRuntime, deploymentRuntimeKey } from '../deployments/runtime.ts';
import type { DeploymentsConfig } from '../config/types.ts';
import { StaticFilesHandler } from '../static/handler.ts';
import { WebSocketRouteHandler } from '../pipeline/websocket.ts';
import { createCompileContext } from './context.ts';
import type { CompileContext } from './context.ts';
import { compileFilters, composeRouteFilters } from './filters.ts';

export interface CompiledRoute {
  readonly id: string;
  readonly config: RouteConfig;
  /** What serves the route once its filters have admitted the request. */
  readonly handler: RouteHandler;
  /** The upstream of a proxy route, else null. */
  readonly upstream: UpstreamRuntime | null;
  readonly builtin: BuiltinHandler | null;
  /** Request filters in the order the route lists them (empty: none, the common case). */
  readonly filters: readonly RequestFilter[];
  /** Route header rules for the upstream request, or null. */
  readonly requestHeaderOps: readonly HeaderOp[] | null;
  /** Route header rules and security headers for every response (relayed or local), or null. */
  readonly responseHeaderOps: readonly HeaderOp[] | null;
  /** The same on TLS listeners (adds Strict-Transport-Security). */
  readonly responseHeaderOpsTls: readonly HeaderOp[] | null;
  /** `policies { max-body-size-bytes }`. */
  readonly maxBodyBytes: number;
  /** `policies { max-concurrent-requests }`, or null when unlimited. */
  readonly concurrency: ConcurrencyGate | null;
  readonly metrics: RouteMetrics;
}

export interface CompiledListener {
  readonly config: ListenerConfig;
  readonly router: Router;
  /** Some route allows WebSocket: upgrade requests are handed to the pipeline with their socket. */
  readonly websocket: boolean;
  /** The listener's global limit: rate-limit filters run before routing (empty: none). */
  readonly filters: readonly RequestFilter[];
}

/** Mutable accounting of one generation: requests that started under it and have not finished. */
export interface GenerationUsage {
  inflight: number;
  /** Set when the generation is retired; called once when `inflight` reaches 0. */
  onIdle: (() => void) | null;
}

export interface Snapshot {
  readonly generation: number;
  readonly usage: GenerationUsage;
  readonly hash: string;
  readonly config: Config;
  readonly listeners: ReadonlyMap<string, CompiledListener>;
  readonly upstreams: ReadonlyMap<string, UpstreamRuntime>;
  /** RouteConfig (as the router returns it) → its compiled form. */
  readonly routes: ReadonlyMap<RouteConfig, CompiledRoute>;
  /** Metrics handles for requests that matched no route. */
  readonly unmatched: RouteMetrics;
  /** Registry keys this generation holds; released when it is retired and drained. */
  readonly acquired: readonly string[];
}

function compileUpstream(u: UpstreamConfig, cc: CompileContext): UpstreamRuntime {
  const settings = targetSettings(u, cc.metrics.upstreams, monotonicClock);
  const d = u.discovery;
  if (d.kind === 'static') {
    const targets = u.targets.map((t) => acquireTarget((k, create) => cc.acquire(k, create), settings, t.host, t.port, t.weight).target);
    return new UpstreamRuntime(u, targets);
  }
  // The source is shared by every generation with the same discovery, pool and health settings.
  const key = `discovery|${u.id}|${JSON.stringify([d, u.pool, u.timeouts, settings.healthIdentity, settings.probeIdentity])}`;
  const source = cc.acquire(key, () => new DiscoveredTargets(d.kind === 'dns' ? new DnsDiscoverer(d) : new FileDiscoverer(d), cc.registry, settings));
  return new UpstreamRuntime(u, [], { source });
}

/**
 * Resolves when every discovery source of the snapshot has finished its first refresh (or after
 * FIRST_REFRESH_WAIT_MS): the proxy starts serving, or swaps in a reload, with targets known.
 */
export async function snapshotReady(snapshot: Snapshot): Promise<void> {
  const waits = [...snapshot.upstreams.values()].map((u) => u.ready).filter((p) => p !== null);
  if (waits.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(waits), new Promise<void>((resolve) => { timer = setTimeout(resolve, FIRST_REFRESH_WAIT_MS); })]);
  clearTimeout(timer);
}

function toOp(r: HeaderRule): HeaderOp {
  return r.op === 'remove' ? { op: 'remove', name: r.name } : r.op === 'rename' ? { op: 'rename', name: r.name, to: r.to } : { op: r.op, name: r.name, value: r.value };
}

/**
 * Response operations of a route, in order: the Server policy, the route's own rules, then the
 * security headers as defaults (added only when the response has none, so rules and upstreams win).
 */
export function compileResponseOps(p: RoutePolicies, tls: boolean): HeaderOp[] | null {
  const ops: HeaderOp[] = [];
  const server = p.serverHeader;
  if (server.mode === 'remove') ops.push({ op: 'remove', name: 'server' });
  else if (server.mode === 'set') ops.push({ op: 'set', name: 'server', value: server.value });
  for (const r of p.responseHeaders) ops.push(toOp(r));
  const sec = p.securityHeaders;
  if (tls && sec.strictTransportSecurity !== null) ops.push({ op: 'default', name: 'strict-transport-security', value: sec.strictTransportSecurity });
  if (sec.contentTypeOptions !== null) ops.push({ op: 'default', name: 'x-content-type-options', value: sec.contentTypeOptions });
  if (sec.frameOptions !== null) ops.push({ op: 'default', name: 'x-frame-options', value: sec.frameOptions });
  if (sec.referrerPolicy !== null) ops.push({ op: 'default', name: 'referrer-policy', value: sec.referrerPolicy });
  return ops.length === 0 ? null : ops;
}

/** The route's concurrency gate, kept in the registry so that in-flight counts survive a reload. */
function compileConcurrency(r: RouteConfig, cc: CompileContext): ConcurrencyGate | null {
  const max = r.policies.maxConcurrentRequests;
  if (max === 0) return null;
  const gate = cc.acquire(`route-concurrency|${r.id}`, () => ({ active: 0, max, close: () => Promise.resolve() }));
  gate.max = max;
  return gate;
}

function compileHandler(r: RouteConfig, upstream: UpstreamRuntime | null): RouteHandler {
  switch (r.action.kind) {
    case 'upstream': {
      const proxy = new ProxyHandler(upstream as UpstreamRuntime);
      return r.websocket !== undefined ? new WebSocketRouteHandler(proxy) : proxy;
    }
    case 'builtin': return new BuiltinRouteHandler(r.action.handler);
    case 'static': return new StaticFilesHandler(r.action.files);
    case 'deployments': throw new Error('deployments handlers are compiled with their runtime (compileDeployments)');
  }
}

export function compileSnapshot(config: Config, hash: string, generation: number, registry: Registry, metrics: Metrics, logger: Logger | null = null, version = '0.0.0'): Snapshot {
  const { cc, acquired } = createCompileContext(config, registry, metrics, logger, version);
  try {
    return build(cc, hash, generation, acquired);
  } catch (err) {
    // A builder failed halfway: give back what was taken, so a rejected reload leaks nothing.
    for (const k of acquired) void registry.release(k);
    throw err;
  }
}

function build(cc: CompileContext, hash: string, generation: number, acquired: string[]): Snapshot {
  const { config, metrics } = cc;
  const upstreams = new Map<string, UpstreamRuntime>();
  for (const u of config.upstreams) upstreams.set(u.id, compileUpstream(u, cc));
  const filters = compileFilters(cc);

  const routes = new Map<RouteConfig, CompiledRoute>();
  for (const r of config.routes) {
    const upstream = r.action.kind === 'upstream' ? (upstreams.get(r.action.upstream) ?? null) : null;
    if (r.action.kind === 'upstream' && upstream === null) {
      // The loader rejects dangling references; reaching this is a bug, not a user error.
      throw new Error(`route "${r.id}" names unknown upstream "${r.action.upstream}"`);
    }
    const builtin = r.action.kind === 'builtin' ? r.action.handler : null;
    let handler: RouteHandler;
    let ownOps: readonly HeaderOp[] = [];
    if (r.action.kind === 'deployments') {
      const d = compileDeployments(cc, r.id, r.action.deployments);
      ownOps = d.requestHeaderOps;
      handler = d;
    } else handler = compileHandler(r, upstream);
    const requestOps = [...ownOps, ...r.policies.requestHeaders.map(toOp)];
    routes.set(r, {
      id: r.id,
      config: r,
      handler,
      upstream,
      builtin,
      filters: composeRouteFilters(r.filters.map((id) => {
        const f = filters.get(id);
        if (f === undefined) throw new Error(`route "${r.id}" names unknown filter "${id}"`);
        return f;
      })),
      requestHeaderOps: requestOps.length === 0 ? null : requestOps,
      responseHeaderOps: compileResponseOps(r.policies, false),
      responseHeaderOpsTls: compileResponseOps(r.policies, true),
      // A deployments route streams bodies as Unkey's Sentinel does: no body limit (the policy key is refused there).
      maxBodyBytes: r.action.kind === 'deployments' ? Number.POSITIVE_INFINITY : r.policies.maxBodyBytes,
      concurrency: compileConcurrency(r, cc),
      metrics: metrics.route(r.id),
    });
  }

  const listeners = new Map<string, CompiledListener>();
  const websocket = config.routes.some((r) => r.websocket !== undefined);
  for (const l of config.listeners) {
    listeners.set(l.id, {
      config: l,
      router: compileRouter(config.routes, l.defaultRoute),
      websocket,
      // Only rate-limit filters (the loader checks it); they have no onComplete hook, which
      // finalize runs for the route's filters only.
      filters: l.rateLimit.map((id) => {
        const f = filters.get(id);
        if (f === undefined) throw new Error(`listener "${l.id}" names unknown filter "${id}"`);
        if (f.onComplete !== undefined) throw new Error(`listener "${l.id}": filter "${id}" has a completion hook, which listener filters do not run`);
        return f;
      }),
    });
  }

  return { generation, usage: { inflight: 0, onIdle: null }, hash, config, listeners, upstreams, routes, unmatched: metrics.route('-'), acquired };
}

/** A deployments route: its runtime (store, caches, instance pools) comes from the registry. */
function compileDeployments(cc: CompileContext, routeId: string, config: DeploymentsConfig): DeploymentsHandler {
  const metrics = deploymentMetrics(cc.metrics);
  const runtime = cc.acquire(deploymentRuntimeKey(config), () => createDeploymentRuntime({ config, metrics, logger: cc.logger }));
  return new DeploymentsHandler(routeId, config, runtime, metrics.route(routeId, config.region));
}

/** Resolves once no request that started under `snapshot` is still running. */
export function drained(snapshot: Snapshot): Promise<void> {
  if (snapshot.usage.inflight === 0) return Promise.resolve();
  return new Promise((resolve) => { snapshot.usage.onIdle = resolve; });
}

/** Returns what the snapshot took to the registry (closing what no other generation uses). */
export async function releaseSnapshot(snapshot: Snapshot, registry: Registry): Promise<void> {
  await Promise.all(snapshot.acquired.map((k) => registry.release(k)));
}
