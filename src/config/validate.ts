// Schema and semantic validation: turns located KDL nodes (from every loaded file) into a `Config`,
// collecting every problem in one pass. Pure: no I/O.
//
// Each top-level block has its own module under `schema/`; this file only dispatches top-level
// nodes to them (the table `TOP_BLOCKS`), checks references between blocks, and assembles the
// `Config`. To add a block: write `schema/<block>.ts`, give it an accumulator in `Acc`, a row in
// `TOP_BLOCKS`, and its part of the result in `assemble`.
import type { Config, Diagnostic } from './types.ts';
import type { LNode } from './kdl.ts';
import { suggestionHint } from './diagnostics.ts';
import { ALGORITHMS, parseAlgorithm } from '../core/load-balancing.ts';
import { parseKeySpec } from '../core/request-key.ts';
import { NOT_IMPLEMENTED_HINT, checkBlockNode, createCtx, error, q, single, walkBlock, warning, where } from './schema/reader.ts';
import type { Ctx } from './schema/reader.ts';
import { readSystem } from './schema/system.ts';
import type { SystemAcc } from './schema/system.ts';
import { readListener } from './schema/listeners.ts';
import type { ListenerAcc } from './schema/listeners.ts';
import { readRoute } from './schema/routes.ts';
import type { RouteAcc } from './schema/routes.ts';
import { readUpstream } from './schema/upstreams.ts';
import type { UpstreamAcc } from './schema/upstreams.ts';
import { readFilter } from './schema/filters.ts';
import type { FilterAcc } from './schema/filters.ts';
import { readAgent } from './schema/agents.ts';
import type { AgentAcc } from './schema/agents.ts';
import { defaultObsAcc, readObservability } from './schema/observability.ts';
import type { ObsAcc } from './schema/observability.ts';
import { readAdmin } from './schema/admin.ts';
import type { AdminAcc } from './schema/admin.ts';

export { MAX_DURATION_SECS, parseHostPort } from './schema/reader.ts';
export type { HostPort } from './schema/reader.ts';
export { parseHashKeyConfig } from './schema/load-balancing.ts';

/** Canonical names and aliases: the table shared with upstream/select (src/core/load-balancing.ts). */
export const LB_ALGORITHMS = ALGORITHMS;
/** Canonical algorithm for a configured name (case-insensitive, '-' read as '_', aliases), or null. */
export const parseLoadBalancingName = parseAlgorithm;

/** A top-level node and whether it came from an included file. */
export interface TopNode {
  readonly node: LNode;
  readonly included: boolean;
}

/** Everything the block readers accumulate, before cross-block checks. */
interface Acc {
  readonly system: SystemAcc;
  readonly admin: AdminAcc;
  readonly obs: ObsAcc;
  readonly listeners: ListenerAcc[];
  readonly routes: RouteAcc[];
  readonly upstreams: UpstreamAcc[];
  readonly filters: FilterAcc[];
  readonly agents: AgentAcc[];
  /** Declared ids by kind (`listener`, `route`, `upstream`, …), valid or not, for references. */
  readonly ids: Map<string, Map<string, LNode>>;
  sawListenersBlock: boolean;
}

function createAcc(): Acc {
  return {
    system: { autoReload: false, workerThreads: 1, reusePort: true, maxConnections: 10_000, gracefulShutdownTimeoutMs: 30_000, traceIdFormat: 'uuid' },
    admin: { enabled: false, host: '127.0.0.1', port: 9901, node: undefined },
    obs: defaultObsAcc(),
    listeners: [],
    routes: [],
    upstreams: [],
    filters: [],
    agents: [],
    ids: new Map(),
    sawListenersBlock: false,
  };
}

/** Records a declared id (valid or not, so references to it are not reported as dangling). */
function declareId(ctx: Ctx, acc: Acc, kind: string, node: LNode, parentPath: string): boolean {
  const id = node.args[0]?.value;
  if (typeof id !== 'string' || id === '') return true;
  let seen = acc.ids.get(kind);
  if (seen === undefined) { seen = new Map(); acc.ids.set(kind, seen); }
  const path = `${parentPath}/${kind} ${q(id)}`;
  const first = seen.get(id);
  if (first !== undefined) {
    error(ctx, node, node.args[0]?.pos ?? node.pos, 'duplicate-id', `${kind} ${q(id)} is already defined at ${where(first)}`, path, `${kind} ids must be unique across all files`);
    return false;
  }
  seen.set(id, node);
  return true;
}

/**
 * A list block such as `routes { route "id" { } … }`: every child is `kind "id" { }`, ids are unique
 * across all files, and `read` turns one child into its accumulated form (or undefined).
 */
function listBlock<T>(kind: string, read: (ctx: Ctx, n: LNode, parentPath: string) => T | undefined, into: (acc: Acc) => T[]) {
  return (ctx: Ctx, node: LNode, acc: Acc): void => {
    const name = node.name;
    checkBlockNode(ctx, node, name);
    walkBlock(ctx, node, name, {
      label: name,
      repeatable: [kind],
      keys: {
        [kind]: (n: LNode) => {
          const unique = declareId(ctx, acc, kind, n, name);
          const item = read(ctx, n, name);
          if (item !== undefined && unique) into(acc).push(item);
        },
      },
    });
  };
}

interface TopBlockSpec {
  /** May appear once in the whole config. */
  readonly once: boolean;
  /** May appear in an included file (process-wide blocks belong to the main file). */
  readonly inInclude: boolean;
  readonly read: (ctx: Ctx, node: LNode, acc: Acc) => void;
}

const TOP_BLOCKS: Readonly<Record<string, TopBlockSpec>> = {
  'schema-version': {
    once: true,
    inInclude: false,
    read: (ctx, node) => {
      const v = single(ctx, node, node.name);
      if (v !== undefined && v.value !== '1') {
        error(ctx, node, v.pos, 'invalid-value', `unsupported schema-version ${typeof v.value === 'string' ? q(v.value) : String(v.value)}`, node.name, 'the only supported version is schema-version "1"');
      }
    },
  },
  system: { once: true, inInclude: false, read: (ctx, node, acc) => readSystem(ctx, node, acc.system) },
  listeners: {
    once: false,
    inInclude: true,
    read: (ctx, node, acc) => {
      acc.sawListenersBlock = true;
      listBlock('listener', readListener, (a) => a.listeners)(ctx, node, acc);
    },
  },
  routes: { once: false, inInclude: true, read: listBlock('route', readRoute, (a) => a.routes) },
  upstreams: { once: false, inInclude: true, read: listBlock('upstream', readUpstream, (a) => a.upstreams) },
  filters: { once: false, inInclude: true, read: listBlock('filter', readFilter, (a) => a.filters) },
  agents: { once: false, inInclude: true, read: listBlock('agent', readAgent, (a) => a.agents) },
  observability: { once: true, inInclude: false, read: (ctx, node, acc) => readObservability(ctx, node, acc.obs) },
  admin: { once: true, inInclude: false, read: (ctx, node, acc) => readAdmin(ctx, node, acc.admin) },
};

/** `include` is resolved by the loader; it is listed so that "did you mean" knows it. */
const TOP_LEVEL = [...Object.keys(TOP_BLOCKS), 'include'];
/** Zentinel blocks Sentinel recognises but does not implement: each is a loud error. */
const TOP_NOT_IMPLEMENTED = ['waf', 'namespace', 'limits', 'rate-limits', 'cache'];

function danglingHint(id: string, available: readonly string[], kind: string): string {
  return suggestionHint(id, available, `available ${kind}s`) ?? `no ${kind} is defined`;
}

/** Checks between blocks: references, a listener exists, address clashes. */
function crossCheck(ctx: Ctx, acc: Acc, mainFile: string): void {
  if ((acc.ids.get('listener')?.size ?? 0) === 0 && !ctx.diags.some((d) => d.path.startsWith('listeners'))) {
    const pos = { line: 1, column: 1 };
    error(ctx, { file: mainFile }, pos, 'missing-key', acc.sawListenersBlock ? 'the "listeners" block defines no listener' : 'no "listeners" block: at least one listener is required', 'listeners',
      'e.g. listeners { listener "http" { address "127.0.0.1:8080" } }');
  }
  const used = new Map<string, Set<string>>();
  for (const ref of ctx.refs) {
    let u = used.get(ref.kind);
    if (u === undefined) { u = new Set(); used.set(ref.kind, u); }
    u.add(ref.name);
    const declared = acc.ids.get(ref.kind);
    if (declared === undefined || !declared.has(ref.name)) {
      const via = ref.via !== undefined ? ` ${ref.via}` : '';
      error(ctx, ref.node, ref.node.args[0]?.pos ?? ref.node.pos, 'dangling-reference', `${ref.from}${via} refers to unknown ${ref.kind} ${q(ref.name)}`, ref.path,
        danglingHint(ref.name, [...(declared?.keys() ?? [])], ref.kind));
    }
  }
  checkListenerRateLimits(ctx, acc);
  const usedUpstreams = used.get('upstream');
  for (const u of acc.upstreams) {
    if (usedUpstreams === undefined || !usedUpstreams.has(u.config.id)) {
      warning(ctx, u.node, u.node.pos, 'unused-upstream', `upstream ${q(u.config.id)} is not used by any route`, `upstreams/upstream ${q(u.config.id)}`);
    }
  }
  // WebSocket upgrades go over HTTP/1.1: a WebSocket route's upstream must not use HTTP/2.
  for (const r of acc.routes) {
    const a = r.config.action;
    if (r.config.websocket === undefined || a.kind !== 'upstream') continue;
    const u = acc.upstreams.find((x) => x.config.id === a.upstream);
    if (u?.config.http2 !== undefined) {
      error(ctx, r.node, r.node.pos, 'conflict', `route ${q(r.config.id)} allows WebSocket but upstream ${q(u.config.id)} uses HTTP/2`, `routes/route ${q(r.config.id)}/websocket`,
        'WebSocket upgrades need HTTP/1.1 to the upstream: give the route an upstream without http-version max-version 2');
    }
  }
  const usedAgents = used.get('agent');
  for (const a of acc.agents) {
    if (usedAgents === undefined || !usedAgents.has(a.config.id)) {
      warning(ctx, a.node, a.node.pos, 'unused-agent', `agent ${q(a.config.id)} is not used by any filter (Sentinel does not connect to it)`, `agents/agent ${q(a.config.id)}`,
        `attach it with filters { filter "${a.config.id}" { type "agent"; agent "${a.config.id}" } } and list the filter in a route`);
    }
  }
  const { obs, admin, listeners } = acc;
  const rp = acc.system.reusePortNode;
  if (acc.system.reusePort && acc.system.workerThreads !== 1) {
    for (const l of listeners) {
      if (l.config.port !== 0) continue;
      error(ctx, rp ?? l.node, rp?.pos ?? l.node.pos, 'conflict',
        `listener ${q(l.config.id)} has port 0, which workers cannot share with reuse-port (each would bind a different ephemeral port)`, rp !== undefined ? 'system/reuse-port' : `listeners/listener ${q(l.config.id)}`,
        `give listener ${q(l.config.id)} a fixed port, or set system { reuse-port #false } so the primary accepts for every worker`);
    }
  }
  if (acc.system.reusePort && rp !== undefined && acc.system.workerThreads === 1) {
    warning(ctx, rp, rp.pos, 'no-effect', 'system reuse-port has no effect with worker-threads 1 (one process binds each listener once)', 'system/reuse-port',
      'set worker-threads to 0 (one per CPU) or N > 1, or remove reuse-port');
  }
  const wildcard = (h: string) => h === '0.0.0.0' || h === '::';
  if (obs.metrics.enabled && obs.metrics.port !== 0) {
    for (const l of listeners) {
      if (l.config.port === obs.metrics.port && (l.config.host === obs.metrics.host || wildcard(l.config.host) || wildcard(obs.metrics.host))) {
        const n = obs.metricsAddressNode;
        error(ctx, n ?? l.node, n?.args[0]?.pos ?? l.node.pos, 'conflict', `metrics address ${obs.metrics.host}:${obs.metrics.port} collides with listener ${q(l.config.id)}`, 'observability/metrics/address',
          'give the metrics endpoint its own port, or disable it with enabled #false');
      }
    }
  }
  if (admin.enabled) {
    const clash = (host: string, port: number) => port === admin.port && port !== 0 && (host === admin.host || wildcard(host) || wildcard(admin.host));
    const n = admin.node;
    for (const l of listeners) {
      if (clash(l.config.host, l.config.port)) error(ctx, n ?? l.node, n?.pos ?? l.node.pos, 'conflict', `admin address ${admin.host}:${admin.port} collides with listener ${q(l.config.id)}`, 'admin/address', 'give the admin listener its own port');
    }
    if (obs.metrics.enabled && clash(obs.metrics.host, obs.metrics.port) && n !== undefined) {
      error(ctx, n, n.pos, 'conflict', `admin address ${admin.host}:${admin.port} collides with the metrics address`, 'admin/address', 'give the admin listener its own port');
    }
  }
}

/** A listener's `rate-limit` names rate-limit filters whose key is known before routing. */
function checkListenerRateLimits(ctx: Ctx, acc: Acc): void {
  for (const ref of ctx.refs) {
    if (ref.kind !== 'filter' || ref.via !== 'rate-limit') continue;
    const f = acc.filters.find((x) => x.config.id === ref.name)?.config;
    if (f === undefined) continue; // unknown (reported above) or invalid (reported where it is)
    const pos = ref.node.args.find((a) => a.value === ref.name)?.pos ?? ref.node.pos;
    if (f.type !== 'rate-limit') {
      error(ctx, ref.node, pos, 'invalid-value', `${ref.from} rate-limit names filter ${q(f.id)} of type ${q(f.type)}`, ref.path, 'only rate-limit filters apply to a listener; attach other filters to routes');
    } else if (parseKeySpec(f.key).some((p) => p.kind === 'route')) {
      error(ctx, ref.node, pos, 'invalid-value', `${ref.from} rate-limit names filter ${q(f.id)}, whose key uses "route": a listener's limit runs before routing`, ref.path, 'use a key without "route" for a listener, or attach the filter to routes');
    }
  }
}

function assemble(acc: Acc, files: readonly string[]): Config {
  const { system, obs, admin } = acc;
  return {
    system: { autoReload: system.autoReload, workerThreads: system.workerThreads, reusePort: system.reusePort, maxConnections: system.maxConnections,
      gracefulShutdownTimeoutMs: system.gracefulShutdownTimeoutMs, traceIdFormat: system.traceIdFormat },
    listeners: acc.listeners.map((l) => l.config),
    routes: acc.routes.map((r) => r.config),
    upstreams: acc.upstreams.map((u) => u.config),
    filters: acc.filters.map((f) => f.config),
    agents: acc.agents.map((a) => a.config),
    observability: {
      metrics: { ...obs.metrics },
      logging: { level: obs.level, accessLog: { ...obs.accessLog }, errorLog: { ...obs.errorLog }, auditLog: { ...obs.auditLog } },
      tracing: obs.tracing === null ? null : { ...obs.tracing },
    },
    admin: { enabled: admin.enabled, host: admin.host, port: admin.port },
    files: [...files],
  };
}

/** Validates the merged top-level nodes; `mainFile` is used for whole-config diagnostics. */
export function validateConfig(top: readonly TopNode[], files: readonly string[], mainFile: string): { config: Config | null; diagnostics: Diagnostic[] } {
  const ctx = createCtx();
  const acc = createAcc();
  const onceBlocks = new Map<string, LNode>();

  for (const { node, included } of top) {
    const name = node.name;
    const spec = Object.hasOwn(TOP_BLOCKS, name) ? TOP_BLOCKS[name] : undefined;
    if (spec === undefined) {
      if (TOP_NOT_IMPLEMENTED.includes(name)) {
        error(ctx, node, node.pos, 'not-implemented', `top-level block ${q(name)} is not implemented yet`, name, NOT_IMPLEMENTED_HINT);
      } else {
        error(ctx, node, node.pos, 'unknown-block', `unknown top-level block ${q(name)}`, name, suggestionHint(name, TOP_LEVEL, 'valid blocks'));
      }
      continue;
    }
    if (included && !spec.inInclude) {
      const allowed = [...Object.entries(TOP_BLOCKS).filter(([, s]) => s.inInclude).map(([k]) => k), 'include'];
      error(ctx, node, node.pos, 'include-forbidden-block', `${q(name)} is not allowed in an included file`, name,
        `included files may only contain ${allowed.slice(0, -1).join(', ')} and ${allowed[allowed.length - 1]}; move it to the main file`);
      continue;
    }
    if (spec.once) {
      const first = onceBlocks.get(name);
      if (first !== undefined) {
        error(ctx, node, node.pos, 'duplicate-block', `${q(name)} appears twice (first at ${where(first)})`, name, 'merge them into one block');
        continue;
      }
      onceBlocks.set(name, node);
    }
    spec.read(ctx, node, acc);
  }

  crossCheck(ctx, acc, mainFile);

  const fileOrder = new Map(files.map((f, i) => [f, i]));
  const diagnostics = ctx.diags
    .map((d, i) => ({ d, i }))
    .sort((a, b) =>
      (fileOrder.get(a.d.file) ?? 0) - (fileOrder.get(b.d.file) ?? 0) || a.d.line - b.d.line || a.d.column - b.d.column || a.i - b.i)
    .map((x) => x.d);
  if (diagnostics.some((d) => d.severity === 'error')) return { config: null, diagnostics };
  return { config: assemble(acc, files), diagnostics };
}
