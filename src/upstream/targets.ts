// Building one target of an upstream from the registry: its connection pool (`pool|…`), its
// health state (`health|…`) and, with active checks, its prober (`probe|…`). The same function
// serves static targets (acquired by the compile step, released with the generation) and
// discovered ones (acquired and released by the discovery source as targets come and go).
//
// Identity: the pool by address and pool options; the health state by upstream id, address and
// the settings that shape it (breaker, outlier detection, whether active checks exist and how a
// target starts), so a reload that keeps them keeps the state (an ejected target stays ejected),
// and one that changes them starts afresh; the prober by the health key and the check settings.
import type { UpstreamConfig } from '../config/types.ts';
import type { Resource } from '../runtime/registry.ts';
import type { UpstreamMetrics } from '../observability/upstream-metrics.ts';
import type { Clock } from './health/clock.ts';
import { resolveOutlierOptions } from './health/outlier.ts';
import { HealthProber } from './health/prober.ts';
import { TargetHealth } from './health/target-health.ts';
import type { TargetHealthOptions } from './health/target-health.ts';
import { createPool, poolKey, tlsConnectOptions, upstreamServername } from './transport.ts';
import type { TargetRuntime } from './upstream.ts';

export type Acquire = <T extends Resource>(key: string, create: () => T) => T;

/** What every target of one upstream shares; built once per upstream and generation. */
export interface TargetSettings {
  readonly config: UpstreamConfig;
  readonly healthOptions: TargetHealthOptions;
  /** The part of the health key that the settings define. */
  readonly healthIdentity: string;
  readonly probeIdentity: string;
  readonly metrics: UpstreamMetrics;
  readonly clock: Clock;
}

export function formatAuthority(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function targetSettings(config: UpstreamConfig, metrics: UpstreamMetrics, clock: Clock): TargetSettings {
  const cb = config.circuitBreaker;
  const od = config.outlierDetection;
  const hc = config.healthCheck;
  const healthOptions: TargetHealthOptions = {
    ...(cb !== null ? {
      breaker: {
        failureThreshold: cb.failureThreshold,
        successThreshold: cb.successThreshold,
        openMs: cb.openMs,
        halfOpenMaxProbes: cb.halfOpenMaxRequests,
        ...(cb.failureRatio !== null ? { failureRatio: cb.failureRatio, windowMs: cb.windowMs, minRequests: cb.minRequests } : {}),
      },
      breakerOn5xx: cb.include5xx,
    } : {}),
    ...(od !== null ? {
      outlier: resolveOutlierOptions({
        consecutive5xx: od.consecutive5xx,
        consecutiveLocalFailures: od.consecutiveFailures,
        baseEjectionMs: od.baseEjectionMs,
        maxEjectionMs: od.maxEjectionMs,
        maxEjectionPercent: od.maxEjectionPercent,
      }),
    } : {}),
    initial: hc === null ? 'healthy' : hc.initialState,
    healthyThreshold: hc?.healthyThreshold ?? 1,
    unhealthyThreshold: hc?.unhealthyThreshold ?? 1,
  };
  const healthIdentity = JSON.stringify([cb, od, hc === null ? null : [hc.initialState, hc.healthyThreshold, hc.unhealthyThreshold]]);
  return { config, healthOptions, healthIdentity, probeIdentity: JSON.stringify(hc), metrics, clock };
}

/** Acquires the resources of target `host:port`; returns it and the registry keys it holds. */
export function acquireTarget(acquire: Acquire, s: TargetSettings, host: string, port: number, weight: number): { target: TargetRuntime; keys: string[] } {
  const u = s.config;
  const authority = formatAuthority(host, port);
  const options = { host, port, pool: u.pool, timeouts: u.timeouts, maxHeaderBytes: u.maxResponseHeaderBytes, tls: u.tls, http2: u.http2 };
  const pk = `pool|${poolKey(options)}`;
  const pool = acquire(pk, () => createPool(options));
  const hk = `health|${u.id}|${authority}|${s.healthIdentity}`;
  const health = acquire(hk, () => {
    const observer = s.metrics.target(u.id, authority);
    const h = new TargetHealth(authority, s.healthOptions, s.clock, observer);
    observer.track(h);
    return h;
  });
  health.maxConnections = u.pool.maxConnections;
  const keys = [pk, hk];
  const hc = u.healthCheck;
  if (hc !== null) {
    const prk = `probe|${hk}|${s.probeIdentity}`;
    acquire(prk, () => {
      const observer = s.metrics.target(u.id, authority);
      // A TLS upstream is checked over TLS, verified like its requests (transport.ts).
      const tls = u.tls === undefined ? undefined : { ...tlsConnectOptions(u.tls), servername: upstreamServername(u.tls, host) };
      return new HealthProber({
        type: hc.type, host, port, path: hc.path, hostHeader: hc.host ?? authority, expectedStatus: hc.expectedStatus,
        intervalMs: hc.intervalMs, timeoutMs: hc.timeoutMs, ...(tls !== undefined ? { tls } : {}),
      }, (r) => {
        observer.checked(r.ok);
        health.checked(r.ok);
      });
    });
    keys.push(prk);
  }
  return { target: { id: authority, host, port, pool, poolKey: pk, weight, authority, health }, keys };
}
