// `deployments { }` inside a route: environment-scoped routing by a deployment id header, backed by
// a static list or a MySQL-compatible database (docs/deployments.md). Every key is validated here;
// unknown keys are errors. Selection defaults to Unkey's uniform random with one attempt; Sentinel's
// own algorithms are an opt-in (`selection "<algorithm>" { options }`, as an upstream's
// `load-balancing`), and so are retries across instances (`retry-policy { }`) and passive health per
// instance (`outlier-detection { }`), as an upstream's; selectors that mean nothing on instances,
// and active health checks, are `not-implemented`.
import type {
  BaseLoadBalancing, DeploymentStatusName, OutlierDetectionConfig, RetryPolicyConfig, DeploymentsCacheConfig, DeploymentsConfig, DeploymentsStoreConfig, InstanceStatusName, StaticDeploymentConfig,
  StaticInstanceConfig,
} from '../types.ts';
import type { LNode, LValue } from '../kdl.ts';
import { suggestionHint } from '../diagnostics.ts';
import { parseAlgorithm } from '../../core/load-balancing.ts';
import { readLoadBalancing } from './load-balancing.ts';
import { readOutlierDetection, readRetryPolicy } from './upstream-resilience.ts';
import {
  MAX_DURATION_SECS, NOT_IMPLEMENTED_HINT, checkBlockNode, checkInt, error, expectString, parseHostPort, readBool, readInt, readSecsAsMs, readString,
  rejectBlock, rejectProps, typeName, walkBlock, warning, where, q,
} from './reader.ts';
import type { Ctx } from './reader.ts';

export const DEPLOYMENT_STATUS_NAMES: readonly DeploymentStatusName[] = [
  'pending', 'starting', 'building', 'deploying', 'network', 'finalizing', 'ready', 'failed',
  'skipped', 'awaiting_approval', 'stopped', 'superseded', 'cancelled',
];
export const INSTANCE_STATUS_NAMES: readonly InstanceStatusName[] = ['inactive', 'pending', 'running', 'failed'];
const UPSTREAM_PROTOCOLS = ['http1', 'h2c'] as const;
/** Sentinel's selectors that mean nothing on instances, and why (docs/deployments.md). */
const SELECTION_NOT_IMPLEMENTED: Readonly<Record<string, string>> = {
  weighted: 'instances carry no weight, so it would be round_robin',
  weighted_least_connections: 'instances carry no weight, so it would be least_connections',
  sticky: 'an affinity cookie names one instance address, and instances change with every deploy',
};
const SELECTION_ALTERNATIVE: Readonly<Record<string, string>> = {
  weighted: 'use selection "round_robin"',
  weighted_least_connections: 'use selection "least_connections"',
  sticky: 'for affinity use selection "consistent_hash" { hash-key "cookie:NAME" }',
};

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Header values: visible ASCII and spaces, no control characters. */
const HEADER_VALUE_RE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
/** Headers the proxy itself owns or strips: a deployment id cannot travel in one of them. */
const RESERVED_HEADERS = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'content-length', 'content-type', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
  'x-request-id', 'via', 'traceparent', 'tracestate', 'cookie', 'authorization',
]);

/** Unkey Sentinel V2 windows: deployments 30 s / 5 min, instances 10 s / 60 s, 1000 entries each. */
const DEFAULT_DEPLOYMENT_CACHE: DeploymentsCacheConfig = { freshMs: 30_000, staleMs: 300_000, maxEntries: 1000 };
const DEFAULT_INSTANCE_CACHE: DeploymentsCacheConfig = { freshMs: 10_000, staleMs: 60_000, maxEntries: 1000 };
const MAX_CACHE_ENTRIES = 1_000_000;

/** A property that must be a string (and non-empty), or undefined with a diagnostic. */
function propString(ctx: Ctx, n: LNode, p: string, key: string, required: boolean): string | undefined {
  const v = n.props.get(key);
  if (v === undefined) {
    if (required) error(ctx, n, n.pos, 'missing-key', `${q(n.name)} needs ${key}=`, p, `e.g. ${n.name} "id" ${key}="…"`);
    return undefined;
  }
  const s = expectString(ctx, n, v, p);
  if (s === '') {
    error(ctx, n, v.pos, 'invalid-value', `${key}= must not be empty`, p);
    return undefined;
  }
  return s;
}

function propEnum<T extends string>(ctx: Ctx, n: LNode, p: string, key: string, allowed: readonly T[]): T | undefined {
  const s = propString(ctx, n, p, key, false);
  if (s === undefined) return undefined;
  if ((allowed as readonly string[]).includes(s)) return s as T;
  error(ctx, n, n.props.get(key)?.pos ?? n.pos, 'invalid-value', `invalid ${key} ${q(s)}`, p, suggestionHint(s, allowed, 'valid values'));
  return undefined;
}

/** `<platform>:<name>`, both parts non-empty. */
function regionProblem(region: string): string | undefined {
  const colon = region.indexOf(':');
  if (colon <= 0 || colon === region.length - 1) return 'expected "<platform>:<name>", e.g. "aws:us-east-1"';
  if (/\s/.test(region)) return 'must not contain white space';
  return undefined;
}

/** One node's id argument (`deployment "d1" …`), or undefined with a diagnostic. */
function readNodeId(ctx: Ctx, n: LNode, p: string, kind: string): string | undefined {
  const first = n.args[0];
  if (first === undefined) {
    error(ctx, n, n.pos, 'missing-argument', `${kind} requires an id`, p, `e.g. ${kind} "id" …`);
    return undefined;
  }
  const extra = n.args[1];
  if (extra !== undefined) error(ctx, n, extra.pos, 'extra-argument', `${kind} takes one id, got ${n.args.length} arguments`, p);
  const id = expectString(ctx, n, first, p);
  if (id === '') {
    error(ctx, n, first.pos, 'invalid-value', `${kind} id must not be empty`, p);
    return undefined;
  }
  return id;
}

function readStaticStore(ctx: Ctx, node: LNode, path: string, label: string, region: string | undefined): DeploymentsStoreConfig | undefined {
  const deployments: StaticDeploymentConfig[] = [];
  const instances: StaticInstanceConfig[] = [];
  const deploymentNodes = new Map<string, LNode>();
  const instanceNodes = new Map<string, LNode>();
  let ok = true;
  /** Records the first node of an id; a repeat is `duplicate-id`. */
  const claim = (seen: Map<string, LNode>, kind: string, id: string, n: LNode, p: string): boolean => {
    const first = seen.get(id);
    if (first !== undefined) {
      error(ctx, n, n.pos, 'duplicate-id', `${kind} ${q(id)} is listed twice (first at ${where(first)})`, p);
      return false;
    }
    seen.set(id, n);
    return true;
  };
  walkBlock(ctx, node, path, {
    label: `${label} store "static"`,
    repeatable: ['deployment', 'instance'],
    keys: {
      deployment: (n, p) => {
        rejectBlock(ctx, n, p);
        rejectProps(ctx, n, p, ['environment-id', 'workspace-id', 'project-id', 'status', 'upstream-protocol']);
        const id = readNodeId(ctx, n, p, 'deployment');
        const environmentId = propString(ctx, n, p, 'environment-id', true);
        const status = propEnum(ctx, n, p, 'status', DEPLOYMENT_STATUS_NAMES);
        const upstreamProtocol = propEnum(ctx, n, p, 'upstream-protocol', UPSTREAM_PROTOCOLS);
        if (id === undefined || environmentId === undefined || !claim(deploymentNodes, 'deployment', id, n, p)) { ok = false; return; }
        deployments.push({
          id,
          environmentId,
          workspaceId: propString(ctx, n, p, 'workspace-id', false) ?? '',
          projectId: propString(ctx, n, p, 'project-id', false) ?? '',
          status: status ?? 'ready',
          upstreamProtocol: upstreamProtocol ?? 'http1',
        });
      },
      instance: (n, p) => {
        rejectBlock(ctx, n, p);
        rejectProps(ctx, n, p, ['deployment', 'region', 'address', 'status']);
        const id = readNodeId(ctx, n, p, 'instance');
        const deploymentId = propString(ctx, n, p, 'deployment', true);
        const instanceRegion = propString(ctx, n, p, 'region', false) ?? region;
        const address = propString(ctx, n, p, 'address', true);
        const status = propEnum(ctx, n, p, 'status', INSTANCE_STATUS_NAMES);
        if (id === undefined || deploymentId === undefined || address === undefined || instanceRegion === undefined || !claim(instanceNodes, 'instance', id, n, p)) {
          ok = false;
          return;
        }
        const problem = parseHostPort(address, 1);
        if (typeof problem === 'string') {
          // Kept, as a database row would be (Unkey parity row 34): routing to it answers 500.
          warning(ctx, n, n.props.get('address')?.pos ?? n.pos, 'invalid-address', `instance ${q(id)} has address ${q(address)}: ${problem}`, p,
            'requests routed to this instance answer 500 invalid_configuration');
        }
        instances.push({ id, deploymentId, region: instanceRegion, address, status: status ?? 'running' });
      },
    },
  });
  for (const inst of instances) {
    const n = instanceNodes.get(inst.id) as LNode;
    if (!deploymentNodes.has(inst.deploymentId)) {
      warning(ctx, n, n.props.get('deployment')?.pos ?? n.pos, 'dangling-reference', `instance ${q(inst.id)} names deployment ${q(inst.deploymentId)}, which is not listed`, path,
        'the instance is never routed to; list the deployment or remove the instance');
    }
  }
  return ok ? { kind: 'static', deployments, instances } : undefined;
}

interface MysqlParts {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
}

/** `mysql://user:password@host:port/database` (or `mariadb://`), without query options. */
function parseMysqlUrl(ctx: Ctx, n: LNode, p: string, v: LValue, s: string): MysqlParts | undefined {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    error(ctx, n, v.pos, 'invalid-value', 'url is not a valid URL', p, 'e.g. url "mysql://sentinel_ro:secret@127.0.0.1:3306/unkey"');
    return undefined;
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    error(ctx, n, v.pos, 'invalid-value', `url scheme ${q(url.protocol.slice(0, -1))} is not supported`, p, 'use mysql://user:password@host:port/database');
    return undefined;
  }
  if (url.search !== '' || url.hash !== '') {
    error(ctx, n, v.pos, 'invalid-value', 'url must not carry ?options or a #fragment', p, 'set pool and timeout options as keys of the store block');
    return undefined;
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (url.hostname === '' || database === '' || database.includes('/')) {
    error(ctx, n, v.pos, 'invalid-value', 'url needs a host and a database', p, 'e.g. url "mysql://sentinel_ro:secret@127.0.0.1:3306/unkey"');
    return undefined;
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    host,
    port: url.port === '' ? 3306 : Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
  };
}

function readMysqlStore(ctx: Ctx, node: LNode, path: string, label: string): DeploymentsStoreConfig | undefined {
  const parts: MysqlParts = {};
  let urlNode: LNode | undefined;
  const partNodes: LNode[] = [];
  let urlOk = true;
  const o = { poolSize: 10, maxQueue: 1000, connectTimeoutMs: 5000, queryTimeoutMs: 2000, idleTimeoutMs: 60_000 };
  const part = (key: 'host' | 'user' | 'password' | 'database') => (n: LNode, p: string): void => {
    partNodes.push(n);
    const s = readString(ctx, n, p);
    if (s === undefined) return;
    if (s === '' && key !== 'password') {
      error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `${key} must not be empty`, p);
      return;
    }
    parts[key] = s;
  };
  const secs = (key: 'connectTimeoutMs' | 'queryTimeoutMs' | 'idleTimeoutMs') => (n: LNode, p: string): void => {
    o[key] = readSecsAsMs(ctx, n, p) ?? o[key];
  };
  walkBlock(ctx, node, path, {
    label: `${label} store "mysql"`,
    keys: {
      url: (n, p) => {
        urlNode = n;
        const s = readString(ctx, n, p);
        if (s === undefined) { urlOk = false; return; }
        const parsed = parseMysqlUrl(ctx, n, p, n.args[0] as LValue, s);
        if (parsed === undefined) { urlOk = false; return; }
        Object.assign(parts, parsed);
      },
      host: part('host'),
      port: (n, p) => {
        partNodes.push(n);
        parts.port = readInt(ctx, n, p, 1, 65535);
      },
      user: part('user'),
      password: part('password'),
      database: part('database'),
      'pool-size': (n, p) => { o.poolSize = readInt(ctx, n, p, 1, 1000) ?? o.poolSize; },
      'max-queue': (n, p) => { o.maxQueue = readInt(ctx, n, p, 0, 1_000_000) ?? o.maxQueue; },
      'connect-timeout-secs': secs('connectTimeoutMs'),
      'query-timeout-secs': secs('queryTimeoutMs'),
      'idle-timeout-secs': secs('idleTimeoutMs'),
    },
    notImplemented: ['tls', 'readonly-replica', 'password-file'],
  });
  const firstPart = partNodes[0];
  if (urlNode !== undefined && firstPart !== undefined) {
    error(ctx, firstPart, firstPart.pos, 'conflict', `${label} store "mysql" has both url and ${q(firstPart.name)}`, path,
      `use either url (at ${where(urlNode)}) or host/port/user/password/database`);
    return undefined;
  }
  if (urlNode === undefined) {
    for (const key of ['host', 'user', 'database'] as const) {
      if (parts[key] === undefined && !partNodes.some((n) => n.name === key)) {
        error(ctx, node, node.pos, 'missing-key', `${label} store "mysql" has no ${q(key)}`, path, 'give url "mysql://user:password@host:3306/database", or host, user and database');
        return undefined;
      }
    }
  }
  if (!urlOk || parts.host === undefined || parts.user === undefined || parts.database === undefined) return undefined;
  return {
    kind: 'mysql',
    host: parts.host,
    port: parts.port ?? 3306,
    user: parts.user,
    password: parts.password ?? '',
    database: parts.database,
    ...o,
  };
}

/** `deployments fresh-secs=30 stale-secs=300 max-entries=1000` inside `cache { }`. */
function readCacheWindows(ctx: Ctx, n: LNode, p: string, defaults: DeploymentsCacheConfig): DeploymentsCacheConfig | undefined {
  rejectBlock(ctx, n, p);
  rejectProps(ctx, n, p, ['fresh-secs', 'stale-secs', 'max-entries']);
  const extra = n.args[0];
  if (extra !== undefined) error(ctx, n, extra.pos, 'extra-argument', `${q(n.name)} takes properties only`, p, `e.g. ${n.name} fresh-secs=10 stale-secs=60 max-entries=1000`);
  const secs = (key: string, fallback: number): number | undefined => {
    const v = n.props.get(key);
    if (v === undefined) return fallback;
    if (typeof v.value !== 'number' || !Number.isFinite(v.value)) {
      error(ctx, n, v.pos, 'invalid-type', `expected a number of seconds, got ${typeName(v.value)}`, p);
      return undefined;
    }
    if (v.value < 0 || v.value > MAX_DURATION_SECS) {
      error(ctx, n, v.pos, 'invalid-value', `${key} must be between 0 and ${MAX_DURATION_SECS} seconds, got ${v.value}`, p);
      return undefined;
    }
    return Math.round(v.value * 1000);
  };
  const freshMs = secs('fresh-secs', defaults.freshMs);
  const staleMs = secs('stale-secs', defaults.staleMs);
  const entries = n.props.get('max-entries');
  const maxEntries = entries === undefined ? defaults.maxEntries : checkInt(ctx, n, entries, p, 1, MAX_CACHE_ENTRIES, 'max-entries');
  if (freshMs === undefined || staleMs === undefined || maxEntries === undefined) return undefined;
  if (staleMs < freshMs) {
    error(ctx, n, n.props.get('stale-secs')?.pos ?? n.pos, 'invalid-value', `stale-secs (${staleMs / 1000}) is shorter than fresh-secs (${freshMs / 1000})`, p,
      'stale-secs is the whole lifetime of an entry, fresh window included: make it >= fresh-secs');
    return undefined;
  }
  return { freshMs, staleMs, maxEntries };
}

/** Reads a route's `deployments { }` block. */
export function readDeploymentsAction(ctx: Ctx, node: LNode, path: string, routeLabel: string): DeploymentsConfig | undefined {
  checkBlockNode(ctx, node, path);
  const label = `${routeLabel} deployments`;
  if (!node.hasBlock) {
    error(ctx, node, node.pos, 'missing-key', `${label} needs a { } block`, path, 'e.g. deployments { environment-id "env_1"; region "aws:us-east-1"; store "static" { … } }');
    return undefined;
  }
  let environmentId: string | undefined;
  let region: string | undefined;
  let regionNode: LNode | undefined;
  let header = 'X-Deployment-Id';
  let errorSourceHeader = 'X-Unkey-Error-Source';
  let errorSourceValue = 'sentinel';
  let timingHeader = true;
  let requestTimeoutMs = 900_000;
  let connectTimeoutMs = 10_000;
  let headersTimeoutMs: number | null = null;
  let readTimeoutMs: number | null = null;
  let deploymentCache = DEFAULT_DEPLOYMENT_CACHE;
  let instanceCache = DEFAULT_INSTANCE_CACHE;
  const pool = { maxConnections: 50, idleTimeoutMs: 90_000, maxInstances: 1024 };
  let selection: BaseLoadBalancing = { algorithm: 'random' };
  let retryPolicy: RetryPolicyConfig | null = null;
  let outlierDetection: OutlierDetectionConfig | null = null;
  let storeNode: LNode | undefined;
  let ok = true;
  const headerName = (n: LNode, p: string): string | undefined => {
    const s = readString(ctx, n, p);
    if (s === undefined) return undefined;
    if (!TOKEN_RE.test(s)) {
      error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `invalid header name ${q(s)}`, p);
      return undefined;
    }
    return s;
  };
  walkBlock(ctx, node, path, {
    label,
    keys: {
      'environment-id': (n, p) => {
        const s = readString(ctx, n, p);
        if (s === '') error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', 'environment-id must not be empty', p);
        else environmentId = s;
      },
      region: (n, p) => {
        regionNode = n;
        const s = readString(ctx, n, p);
        if (s === undefined) return;
        const problem = regionProblem(s);
        if (problem !== undefined) error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `invalid region ${q(s)}: ${problem}`, p);
        else region = s;
      },
      header: (n, p) => {
        const s = headerName(n, p);
        if (s === undefined) return;
        if (RESERVED_HEADERS.has(s.toLowerCase())) {
          error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `header ${q(s)} cannot carry the deployment id`, p,
            'the proxy rewrites or strips it; use a dedicated header such as "X-Deployment-Id"');
          return;
        }
        header = s;
      },
      'error-source-header': (n, p) => { errorSourceHeader = headerName(n, p) ?? errorSourceHeader; },
      'error-source-value': (n, p) => {
        const s = readString(ctx, n, p);
        if (s === undefined) return;
        if (!HEADER_VALUE_RE.test(s)) error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `invalid header value ${q(s)}`, p, 'printable ASCII, no leading or trailing space');
        else errorSourceValue = s;
      },
      'timing-header': (n, p) => { timingHeader = readBool(ctx, n, p) ?? timingHeader; },
      'request-timeout-secs': (n, p) => { requestTimeoutMs = readSecsAsMs(ctx, n, p) ?? requestTimeoutMs; },
      'connect-timeout-secs': (n, p) => { connectTimeoutMs = readSecsAsMs(ctx, n, p) ?? connectTimeoutMs; },
      'headers-timeout-secs': (n, p) => { headersTimeoutMs = readSecsAsMs(ctx, n, p) ?? headersTimeoutMs; },
      'read-timeout-secs': (n, p) => { readTimeoutMs = readSecsAsMs(ctx, n, p) ?? readTimeoutMs; },
      cache: (n, p) => {
        checkBlockNode(ctx, n, p);
        walkBlock(ctx, n, p, {
          label: `${label} cache`,
          keys: {
            deployments: (c, cp) => { deploymentCache = readCacheWindows(ctx, c, cp, DEFAULT_DEPLOYMENT_CACHE) ?? deploymentCache; },
            instances: (c, cp) => { instanceCache = readCacheWindows(ctx, c, cp, DEFAULT_INSTANCE_CACHE) ?? instanceCache; },
          },
          notImplemented: ['policies', 'prewarm', 'invalidation'],
        });
      },
      'connection-pool': (n, p) => {
        checkBlockNode(ctx, n, p);
        walkBlock(ctx, n, p, {
          label: `${label} connection-pool`,
          keys: {
            'max-connections': (c, cp) => { pool.maxConnections = readInt(ctx, c, cp, 1, 100_000) ?? pool.maxConnections; },
            'idle-timeout-secs': (c, cp) => { pool.idleTimeoutMs = readSecsAsMs(ctx, c, cp) ?? pool.idleTimeoutMs; },
            'max-instances': (c, cp) => { pool.maxInstances = readInt(ctx, c, cp, 1, 100_000) ?? pool.maxInstances; },
          },
        });
      },
      selection: (n, p) => {
        // The same syntax and options as an upstream's `load-balancing` (hash-key, decay-secs).
        const first = n.args[0];
        const name = first !== undefined && typeof first.value === 'string' ? parseAlgorithm(first.value) : null;
        const reason = name === null ? undefined : SELECTION_NOT_IMPLEMENTED[name];
        if (name !== null && reason !== undefined) {
          error(ctx, n, first?.pos ?? n.pos, 'not-implemented', `selection ${q(name)} is not implemented for deployments: ${reason}`, p,
            SELECTION_ALTERNATIVE[name]);
          return;
        }
        selection = readLoadBalancing(ctx, n, p, label, true) ?? selection;
      },
      // The upstream `retry-policy` block, applied across the deployment's instances.
      'retry-policy': (n, p) => { retryPolicy = readRetryPolicy(ctx, n, p, label) ?? retryPolicy; },
      // The upstream `outlier-detection` block, per instance address (passive health).
      'outlier-detection': (n, p) => { outlierDetection = readOutlierDetection(ctx, n, p, label) ?? outlierDetection; },
      store: (n) => { storeNode = n; },
    },
    notImplemented: ['health-check', 'load-balancing', 'policies', 'workspace-id', 'platform'],
  });
  if (environmentId === undefined && !node.children.some((c) => c.name === 'environment-id')) {
    error(ctx, node, node.pos, 'missing-key', `${label} has no "environment-id"`, path, 'the environment this proxy serves, e.g. environment-id "env_123"');
    ok = false;
  }
  if (regionNode === undefined) {
    error(ctx, node, node.pos, 'missing-key', `${label} has no "region"`, path, 'the region of this proxy as <platform>:<name>, e.g. region "aws:us-east-1"');
    ok = false;
  }
  let store: DeploymentsStoreConfig | undefined;
  if (storeNode === undefined) {
    error(ctx, node, node.pos, 'missing-key', `${label} has no "store"`, path, 'e.g. store "static" { … } or store "mysql" { url "mysql://…" }');
  } else {
    store = readStore(ctx, storeNode, `${path}/store`, label, region);
  }
  if (!ok || environmentId === undefined || region === undefined || store === undefined) return undefined;
  return {
    environmentId, region, header, errorSourceHeader, errorSourceValue, timingHeader,
    requestTimeoutMs, connectTimeoutMs, headersTimeoutMs, readTimeoutMs,
    deploymentCache, instanceCache, pool, selection, retryPolicy, outlierDetection, store,
  };
}

function readStore(ctx: Ctx, n: LNode, p: string, label: string, region: string | undefined): DeploymentsStoreConfig | undefined {
  rejectProps(ctx, n, p);
  const kindV = n.args[0];
  if (kindV === undefined) {
    error(ctx, n, n.pos, 'missing-argument', 'store needs a kind', p, 'store "static" { … } or store "mysql" { … }');
    return undefined;
  }
  const extra = n.args[1];
  if (extra !== undefined) error(ctx, n, extra.pos, 'extra-argument', `store takes one kind, got ${n.args.length} arguments`, p);
  const kind = expectString(ctx, n, kindV, p);
  if (kind === undefined) return undefined;
  if (kind !== 'static' && kind !== 'mysql') {
    const known = ['static', 'mysql'];
    if (kind === 'mariadb') {
      error(ctx, n, kindV.pos, 'invalid-value', 'store "mariadb" is spelled store "mysql"', p, 'the mysql store speaks to MySQL and MariaDB alike');
    } else if (kind === 'redis' || kind === 'postgres' || kind === 'file') {
      error(ctx, n, kindV.pos, 'not-implemented', `store ${q(kind)} is not implemented`, p, `${NOT_IMPLEMENTED_HINT}; supported: "static", "mysql"`);
    } else {
      error(ctx, n, kindV.pos, 'invalid-value', `invalid store ${q(kind)}`, p, suggestionHint(kind, known, 'valid values') ?? 'valid values: "static", "mysql"');
    }
    return undefined;
  }
  if (!n.hasBlock) {
    if (kind === 'mysql') {
      error(ctx, n, n.pos, 'missing-key', `${label} store "mysql" needs a { } block`, p, 'e.g. store "mysql" { url "mysql://user:password@host:3306/database" }');
      return undefined;
    }
    return { kind: 'static', deployments: [], instances: [] };
  }
  return kind === 'static' ? readStaticStore(ctx, n, p, label, region) : readMysqlStore(ctx, n, p, label);
}
