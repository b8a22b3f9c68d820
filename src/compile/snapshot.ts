// Config → Snapshot: the frozen runtime form of one config generation. Pure apart from taking
// long-lived handles (pools) from the registry; `releaseSnapshot` gives them back.
import type { BuiltinHandler, Config, ListenerConfig, RouteConfig, UpstreamConfig } from '../config/types.ts';
import { compileRouter } from '../routing/router.ts';
import type { Router } from '../routing/types.ts';
import type { Registry } from '../runtime/registry.ts';
import { UpstreamRuntime } from '../upstream/upstream.ts';
import type { TargetRuntime } from '../upstream/upstream.ts';
import type { Metrics, RouteMetrics } from '../observability/metrics.ts';

export interface CompiledRoute {
  readonly id: string;
  readonly config: RouteConfig;
  readonly upstream: UpstreamRuntime | null;
  readonly builtin: BuiltinHandler | null;
  readonly metrics: RouteMetrics;
}

export interface CompiledListener {
  readonly config: ListenerConfig;
  readonly router: Router;
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
}

function formatAuthority(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function compileUpstream(u: UpstreamConfig, registry: Registry): UpstreamRuntime {
  const targets: TargetRuntime[] = u.targets.map((t) => {
    const { key, pool } = registry.acquirePool({ host: t.host, port: t.port, pool: u.pool, timeouts: u.timeouts });
    const authority = formatAuthority(t.host, t.port);
    return { id: authority, pool, poolKey: key, weight: t.weight, authority };
  });
  return new UpstreamRuntime(u, targets);
}

export function compileSnapshot(config: Config, hash: string, generation: number, registry: Registry, metrics: Metrics): Snapshot {
  const upstreams = new Map<string, UpstreamRuntime>();
  for (const u of config.upstreams) upstreams.set(u.id, compileUpstream(u, registry));

  const routes = new Map<RouteConfig, CompiledRoute>();
  for (const r of config.routes) {
    const upstream = r.action.kind === 'upstream' ? (upstreams.get(r.action.upstream) ?? null) : null;
    if (r.action.kind === 'upstream' && upstream === null) {
      // The loader rejects dangling references; reaching this is a bug, not a user error.
      throw new Error(`route "${r.id}" names unknown upstream "${r.action.upstream}"`);
    }
    routes.set(r, {
      id: r.id,
      config: r,
      upstream,
      builtin: r.action.kind === 'builtin' ? r.action.handler : null,
      metrics: metrics.route(r.id),
    });
  }

  const listeners = new Map<string, CompiledListener>();
  for (const l of config.listeners) listeners.set(l.id, { config: l, router: compileRouter(config.routes, l.defaultRoute) });

  return { generation, usage: { inflight: 0, onIdle: null }, hash, config, listeners, upstreams, routes, unmatched: metrics.route('-') };
}

/** Resolves once no request that started under `snapshot` is still running. */
export function drained(snapshot: Snapshot): Promise<void> {
  if (snapshot.usage.inflight === 0) return Promise.resolve();
  return new Promise((resolve) => { snapshot.usage.onIdle = resolve; });
}

/** Returns the snapshot's pools to the registry (closing those no other generation uses). */
export async function releaseSnapshot(snapshot: Snapshot, registry: Registry): Promise<void> {
  const keys: string[] = [];
  for (const u of snapshot.upstreams.values()) for (const t of u.targets) keys.push(t.poolKey);
  await Promise.all(keys.map((k) => registry.releasePool(k)));
}
