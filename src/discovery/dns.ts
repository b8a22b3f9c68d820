// DNS discovery: A, AAAA or SRV records of a name, through node:dns's c-ares resolver (the
// system's servers, or the configured `resolver`). A/AAAA: every address with the configured
// port; the next refresh follows the smallest record TTL, clamped to [min-ttl, max-ttl]. SRV: the
// records of the lowest priority, each target name resolved to its addresses (A, else AAAA), with
// the record's port and weight; refreshed every refresh-interval (node reports no TTL for SRV).
// An empty answer is a failure: the last known good targets stay.
import { Resolver } from 'node:dns/promises';
import type { DiscoveryConfig } from '../config/types.ts';
import { MAX_DISCOVERED_TARGETS, failureDelayMs } from './types.ts';
import type { DiscoveredAddress, Discoverer, DiscoveryResult } from './types.ts';

/** The `discovery "dns"` block of an upstream. */
export type DnsDiscoveryOptions = Omit<Extract<DiscoveryConfig, { kind: 'dns' }>, 'kind'>;

const TRIES = 2;

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function srvWeight(w: number): number {
  return clamp(Math.round(w), 1, 1000);
}

export class DnsDiscoverer implements Discoverer {
  readonly kind = 'dns' as const;
  readonly subject: string;
  private readonly o: DnsDiscoveryOptions;
  private readonly resolver: Resolver;

  constructor(o: DnsDiscoveryOptions) {
    this.o = o;
    this.subject = `${o.recordType} ${o.hostname}`;
    this.resolver = new Resolver({ timeout: o.timeoutMs, tries: TRIES });
    if (o.resolver !== null) {
      const h = o.resolver.host.includes(':') ? `[${o.resolver.host}]` : o.resolver.host;
      this.resolver.setServers([`${h}:${o.resolver.port}`]);
    }
  }

  async refresh(failures: number): Promise<DiscoveryResult> {
    const o = this.o;
    const failed = (error: string): DiscoveryResult => ({ ok: false, error, nextMs: failureDelayMs(failures + 1, o.refreshIntervalMs) });
    // c-ares bounds each query (timeout × tries); this guard bounds the whole refresh, SRV follow-ups included.
    const guardMs = o.timeoutMs * TRIES * (o.recordType === 'SRV' ? 3 : 1) + 500;
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<DiscoveryResult>((resolve) => {
      timer = setTimeout(() => { this.resolver.cancel(); resolve(failed(`timed out after ${guardMs} ms`)); }, guardMs);
    });
    try {
      return await Promise.race([this.lookup().catch((err: unknown) => failed(describe(err))), guard]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async lookup(): Promise<DiscoveryResult> {
    const o = this.o;
    if (o.recordType === 'SRV') {
      const records = await this.resolver.resolveSrv(o.hostname);
      if (records.length === 0) return { ok: false, error: 'no SRV records', nextMs: o.refreshIntervalMs };
      const best = Math.min(...records.map((r) => r.priority));
      const chosen = records.filter((r) => r.priority === best);
      const names = [...new Set(chosen.map((r) => r.name))];
      const resolved = new Map<string, string[]>();
      await Promise.all(names.map(async (name) => {
        resolved.set(name, await this.addressesOf(name));
      }));
      const out: DiscoveredAddress[] = [];
      for (const r of chosen) {
        for (const host of resolved.get(r.name) ?? []) out.push({ host, port: r.port, weight: srvWeight(r.weight) });
      }
      if (out.length === 0) return { ok: false, error: 'SRV targets have no addresses', nextMs: o.refreshIntervalMs };
      return { ok: true, addresses: out.slice(0, MAX_DISCOVERED_TARGETS), nextMs: o.refreshIntervalMs };
    }
    const records = o.recordType === 'A'
      ? await this.resolver.resolve4(o.hostname, { ttl: true })
      : await this.resolver.resolve6(o.hostname, { ttl: true });
    if (records.length === 0) return { ok: false, error: `no ${o.recordType} records`, nextMs: o.refreshIntervalMs };
    const port = o.port as number;
    const ttlMs = Math.min(...records.map((r) => r.ttl)) * 1000;
    return {
      ok: true,
      addresses: records.slice(0, MAX_DISCOVERED_TARGETS).map((r) => ({ host: r.address, port, weight: 1 })),
      nextMs: clamp(ttlMs, o.minTtlMs, o.maxTtlMs),
    };
  }

  /** A records of a name, else its AAAA records. */
  private async addressesOf(name: string): Promise<string[]> {
    try {
      const v4 = await this.resolver.resolve4(name);
      if (v4.length > 0) return v4;
    } catch { /* fall through to AAAA */ }
    try {
      return await this.resolver.resolve6(name);
    } catch {
      return [];
    }
  }

  close(): void {
    this.resolver.cancel();
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}
