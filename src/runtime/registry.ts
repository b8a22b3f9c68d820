// Long-lived state outside the config snapshot, keyed by identity and reference-counted by the
// snapshots that use it: connection pools, target health and breakers, agent connections, limiter
// stores. A reload acquires before it releases, so state that both generations use is never
// closed in between, and state whose identity is unchanged survives the reload.
//
// Keys are namespaced by area (`pool|…`, `health|…`, `agent|…`, `limiter|…`); each area builds its
// own keys from the config fields that define identity (change one of them and it is new state).

/** A resource the registry can own. */
export interface Resource {
  /** Graceful close, when no generation uses it any more. */
  close(): Promise<void>;
  /** Immediate close at process exit (default: `close`). */
  destroy?(): Promise<void>;
  /**
   * Resolves when the resource can serve (a connection established, a script loaded). Bounded and
   * never rejecting: a resource that cannot get ready in time serves in its degraded mode. The
   * proxy awaits it before a new generation takes traffic.
   */
  whenReady?(): Promise<void>;
}

interface Entry { value: Resource; refs: number }

export class Registry {
  private readonly entries = new Map<string, Entry>();

  /**
   * The resource under `key`, created by `create` if absent; counts one reference. Pair every
   * acquire with one `release(key)`.
   */
  acquire<T extends Resource>(key: string, create: () => T): T {
    let e = this.entries.get(key);
    if (e === undefined) {
      e = { value: create(), refs: 0 };
      this.entries.set(key, e);
    }
    e.refs++;
    return e.value as T;
  }

  /** The resource under `key` if some generation holds it (no reference counted). */
  peek<T extends Resource>(key: string): T | undefined {
    return this.entries.get(key)?.value as T | undefined;
  }

  /** Drops one reference; the resource is closed gracefully when none remain. */
  release(key: string): Promise<void> {
    const e = this.entries.get(key);
    if (e === undefined) return Promise.resolve();
    e.refs--;
    if (e.refs > 0) return Promise.resolve();
    this.entries.delete(key);
    return e.value.close().catch(() => undefined);
  }

  /** Resolves when every resource under `keys` is ready (see `Resource.whenReady`). */
  async whenReady(keys: readonly string[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const k of keys) {
      const r = this.entries.get(k)?.value;
      if (r?.whenReady !== undefined) waits.push(r.whenReady().catch(() => undefined));
    }
    await Promise.all(waits);
  }

  /** How many resources under a key prefix are alive (tests, status). */
  count(prefix = ''): number {
    let n = 0;
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) n++;
    return n;
  }

  /** Closes everything at once (process exit after drain). */
  async destroyAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => (e.value.destroy !== undefined ? e.value.destroy() : e.value.close()).catch(() => undefined)));
  }
}
