// Composition of one running proxy: snapshot, listeners, metrics listener, logs, hot reload and
// graceful shutdown.
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import type { Config, ListenerConfig } from '../config/types.ts';
import { buildTlsContexts } from './tls.ts';
import type { TlsContexts } from './tls.ts';
import { compileSnapshot, drained, releaseSnapshot, snapshotReady } from '../compile/snapshot.ts';
import type { Snapshot } from '../compile/snapshot.ts';
import { Registry } from '../runtime/registry.ts';
import { RuntimeState } from '../runtime/state.ts';
import { Metrics } from '../observability/metrics.ts';
import type { AccessLog, Logger, Logs } from '../observability/log.ts';
import { createTracer } from '../observability/tracing.ts';
import type { Tracer } from '../observability/tracing.ts';
import type { ListenerContext } from '../pipeline/context.ts';
import { ConnectionGate, createListener, listen } from './http-listener.ts';
import type { ListenSharing, ListenerHandle } from './http-listener.ts';
import { createMetricsServer } from '../admin/metrics-server.ts';
import { deploymentMetrics } from '../deployments/metrics.ts';
import { rateLimitMetrics } from '../pipeline/rate-limit.ts';
import { registerAgentMetrics } from '../agents/metrics.ts';

export interface ReloadOutcome {
  /** `applied`: swapped in; `unchanged`: same hash, nothing to do; `rejected`: the old config stays. */
  readonly result: 'applied' | 'unchanged' | 'rejected';
  readonly generation: number;
  /** Why a reload was rejected (one line per reason). */
  readonly errors: readonly string[];
}

export interface RunningProxy {
  readonly listeners: ReadonlyArray<{ id: string; host: string; port: number }>;
  readonly metricsPort: number | null;
  readonly metrics: Metrics;
  readonly generation: number;
  /**
   * Applies a validated config: compile, bind new listeners, swap in one assignment, then drain the
   * old generation in the background (its in-flight requests finish on the config they started
   * with) and release what no generation uses. Anything that cannot be applied without a restart
   * rejects the whole reload; the running config stays.
   */
  reload(config: Config, configHash: string): Promise<ReloadOutcome>;
  /** Graceful: stop accepting, let in-flight finish up to the configured timeout, close the rest. */
  shutdown(): Promise<{ forced: boolean }>;
}

export interface StartOptions {
  readonly config: Config;
  readonly configHash: string;
  readonly version: string;
  readonly logger: Logger;
  /** The process's logs (main.ts); the access, error and audit logs are opened from it. */
  readonly logs: Logs;
}

interface BoundListener {
  readonly id: string;
  readonly config: ListenerConfig;
  readonly port: number;
  readonly handle: ListenerHandle;
  readonly ctx: ListenerContext;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Settings that live for the whole process: a reload that changes them is refused. Everything
 * else under `observability` is reloadable: the log levels (process and error log), the access
 * log's format and sample rate, and the tracing sampling rate.
 */
export function restartOnlyChanges(a: Config, b: Config): string[] {
  const out: string[] = [];
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  const la = a.observability.logging;
  const lb = b.observability.logging;
  if (a.system.workerThreads !== b.system.workerThreads) out.push('system worker-threads changed: this needs a restart');
  if (a.system.reusePort !== b.system.reusePort) out.push('system reuse-port changed: this needs a restart');
  if (!same(a.observability.metrics, b.observability.metrics)) out.push('observability metrics changed: this needs a restart');
  const accessFixed = (l: typeof la) => ({ enabled: l.accessLog.enabled, destination: l.accessLog.destination, bufferBytes: l.accessLog.bufferBytes });
  if (!same(accessFixed(la), accessFixed(lb))) out.push('observability access-log enabled, file or buffer-size changed: this needs a restart (format and sample-rate are reloadable)');
  const errorFixed = (l: typeof la) => ({ enabled: l.errorLog.enabled, destination: l.errorLog.destination, bufferBytes: l.errorLog.bufferBytes });
  if (!same(errorFixed(la), errorFixed(lb))) out.push('observability error-log enabled, file or buffer-size changed: this needs a restart (its level is reloadable)');
  if (!same(la.auditLog, lb.auditLog)) out.push('observability audit-log changed: this needs a restart');
  const ta = a.observability.tracing;
  const tb = b.observability.tracing;
  const tracingFixed = (t: typeof ta) => (t === null ? null : { backend: t.backend, endpoint: t.endpoint, serviceName: t.serviceName });
  if (!same(tracingFixed(ta), tracingFixed(tb))) out.push('observability tracing turned on or off, or its backend or service-name changed: this needs a restart (sampling-rate is reloadable)');
  if (!same(a.admin, b.admin)) out.push('admin changed: this needs a restart');
  if (a.system.autoReload !== b.system.autoReload) out.push('system auto-reload changed: this needs a restart');
  return out;
}

/**
 * Listener fields that a live server cannot take (address, protocol, the ALPN list); anything else
 * (timeouts, limits, certificates) is applied in place.
 */
function sameBinding(a: ListenerConfig, b: ListenerConfig): boolean {
  return a.host === b.host && a.port === b.port && a.protocol === b.protocol && (a.tls?.http2 ?? null) === (b.tls?.http2 ?? null);
}

/** TLS contexts of every https listener of `config` (reads the PEM files; throws naming the bad one). */
function buildAllTls(config: Config): Map<string, TlsContexts> {
  const out = new Map<string, TlsContexts>();
  for (const l of config.listeners) if (l.tls !== null) out.set(l.id, buildTlsContexts(l.id, l.tls));
  return out;
}

/** Routes per upstream id (0 for an upstream no route uses): `sentinel_upstream_routes`. */
export function routesPerUpstream(config: Config): Map<string, number> {
  const out = new Map<string, number>(config.upstreams.map((u) => [u.id, 0]));
  for (const r of config.routes) if (r.action.kind === 'upstream') out.set(r.action.upstream, (out.get(r.action.upstream) ?? 0) + 1);
  return out;
}

/** How long shutdown waits for the last spans to be exported. */
const TRACING_SHUTDOWN_TIMEOUT_MS = 5_000;

/** Loads the OpenTelemetry SDK and counts what it does with spans; export failures are logged once per 30 s. */
async function startTracer(config: NonNullable<Config['observability']['tracing']>, version: string, metrics: Metrics, logger: Logger): Promise<Tracer> {
  let lastErrorMs = 0;
  const tracer = await createTracer(config, version, {
    spans: (result, n) => metrics.tracingSpans.labels(result).inc(n),
    exportError: (message) => {
      const now = Date.now();
      if (now - lastErrorMs < 30_000) return;
      lastErrorMs = now;
      logger.warn({ endpoint: config.endpoint, error: message }, 'tracing: span export failed');
    },
  });
  logger.info({ endpoint: config.endpoint, sampling_rate: config.samplingRate, service_name: config.serviceName }, 'tracing: exporting spans over OTLP/HTTP');
  return tracer;
}

export async function startProxy(o: StartOptions): Promise<RunningProxy> {
  const { logger } = o;
  const metrics = new Metrics();
  deploymentMetrics(metrics); // feature metrics are exposed from the start, configured or not
  rateLimitMetrics(metrics);
  metrics.setBuildInfo(o.version, o.configHash);
  metrics.upstreams.log = (level, fields, msg) => logger[level](fields, msg);
  registerAgentMetrics(metrics);
  const registry = new Registry();
  let generation = 1;
  const first = compileSnapshot(o.config, o.configHash, generation, registry, metrics, logger, o.version);
  // Dynamic upstreams serve from their first discovery refresh, and long-lived resources (the
  // Redis connections of rate limiters) get ready; both bounded.
  await Promise.all([snapshotReady(first), registry.whenReady(first.acquired)]);
  const state = new RuntimeState(first);
  metrics.setGeneration(generation);
  metrics.upstreams.setRoutes(routesPerUpstream(o.config));
  const startConfig = o.config;
  const logs = o.logs;
  const logging = startConfig.observability.logging;
  logs.counters = metrics;
  logs.configure(logging.level, logging.errorLog);
  const accessLog: AccessLog | null = logs.openAccessLog(logging.accessLog);
  const audit = logs.openAuditLog(logging.auditLog, (component, action) => metrics.audited(component, action));
  const errorLog = logs.requestErrors;
  const tracer: Tracer | null = startConfig.observability.tracing === null ? null : await startTracer(startConfig.observability.tracing, o.version, metrics, logger);
  const gate = new ConnectionGate(startConfig.system.maxConnections);
  const startedAtMs = Date.now();
  const bound = new Map<string, BoundListener>();
  let metricsServer: Server | null = null;
  let metricsPort: number | null = null;
  let shuttingDown: Promise<{ forced: boolean }> | null = null;

  // reuse-port is restart-only (like worker-threads), so the start config decides for every reload.
  const sharing: ListenSharing = !cluster.isWorker ? 'own' : startConfig.system.reusePort ? 'reuse-port' : 'primary';
  const bindListener = async (l: ListenerConfig, tls: TlsContexts | null): Promise<BoundListener> => {
    const ctx: ListenerContext = { listenerId: l.id, scheme: l.protocol === 'https' ? 'https' : 'http', state, metrics, accessLog, errorLog, tracer, audit, version: o.version, startedAtMs, draining: false, keepaliveMaxRequests: l.keepaliveMaxRequests };
    const handle = createListener(l, ctx, gate, tls);
    try {
      const port = await listen(handle.server, l.id, l.host, l.port, sharing);
      logger.info({ listener: l.id, address: `${formatHost(l.host)}:${port}`, protocol: l.protocol }, 'listener ready');
      return { id: l.id, config: l, port, handle, ctx };
    } catch (err) {
      handle.server.close();
      throw err;
    }
  };

  /**
   * Stops a listener gracefully: no new connections, idle ones closed, HTTP/2 sessions get GOAWAY,
   * busy connections (and WebSocket tunnels) end on their own.
   */
  const retireListener = (b: BoundListener): Promise<void> => {
    const closed = b.handle.close();
    logger.info({ listener: b.id }, 'listener closed');
    return closed;
  };

  try {
    const tls = buildAllTls(startConfig);
    for (const l of startConfig.listeners) {
      const b = await bindListener(l, tls.get(l.id) ?? null);
      bound.set(l.id, b);
    }
    const m = startConfig.observability.metrics;
    if (m.enabled) {
      metricsServer = createMetricsServer(metrics.registry, m.path);
      metricsPort = await listen(metricsServer, 'metrics', m.host, m.port);
      logger.info({ listener: 'metrics', address: `${formatHost(m.host)}:${metricsPort}`, path: m.path }, 'metrics ready');
    }
  } catch (err) {
    for (const b of bound.values()) b.handle.server.close();
    metricsServer?.close();
    await registry.destroyAll();
    throw err;
  }

  // Reloads run one at a time, in the order they were asked for.
  let reloadChain: Promise<unknown> = Promise.resolve();

  const retire = (old: Snapshot): void => {
    void drained(old).then(() => releaseSnapshot(old, registry)).then(() => {
      logger.info({ generation: old.generation }, 'generation drained and released');
    });
  };

  const doReload = async (config: Config, hash: string): Promise<ReloadOutcome> => {
    const current = state.current;
    if (shuttingDown !== null) {
      metrics.reloaded('rejected');
      return { result: 'rejected', generation: current.generation, errors: ['shutting down'] };
    }
    if (hash === current.hash) {
      metrics.reloaded('unchanged');
      logger.info({ generation: current.generation, config_hash: hash }, 'config reload: unchanged');
      return { result: 'unchanged', generation: current.generation, errors: [] };
    }
    const errors = restartOnlyChanges(current.config, config);
    if (errors.length > 0) {
      metrics.reloaded('rejected');
      logger.error({ errors }, 'config reload rejected: the running config stays');
      return { result: 'rejected', generation: current.generation, errors };
    }

    // Preflight: build the TLS contexts (reads every certificate and key), compile (acquires
    // pools) and bind every new or moved listener before anything changes for live traffic. Any
    // failure undoes exactly what this reload acquired; the running certificates keep serving.
    const reject = (message: string): ReloadOutcome => {
      metrics.reloaded('rejected');
      logger.error({ error: message }, 'config reload rejected: the running config stays');
      return { result: 'rejected', generation: current.generation, errors: [message] };
    };
    let tls: Map<string, TlsContexts>;
    let next: Snapshot;
    try {
      tls = buildAllTls(config);
      next = compileSnapshot(config, hash, generation + 1, registry, metrics, logger, o.version);
    } catch (err) {
      return reject((err as Error).message);
    }
    await Promise.all([snapshotReady(next), registry.whenReady(next.acquired)]);
    const fresh: BoundListener[] = [];
    try {
      for (const l of config.listeners) {
        const existing = bound.get(l.id);
        if (existing === undefined || !sameBinding(existing.config, l)) fresh.push(await bindListener(l, tls.get(l.id) ?? null));
      }
    } catch (err) {
      for (const b of fresh) b.handle.server.close();
      await releaseSnapshot(next, registry);
      return reject((err as Error).message);
    }

    // Commit: one assignment switches every listener to the new generation.
    generation += 1;
    const old = state.swap(next);
    gate.max = config.system.maxConnections;
    logs.configure(config.observability.logging.level, config.observability.logging.errorLog);
    accessLog?.configure(config.observability.logging.accessLog);
    if (tracer !== null && config.observability.tracing !== null) tracer.setSamplingRate(config.observability.tracing.samplingRate);
    const wanted = new Set(config.listeners.map((l) => l.id));
    for (const b of fresh) {
      const previous = bound.get(b.id);
      bound.set(b.id, b);
      if (previous !== undefined) void retireListener(previous);
    }
    for (const [id, b] of bound) {
      if (!wanted.has(id)) { bound.delete(id); void retireListener(b); }
    }
    for (const l of config.listeners) {
      const b = bound.get(l.id);
      if (b !== undefined && !fresh.includes(b)) {
        b.handle.apply(l, tls.get(l.id) ?? null);
        bound.set(l.id, { ...b, config: l });
      }
    }
    metrics.setBuildInfo(o.version, hash);
    metrics.setGeneration(generation);
    metrics.upstreams.setRoutes(routesPerUpstream(config));
    metrics.reloaded('applied');
    logger.info({ generation, config_hash: hash, previous_generation: old.generation, draining: old.usage.inflight }, 'config reloaded');
    retire(old);
    return { result: 'applied', generation, errors: [] };
  };

  const reload = (config: Config, hash: string): Promise<ReloadOutcome> => {
    const run = reloadChain.then(() => doReload(config, hash));
    reloadChain = run.catch(() => undefined);
    return run;
  };

  const shutdown = (): Promise<{ forced: boolean }> => {
    shuttingDown ??= (async () => {
      await reloadChain;
      const timeoutMs = state.current.config.system.gracefulShutdownTimeoutMs;
      logger.info({ timeout_ms: timeoutMs, active_requests: metrics.activeRequests }, 'shutdown: draining');
      const listeners = [...bound.values()];
      const closed = listeners.map((b) => retireListener(b));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeoutMs); });
      const forced = await Promise.race([Promise.all(closed).then(() => false), timedOut]);
      clearTimeout(timer);
      if (forced) {
        logger.warn({ active_requests: metrics.activeRequests }, 'shutdown: timeout reached, closing remaining connections');
        for (const b of listeners) b.handle.closeAll();
        await Promise.all(closed);
      }
      if (metricsServer !== null) { metricsServer.closeAllConnections(); await closeServer(metricsServer); }
      await registry.destroyAll();
      // Spans of the last requests: exported within a bounded time, then the SDK stops.
      if (tracer !== null) await tracer.shutdown(TRACING_SHUTDOWN_TIMEOUT_MS);
      await logs.flush();
      logger.info({ forced }, 'shutdown: complete');
      return { forced };
    })();
    return shuttingDown;
  };

  return {
    get listeners() { return [...bound.values()].map((b) => ({ id: b.id, host: b.config.host, port: b.port })); },
    metricsPort,
    metrics,
    get generation() { return generation; },
    reload,
    shutdown,
  };
}
