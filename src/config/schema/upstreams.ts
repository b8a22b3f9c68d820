// `upstreams { upstream "id" { } }`: targets, load balancing, timeouts, the connection pool, and
// the resilience blocks (health-check, circuit-breaker, outlier-detection, retry-policy, discovery)
// read in upstream-resilience.ts and discovery.ts, and TLS and HTTP/2 to the targets (tls.ts).
import type {
  CircuitBreakerConfig, DiscoveryConfig, HealthCheckConfig, LoadBalancing, OutlierDetectionConfig, RetryPolicyConfig, TargetConfig,
  UpstreamConfig, UpstreamTlsConfig,
} from '../types.ts';
import type { LNode } from '../kdl.ts';
import { checkAddress, checkBlockNode, checkInt, error, expectString, locOf, nodePath, q, readAddress, readBool, readId, readInt, readSecsAsMs, readString, rejectProps, walkBlock, where } from './reader.ts';
import type { Ctx, HostPort } from './reader.ts';
import { readLoadBalancing } from './load-balancing.ts';
import { readCircuitBreaker, readHealthCheck, readOutlierDetection, readRetryPolicy } from './upstream-resilience.ts';
import { readDiscovery } from './discovery.ts';
import { readUpstreamTls } from './tls.ts';

/** Largest response head taken from a target by default (status line and all header fields). */
export const DEFAULT_MAX_RESPONSE_HEADER_BYTES = 64 * 1024;

interface HttpVersionAcc {
  min: 1 | 2;
  max: 1 | 2;
  maxH2Streams: number;
  node: LNode | undefined;
}

function readHttpVersion(ctx: Ctx, n: LNode, p: string, label: string, acc: HttpVersionAcc): void {
  checkBlockNode(ctx, n, p);
  acc.node = n;
  const version = (key: 'min' | 'max') => (c: LNode, cp: string): void => {
    const v = readInt(ctx, c, cp, 1, 3);
    if (v === 3) { error(ctx, c, c.args[0]?.pos ?? c.pos, 'not-implemented', 'HTTP/3 to upstreams is not implemented', cp, 'use 1 or 2'); return; }
    if (v === 1 || v === 2) acc[key] = v;
  };
  walkBlock(ctx, n, p, {
    label: `${label} http-version`,
    keys: {
      'min-version': version('min'),
      'max-version': version('max'),
      'max-h2-streams': (c, cp) => { acc.maxH2Streams = readInt(ctx, c, cp, 1, 10_000) ?? acc.maxH2Streams; },
    },
    notImplemented: ['h2-ping-interval', 'h2-ping-interval-secs'],
  });
}

/** The HTTP/2 mode an upstream's http-version and tls allow, or undefined after reporting why not. */
function upstreamHttp2(ctx: Ctx, acc: HttpVersionAcc, tls: boolean, path: string): 'http1' | 'alpn' | 'h2c' | undefined {
  const n = acc.node;
  if (n === undefined || acc.max === 1) {
    if (acc.min === 2 && n !== undefined) error(ctx, n, n.pos, 'conflict', 'http-version min-version 2 is above max-version 1', `${path}/http-version`);
    return n !== undefined && acc.min === 2 ? undefined : 'http1';
  }
  if (tls) {
    if (acc.min === 2) {
      error(ctx, n, n.pos, 'not-implemented', 'requiring HTTP/2 over TLS (min-version 2) is not implemented', `${path}/http-version`,
        'use min-version 1: HTTP/2 is negotiated with ALPN and used whenever the target offers it');
      return undefined;
    }
    return 'alpn';
  }
  if (acc.min === 2) return 'h2c';
  error(ctx, n, n.pos, 'conflict', 'cleartext HTTP/2 cannot be negotiated (max-version 2 without tls)', `${path}/http-version`,
    'add a tls block to negotiate HTTP/2 with ALPN, or set min-version 2 for cleartext HTTP/2 with prior knowledge (h2c)');
  return undefined;
}

export interface UpstreamAcc {
  readonly config: UpstreamConfig;
  readonly node: LNode;
}

export function readTarget(ctx: Ctx, n: LNode, p: string, upstreamLabel: string): TargetConfig | undefined {
  rejectProps(ctx, n, p, ['weight']);
  let addr: HostPort | undefined;
  let weight = 1;
  const arg = n.args[0];
  const weightProp = n.props.get('weight');
  if (weightProp !== undefined) weight = checkInt(ctx, n, weightProp, p, 1, 1000, 'weight') ?? weight;
  if (arg !== undefined) {
    if (n.hasBlock) {
      error(ctx, n, n.pos, 'conflict', 'target has both an address argument and a { } block', p, 'use either target "h:p" weight=2 or target { address "h:p"; weight 2 }');
    }
    const extra = n.args[1];
    if (extra !== undefined) error(ctx, n, extra.pos, 'extra-argument', `target takes one address, got ${n.args.length}`, p, 'use one target line per address');
    const s = expectString(ctx, n, arg, p);
    if (s !== undefined) addr = checkAddress(ctx, n, arg.pos, s, p, 1);
  } else if (n.hasBlock) {
    let sawAddress = false;
    walkBlock(ctx, n, p, {
      label: `a target of ${upstreamLabel}`,
      keys: {
        address: (c, cp) => {
          sawAddress = true;
          addr = readAddress(ctx, c, cp, 1);
        },
        weight: (c, cp) => {
          if (weightProp !== undefined) {
            error(ctx, c, c.pos, 'conflict', 'weight is given both as weight= and in the block', cp);
            return;
          }
          weight = readInt(ctx, c, cp, 1, 1000) ?? weight;
        },
      },
      notImplemented: ['metadata', 'tls'],
    });
    if (!sawAddress) error(ctx, n, n.pos, 'missing-key', 'target block has no "address"', p, 'e.g. target { address "127.0.0.1:3000" }');
  } else {
    error(ctx, n, n.pos, 'missing-argument', 'target needs an address', p, 'e.g. target "127.0.0.1:3000"');
  }
  return addr === undefined ? undefined : { host: addr.host, port: addr.port, weight };
}

export function readUpstream(ctx: Ctx, node: LNode, parentPath: string): UpstreamAcc | undefined {
  const id = readId(ctx, node, `${parentPath}/upstream`, 'upstream');
  const path = nodePath(parentPath, node, id);
  const label = `upstream ${id !== undefined ? q(id) : ''}`.trim();
  const targets: TargetConfig[] = [];
  const targetNodes = new Map<string, LNode>();
  let sawTarget = false;
  let targetsOk = true;
  let loadBalancing: LoadBalancing = { algorithm: 'round_robin' };
  let preserveHostNode: LNode | undefined;
  let preserveHost: boolean | undefined;
  let hostHeader: string | null = null;
  let hostHeaderNode: LNode | undefined;
  const timeouts = { connectMs: 5_000, headersMs: 30_000, readMs: 30_000, requestMs: 60_000 };
  const pool = { maxConnections: 128, maxPendingRequests: 1024, idleTimeoutMs: 60_000, maxRequestsPerConnection: 0 };
  let healthCheck: HealthCheckConfig | null = null;
  let circuitBreaker: CircuitBreakerConfig | null = null;
  let outlierDetection: OutlierDetectionConfig | null = null;
  let retryPolicy: RetryPolicyConfig | null = null;
  let discovery: DiscoveryConfig = { kind: 'static' };
  let discoveryNode: LNode | undefined;
  let firstTarget: LNode | undefined;
  let resilienceOk = true;
  /** A block reader's result; undefined (reported) marks the upstream invalid. */
  const take = <T>(v: T | undefined): T | null => {
    if (v === undefined) resilienceOk = false;
    return v ?? null;
  };
  let maxResponseHeaderBytes = DEFAULT_MAX_RESPONSE_HEADER_BYTES;
  let tls: UpstreamTlsConfig | null = null;
  let tlsOk = true;
  const httpVersion: HttpVersionAcc = { min: 1, max: 1, maxH2Streams: 100, node: undefined };
  walkBlock(ctx, node, path, {
    label,
    repeatable: ['target'],
    keys: {
      target: (n, p) => {
        sawTarget = true;
        firstTarget ??= n;
        const t = readTarget(ctx, n, p, label);
        if (t === undefined) {
          targetsOk = false;
          return;
        }
        const key = `${t.host}|${t.port}`;
        const first = targetNodes.get(key);
        if (first !== undefined) {
          error(ctx, n, n.pos, 'duplicate-target', `target ${t.host}:${t.port} is listed twice in ${label} (first at ${where(first)})`, p, 'use weight= to give a target more traffic');
          return;
        }
        targetNodes.set(key, n);
        targets.push(t);
      },
      'load-balancing': (n, p) => {
        loadBalancing = readLoadBalancing(ctx, n, p, label, false) ?? loadBalancing;
      },
      'preserve-host': (n, p) => {
        preserveHostNode = n;
        preserveHost = readBool(ctx, n, p);
      },
      'host-header': (n, p) => {
        hostHeaderNode = n;
        const s = readString(ctx, n, p);
        if (s === undefined) return;
        // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
        if (s === '' || /[\s\u0000-\u001f\u007f,]/.test(s)) {
          error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `invalid host-header ${q(s)}`, p);
          return;
        }
        hostHeader = s;
      },
      timeouts: (n, p) => {
        checkBlockNode(ctx, n, p);
        const set = (key: keyof typeof timeouts) => (c: LNode, cp: string): void => {
          timeouts[key] = readSecsAsMs(ctx, c, cp) ?? timeouts[key];
        };
        walkBlock(ctx, n, p, {
          label: `${label} timeouts`,
          keys: { 'connect-secs': set('connectMs'), 'headers-secs': set('headersMs'), 'read-secs': set('readMs'), 'request-secs': set('requestMs') },
          notImplemented: ['write-secs'],
        });
      },
      'connection-pool': (n, p) => {
        checkBlockNode(ctx, n, p);
        walkBlock(ctx, n, p, {
          label: `${label} connection-pool`,
          keys: {
            'max-connections': (c, cp) => {
              pool.maxConnections = readInt(ctx, c, cp, 1, 1_000_000) ?? pool.maxConnections;
            },
            'max-pending-requests': (c, cp) => {
              pool.maxPendingRequests = readInt(ctx, c, cp, 0, 1_000_000) ?? pool.maxPendingRequests;
            },
            'idle-timeout-secs': (c, cp) => {
              pool.idleTimeoutMs = readSecsAsMs(ctx, c, cp) ?? pool.idleTimeoutMs;
            },
            'max-requests-per-connection': (c, cp) => {
              pool.maxRequestsPerConnection = readInt(ctx, c, cp, 0, 1_000_000_000) ?? pool.maxRequestsPerConnection;
            },
          },
          notImplemented: ['max-idle', 'max-lifetime-secs'],
        });
      },
      'health-check': (n, p) => { healthCheck = take(readHealthCheck(ctx, n, p, label)); },
      'circuit-breaker': (n, p) => { circuitBreaker = take(readCircuitBreaker(ctx, n, p, label)); },
      'outlier-detection': (n, p) => { outlierDetection = take(readOutlierDetection(ctx, n, p, label)); },
      'retry-policy': (n, p) => { retryPolicy = take(readRetryPolicy(ctx, n, p, label)); },
      discovery: (n, p) => {
        discoveryNode = n;
        const d = readDiscovery(ctx, n, p, label);
        if (d === undefined) resilienceOk = false;
        else discovery = d;
      },
      'max-response-header-bytes': (n, p) => {
        maxResponseHeaderBytes = readInt(ctx, n, p, 1024, 1024 * 1024) ?? maxResponseHeaderBytes;
      },
      tls: (n, p) => {
        const t = readUpstreamTls(ctx, n, p, label);
        if (t === undefined) tlsOk = false;
        else tls = t;
      },
      'http-version': (n, p) => readHttpVersion(ctx, n, p, label, httpVersion),
    },
  });
  const dynamic = discovery.kind !== 'static';
  if (dynamic && firstTarget !== undefined && discoveryNode !== undefined) {
    error(ctx, firstTarget, firstTarget.pos, 'conflict', `${label} has both "target" lines and discovery ${q(discovery.kind)}`, path,
      `discovery ${q(discovery.kind)} (at ${where(discoveryNode)}) provides the targets: remove the target lines`);
  }
  if (!sawTarget && !dynamic && (discoveryNode === undefined || resilienceOk)) {
    error(ctx, node, node.pos, 'missing-key', `${label} has no "target"`, path, 'e.g. target "127.0.0.1:3000", or discovery "dns" { … }');
  }
  if (preserveHost === true && hostHeaderNode !== undefined && preserveHostNode !== undefined) {
    error(ctx, hostHeaderNode, hostHeaderNode.pos, 'conflict', `${label} sets both preserve-host #true and host-header`, path,
      `drop preserve-host (host-header alone implies preserve-host #false), see ${where(preserveHostNode)}`);
  }
  const http2 = upstreamHttp2(ctx, httpVersion, tls !== null || !tlsOk, path);
  if (id === undefined || !targetsOk || !resilienceOk || !tlsOk || http2 === undefined || (targets.length === 0 && !dynamic) || (dynamic && targets.length > 0)) return undefined;
  return {
    node,
    config: {
      id,
      targets,
      loadBalancing,
      preserveHost: hostHeader !== null ? false : (preserveHost ?? true),
      hostHeader,
      timeouts,
      pool,
      healthCheck,
      circuitBreaker,
      outlierDetection,
      retryPolicy,
      discovery,
      maxResponseHeaderBytes,
      ...(tls !== null ? { tls } : {}),
      ...(http2 !== 'http1' ? { http2: { mode: http2, maxStreams: httpVersion.maxH2Streams } } : {}),
      loc: locOf(node),
    },
  };
}

// ---------- observability ----------
