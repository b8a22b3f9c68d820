// The contract of a discovery source: something that, asked again and again, says which
// addresses an upstream has now. Sources do I/O (DNS, files) but hold no target state: the
// upstream side (src/upstream/discovered-targets.ts) turns addresses into targets, keeps the last
// known good set on failure, and schedules the next refresh.

export interface DiscoveredAddress {
  /** An IP address (DNS) or a host name / IP (file). */
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

export type DiscoveryResult =
  /** `addresses` null: the source is unchanged since the last success (nothing to re-read). */
  | { readonly ok: true; readonly addresses: readonly DiscoveredAddress[] | null; readonly nextMs: number }
  | { readonly ok: false; readonly error: string; readonly nextMs: number };

export interface Discoverer {
  readonly kind: 'dns' | 'file';
  /** What it resolves (a DNS name or a path), for logs and the status page. */
  readonly subject: string;
  /** One refresh. Never rejects; bounded in time by the source's own timeout. */
  refresh(failures: number): Promise<DiscoveryResult>;
  /** Cancels a refresh in progress. */
  close(): void;
}

/** Most targets one source may provide; the rest are dropped (and the refresh reports it). */
export const MAX_DISCOVERED_TARGETS = 256;

/** Backoff after `failures` consecutive failed refreshes: 1 s doubling, capped at `maxMs`. */
export function failureDelayMs(failures: number, maxMs: number): number {
  return Math.min(maxMs, 1_000 * 2 ** Math.min(Math.max(failures - 1, 0), 10));
}
