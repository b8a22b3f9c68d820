// Long-lived state outside the config snapshot: connection pools keyed by identity, reference
// counted by the snapshots that use them. A reload acquires before it releases, so a pool that
// both generations use is never closed in between.
import type { Pool } from 'undici';
import { createPool, poolKey } from '../upstream/transport.ts';
import type { PoolOptions } from '../upstream/transport.ts';

interface Entry { pool: Pool; refs: number }

export class Registry {
  private readonly pools = new Map<string, Entry>();

  acquirePool(options: PoolOptions): { key: string; pool: Pool } {
    const key = poolKey(options);
    let e = this.pools.get(key);
    if (e === undefined) {
      e = { pool: createPool(options), refs: 0 };
      this.pools.set(key, e);
    }
    e.refs++;
    return { key, pool: e.pool };
  }

  /** Drops one reference; the pool is closed gracefully when none remain. */
  releasePool(key: string): Promise<void> {
    const e = this.pools.get(key);
    if (e === undefined) return Promise.resolve();
    e.refs--;
    if (e.refs > 0) return Promise.resolve();
    this.pools.delete(key);
    return e.pool.close().catch(() => undefined);
  }

  get poolCount(): number {
    return this.pools.size;
  }

  /** Closes every pool at once (process exit after drain). */
  async destroyAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((e) => e.pool.destroy().catch(() => undefined)));
  }
}
