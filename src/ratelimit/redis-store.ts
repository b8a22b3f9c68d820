// Redis-backed limiter store: one global limit shared by every Sentinel instance using the same
// Redis (standalone or Cluster). Two algorithms:
//   - 'sliding-log': exact sliding-window log on a sorted set (one entry per admitted request);
//   - 'gcra': a token bucket kept as one number per key, the memory-lean choice for many keys.
// Each decision is ONE atomic Lua call (EVALSHA; on NOSCRIPT the same call is re-sent as EVAL, which
// both runs it on the node owning the key and caches it there again).
//
// Failure handling: every call is bounded by `redisTimeoutMs` (ioredis command timeout, no offline
// queue, no per-request retries, plus a deadline of our own). A failed call gets the fallback's
// decision. On the first error, or the TIMEOUTS_TO_TRIP-th timeout in a row, the store marks Redis
// unhealthy and stops sending requests to it: decisions come from the configured fallback at once,
// and a single background PING probe runs every `probeIntervalMs`. When a probe
// succeeds the store goes back to Redis; there is no per-request reconnect storm.

import { createHash, randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { GCRA, SLIDING_LOG } from './scripts.ts';
import type { LoadedScript } from './scripts.ts';
import { TokenBucketStore } from './token-bucket.ts';
import type { Decision, LimiterStore, RedisFailureMode } from './types.ts';

export type RedisLimit =
  | { readonly algorithm: 'sliding-log'; readonly limit: number; readonly windowMs: number }
  | { readonly algorithm: 'gcra'; readonly maxRps: number; readonly burst: number };

export interface RedisConnection {
  /** Standalone: redis://[:password@]host:port[/db] or rediss:// for TLS. */
  readonly url?: string;
  /** Standalone by parts (what the config produces); used when `url` is absent. */
  readonly node?: { readonly host: string; readonly port: number };
  /** Database number for `node` (standalone only). */
  readonly db?: number;
  /** Cluster: seed nodes "host:port" or `{ host, port }`; takes precedence over `url` and `node`. */
  readonly clusterNodes?: readonly (string | { readonly host: string; readonly port: number })[];
  readonly password?: string;
  readonly username?: string;
  /** Enable TLS (Cluster nodes, or a redis:// url); rediss:// urls enable it by themselves. */
  readonly tls?: boolean;
}

export interface RedisStoreOptions {
  /** The filter id; part of every key. Must not contain '{' or '}'. */
  readonly filterId: string;
  /** Key prefix, default "sentinel:rl:". Must not contain '{' or '}'. */
  readonly prefix?: string;
  readonly limit: RedisLimit;
  readonly connection: RedisConnection;
  /** Bound on every Redis call; default 50. */
  readonly redisTimeoutMs?: number;
  /** What to do when Redis fails; default 'fallback-to-local'. */
  readonly onRedisFailure?: RedisFailureMode;
  /** Interval between recovery probes while Redis is unhealthy; default 1000. */
  readonly probeIntervalMs?: number;
  /** 'redis' (default): the Redis server clock; 'caller': the `now` passed to consume (tests, models). */
  readonly timeSource?: 'redis' | 'caller';
  /** Capacity of the local fallback bucket store; default 100 000 keys. */
  readonly fallbackMaxKeys?: number;
  /** Keys longer than this (in UTF-16 units) are replaced by their SHA-256; default 256. */
  readonly maxKeyLength?: number;
  /**
   * Lower bound on Redis key TTLs, default 0. Key TTLs run on the Redis server's real clock; with
   * `timeSource: 'caller'` and a fake clock, set this above the test's duration so keys do not
   * expire in real time between fake-clock steps.
   */
  readonly minKeyTtlMs?: number;
  /** Connections used in turn (each multiplexes its calls); default 1. */
  readonly poolSize?: number;
  /** Called with the latency of every successful Redis decision (feeds the latency histogram). */
  readonly observeLatencyMs?: (ms: number) => void;
  /** Called on every failed Redis call (feeds the error counter). */
  readonly onRedisError?: (kind: 'error' | 'timeout') => void;
  /** Called when a NOSCRIPT reply made the store re-send the script with EVAL. */
  readonly onScriptReload?: () => void;
  /** Called when the local fallback store evicts a key (max keys reached). */
  readonly onFallbackEvict?: () => void;
  /** Called when the store switches to its fallback (with the failure) and back to Redis (null). */
  readonly onHealthChange?: (healthy: boolean, error: Error | null) => void;
}

export interface RedisStoreStats {
  /** True while Redis is considered down and decisions come from the fallback. */
  readonly fallbackActive: boolean;
  readonly redisDecisions: number;
  readonly fallbackDecisions: number;
  readonly redisErrors: number;
  readonly redisTimeouts: number;
  readonly scriptReloads: number;
  readonly probes: number;
  readonly recoveries: number;
  /** Latency of successful Redis decisions, ms, last value (the pipeline feeds its histogram). */
  readonly lastRedisLatencyMs: number;
}

/** Consecutive timed-out decisions that switch the store to its fallback (errors switch at once). */
export const TIMEOUTS_TO_TRIP = 3;

class DeadlineError extends Error {
  constructor(timeoutMs: number) {
    super(`redis call exceeded ${timeoutMs} ms`);
    this.name = 'DeadlineError';
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

function isTimeout(error: unknown): boolean {
  return error instanceof DeadlineError || (error instanceof Error && /timed out/i.test(error.message));
}

function parseNode(node: string): { host: string; port: number } {
  const colon = node.lastIndexOf(':');
  const host = colon > 0 ? node.slice(0, colon).replace(/^\[|\]$/g, '') : node;
  const port = colon > 0 ? Number(node.slice(colon + 1)) : 6379;
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`invalid Redis node "${node}"`);
  return { host, port };
}

export class RedisLimiterStore implements LimiterStore {
  readonly filterId: string;
  readonly onRedisFailure: RedisFailureMode;
  readonly redisTimeoutMs: number;
  #clients: Array<Redis | Cluster>;
  #nextClient = 0;
  #keyPrefix: string;
  #script: LoadedScript;
  #args: [string, string];
  #minKeyTtl: string;
  #observeLatencyMs: ((ms: number) => void) | null;
  #onRedisError: ((kind: 'error' | 'timeout') => void) | null;
  #onScriptReload: (() => void) | null;
  #onFallbackEvict: (() => void) | null;
  #onHealthChange: ((healthy: boolean, error: Error | null) => void) | null;
  #limitValue: number;
  #callerTime: boolean;
  #fallback: TokenBucketStore | null = null;
  #fallbackLimit: RedisLimit;
  #fallbackMaxKeys: number;
  #maxKeyLength: number;
  #probeIntervalMs: number;
  #memberPrefix = randomBytes(6).toString('base64url');
  #memberSeq = 0;
  #healthy = true;
  #timeoutsInRow = 0;
  #probeTimer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #stats = { redisDecisions: 0, fallbackDecisions: 0, redisErrors: 0, redisTimeouts: 0, scriptReloads: 0, probes: 0, recoveries: 0, lastRedisLatencyMs: 0 };

  constructor(options: RedisStoreOptions) {
    const prefix = options.prefix ?? 'sentinel:rl:';
    if (/[{}]/.test(prefix) || /[{}]/.test(options.filterId)) throw new RangeError('rate-limit prefix and filter id must not contain "{" or "}"');
    this.filterId = options.filterId;
    this.onRedisFailure = options.onRedisFailure ?? 'fallback-to-local';
    this.redisTimeoutMs = options.redisTimeoutMs ?? 50;
    if (!(this.redisTimeoutMs > 0)) throw new RangeError('redisTimeoutMs must be > 0');
    this.#probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.#fallbackMaxKeys = options.fallbackMaxKeys ?? 100_000;
    this.#maxKeyLength = options.maxKeyLength ?? 256;
    this.#callerTime = options.timeSource === 'caller';
    this.#observeLatencyMs = options.observeLatencyMs ?? null;
    this.#onRedisError = options.onRedisError ?? null;
    this.#onScriptReload = options.onScriptReload ?? null;
    this.#onFallbackEvict = options.onFallbackEvict ?? null;
    this.#onHealthChange = options.onHealthChange ?? null;
    this.#minKeyTtl = String(Math.max(0, Math.ceil(options.minKeyTtlMs ?? 0)));
    // The user key is the hash tag: a key's commands share one slot, and keys spread over slots.
    this.#keyPrefix = `${prefix}${options.filterId}:`;

    const limit = options.limit;
    if (limit.algorithm === 'sliding-log') {
      if (!Number.isInteger(limit.limit) || limit.limit < 1) throw new RangeError('limit must be an integer >= 1');
      if (!Number.isInteger(limit.windowMs) || limit.windowMs < 1) throw new RangeError('windowMs must be an integer >= 1');
      this.#script = SLIDING_LOG;
      this.#args = [String(limit.windowMs), String(limit.limit)];
      this.#limitValue = limit.limit;
    } else {
      if (!(limit.maxRps > 0) || !Number.isFinite(limit.maxRps)) throw new RangeError('maxRps must be a finite number > 0');
      if (!(limit.burst >= 1) || !Number.isFinite(limit.burst)) throw new RangeError('burst must be a finite number >= 1');
      this.#script = GCRA;
      this.#args = [String(1000 / limit.maxRps), String(limit.burst)];
      this.#limitValue = limit.burst;
    }
    this.#fallbackLimit = limit;
    const poolSize = options.poolSize ?? 1;
    if (!Number.isInteger(poolSize) || poolSize < 1) throw new RangeError('poolSize must be an integer >= 1');
    this.#clients = [];
    for (let i = 0; i < poolSize; i++) {
      const client = createClient(options.connection, this.redisTimeoutMs);
      client.on('error', ignoreConnectionError);
      this.#clients.push(client);
    }
  }

  /**
   * Wait (at most `waitMs`, default 2000) for the connection, then load the script on every master so
   * the first EVALSHA hits. Never throws: if Redis is not there the store starts in fallback and the
   * probe takes it back to Redis later. Resolves true when Redis is in use.
   */
  async start(waitMs = 2000): Promise<boolean> {
    this.#starting ??= this.#start(waitMs);
    return this.#starting;
  }

  #starting: Promise<boolean> | null = null;

  async #start(waitMs: number): Promise<boolean> {
    try {
      await Promise.all(this.#clients.map((client) => waitReady(client, waitMs)));
      // The script cache belongs to the server: loading it through one connection is enough.
      const first = this.#clients[0] as Redis | Cluster;
      const nodes = first instanceof Cluster ? first.nodes('master') : [first];
      await Promise.all(nodes.map((node) => this.#bounded(node.script('LOAD', this.#script.source))));
      return true;
    } catch (error) {
      this.#markUnhealthy(error);
      return false;
    }
  }

  /** Resource readiness for the registry: resolves once `start()` has settled (never rejects). */
  async ready(): Promise<void> {
    await this.start();
  }

  /** The Redis key for a limiter key: `prefix + filter + ":{" + key + "}"`. */
  redisKey(key: string): string {
    let k = key;
    if (k.length > this.#maxKeyLength || k.includes('}')) k = '#' + hashKey(k);
    return `${this.#keyPrefix}{${k}}`;
  }

  consume(key: string, now: number, cost = 1): Promise<Decision> | Decision {
    if (this.#closed) throw new Error('rate-limit store is closed');
    if (!Number.isInteger(cost) || cost < 1) throw new RangeError('cost must be an integer >= 1');
    if (!this.#healthy) return this.#fallbackDecision(key, now, cost);
    return this.#consumeRedis(key, now, cost);
  }

  async #consumeRedis(key: string, now: number, cost: number): Promise<Decision> {
    const started = performance.now();
    const redisKey = this.redisKey(key);
    const timeArg = this.#callerTime ? String(now) : '-1';
    const member = this.#script === SLIDING_LOG ? `${this.#memberPrefix}.${(this.#memberSeq++).toString(36)}` : '';
    const args = this.#script === SLIDING_LOG ? [timeArg, this.#args[0], this.#args[1], String(cost), member, this.#minKeyTtl] : [timeArg, this.#args[0], this.#args[1], String(cost), this.#minKeyTtl];
    const clients = this.#clients;
    const client = clients.length === 1 ? (clients[0] as Redis | Cluster) : (clients[this.#nextClient++ % clients.length] as Redis | Cluster);
    if (this.#nextClient >= 0x3fffffff) this.#nextClient = 0;
    let reply: unknown;
    try {
      try {
        reply = await this.#bounded(client.evalsha(this.#script.sha1, 1, redisKey, ...args));
      } catch (error) {
        if (!isNoScript(error)) throw error;
        // The script cache was flushed (or this node is new): the call did not run, so re-sending
        // it as EVAL is safe; EVAL runs on the key's node and caches the script there again.
        this.#stats.scriptReloads++;
        if (this.#onScriptReload !== null) this.#onScriptReload();
        reply = await this.#bounded(client.eval(this.#script.source, 1, redisKey, ...args));
      }
    } catch (error) {
      this.#markUnhealthy(error, true);
      return this.#fallbackDecision(key, now, cost);
    }
    const decision = this.#parse(reply);
    if (decision === null) {
      this.#markUnhealthy(new Error('unexpected reply from rate-limit script'));
      return this.#fallbackDecision(key, now, cost);
    }
    this.#stats.redisDecisions++;
    this.#timeoutsInRow = 0;
    const latencyMs = performance.now() - started;
    this.#stats.lastRedisLatencyMs = latencyMs;
    if (this.#observeLatencyMs !== null) this.#observeLatencyMs(latencyMs);
    return decision;
  }

  #parse(reply: unknown): Decision | null {
    if (!Array.isArray(reply) || reply.length !== 4) return null;
    const [allowed, remaining, resetMs, retryAfterMs] = reply as unknown[];
    if (typeof allowed !== 'number' || typeof remaining !== 'number' || typeof resetMs !== 'number' || typeof retryAfterMs !== 'number') return null;
    return { allowed: allowed === 1, limit: this.#limitValue, remaining: Math.max(0, remaining), resetMs: Math.max(0, resetMs), retryAfterMs, source: 'redis' };
  }

  /** Race a Redis call against our own deadline (ioredis' commandTimeout covers one node; this covers redirects). */
  #bounded<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DeadlineError(this.redisTimeoutMs)), this.redisTimeoutMs);
      call.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /**
   * Counts a failure and switches to the fallback. A decision that timed out switches only when it
   * is the TIMEOUTS_TO_TRIP-th in a row (a success resets the count): one reply delayed by
   * event-loop lag on a busy proxy must not send every request to the fallback for a probe
   * interval. Errors (refused, reset, not connected) switch at once.
   */
  #markUnhealthy(error: unknown, tolerateTimeout = false): void {
    const timeout = isTimeout(error);
    if (timeout) this.#stats.redisTimeouts++;
    else this.#stats.redisErrors++;
    if (this.#onRedisError !== null) this.#onRedisError(timeout ? 'timeout' : 'error');
    if (timeout && tolerateTimeout && ++this.#timeoutsInRow < TIMEOUTS_TO_TRIP) return;
    this.#timeoutsInRow = 0;
    if (!this.#healthy || this.#closed) return;
    this.#healthy = false;
    if (this.#onHealthChange !== null) this.#onHealthChange(false, error instanceof Error ? error : new Error(String(error)));
    this.#scheduleProbe();
  }

  #scheduleProbe(): void {
    if (this.#closed || this.#probeTimer !== null) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = null;
      void this.#probe();
    }, this.#probeIntervalMs);
    this.#probeTimer.unref();
  }

  async #probe(): Promise<void> {
    if (this.#closed) return;
    this.#stats.probes++;
    try {
      // Every connection must answer, and in a Cluster every master: a key on a dead master's
      // slots would fail otherwise.
      await Promise.all(
        this.#clients.map((client) => {
          if (!(client instanceof Cluster)) return this.#bounded(client.ping());
          const masters = client.nodes('master');
          if (masters.length === 0) throw new Error('no cluster masters known');
          return Promise.all(masters.map((node) => this.#bounded(node.ping())));
        }),
      );
    } catch {
      this.#scheduleProbe();
      return;
    }
    if (this.#closed) return;
    this.#healthy = true;
    this.#stats.recoveries++;
    if (this.#onHealthChange !== null) this.#onHealthChange(true, null);
  }

  #fallbackDecision(key: string, now: number, cost: number): Decision {
    this.#stats.fallbackDecisions++;
    switch (this.onRedisFailure) {
      case 'open':
        return { allowed: true, limit: this.#limitValue, remaining: this.#limitValue, resetMs: 0, retryAfterMs: 0, source: 'fallback-open' };
      case 'closed':
        return { allowed: false, limit: this.#limitValue, remaining: 0, resetMs: this.#probeIntervalMs, retryAfterMs: this.#probeIntervalMs, source: 'fallback-closed' };
      case 'fallback-to-local': {
        const local = (this.#fallback ??= this.#createFallback());
        const d = local.consume(key, now, cost);
        return { allowed: d.allowed, limit: d.limit, remaining: d.remaining, resetMs: d.resetMs, retryAfterMs: d.retryAfterMs, source: 'fallback-local' };
      }
    }
  }

  #createFallback(): TokenBucketStore {
    const limit = this.#fallbackLimit;
    // The same average rate and burst, enforced per instance (see docs/rate-limiting.md).
    const onEvict = this.#onFallbackEvict ?? undefined;
    return limit.algorithm === 'gcra'
      ? new TokenBucketStore({ maxRps: limit.maxRps, burst: limit.burst, maxKeys: this.#fallbackMaxKeys, onEvict })
      : new TokenBucketStore({ maxRps: (limit.limit * 1000) / limit.windowMs, burst: limit.limit, maxKeys: this.#fallbackMaxKeys, onEvict });
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /** Keys held by the local fallback store (0 until Redis first fails). */
  get fallbackKeys(): number {
    return this.#fallback === null ? 0 : this.#fallback.size;
  }

  stats(): RedisStoreStats {
    return { fallbackActive: !this.#healthy, ...this.#stats };
  }

  /** The first underlying client, for tests and the admin status page. */
  get client(): Redis | Cluster {
    return this.#clients[0] as Redis | Cluster;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#probeTimer !== null) clearTimeout(this.#probeTimer);
    this.#probeTimer = null;
    this.#fallback = null;
    for (const client of this.#clients) client.disconnect();
  }
}

function ignoreConnectionError(): void {
  // Connection errors surface here as well as on commands; the command path counts them.
}

/** Resolves when `client` is ready; rejects on its first connection error or after `waitMs`. */
function waitReady(client: Redis | Cluster, waitMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    };
    const timer = setTimeout(() => {
      done();
      reject(new DeadlineError(waitMs));
    }, waitMs);
    const onReady = (): void => {
      done();
      resolve();
    };
    // Refused or unreachable: start in fallback now; the recovery probe takes the store back to Redis.
    const onError = (error: unknown): void => {
      done();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    client.once('ready', onReady);
    client.once('error', onError);
  });
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

function createClient(connection: RedisConnection, timeoutMs: number): Redis | Cluster {
  // Bounded by construction: no offline queue (a command while disconnected fails at once), no
  // per-request retries, a connect timeout, and background reconnects with capped backoff.
  const common: RedisOptions = {
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(timeoutMs, 1000),
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    lazyConnect: false,
  };
  if (connection.username !== undefined) common.username = connection.username;
  if (connection.password !== undefined) common.password = connection.password;
  if (connection.tls === true) common.tls = {};

  if (connection.clusterNodes !== undefined && connection.clusterNodes.length > 0) {
    const { retryStrategy: _r, enableOfflineQueue: _q, ...redisOptions } = common;
    const options: ClusterOptions = {
      redisOptions,
      enableOfflineQueue: false,
      clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
      maxRedirections: 4,
      retryDelayOnFailover: 20,
      retryDelayOnClusterDown: 20,
      retryDelayOnTryAgain: 20,
      slotsRefreshTimeout: Math.max(timeoutMs, 1000),
    };
    return new Cluster(connection.clusterNodes.map((n) => (typeof n === 'string' ? parseNode(n) : { host: n.host, port: n.port })), options);
  }
  if (connection.url !== undefined) return new Redis(connection.url, common);
  if (connection.node === undefined) throw new RangeError('a Redis url, node or cluster node list is required');
  return new Redis({ ...common, host: connection.node.host, port: connection.node.port, db: connection.db ?? 0 });
}

export function createRedisLimiterStore(options: RedisStoreOptions): RedisLimiterStore {
  return new RedisLimiterStore(options);
}
