// The validated configuration: what `loadConfig` returns when there are no error diagnostics.
// Every value here has its default applied and its type checked, so `compile/` never re-validates.
// Durations are stored in milliseconds (`…Ms`) whatever unit the KDL key uses.

export type Severity = 'error' | 'warning';

/** A problem found while loading a config. Config loading never throws; it returns these. */
export interface Diagnostic {
  /** Stable machine-readable code, e.g. `kdl-syntax`, `unknown-key`, `dangling-reference`. */
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly file: string;
  /** 1-based; 0 when unknown. */
  readonly line: number;
  /** 1-based; 0 when unknown. */
  readonly column: number;
  /** Node path such as `routes/route "api"/matches/path-prefix`. */
  readonly path: string;
  readonly hint?: string;
}

export interface SourceLoc {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export type TraceIdFormat = 'uuid' | 'tinyflake';

export interface SystemConfig {
  /** Reload when a config file (main or included) changes (debounced; polling where fs.watch fails). */
  readonly autoReload: boolean;
  /** 1 = one process; 0 = one worker per CPU; N = N workers behind a primary (node:cluster). */
  readonly workerThreads: number;
  /**
   * With several workers: each worker binds every listener itself with SO_REUSEPORT and the kernel
   * spreads new connections (false: the primary accepts and hands connections to workers in turn).
   */
  readonly reusePort: boolean;
  readonly maxConnections: number;
  readonly gracefulShutdownTimeoutMs: number;
  readonly traceIdFormat: TraceIdFormat;
}

/**
 * `http`: HTTP/1.1 in cleartext. `https`: TLS with ALPN `h2` and `http/1.1` on the same port.
 * `h2c`: cleartext HTTP/2 with prior knowledge (no HTTP/1.1 on that port).
 */
export type ListenerProtocol = 'http' | 'https' | 'h2c';

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** `none`: no client certificate asked. `optional`: asked, verified when sent. `require`: the handshake fails without a valid one. */
export type ClientAuth = 'none' | 'optional' | 'require';

/**
 * A PEM file named in the config. The loader reads and checks it, and records the sha256 of its
 * content: a renewed certificate is a changed config, so SIGHUP applies it (an unchanged hash is a
 * no-op). The proxy reads the file again when it builds its TLS contexts.
 */
export interface PemFileRef {
  /** Absolute, or relative to the process's working directory when the config came from text. */
  readonly path: string;
  readonly sha256: string;
  readonly loc: SourceLoc;
}

/** A certificate chain and its private key. */
export interface CertKeyPair {
  readonly cert: PemFileRef;
  readonly key: PemFileRef;
}

/** `sni { hostnames …; cert-file; key-file }`: served to clients that ask for one of `hostnames`. */
export interface SniCertConfig extends CertKeyPair {
  /** Lower case; exact names or `*.suffix` (one label). */
  readonly hostnames: readonly string[];
  readonly loc: SourceLoc;
}

export interface ListenerTlsConfig {
  /** The default certificate: clients without SNI, or whose name matches no `sni` block. */
  readonly default: CertKeyPair;
  readonly sni: readonly SniCertConfig[];
  readonly clientAuth: ClientAuth;
  /** CA bundle that client certificates must chain to (required unless client-auth is none). */
  readonly clientCa: PemFileRef | null;
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** OpenSSL names (TLS 1.2) and IANA names `TLS_…` (TLS 1.3); null = Node's defaults. */
  readonly cipherSuites: readonly string[] | null;
  /** Time allowed for the TLS handshake. */
  readonly handshakeTimeoutMs: number;
  /** Offer `h2` in ALPN (default true); false = HTTP/1.1 only. */
  readonly http2: boolean;
}

export interface ListenerConfig {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: ListenerProtocol;
  /** Present exactly when `protocol` is `https`. */
  readonly tls: ListenerTlsConfig | null;
  /** Time allowed to receive the whole request head (slow-header defence). */
  readonly headersTimeoutMs: number;
  /** Time allowed to receive the whole request, head and body. */
  readonly requestTimeoutMs: number;
  readonly keepaliveTimeoutMs: number;
  /** 0 = unlimited. */
  readonly keepaliveMaxRequests: number;
  /** Longest request-target (path and query) accepted; longer is 414 URI_TOO_LONG. */
  readonly maxUriBytes: number;
  /** Open connections on this listener; 0 = only the global `system max-connections`. */
  readonly maxConnections: number;
  /** Request head size (HTTP/1.1: request line and headers; HTTP/2: the header list). */
  readonly maxHeaderBytes: number;
  /** Header fields per request. */
  readonly maxHeaderCount: number;
  /** HTTP/2: streams open at once per session (SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxConcurrentStreams: number;
  /** HTTP/2: streams a client may cancel per 10 s before its session is closed (rapid reset). */
  readonly maxStreamResetsPer10s: number;
  readonly defaultRoute: string | null;
  /**
   * Ids of `rate-limit` filters applied to every request on this listener before routing (the
   * listener's global limit); empty when none.
   */
  readonly rateLimit: readonly string[];
  readonly loc: SourceLoc;
}

export type MatchCondition =
  | { readonly kind: 'path'; readonly value: string }
  | { readonly kind: 'path-prefix'; readonly value: string }
  | { readonly kind: 'path-regex'; readonly value: string }
  /** One host condition holds all alternatives (OR); `*.example.com` is a one-or-more-label wildcard. */
  | { readonly kind: 'host'; readonly values: readonly string[] }
  | { readonly kind: 'method'; readonly values: readonly string[] }
  /** `value` null means presence only. Header names are lower-cased. */
  | { readonly kind: 'header'; readonly name: string; readonly value: string | null }
  | { readonly kind: 'query-param'; readonly name: string; readonly value: string | null };

export type BuiltinHandler = 'status' | 'health' | 'ready' | 'upstreams' | 'metrics' | 'not-found';

/** `static-files { }`: a directory served by Sentinel itself (src/static/). */
export interface StaticFilesConfig {
  /**
   * The directory; the normalised request path is appended to it (nginx `root` semantics). A
   * relative root is resolved against the directory of the config file that names it.
   */
  readonly root: string;
  /** Files tried, in order, when the path names a directory. */
  readonly index: readonly string[];
  /** Cache-Control of every file response, or null for none. */
  readonly cacheControl: string | null;
  /** Precompressed siblings (`file.br`, `file.gz`) served when the client accepts them, in preference order. */
  readonly precompressed: readonly ContentCoding[];
  /** File (relative to root) served with 200 when the path names no file (single-page apps), or null. */
  readonly fallback: string | null;
}

export type ContentCoding = 'br' | 'gzip';

export type RouteAction =
  | { readonly kind: 'upstream'; readonly upstream: string }
  | { readonly kind: 'builtin'; readonly handler: BuiltinHandler }
  | { readonly kind: 'deployments'; readonly deployments: DeploymentsConfig }
  | { readonly kind: 'static'; readonly files: StaticFilesConfig };

// ---------- deployment routing (issue 9, docs/deployments.md) ----------

/** Stale-while-revalidate windows of one lookup cache. */
export interface DeploymentsCacheConfig {
  /** Entries younger than this are served as they are. */
  readonly freshMs: number;
  /** Entries are served (and refreshed in the background) until this age, then dropped. >= freshMs. */
  readonly staleMs: number;
  readonly maxEntries: number;
}

export type DeploymentStatusName =
  | 'pending' | 'starting' | 'building' | 'deploying' | 'network' | 'finalizing' | 'ready' | 'failed'
  | 'skipped' | 'awaiting_approval' | 'stopped' | 'superseded' | 'cancelled';
export type InstanceStatusName = 'inactive' | 'pending' | 'running' | 'failed';

export interface StaticDeploymentConfig {
  readonly id: string;
  readonly environmentId: string;
  readonly workspaceId: string;
  readonly projectId: string;
  readonly status: DeploymentStatusName;
  readonly upstreamProtocol: 'http1' | 'h2c';
}

export interface StaticInstanceConfig {
  readonly id: string;
  readonly deploymentId: string;
  /** `<platform>:<name>`, compared exactly with the route's `region`. */
  readonly region: string;
  /** `host:port` as a database would hold it; checked when routed (a bad one answers 500 invalid_configuration). */
  readonly address: string;
  readonly status: InstanceStatusName;
}

export type DeploymentsStoreConfig =
  | {
    readonly kind: 'static';
    readonly deployments: readonly StaticDeploymentConfig[];
    readonly instances: readonly StaticInstanceConfig[];
  }
  | {
    readonly kind: 'mysql';
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    readonly database: string;
    /** Open connections at most. */
    readonly poolSize: number;
    /** Lookups waiting for a connection at most; beyond it a lookup fails at once (500). */
    readonly maxQueue: number;
    readonly connectTimeoutMs: number;
    readonly queryTimeoutMs: number;
    readonly idleTimeoutMs: number;
  };

/** `deployments { }` on a route: environment-scoped routing by a deployment id header. */
export interface DeploymentsConfig {
  readonly environmentId: string;
  /** `<platform>:<name>` of this proxy; only instances in it are eligible. */
  readonly region: string;
  /** Header carrying the deployment id (matched case-insensitively; stripped before forwarding). */
  readonly header: string;
  readonly errorSourceHeader: string;
  readonly errorSourceValue: string;
  /** Add `X-Unkey-Timing` to proxied responses. */
  readonly timingHeader: boolean;
  /** Whole exchange, store lookup included; expiry answers 504 sentinel_timeout. */
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Response head after the request was sent; null = only the request timeout applies (Sentinel V2). */
  readonly headersTimeoutMs: number | null;
  /** Gap between two response body chunks; null = none (Sentinel). */
  readonly readTimeoutMs: number | null;
  readonly deploymentCache: DeploymentsCacheConfig;
  readonly instanceCache: DeploymentsCacheConfig;
  readonly pool: {
    /** Connections per instance address. */
    readonly maxConnections: number;
    readonly idleTimeoutMs: number;
    /** Instance addresses with a connection pool at most (least recently used closed first). */
    readonly maxInstances: number;
  };
  /**
   * Instance selection among the running instances of the region: `random` (uniform, one attempt:
   * Unkey parity, the default) or one of Sentinel's own algorithms (an opt-in divergence).
   */
  readonly selection: BaseLoadBalancing;
  /**
   * Retries across instances (opt-in divergence; null = one attempt, Unkey parity). A retry never
   * goes to an instance the request already tried, and is bounded by the request timeout.
   */
  readonly retryPolicy: RetryPolicyConfig | null;
  /**
   * Passive health per instance address (opt-in divergence; null = none, Unkey parity): an
   * ejected instance is not selected until its ejection ends. Part of the runtime identity.
   */
  readonly outlierDetection: OutlierDetectionConfig | null;
  readonly store: DeploymentsStoreConfig;
}

/**
 * One header rule of `policies { request-headers { } response-headers { } }`, applied in the order
 * written. `default` sets a field only when it is absent (the security headers use it).
 */
export type HeaderRule =
  | { readonly op: 'set' | 'add' | 'default'; readonly name: string; readonly value: string }
  | { readonly op: 'remove'; readonly name: string }
  | { readonly op: 'rename'; readonly name: string; readonly to: string };

/** Security response headers of a route; null = not sent. Each is added only when the response has none. */
export interface SecurityHeadersConfig {
  /** Sent only on TLS listeners (RFC 6797 §7.2: never over plain HTTP). */
  readonly strictTransportSecurity: string | null;
  readonly contentTypeOptions: string | null;
  readonly frameOptions: string | null;
  readonly referrerPolicy: string | null;
}

/** What happens to the `Server` field of responses: removed, passed through, or replaced. */
export type ServerHeaderPolicy =
  | { readonly mode: 'remove' }
  | { readonly mode: 'pass' }
  | { readonly mode: 'set'; readonly value: string };

/** `policies { }` of a route: limits and header rules. Every field has its default applied. */
export interface RoutePolicies {
  /** Largest request body accepted (declared or counted while it streams); over it: 413. */
  readonly maxBodyBytes: number;
  /** Requests handled at once on this route; beyond it 503 at once. 0 = unlimited. */
  readonly maxConcurrentRequests: number;
  readonly requestHeaders: readonly HeaderRule[];
  readonly responseHeaders: readonly HeaderRule[];
  readonly securityHeaders: SecurityHeadersConfig;
  readonly serverHeader: ServerHeaderPolicy;
}

export interface RouteWebSocketConfig {
  /** A tunnel with no traffic in either direction for this long is closed. */
  readonly idleTimeoutMs: number;
}

export interface RouteConfig {
  readonly id: string;
  /** Higher wins. Named priorities: low=10, normal=50, high=100, critical=1000. */
  readonly priority: number;
  readonly matches: readonly MatchCondition[];
  readonly action: RouteAction;
  /** Ids of `filters { filter "id" }` entries, run in this order before the action. */
  readonly filters: readonly string[];
  readonly policies: RoutePolicies;
  /** Present when the route forwards WebSocket upgrades (RFC 6455); elsewhere `Upgrade` is dropped. */
  readonly websocket?: RouteWebSocketConfig;
  readonly loc: SourceLoc;
}

/** Algorithms that take no options. */
export type SimpleAlgorithm = 'round_robin' | 'weighted' | 'least_connections' | 'weighted_least_connections' | 'random' | 'p2c' | 'ip_hash';
/** Key-affine algorithms: they hash a request key. */
export type HashAlgorithm = 'consistent_hash' | 'maglev';
/** Latency-aware algorithms (`adaptive` is Sentinel's name for the same Peak-EWMA selector). */
export type EwmaAlgorithm = 'peak_ewma' | 'adaptive';
/** Every canonical algorithm name the config stores (aliases are resolved while loading). */
export type LoadBalancingAlgorithm = SimpleAlgorithm | HashAlgorithm | EwmaAlgorithm | 'sticky';

/**
 * Request key of a hash algorithm: `client-ip`, `path`, `header:name` (name lower-cased),
 * `cookie:NAME` or `query:NAME`. A key missing from a request hashes the client IP instead.
 */
export type HashKey = string;

export type SameSitePolicy = 'Strict' | 'Lax' | 'None';

/** Every algorithm except `sticky`, with its options (also the shape of a sticky fallback). */
export type BaseLoadBalancing =
  | { readonly algorithm: SimpleAlgorithm }
  | { readonly algorithm: HashAlgorithm; readonly hashKey: HashKey }
  | { readonly algorithm: EwmaAlgorithm; readonly decayMs: number };

/** Cookie affinity: a request with a valid affinity cookie goes to its target, others to `fallback`. */
export interface StickyLoadBalancing {
  readonly algorithm: 'sticky';
  readonly cookieName: string;
  /** Max-Age of the cookie; 0 = session cookie. */
  readonly ttlMs: number;
  readonly cookiePath: string;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: SameSitePolicy;
  readonly fallback: BaseLoadBalancing;
  /**
   * HMAC key of the cookie value. null: a random per-process key, so affinities survive reloads
   * but not a restart, and do not span instances.
   */
  readonly secret: string | null;
}

export type LoadBalancing = BaseLoadBalancing | StickyLoadBalancing;

export interface TargetConfig {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

export interface UpstreamTimeouts {
  readonly connectMs: number;
  /** From request sent to response head received. */
  readonly headersMs: number;
  /** Maximum gap between two response body chunks. */
  readonly readMs: number;
  /** Whole exchange, from routing to the last response byte. */
  readonly requestMs: number;
}

export interface ConnectionPoolConfig {
  /** Connections per target (each carries one request at a time). */
  readonly maxConnections: number;
  /**
   * Requests per target waiting for a free connection. Beyond `maxConnections + maxPendingRequests`
   * requests in flight, the target is full: 503 `UPSTREAM_QUEUE_FULL` when every target is.
   */
  readonly maxPendingRequests: number;
  readonly idleTimeoutMs: number;
  /** A connection is closed after this many requests; 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
}

/** `health-check { type "http" { … } | type "tcp"; … }`: active checks, one prober per target. */
export interface HealthCheckConfig {
  readonly type: 'http' | 'tcp';
  /** `http` only: request path (origin-form, may carry a query). */
  readonly path: string;
  /** `http` only: Host header; null = the target's host:port. */
  readonly host: string | null;
  /** `http` only: inclusive status range counted as healthy. */
  readonly expectedStatus: { readonly min: number; readonly max: number };
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive successes that make an unhealthy target healthy. */
  readonly healthyThreshold: number;
  /** Consecutive failures that make a healthy target unhealthy. */
  readonly unhealthyThreshold: number;
  /** `healthy`: serve at once; `unknown`: no traffic until the first check passes. */
  readonly initialState: 'healthy' | 'unknown';
}

/** `circuit-breaker { }`: one breaker per target. */
export interface CircuitBreakerConfig {
  readonly failureThreshold: number;
  readonly successThreshold: number;
  /** Time open before half-open probes are let through. */
  readonly openMs: number;
  readonly halfOpenMaxRequests: number;
  /** Optional failure share (0, 1] over `windowMs` that also opens it; null = off. */
  readonly failureRatio: number | null;
  readonly windowMs: number;
  readonly minRequests: number;
  /** Do 5xx responses count as failures? Default false: connect failures, resets and timeouts only. */
  readonly include5xx: boolean;
}

/** `outlier-detection { }`: passive health, Envoy style. */
export interface OutlierDetectionConfig {
  readonly consecutive5xx: number;
  /** Consecutive local-origin failures: connect failures, resets, timeouts. */
  readonly consecutiveFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  /** Share of the targets passive detection may eject at once (never all of them). */
  readonly maxEjectionPercent: number;
}

/** `retry-policy { }`. */
export interface RetryPolicyConfig {
  /** Total attempts including the first. */
  readonly maxAttempts: number;
  /** 5xx statuses retried (empty: only connection-level failures are). */
  readonly retryableStatusCodes: readonly number[];
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** Bound on one attempt until its response head; null = only the upstream timeouts. */
  readonly perAttemptTimeoutMs: number | null;
  /** Retry POST/PATCH/… even after the request reached the upstream. Default false. */
  readonly retryNonIdempotent: boolean;
  /** Retries earned per request (0.2 = at most 20 % extra load). */
  readonly budgetRatio: number;
  /** Retries always allowed per second, whatever the traffic. */
  readonly budgetMinPerSecond: number;
  /** Request bodies up to this size (declared Content-Length) are buffered so a retry can replay them. */
  readonly maxBufferBytes: number;
}

export type DnsRecordType = 'A' | 'AAAA' | 'SRV';

/** Where an upstream's targets come from. */
export type DiscoveryConfig =
  | { readonly kind: 'static' }
  | {
    readonly kind: 'dns';
    readonly hostname: string;
    /** A/AAAA: the port of every target; SRV: null (ports come from the records). */
    readonly port: number | null;
    readonly recordType: DnsRecordType;
    /** Refresh period when records carry no TTL (SRV) and after a failure. */
    readonly refreshIntervalMs: number;
    /** A/AAAA: the next refresh follows the smallest record TTL, clamped to these bounds. */
    readonly minTtlMs: number;
    readonly maxTtlMs: number;
    /** DNS server (`host:port`); null = the system resolvers. */
    readonly resolver: { readonly host: string; readonly port: number } | null;
    readonly timeoutMs: number;
  }
  | {
    readonly kind: 'file';
    /** As written in the config, joined to the directory of the file that names it when relative. */
    readonly path: string;
    readonly watchIntervalMs: number;
  };

/** `tls { }` on an upstream: connect to the targets over TLS. Verification is on by default. */
export interface UpstreamTlsConfig {
  /** Server name sent and verified; null = the target's host when it is a name (none for an IP). */
  readonly sni: string | null;
  /** CA bundle to verify the targets with; null = Node's bundled root CAs. */
  readonly ca: PemFileRef | null;
  /** Client certificate and key for mTLS to the targets, or null. */
  readonly client: CertKeyPair | null;
  /** Accept any server certificate. Loud: a warning at load. */
  readonly insecureSkipVerify: boolean;
}

/**
 * HTTP/2 to the targets (`http-version { max-version 2 }`). `alpn`: over TLS, offer `h2` and
 * `http/1.1` and use what the target picks. `h2c`: cleartext HTTP/2 with prior knowledge.
 */
export interface UpstreamHttp2Config {
  readonly mode: 'alpn' | 'h2c';
  /** Streams per HTTP/2 connection to a target (the target's SETTINGS may lower it). */
  readonly maxStreams: number;
}

export interface UpstreamConfig {
  readonly id: string;
  readonly targets: readonly TargetConfig[];
  readonly loadBalancing: LoadBalancing;
  /** true: forward the client's Host; false: use `hostHeader` or the target's host:port. */
  readonly preserveHost: boolean;
  readonly hostHeader: string | null;
  readonly timeouts: UpstreamTimeouts;
  readonly pool: ConnectionPoolConfig;
  /** Active checks; null = every target counts as healthy. */
  readonly healthCheck: HealthCheckConfig | null;
  readonly circuitBreaker: CircuitBreakerConfig | null;
  readonly outlierDetection: OutlierDetectionConfig | null;
  /** null = one attempt, no retries. */
  readonly retryPolicy: RetryPolicyConfig | null;
  /** `static`: `targets` above; otherwise `targets` is empty and the source fills it at run time. */
  readonly discovery: DiscoveryConfig;
  /** Largest response head accepted from a target; larger is 502 UPSTREAM_HEADERS_TOO_LARGE. */
  readonly maxResponseHeaderBytes: number;
  /** Absent = cleartext. */
  readonly tls?: UpstreamTlsConfig;
  /** Absent = HTTP/1.1 only. */
  readonly http2?: UpstreamHttp2Config;
  readonly loc: SourceLoc;
}

// ---------- filters ----------
// `filters { filter "id" { type "…"; … } }`, attached to routes with `filters "id" …`. Each type
// reads its own keys in src/config/schema/filter-<type>.ts.

export interface FilterBase {
  readonly id: string;
  readonly loc: SourceLoc;
}

/** What a rate-limit filter does with a request over the limit. */
export type RateLimitAction = 'reject' | 'delay' | 'log-only';

/**
 * `token-bucket`: `max-rps` and `burst` (local: an in-memory bucket; redis: GCRA, the same bucket
 * kept as one number per key). `sliding-log`: at most `max-requests` in any `window-secs` (redis only).
 */
export type RateLimitAlgorithm = 'token-bucket' | 'sliding-log';

export type RateLimitLimit =
  | { readonly algorithm: 'token-bucket'; readonly maxRps: number; readonly burst: number }
  | { readonly algorithm: 'sliding-log'; readonly maxRequests: number; readonly windowMs: number };

/** One Redis node, parsed from a `redis://` or `rediss://` URL. */
export interface RedisNodeConfig {
  readonly host: string;
  readonly port: number;
}

export interface RateLimitRedisConfig {
  /** `standalone`: one server (`nodes[0]`); `cluster`: seed nodes of a Redis Cluster. */
  readonly mode: 'standalone' | 'cluster';
  readonly nodes: readonly RedisNodeConfig[];
  /** From `rediss://`. */
  readonly tls: boolean;
  /** From the URL's userinfo (`redis://user:pass@…`), percent-decoded; null when absent. */
  readonly username: string | null;
  readonly password: string | null;
  /** Database number from the URL path (standalone only); 0 by default. */
  readonly db: number;
  /** Key prefix; the full key is `<prefix><filter id>:{<key>}`. */
  readonly prefix: string;
  /** Connections (ioredis clients) used in turn; each is multiplexed. */
  readonly poolSize: number;
  /** Bound on every Redis call. */
  readonly timeoutMs: number;
  readonly onFailure: 'fallback-to-local' | 'open' | 'closed';
  /** How often a Redis marked down is probed for recovery. */
  readonly probeIntervalMs: number;
}

/** `type "rate-limit"` (issue 6): see docs/rate-limiting.md. */
export interface RateLimitFilterConfig extends FilterBase {
  readonly type: 'rate-limit';
  readonly limit: RateLimitLimit;
  /** Key spec as written, e.g. `client-ip,path` (parts validated). */
  readonly key: string;
  /** A key part with no value: `shared` (one bucket for every such request) or `skip` (not limited). */
  readonly onMissingKey: 'shared' | 'skip';
  /** Addresses and CIDRs whose X-Forwarded-For is believed for `client-ip`. */
  readonly trustedProxies: readonly string[];
  readonly onLimit: RateLimitAction;
  /** Status of a rejection (`reject`, and `delay` once the wait bound is reached). */
  readonly statusCode: number;
  /** Client-facing message in the JSON error body; null = the RATE_LIMITED default. */
  readonly message: string | null;
  /** `delay`: the longest a request may wait for its turn. */
  readonly maxDelayMs: number;
  /** `delay`: how many requests may wait at once (per process); more are rejected. */
  readonly maxDelayedRequests: number;
  /** Local store (and the Redis fallback store) size; the least recently used key is evicted. */
  readonly maxKeys: number;
  /** Also send `RateLimit` / `RateLimit-Policy` on admitted responses. */
  readonly responseHeaders: boolean;
  /** Also send `X-RateLimit-Limit` / `-Remaining` / `-Reset`. */
  readonly legacyHeaders: boolean;
  readonly backend: 'local' | 'redis';
  /** Set when `backend` is `redis`. */
  readonly redis: RateLimitRedisConfig | null;
}

/** `type "agent"`: runs an agent of the `agents` block, with per-filter overrides (docs/agents.md). */
export interface AgentFilterConfig extends FilterBase {
  readonly type: 'agent';
  /** Id in the `agents` block. */
  readonly agent: string;
  /** Overrides the agent's `timeout-ms` for this filter; null = the agent's. */
  readonly timeoutMs: number | null;
  /** Overrides the agent's `failure-mode` for this filter; null = the agent's. */
  readonly failureMode: AgentFailureMode | null;
}

export type FilterConfig = RateLimitFilterConfig | AgentFilterConfig;

// ---------- agents (issue 5) ----------

/** Lifecycle events an agent subscribes to (`events …`). */
export type AgentEvent = 'request_headers' | 'request_body' | 'response_headers' | 'response_body' | 'request_complete';

/** `open`: a failing agent is skipped (bypassed); `closed`: its failure fails the request. */
export type AgentFailureMode = 'open' | 'closed';

export type AgentTransportConfig =
  | { readonly kind: 'uds'; readonly path: string }
  | { readonly kind: 'grpc'; readonly host: string; readonly port: number };

export interface AgentBodyConfig {
  /** `buffer`: the whole body in one event; `stream`: one event per chunk as it arrives. */
  readonly mode: 'buffer' | 'stream';
  /** Largest body the agent inspects; a larger one is 413 (closed) or skipped (open). */
  readonly maxBytes: number;
  /** Deadline of each body-chunk call in stream mode. */
  readonly chunkTimeoutMs: number;
}

export interface AgentCircuitBreakerConfig {
  readonly enabled: boolean;
  /** Consecutive failed calls that open it. */
  readonly failureThreshold: number;
  /** Successful probes that close it again. */
  readonly successThreshold: number;
  /** Time open before probes are let through. */
  readonly openMs: number;
  /** Probes admitted at once while half-open. */
  readonly halfOpenMaxRequests: number;
}

export interface AgentHealthCheckConfig {
  readonly enabled: boolean;
  /** Ping every connection this often. */
  readonly intervalMs: number;
  /** A ping unanswered this long resets the connection. */
  readonly timeoutMs: number;
}

/** `agents { agent "id" { … } }`: an external agent process Sentinel connects to (docs/agents.md). */
export interface AgentConfig {
  readonly id: string;
  readonly transport: AgentTransportConfig;
  readonly events: readonly AgentEvent[];
  /** Deadline of one call (headers, buffered body, response events). */
  readonly timeoutMs: number;
  /** Connect + handshake deadline of one connection. */
  readonly connectTimeoutMs: number;
  readonly failureMode: AgentFailureMode;
  /** Calls in flight to this agent at once (all connections); a bounded queue of the same size waits. */
  readonly maxConcurrentCalls: number;
  /** Connections held open to the agent. */
  readonly poolSize: number;
  readonly body: AgentBodyConfig;
  readonly circuitBreaker: AgentCircuitBreakerConfig;
  readonly healthCheck: AgentHealthCheckConfig;
  /** Protected header names (lower-case) this agent may nevertheless change (e.g. `x-forwarded-for`). */
  readonly allowHeaderMutations: readonly string[];
  /** The `config { }` block as JSON, pushed to the agent in the handshake; null when absent. */
  readonly config: AgentJson;
  readonly loc: SourceLoc;
}

/** JSON value of an agent's `config { }` block. */
export type AgentJson = null | boolean | number | string | AgentJson[] | { [key: string]: AgentJson };

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** Access-log line format: one JSON object, or Apache "combined" with Sentinel's fields appended. */
export type AccessLogFormat = 'json' | 'combined';

/**
 * A log destination: `stdout`, `stderr` or a file path. Files are opened for append (the parent
 * directory is created) and reopened on SIGUSR1 (logrotate); stdout and stderr are left alone.
 */
export type LogDestination = string;

export interface AccessLogConfig {
  readonly enabled: boolean;
  readonly destination: LogDestination;
  /** Reloadable. */
  readonly format: AccessLogFormat;
  /** Share of successful requests logged, 0–1 (reloadable). Errors (status >= 500 or an error code) are always logged. */
  readonly sampleRate: number;
  /** Bytes collected before a write (0 = write as soon as the previous write is done). */
  readonly bufferBytes: number;
}

export interface ErrorLogConfig {
  readonly enabled: boolean;
  readonly destination: LogDestination;
  /** Process-log records at or above it are copied here, and failed requests are logged at `error` (5xx) or `info` (reloadable). */
  readonly level: LogLevel;
  readonly bufferBytes: number;
}

export interface AuditLogConfig {
  readonly enabled: boolean;
  /** null: the process log (stderr), records marked `"audit":true`. */
  readonly destination: LogDestination | null;
  readonly bufferBytes: number;
}

/** `observability { tracing { … } }`: OpenTelemetry spans exported over OTLP/HTTP (protobuf). */
export interface TracingConfig {
  readonly backend: 'otlp';
  /** Full URL of the OTLP/HTTP traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces`. */
  readonly endpoint: string;
  /** Share of new traces sampled, 0–1 (reloadable); a caller's sampled flag is honoured (parent-based). */
  readonly samplingRate: number;
  readonly serviceName: string;
}

export interface ObservabilityConfig {
  readonly metrics: {
    readonly enabled: boolean;
    readonly host: string;
    readonly port: number;
    readonly path: string;
  };
  readonly logging: {
    readonly level: LogLevel;
    readonly accessLog: AccessLogConfig;
    readonly errorLog: ErrorLogConfig;
    readonly auditLog: AuditLogConfig;
  };
  /** null: tracing off (no OpenTelemetry code is loaded). */
  readonly tracing: TracingConfig | null;
}

/** The admin listener: POST /reload and GET /status. Off by default; unauthenticated, so loopback only. */
export interface AdminConfig {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
}

export interface Config {
  readonly system: SystemConfig;
  readonly admin: AdminConfig;
  readonly listeners: readonly ListenerConfig[];
  readonly routes: readonly RouteConfig[];
  readonly upstreams: readonly UpstreamConfig[];
  readonly filters: readonly FilterConfig[];
  readonly agents: readonly AgentConfig[];
  readonly observability: ObservabilityConfig;
  /** Every file read, main file first, in load order. */
  readonly files: readonly string[];
}

export interface LoadResult {
  /** Null when any diagnostic has severity `error`. */
  readonly config: Config | null;
  readonly diagnostics: readonly Diagnostic[];
}
