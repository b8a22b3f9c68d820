// Sentinel's own load-balancing algorithms over a deployment's running instances (the opt-in
// `selection "<algorithm>"`; the default stays Unkey's uniform random pick in the router).
//
// The instance set of a deployment is reloaded with every cache refresh, so selector state is kept
// per deployment, keyed by the set's signature (the sorted endpoint ids): a refresh that returns
// the same instances keeps the selector (round-robin position, EWMAs, the maglev table), a changed
// set rebuilds it. Entries are bounded (the oldest is dropped when full). Endpoint ids are the
// instance addresses, so hash algorithms keep a key on the same address across deploys that keep it.
import type { BaseLoadBalancing } from '../config/types.ts';
import { selectorSpec } from '../upstream/upstream.ts';
import { createSelector } from '../upstream/select/create-selector.ts';
import { isPrime } from '../upstream/select/hashing.ts';
import type { Endpoint, EndpointState, SelectContext, Selector, SelectorOptions } from '../upstream/select/types.ts';
import type { InstanceSet, ProxyTarget } from './router.ts';
import type { Deployment } from './types.ts';

/** What selection asks the runtime about an instance address (its pool's in-flight count, its passive health). */
export interface InstanceLoad {
  inFlight(target: ProxyTarget, protocol: Deployment['upstreamProtocol']): number;
  available(target: ProxyTarget, protocol: Deployment['upstreamProtocol']): boolean;
}

/** Picks the index (into `set.running`) of the instance a request goes to; -1 when none is eligible. */
export interface InstancePicker {
  pick(deployment: Deployment, set: InstanceSet, tag: unknown, exclude?: ReadonlySet<number>): number;
  /** Outcome of an exchange with `set.running[index]` (latency-aware algorithms learn from it). */
  onResult(deployment: Deployment, set: InstanceSet, index: number, latencyMs: number, ok: boolean): void;
}

const NO_CONTEXT: SelectContext = { clientIp: '', path: '/', headers: {}, query: null };

function isSelectContext(tag: unknown): tag is SelectContext {
  return typeof tag === 'object' && tag !== null && typeof (tag as { clientIp?: unknown }).clientIp === 'string'
    && typeof (tag as { headers?: unknown }).headers === 'object';
}

/** One deployment's selector over one instance list (shared by every set with the same signature). */
class Entry implements EndpointState {
  readonly signature: string;
  readonly selector: Selector;
  readonly protocol: Deployment['upstreamProtocol'];
  /** The set the index maps below belong to (replaced, not rebuilt, when a refresh keeps the signature). */
  set: InstanceSet;
  /** Selector index → index in `set.running`, and back. */
  toSet: Int32Array;
  fromSet: Int32Array;
  private readonly load: InstanceLoad;
  /** Set indexes a retry excluded, translated (reused: selection is synchronous). */
  readonly exclude = new Set<number>();

  constructor(signature: string, selector: Selector, protocol: Deployment['upstreamProtocol'], set: InstanceSet, order: Int32Array, load: InstanceLoad) {
    this.signature = signature;
    this.selector = selector;
    this.protocol = protocol;
    this.load = load;
    this.set = set;
    this.toSet = order;
    this.fromSet = inverse(order);
  }

  rebind(set: InstanceSet, order: Int32Array): void {
    this.set = set;
    this.toSet = order;
    this.fromSet = inverse(order);
  }

  available(i: number): boolean {
    const target = this.set.targets[this.toSet[i] as number];
    return target === null || target === undefined || this.load.available(target, this.protocol);
  }

  inFlight(i: number): number {
    const target = this.set.targets[this.toSet[i] as number];
    return target === null || target === undefined ? 0 : this.load.inFlight(target, this.protocol);
  }
}

function inverse(order: Int32Array): Int32Array {
  const out = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) out[order[i] as number] = i;
  return out;
}

/** Endpoint ids of a set (addresses; a repeated address gets the instance id appended) and their sorted order. */
function describe(set: InstanceSet): { ids: string[]; order: Int32Array; signature: string } {
  const ids: string[] = [];
  const seen = new Set<string>();
  for (const instance of set.running) {
    let id = instance.address;
    if (seen.has(id)) id = `${instance.address}#${instance.id}`;
    seen.add(id);
    ids.push(id);
  }
  const order = Int32Array.from(ids.keys()).sort((a, b) => (ids[a] as string) < (ids[b] as string) ? -1 : 1);
  let signature = '';
  for (const i of order) signature += `${ids[i] as string}\n`;
  return { ids, order, signature };
}

function primeAtLeast(n: number): number {
  let p = n;
  while (!isPrime(p)) p++;
  return p;
}

export class InstanceSelection implements InstancePicker {
  readonly algorithm: BaseLoadBalancing['algorithm'];
  private readonly options: SelectorOptions;
  private readonly maxEntries: number;
  private readonly load: InstanceLoad;
  private readonly entries = new Map<string, Entry>();
  /** Selectors built (tests: a refresh with the same instances builds none). */
  builds = 0;

  constructor(selection: BaseLoadBalancing, load: InstanceLoad, maxEntries: number, rng?: () => number) {
    const spec = selectorSpec(selection);
    this.algorithm = selection.algorithm;
    this.options = rng === undefined ? spec.options : { ...spec.options, rng };
    this.maxEntries = Math.max(1, maxEntries);
    this.load = load;
  }

  get size(): number {
    return this.entries.size;
  }

  pick(deployment: Deployment, set: InstanceSet, tag: unknown, exclude?: ReadonlySet<number>): number {
    const entry = this.entry(deployment, set);
    let ex: ReadonlySet<number> | undefined;
    if (exclude !== undefined && exclude.size > 0) {
      entry.exclude.clear();
      for (const i of exclude) entry.exclude.add(entry.fromSet[i] as number);
      ex = entry.exclude;
    }
    const i = entry.selector.select(isSelectContext(tag) ? tag : NO_CONTEXT, entry, ex);
    return i < 0 ? -1 : (entry.toSet[i] as number);
  }

  onResult(deployment: Deployment, set: InstanceSet, index: number, latencyMs: number, ok: boolean): void {
    const entry = this.entries.get(deployment.id);
    if (entry === undefined || entry.set !== set || entry.selector.onResult === undefined) return;
    entry.selector.onResult(entry.fromSet[index] as number, latencyMs, ok);
  }

  /** The entry for this set: one compare when the set is the one seen last. */
  private entry(deployment: Deployment, set: InstanceSet): Entry {
    const id = deployment.id;
    const entry = this.entries.get(id);
    if (entry !== undefined && entry.set === set) return entry;
    const d = describe(set);
    if (entry !== undefined && entry.signature === d.signature && entry.protocol === deployment.upstreamProtocol) {
      entry.rebind(set, d.order);
      return entry;
    }
    const endpoints: Endpoint[] = [];
    for (let k = 0; k < d.order.length; k++) {
      const i = d.order[k] as number;
      const target = set.targets[i] ?? null;
      endpoints.push({ id: d.ids[i] as string, host: target?.host ?? '', port: target?.port ?? 0, weight: 1, index: k });
    }
    // A maglev table per deployment: about 100 slots per instance (the paper's M >> N), not the
    // upstream default of 65 537, so that many deployments stay small.
    const options = this.algorithm === 'maglev' ? { ...this.options, maglevTableSize: primeAtLeast(Math.max(101, endpoints.length * 100)) } : this.options;
    const created = new Entry(d.signature, createSelector(this.algorithm, endpoints, options), deployment.upstreamProtocol, set, d.order, this.load);
    this.builds++;
    if (entry !== undefined) this.entries.delete(id);
    else if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(id, created);
    return created;
  }
}
