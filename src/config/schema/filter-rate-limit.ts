// `filter "id" { type "rate-limit"; … }` (issue 6): every key of a rate-limit filter. Semantics in
// docs/rate-limiting.md; the reference table in docs/config.md.
import type { FilterConfig, RateLimitAction, RateLimitLimit, RateLimitRedisConfig, RedisNodeConfig } from '../types.ts';
import type { LNode, LValue } from '../kdl.ts';
import { compileTrustedProxies, parseKeySpec } from '../../core/request-key.ts';
import {
  HOSTNAME_RE, error, isIPv4, isIPv6, locOf, q, readBool, readEnum, readInt, readManyStrings, readSecsAsMs, readString, single, typeName, walkBlock,
} from './reader.ts';
import type { Ctx } from './reader.ts';

/** Largest `max-rps` accepted: above it a limit means nothing on one machine. */
const MAX_RPS = 1e9;
const DEFAULT_PREFIX = 'sentinel:rl:';

/** Keys that only make sense with `backend "redis"`. */
const REDIS_KEYS = ['redis-url', 'redis-mode', 'redis-prefix', 'redis-pool-size', 'redis-timeout-ms', 'on-redis-failure', 'redis-probe-interval-ms'] as const;

/** Zentinel's memcached backend: recognised, not implemented. */
const MEMCACHED_KEYS = ['memcached-url', 'memcached-prefix', 'memcached-pool-size', 'memcached-timeout-ms', 'memcached-ttl', 'memcached-fallback'];

function readPositiveNumber(ctx: Ctx, node: LNode, path: string, max: number): number | undefined {
  const v = single(ctx, node, path);
  if (v === undefined) return undefined;
  if (typeof v.value !== 'number' || !Number.isFinite(v.value)) {
    error(ctx, node, v.pos, 'invalid-type', `expected a number, got ${typeName(v.value)}`, path);
    return undefined;
  }
  if (v.value <= 0 || v.value > max) {
    error(ctx, node, v.pos, 'invalid-value', `${q(node.name)} must be greater than 0 and at most ${max}, got ${v.value}`, path);
    return undefined;
  }
  return v.value;
}

/** A `redis://` / `rediss://` URL: host, port, credentials, db. Returns an error message on failure. */
export function parseRedisUrl(text: string): { node: RedisNodeConfig; tls: boolean; username: string | null; password: string | null; db: number } | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a URL (expected redis://[user:password@]host[:port][/db] or rediss://… for TLS)';
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return `unsupported scheme ${q(url.protocol.slice(0, -1))} (expected redis or rediss)`;
  if (url.search !== '' || url.hash !== '') return 'query strings and fragments are not supported';
  let host = url.hostname;
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (host === '') return 'missing host';
  if (!isIPv4(host) && !isIPv6(host) && !HOSTNAME_RE.test(host)) return `${q(host)} is not a valid host name or IP address`;
  const port = url.port === '' ? 6379 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `invalid port ${q(url.port)}`;
  let db = 0;
  if (url.pathname !== '' && url.pathname !== '/') {
    const m = /^\/(\d{1,2})$/.exec(url.pathname);
    if (m === null || Number(m[1]) > 15) return `invalid database ${q(url.pathname.slice(1))} (expected /0 to /15)`;
    db = Number(m[1]);
  }
  let username: string | null = null;
  let password: string | null = null;
  try {
    if (url.username !== '') username = decodeURIComponent(url.username);
    if (url.password !== '') password = decodeURIComponent(url.password);
  } catch {
    return 'invalid percent-encoding in the credentials';
  }
  return { node: { host, port }, tls: url.protocol === 'rediss:', username, password, db };
}

export function readRateLimitFilter(ctx: Ctx, node: LNode, path: string, label: string, id: string): FilterConfig | undefined {
  const seen = new Map<string, LNode>();
  const bad = { value: false };
  const mark = <T>(v: T | undefined): T | undefined => {
    if (v === undefined) bad.value = true;
    return v;
  };
  let algorithm = 'token-bucket' as 'token-bucket' | 'sliding-log';
  let maxRps: number | undefined;
  let burst: number | undefined;
  let maxRequests: number | undefined;
  let windowMs: number | undefined;
  let key = 'client-ip';
  let onMissingKey = 'shared' as 'shared' | 'skip';
  let trustedProxies: string[] = [];
  let onLimit = 'reject' as RateLimitAction;
  let statusCode = 429;
  let message: string | null = null;
  let maxDelayMs = 5000;
  let maxDelayedRequests = 1000;
  let maxKeys = 100_000;
  let responseHeaders = false;
  let legacyHeaders = false;
  let backend = 'local' as 'local' | 'redis';
  let urls: { value: string; pos: LValue['pos'] }[] = [];
  let mode: 'standalone' | 'cluster' | undefined;
  let prefix = DEFAULT_PREFIX;
  let poolSize = 1;
  let timeoutMs = 50;
  let onFailure = 'fallback-to-local' as RateLimitRedisConfig['onFailure'];
  let probeIntervalMs = 1000;

  const keys: Record<string, (n: LNode, p: string) => void> = {
    type: () => undefined, // read by filters.ts
    algorithm: (n, p) => {
      const s = readString(ctx, n, p);
      if (s === undefined) { bad.value = true; return; }
      // GCRA is how the Redis backend stores a token bucket; accept the name for it.
      if (s === 'token-bucket' || s === 'gcra') algorithm = 'token-bucket';
      else if (s === 'sliding-log') algorithm = 'sliding-log';
      else {
        const notImpl = ['sliding-window', 'fixed-window', 'leaky-bucket'];
        const code = notImpl.includes(s) ? 'not-implemented' : 'invalid-value';
        error(ctx, n, n.args[0]?.pos ?? n.pos, code, `${code === 'not-implemented' ? 'algorithm' : 'invalid algorithm'} ${q(s)}${code === 'not-implemented' ? ' is not implemented' : ''}`, p, 'supported: "token-bucket" (alias "gcra"), "sliding-log"');
        bad.value = true;
      }
    },
    'max-rps': (n, p) => { maxRps = mark(readPositiveNumber(ctx, n, p, MAX_RPS)); },
    burst: (n, p) => { burst = mark(readInt(ctx, n, p, 1, MAX_RPS)); },
    'max-requests': (n, p) => { maxRequests = mark(readInt(ctx, n, p, 1, 10_000_000)); },
    'window-secs': (n, p) => { windowMs = mark(readSecsAsMs(ctx, n, p)); },
    key: (n, p) => {
      const s = readString(ctx, n, p);
      if (s === undefined) { bad.value = true; return; }
      try {
        parseKeySpec(s);
        key = s;
      } catch (e) {
        error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', (e as Error).message, p, 'e.g. key "client-ip", key "header:X-Api-Key", key "client-ip,path"');
        bad.value = true;
      }
    },
    'on-missing-key': (n, p) => { onMissingKey = mark(readEnum(ctx, n, p, ['shared', 'skip'] as const)) ?? onMissingKey; },
    'trusted-proxies': (n, p) => {
      const vals = readManyStrings(ctx, n, p);
      if (vals === undefined) { bad.value = true; return; }
      for (const { value, pos } of vals) {
        try {
          compileTrustedProxies([value]);
        } catch (e) {
          error(ctx, n, pos, 'invalid-value', (e as Error).message, p);
          bad.value = true;
        }
      }
      trustedProxies = vals.map((v) => v.value);
    },
    'on-limit': (n, p) => { onLimit = mark(readEnum(ctx, n, p, ['reject', 'delay', 'log-only'] as const)) ?? onLimit; },
    'status-code': (n, p) => { statusCode = mark(readInt(ctx, n, p, 400, 599)) ?? statusCode; },
    message: (n, p) => {
      const s = readString(ctx, n, p);
      if (s === undefined) { bad.value = true; return; }
      // eslint-disable-next-line no-control-regex
      if (s.length === 0 || s.length > 1024 || /[\u0000-\u001f\u007f]/.test(s)) {
        error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `"message" must be 1 to 1024 characters without control characters`, p);
        bad.value = true;
        return;
      }
      message = s;
    },
    'max-delay-ms': (n, p) => { maxDelayMs = mark(readInt(ctx, n, p, 1, 60_000)) ?? maxDelayMs; },
    'max-delayed-requests': (n, p) => { maxDelayedRequests = mark(readInt(ctx, n, p, 1, 1_000_000)) ?? maxDelayedRequests; },
    'max-keys': (n, p) => { maxKeys = mark(readInt(ctx, n, p, 1, 10_000_000)) ?? maxKeys; },
    'response-headers': (n, p) => { responseHeaders = mark(readBool(ctx, n, p)) ?? responseHeaders; },
    'legacy-headers': (n, p) => { legacyHeaders = mark(readBool(ctx, n, p)) ?? legacyHeaders; },
    backend: (n, p) => { backend = mark(readEnum(ctx, n, p, ['local', 'redis'] as const, ['memcached'])) ?? backend; },
    'redis-url': (n, p) => {
      const vals = readManyStrings(ctx, n, p);
      if (vals === undefined) bad.value = true;
      else urls = vals;
    },
    'redis-mode': (n, p) => { mode = mark(readEnum(ctx, n, p, ['standalone', 'cluster'] as const)); },
    'redis-prefix': (n, p) => {
      const s = readString(ctx, n, p);
      if (s === undefined) { bad.value = true; return; }
      if (s.length > 128 || /[{}\s]/.test(s)) {
        error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `"redis-prefix" must be at most 128 characters without braces or spaces, got ${q(s)}`, p, 'braces would change the Redis Cluster hash tag of every key');
        bad.value = true;
        return;
      }
      prefix = s;
    },
    'redis-pool-size': (n, p) => { poolSize = mark(readInt(ctx, n, p, 1, 64)) ?? poolSize; },
    'redis-timeout-ms': (n, p) => { timeoutMs = mark(readInt(ctx, n, p, 1, 60_000)) ?? timeoutMs; },
    'on-redis-failure': (n, p) => { onFailure = mark(readEnum(ctx, n, p, ['fallback-to-local', 'open', 'closed'] as const)) ?? onFailure; },
    'redis-probe-interval-ms': (n, p) => { probeIntervalMs = mark(readInt(ctx, n, p, 10, 60_000)) ?? probeIntervalMs; },
  };
  const wrapped: Record<string, (n: LNode, p: string) => void> = {};
  for (const [k, read] of Object.entries(keys)) {
    wrapped[k] = (n, p) => {
      seen.set(k, n);
      read(n, p);
    };
  }
  walkBlock(ctx, node, path, {
    label,
    keys: wrapped,
    notImplemented: MEMCACHED_KEYS,
    misplaced: {
      'redis-fallback': 'use on-redis-failure "fallback-to-local" | "open" | "closed"',
      'redis-password': 'put the credentials in redis-url: "redis://user:password@host:6379"',
      'redis-tls': 'use a rediss:// URL in redis-url',
    },
  });

  /** A key set where it does not apply: a `conflict` at that key. */
  const notHere = (name: string, why: string, hint: string): void => {
    const n = seen.get(name);
    if (n === undefined) return;
    error(ctx, n, n.pos, 'conflict', `${q(name)} ${why} in ${label}`, `${path}/${name}`, hint);
    bad.value = true;
  };

  // ---- the limit ----
  let limit: RateLimitLimit | undefined;
  if (algorithm === 'token-bucket') {
    notHere('max-requests', 'applies to algorithm "sliding-log" only', 'use max-rps and burst, or algorithm "sliding-log"');
    notHere('window-secs', 'applies to algorithm "sliding-log" only', 'use max-rps and burst, or algorithm "sliding-log"');
    if (!seen.has('max-rps')) {
      error(ctx, node, node.pos, 'missing-key', `${label} has no "max-rps"`, path, 'e.g. max-rps 100; burst 20');
      bad.value = true;
    } else if (maxRps !== undefined) {
      limit = { algorithm, maxRps, burst: burst ?? Math.max(1, Math.ceil(maxRps)) };
    }
  } else {
    notHere('max-rps', 'does not apply to algorithm "sliding-log"', 'use max-requests and window-secs');
    notHere('burst', 'does not apply to algorithm "sliding-log"', 'use max-requests and window-secs');
    for (const k of ['max-requests', 'window-secs']) {
      if (!seen.has(k)) {
        error(ctx, node, node.pos, 'missing-key', `${label} uses algorithm "sliding-log" but has no ${q(k)}`, path, 'e.g. max-requests 5; window-secs 60');
        bad.value = true;
      }
    }
    if (backend === 'local' && seen.has('algorithm')) {
      const n = seen.get('algorithm') as LNode;
      error(ctx, n, n.args[0]?.pos ?? n.pos, 'not-implemented', `algorithm "sliding-log" needs backend "redis" (the local backend is a token bucket)`, `${path}/algorithm`, 'use backend "redis", or max-rps and burst locally');
      bad.value = true;
    }
    if (maxRequests !== undefined && windowMs !== undefined) limit = { algorithm, maxRequests, windowMs };
  }

  // ---- the action ----
  if (onLimit !== 'delay') {
    notHere('max-delay-ms', 'applies to on-limit "delay" only', 'remove it, or set on-limit "delay"');
    notHere('max-delayed-requests', 'applies to on-limit "delay" only', 'remove it, or set on-limit "delay"');
  }
  if (onLimit === 'log-only') {
    notHere('status-code', 'does nothing with on-limit "log-only" (nothing is rejected)', 'remove it');
    notHere('message', 'does nothing with on-limit "log-only" (nothing is rejected)', 'remove it');
  }

  // ---- the backend ----
  let redis: RateLimitRedisConfig | null = null;
  if (backend === 'local') {
    for (const k of REDIS_KEYS) notHere(k, 'applies to backend "redis" only', 'set backend "redis", or remove it');
  } else {
    if (/[{}]/.test(id)) {
      error(ctx, node, node.args[0]?.pos ?? node.pos, 'invalid-value', `${label}: a filter with backend "redis" needs an id without braces (it is part of every Redis key)`, path);
      bad.value = true;
    }
    const urlNode = seen.get('redis-url');
    if (urlNode === undefined) {
      error(ctx, node, node.pos, 'missing-key', `${label} uses backend "redis" but has no "redis-url"`, path, 'e.g. redis-url "redis://127.0.0.1:6379", or several node URLs for a Redis Cluster');
      bad.value = true;
    } else if (urls.length > 0) {
      const parsed = [];
      for (const u of urls) {
        const r = parseRedisUrl(u.value);
        if (typeof r === 'string') {
          // Never echo the URL: it may carry a password.
          error(ctx, urlNode, u.pos, 'invalid-value', `invalid redis-url: ${r}`, `${path}/redis-url`);
          bad.value = true;
        } else parsed.push(r);
      }
      const effectiveMode = mode ?? (urls.length > 1 ? 'cluster' : 'standalone');
      const first = parsed[0];
      if (effectiveMode === 'standalone' && urls.length > 1) {
        error(ctx, urlNode, urls[1]?.pos ?? urlNode.pos, 'conflict', `redis-mode "standalone" takes one redis-url, got ${urls.length}`, `${path}/redis-url`, 'give one URL, or redis-mode "cluster" for the seed nodes of a Redis Cluster');
        bad.value = true;
      } else if (first !== undefined && parsed.length === urls.length) {
        const differs = parsed.find((r) => r.tls !== first.tls || r.username !== first.username || r.password !== first.password || r.db !== first.db);
        if (differs !== undefined) {
          error(ctx, urlNode, urlNode.pos, 'conflict', 'the redis-url nodes of one cluster must share scheme, credentials and database', `${path}/redis-url`);
          bad.value = true;
        } else if (effectiveMode === 'cluster' && first.db !== 0) {
          error(ctx, urlNode, urlNode.pos, 'invalid-value', 'Redis Cluster has only database 0', `${path}/redis-url`, 'remove the /db part of the URLs');
          bad.value = true;
        } else {
          redis = {
            mode: effectiveMode, nodes: parsed.map((r) => r.node), tls: first.tls, username: first.username, password: first.password, db: first.db,
            prefix, poolSize, timeoutMs, onFailure, probeIntervalMs,
          };
        }
      }
    }
  }

  if (bad.value || limit === undefined) return undefined;
  if (backend === 'redis' && redis === null) return undefined;
  return {
    id, type: 'rate-limit', limit, key, onMissingKey, trustedProxies, onLimit, statusCode, message, maxDelayMs, maxDelayedRequests, maxKeys,
    responseHeaders, legacyHeaders, backend, redis, loc: locOf(node),
  };
}
