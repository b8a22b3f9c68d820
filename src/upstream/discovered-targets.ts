// The targets of a dynamic upstream (`discovery "dns"` / `"file"`): a registry resource that runs
// its discovery source in a loop and turns addresses into targets. A target that stays keeps its
// pool and health (same registry keys); a new one is acquired; a vanished one is released. A
// failed refresh (or an empty answer) keeps the last known good set. The set changes in one
// assignment with a new `version`; upstream runtimes follow it on their next pick.
import type { Discoverer } from '../discovery/types.ts';
import type { Registry } from '../runtime/registry.ts';
import type { DiscoveredAddress } from '../discovery/types.ts';
import { acquireTarget } from './targets.ts';
import type { TargetSettings } from './targets.ts';
import type { TargetRuntime, TargetSource } from './upstream.ts';

interface Held {
  readonly target: TargetRuntime;
  readonly keys: readonly string[];
}

/** Longest wait for the first refresh before the proxy serves (start, reload preflight). */
export const FIRST_REFRESH_WAIT_MS = 10_000;

export class DiscoveredTargets implements TargetSource {
  version = 0;
  targets: readonly TargetRuntime[] = [];
  /** Resolves when the first refresh is over (success or failure). */
  readonly ready: Promise<void>;
  private readonly upstream: string;
  private readonly discoverer: Discoverer;
  private readonly registry: Registry;
  private readonly settings: TargetSettings;
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private failures = 0;
  private refreshes = 0;
  private lastError: string | null = null;
  private lastOkAtMs = 0;
  private markReady: () => void = () => undefined;

  constructor(discoverer: Discoverer, registry: Registry, settings: TargetSettings) {
    this.upstream = settings.config.id;
    this.discoverer = discoverer;
    this.registry = registry;
    this.settings = settings;
    this.ready = new Promise((resolve) => { this.markReady = resolve; });
    settings.metrics.trackSource(this, this.upstream, () => this.targets.length);
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.closed) return;
    const r = await this.discoverer.refresh(this.failures);
    if (this.closed) return;
    this.refreshes++;
    const m = this.settings.metrics;
    const fields = { upstream: this.upstream, discovery: this.discoverer.kind, subject: this.discoverer.subject };
    if (r.ok) {
      this.failures = 0;
      this.lastError = null;
      this.lastOkAtMs = Date.now();
      const changed = r.addresses !== null && this.apply(r.addresses);
      m.discoveryRefreshed(this.upstream, changed ? 'changed' : 'unchanged');
      if (changed) m.log?.('info', { ...fields, targets: this.targets.map((t) => t.id) }, 'discovery: targets changed');
    } else {
      this.failures++;
      this.lastError = r.error;
      m.discoveryRefreshed(this.upstream, 'failed');
      m.log?.('warn', { ...fields, error: r.error, kept: this.targets.length }, 'discovery failed: keeping the last known targets');
    }
    this.markReady();
    if (this.closed) return;
    this.timer = setTimeout(() => { this.timer = null; void this.run(); }, r.nextMs);
    this.timer.unref();
  }

  /** Installs a new address list; true when the target set (or a weight) changed. */
  private apply(addresses: readonly DiscoveredAddress[]): boolean {
    const next = new Map<string, DiscoveredAddress>();
    for (const a of addresses) {
      const host = a.host.startsWith('[') && a.host.endsWith(']') ? a.host.slice(1, -1) : a.host;
      const key = host.includes(':') ? `[${host}]:${a.port}` : `${host}:${a.port}`;
      if (!next.has(key)) next.set(key, { host, port: a.port, weight: a.weight });
    }
    let changed = next.size !== this.held.size;
    const kept = new Map<string, Held>();
    for (const [key, a] of [...next].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
      const old = this.held.get(key);
      if (old !== undefined && old.target.weight === a.weight) {
        kept.set(key, old);
      } else if (old !== undefined) {
        kept.set(key, { target: { ...old.target, weight: a.weight }, keys: old.keys });
        changed = true;
      } else {
        kept.set(key, acquireTarget((k, create) => this.registry.acquire(k, create), this.settings, a.host, a.port, a.weight));
        changed = true;
      }
    }
    if (!changed) return false;
    for (const [key, h] of this.held) {
      if (!kept.has(key)) for (const k of h.keys) void this.registry.release(k);
    }
    this.held.clear();
    for (const [k, h] of kept) this.held.set(k, h);
    this.targets = [...kept.values()].map((h) => h.target);
    this.version++;
    return true;
  }

  status(): Record<string, unknown> {
    return {
      kind: this.discoverer.kind,
      subject: this.discoverer.subject,
      version: this.version,
      refreshes: this.refreshes,
      consecutive_failures: this.failures,
      last_error: this.lastError,
      last_success_unix_ms: this.lastOkAtMs === 0 ? null : this.lastOkAtMs,
    };
  }

  /** Registry resource: stops refreshing and gives back every target it holds. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    this.discoverer.close();
    this.settings.metrics.untrackSource(this);
    this.markReady();
    const keys = [...this.held.values()].flatMap((h) => h.keys);
    this.held.clear();
    await Promise.all(keys.map((k) => this.registry.release(k)));
  }
}
