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
  readonly workerThreads: number;
  readonly maxConnections: number;
  readonly gracefulShutdownTimeoutMs: number;
  readonly traceIdFormat: TraceIdFormat;
}

export type ListenerProtocol = 'http';

export interface ListenerConfig {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: ListenerProtocol;
  /** Time allowed to receive the whole request head (slow-header defence). */
  readonly headersTimeoutMs: number;
  /** Time allowed to receive the whole request, head and body. */
  readonly requestTimeoutMs: number;
  readonly keepaliveTimeoutMs: number;
  /** 0 = unlimited. */
  readonly keepaliveMaxRequests: number;
  readonly defaultRoute: string | null;
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

export type BuiltinHandler = 'status' | 'health' | 'metrics' | 'not-found';

export type RouteAction =
  | { readonly kind: 'upstream'; readonly upstream: string }
  | { readonly kind: 'builtin'; readonly handler: BuiltinHandler };

export interface RouteConfig {
  readonly id: string;
  /** Higher wins. Named priorities: low=10, normal=50, high=100, critical=1000. */
  readonly priority: number;
  readonly matches: readonly MatchCondition[];
  readonly action: RouteAction;
  readonly loc: SourceLoc;
}

export type LoadBalancing = 'round_robin' | 'weighted';

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
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
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
  readonly loc: SourceLoc;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface ObservabilityConfig {
  readonly metrics: {
    readonly enabled: boolean;
    readonly host: string;
    readonly port: number;
    readonly path: string;
  };
  readonly logging: {
    readonly level: LogLevel;
    readonly accessLog: {
      readonly enabled: boolean;
      /** `stdout`, `stderr` or a file path. */
      readonly destination: string;
    };
  };
}

export interface Config {
  readonly system: SystemConfig;
  readonly listeners: readonly ListenerConfig[];
  readonly routes: readonly RouteConfig[];
  readonly upstreams: readonly UpstreamConfig[];
  readonly observability: ObservabilityConfig;
  /** Every file read, main file first, in load order. */
  readonly files: readonly string[];
}

export interface LoadResult {
  /** Null when any diagnostic has severity `error`. */
  readonly config: Config | null;
  readonly diagnostics: readonly Diagnostic[];
}
