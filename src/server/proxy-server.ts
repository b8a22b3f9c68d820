// Composition of one running proxy: snapshot, listeners, metrics listener, logs, graceful shutdown.
import type { Server } from 'node:http';
import type { Config } from '../config/types.ts';
import { compileSnapshot, releaseSnapshot } from '../compile/snapshot.ts';
import { Registry } from '../runtime/registry.ts';
import { RuntimeState } from '../runtime/state.ts';
import { Metrics } from '../observability/metrics.ts';
import { createAccessLog } from '../observability/log.ts';
import type { AccessLog, Logger } from '../observability/log.ts';
import type { ListenerContext } from '../pipeline/proxy.ts';
import { ConnectionGate, createHttpListener, listen } from './http-listener.ts';
import { createMetricsServer } from '../admin/metrics-server.ts';

export interface RunningProxy {
  readonly listeners: ReadonlyArray<{ id: string; host: string; port: number }>;
  readonly metricsPort: number | null;
  readonly metrics: Metrics;
  /** Graceful: stop accepting, let in-flight finish up to the configured timeout, close the rest. */
  shutdown(): Promise<{ forced: boolean }>;
}

export interface StartOptions {
  readonly config: Config;
  readonly configHash: string;
  readonly version: string;
  readonly logger: Logger;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startProxy(o: StartOptions): Promise<RunningProxy> {
  const { config, logger } = o;
  const metrics = new Metrics();
  metrics.setBuildInfo(o.version, o.configHash);
  const registry = new Registry();
  const snapshot = compileSnapshot(config, o.configHash, 1, registry, metrics);
  const state = new RuntimeState(snapshot);
  const accessLog: AccessLog | null = config.observability.logging.accessLog.enabled
    ? createAccessLog(config.observability.logging.accessLog.destination)
    : null;
  const gate = new ConnectionGate(config.system.maxConnections);
  const startedAtMs = Date.now();

  const bound: Array<{ id: string; host: string; port: number; server: Server; ctx: ListenerContext }> = [];
  const servers: Server[] = [];
  let metricsServer: Server | null = null;
  let metricsPort: number | null = null;
  try {
    for (const l of config.listeners) {
      const ctx: ListenerContext = { listenerId: l.id, scheme: 'http', state, metrics, accessLog, version: o.version, startedAtMs, draining: false };
      const server = createHttpListener(l, ctx, gate);
      servers.push(server);
      const port = await listen(server, l.id, l.host, l.port);
      bound.push({ id: l.id, host: l.host, port, server, ctx });
      logger.info({ listener: l.id, address: `${l.host.includes(':') ? `[${l.host}]` : l.host}:${port}` }, 'listener ready');
    }
    const m = config.observability.metrics;
    if (m.enabled) {
      metricsServer = createMetricsServer(metrics, m.path);
      servers.push(metricsServer);
      metricsPort = await listen(metricsServer, 'metrics', m.host, m.port);
      logger.info({ listener: 'metrics', address: `${m.host.includes(':') ? `[${m.host}]` : m.host}:${metricsPort}`, path: m.path }, 'metrics ready');
    }
  } catch (err) {
    for (const s of servers) s.close();
    await registry.destroyAll();
    throw err;
  }

  let shuttingDown: Promise<{ forced: boolean }> | null = null;
  const shutdown = (): Promise<{ forced: boolean }> => {
    shuttingDown ??= (async () => {
      const timeoutMs = config.system.gracefulShutdownTimeoutMs;
      logger.info({ timeout_ms: timeoutMs, active_requests: metrics.activeRequests }, 'shutdown: draining');
      for (const b of bound) b.ctx.draining = true;
      const closed = bound.map((b) => {
        const p = closeServer(b.server);
        b.server.closeIdleConnections();
        return p;
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeoutMs); });
      const forced = await Promise.race([Promise.all(closed).then(() => false), timedOut]);
      clearTimeout(timer);
      if (forced) {
        logger.warn({ active_requests: metrics.activeRequests }, 'shutdown: timeout reached, closing remaining connections');
        for (const b of bound) b.server.closeAllConnections();
        await Promise.all(closed);
      }
      if (metricsServer !== null) { metricsServer.closeAllConnections(); await closeServer(metricsServer); }
      await releaseSnapshot(state.current, registry);
      await registry.destroyAll();
      accessLog?.flush();
      logger.info({ forced }, 'shutdown: complete');
      return { forced };
    })();
    return shuttingDown;
  };

  return {
    listeners: bound.map((b) => ({ id: b.id, host: b.host, port: b.port })),
    metricsPort,
    metrics,
    shutdown,
  };
}
