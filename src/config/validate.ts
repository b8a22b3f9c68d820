// Schema and semantic validation: turns located KDL nodes (from every loaded file) into a `Config`,
// collecting every problem in one pass. Pure: no I/O.
import { ALGORITHMS, ALGORITHM_ALIASES, normalizeAlgorithmName, parseAlgorithm } from '../core/load-balancing.ts';
import { isIPv4, isIPv6 } from 'node:net';
import type { Value } from 'kdljs';
import type {
  BaseLoadBalancing,
  BuiltinHandler,
  Config,
  Diagnostic,
  ListenerConfig,
  HashKey,
  ListenerProtocol,
  LoadBalancing,
  LoadBalancingAlgorithm,
  LogLevel,
  MatchCondition,
  RouteAction,
  RouteConfig,
  SameSitePolicy,
  SourceLoc,
  TargetConfig,
  TraceIdFormat,
  UpstreamConfig,
} from './types.ts';
import type { LNode, LValue, Pos } from './kdl.ts';
import { closest, makeDiagnostic, suggestionHint } from './diagnostics.ts';

/** A top-level node and whether it came from an included file. */
export interface TopNode {
  readonly node: LNode;
  readonly included: boolean;
}

interface Ref {
  /** Label of the referring object, e.g. `route "api"`. */
  readonly from: string;
  readonly name: string;
  readonly node: LNode;
  readonly path: string;
}

interface Ctx {
  readonly diags: Diagnostic[];
  /** route → upstream references, collected even from routes that have other errors. */
  readonly upstreamRefs: Ref[];
  /** listener default-route → route references. */
  readonly routeRefs: Ref[];
}

/** Largest duration accepted, in seconds (Node timers overflow past 2^31-1 ms). */
export const MAX_DURATION_SECS = 2_147_483;

const NOT_IMPLEMENTED_HINT = 'remove it: Sentinel refuses configuration it cannot honour rather than ignoring it';

function error(ctx: Ctx, node: { file: string }, pos: Pos, code: string, message: string, path: string, hint?: string): void {
  ctx.diags.push(makeDiagnostic('error', code, message, node.file, pos, path, hint));
}

function warning(ctx: Ctx, node: { file: string }, pos: Pos, code: string, message: string, path: string, hint?: string): void {
  ctx.diags.push(makeDiagnostic('warning', code, message, node.file, pos, path, hint));
}

function typeName(v: Value): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function q(s: string): string {
  return JSON.stringify(s);
}

function where(node: LNode): string {
  return `${node.file}:${node.pos.line}`;
}

function locOf(node: LNode): SourceLoc {
  return { file: node.file, line: node.pos.line, column: node.pos.column };
}

// ---------- generic node readers ----------

function rejectProps(ctx: Ctx, node: LNode, path: string, allowed: readonly string[] = []): void {
  for (const [key, v] of node.props) {
    if (allowed.includes(key)) continue;
    const hint = allowed.length > 0 ? suggestionHint(key, allowed, 'valid properties') : `"${node.name}" takes no properties`;
    error(ctx, node, v.pos, 'unknown-property', `unknown property ${q(key)} on ${q(node.name)}`, path, hint);
  }
}

function rejectBlock(ctx: Ctx, node: LNode, path: string): void {
  if (node.hasBlock) {
    error(ctx, node, node.pos, 'unexpected-block', `${q(node.name)} takes a value, not a { } block`, path);
  }
}

/** For block nodes (`system { }`): no arguments, no properties. */
function checkBlockNode(ctx: Ctx, node: LNode, path: string): void {
  const extra = node.args[0];
  if (extra !== undefined) {
    error(ctx, node, extra.pos, 'extra-argument', `${q(node.name)} is a block and takes no arguments`, path);
  }
  rejectProps(ctx, node, path);
}

/** Exactly one argument, no properties, no block. */
function single(ctx: Ctx, node: LNode, path: string): LValue | undefined {
  rejectProps(ctx, node, path);
  rejectBlock(ctx, node, path);
  const first = node.args[0];
  if (first === undefined) {
    if (node.hasBlock) return undefined;
    error(ctx, node, node.pos, 'missing-argument', `${q(node.name)} needs a value`, path);
    return undefined;
  }
  const second = node.args[1];
  if (second !== undefined) {
    error(ctx, node, second.pos, 'extra-argument', `${q(node.name)} takes one value, got ${node.args.length}`, path);
  }
  return first;
}

function expectString(ctx: Ctx, node: LNode, v: LValue, path: string): string | undefined {
  if (typeof v.value === 'string') return v.value;
  error(ctx, node, v.pos, 'invalid-type', `expected a string, got ${typeName(v.value)}`, path);
  return undefined;
}

function readString(ctx: Ctx, node: LNode, path: string): string | undefined {
  const v = single(ctx, node, path);
  return v === undefined ? undefined : expectString(ctx, node, v, path);
}

function readBool(ctx: Ctx, node: LNode, path: string): boolean | undefined {
  const v = single(ctx, node, path);
  if (v === undefined) return undefined;
  if (typeof v.value === 'boolean') return v.value;
  const hint = v.value === 'true' || v.value === 'false' ? `KDL v2 booleans are #true and #false` : undefined;
  error(ctx, node, v.pos, 'invalid-type', `expected a boolean (#true or #false), got ${typeName(v.value)}`, path, hint);
  return undefined;
}

function checkInt(ctx: Ctx, node: LNode, v: LValue, path: string, min: number, max: number, what = q(node.name)): number | undefined {
  if (typeof v.value !== 'number' || !Number.isInteger(v.value)) {
    error(ctx, node, v.pos, 'invalid-type', `expected an integer, got ${typeName(v.value)}`, path);
    return undefined;
  }
  if (v.value < min || v.value > max) {
    error(ctx, node, v.pos, 'invalid-value', `${what} must be between ${min} and ${max}, got ${v.value}`, path);
    return undefined;
  }
  return v.value;
}

function readInt(ctx: Ctx, node: LNode, path: string, min: number, max: number): number | undefined {
  const v = single(ctx, node, path);
  return v === undefined ? undefined : checkInt(ctx, node, v, path, min, max);
}

/** A positive number of seconds (fractions allowed), returned in milliseconds. */
function readSecsAsMs(ctx: Ctx, node: LNode, path: string): number | undefined {
  const v = single(ctx, node, path);
  if (v === undefined) return undefined;
  if (typeof v.value !== 'number' || !Number.isFinite(v.value)) {
    error(ctx, node, v.pos, 'invalid-type', `expected a number of seconds, got ${typeName(v.value)}`, path);
    return undefined;
  }
  if (v.value <= 0 || v.value > MAX_DURATION_SECS) {
    error(ctx, node, v.pos, 'invalid-value', `${q(node.name)} must be greater than 0 and at most ${MAX_DURATION_SECS} seconds, got ${v.value}`, path);
    return undefined;
  }
  const ms = Math.round(v.value * 1000);
  if (ms < 1) {
    error(ctx, node, v.pos, 'invalid-value', `${q(node.name)} must be at least 0.001 seconds (1 ms), got ${v.value}`, path);
    return undefined;
  }
  return ms;
}

function readEnum<T extends string>(ctx: Ctx, node: LNode, path: string, allowed: readonly T[], notImplemented: readonly string[] = []): T | undefined {
  const s = readString(ctx, node, path);
  if (s === undefined) return undefined;
  if ((allowed as readonly string[]).includes(s)) return s as T;
  const pos = node.args[0]?.pos ?? node.pos;
  if (notImplemented.includes(s)) {
    error(ctx, node, pos, 'not-implemented', `${node.name} ${q(s)} is not implemented yet`, path, `supported: ${allowed.map(q).join(', ')}`);
    return undefined;
  }
  error(ctx, node, pos, 'invalid-value', `invalid ${node.name} ${q(s)}`, path, suggestionHint(s, [...allowed, ...notImplemented], 'valid values'));
  return undefined;
}

// ---------- addresses ----------

const HOSTNAME_RE = /^(?=.{1,253}$)[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?(?:\.[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?$/;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` / `[v6]:port`. Returns the parsed address or an error message. */
export function parseHostPort(s: string, minPort: number): HostPort | string {
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const m = /^\[([^\]]*)\]:(.*)$/.exec(s);
    if (m === null) return 'expected "[ipv6]:port", e.g. "[::1]:8080"';
    host = m[1] ?? '';
    portText = m[2] ?? '';
    if (!isIPv6(host)) return `${q(host)} is not a valid IPv6 address`;
  } else {
    const idx = s.lastIndexOf(':');
    if (idx < 0) return 'missing ":port" (expected "host:port", e.g. "127.0.0.1:8080")';
    host = s.slice(0, idx);
    portText = s.slice(idx + 1);
    if (host.includes(':')) return 'IPv6 addresses must be in brackets, e.g. "[::1]:8080"';
    if (host === '') return 'missing host before ":port"';
    if (!isIPv4(host) && (/^[0-9.]+$/.test(host) || !HOSTNAME_RE.test(host))) return `${q(host)} is not a valid host name or IP address`;
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return `invalid port ${q(portText)}`;
  const port = Number(portText);
  if (port < minPort || port > 65535) return `port must be between ${minPort} and 65535, got ${port}`;
  return { host, port };
}

function readAddress(ctx: Ctx, node: LNode, path: string, minPort: number): HostPort | undefined {
  const s = readString(ctx, node, path);
  if (s === undefined) return undefined;
  return checkAddress(ctx, node, node.args[0]?.pos ?? node.pos, s, path, minPort);
}

function checkAddress(ctx: Ctx, node: LNode, pos: Pos, s: string, path: string, minPort: number): HostPort | undefined {
  const r = parseHostPort(s, minPort);
  if (typeof r === 'string') {
    error(ctx, node, pos, 'invalid-address', `invalid address ${q(s)}: ${r}`, path);
    return undefined;
  }
  return r;
}

// ---------- blocks ----------

interface BlockSpec {
  /** Human label of the block for messages, e.g. `listener "http"`. */
  readonly label: string;
  readonly keys: Readonly<Record<string, (child: LNode, path: string) => void>>;
  /** Keys that may appear more than once. */
  readonly repeatable?: readonly string[];
  /** Recognised keys that are not implemented (each is an error). */
  readonly notImplemented?: readonly string[];
  /** Keys valid elsewhere but not here: key → hint saying where they apply (an `unknown-key` error). */
  readonly misplaced?: Readonly<Record<string, string>>;
}

function walkBlock(ctx: Ctx, block: LNode, path: string, spec: BlockSpec): void {
  const seen = new Map<string, LNode>();
  const valid = Object.keys(spec.keys);
  for (const child of block.children) {
    const childPath = `${path}/${child.name}`;
    const handler = spec.keys[child.name];
    if (handler !== undefined) {
      const first = seen.get(child.name);
      if (first !== undefined && !(spec.repeatable ?? []).includes(child.name)) {
        error(ctx, child, child.pos, 'duplicate-key', `${q(child.name)} is set twice in ${spec.label} (first at ${where(first)})`, childPath, 'remove one of them');
        continue;
      }
      seen.set(child.name, child);
      handler(child, childPath);
    } else if ((spec.notImplemented ?? []).includes(child.name)) {
      error(ctx, child, child.pos, 'not-implemented', `${q(child.name)} in ${spec.label} is not implemented yet`, childPath, NOT_IMPLEMENTED_HINT);
    } else if (spec.misplaced !== undefined && Object.hasOwn(spec.misplaced, child.name)) {
      error(ctx, child, child.pos, 'unknown-key', `${q(child.name)} does not apply to ${spec.label}`, childPath, spec.misplaced[child.name]);
    } else {
      error(ctx, child, child.pos, 'unknown-key', `unknown key ${q(child.name)} in ${spec.label}`, childPath, suggestionHint(child.name, valid));
    }
  }
}

/** `listener "id" { }` style: returns the id (or undefined when missing/invalid). */
function readId(ctx: Ctx, node: LNode, path: string, kind: string): string | undefined {
  rejectProps(ctx, node, path);
  const first = node.args[0];
  if (first === undefined) {
    error(ctx, node, node.pos, 'missing-argument', `${kind} requires an id`, path, `e.g. ${kind} "main" { ... }`);
    return undefined;
  }
  const extra = node.args[1];
  if (extra !== undefined) {
    error(ctx, node, extra.pos, 'extra-argument', `${kind} takes one id, got ${node.args.length} arguments`, path);
  }
  const id = expectString(ctx, node, first, path);
  if (id === '') {
    error(ctx, node, first.pos, 'invalid-value', `${kind} id must not be empty`, path);
    return undefined;
  }
  return id;
}

function nodePath(parent: string, node: LNode, id: string | undefined): string {
  return `${parent}/${node.name} ${id !== undefined ? q(id) : '?'}`;
}

// ---------- system ----------

interface SystemAcc {
  autoReload: boolean;
  workerThreads: number;
  maxConnections: number;
  gracefulShutdownTimeoutMs: number;
  traceIdFormat: TraceIdFormat;
}

function readSystem(ctx: Ctx, block: LNode, acc: SystemAcc): void {
  const path = 'system';
  checkBlockNode(ctx, block, path);
  walkBlock(ctx, block, path, {
    label: 'system',
    keys: {
      'worker-threads': (n, p) => {
        const v = readInt(ctx, n, p, 0, 1024);
        if (v === undefined) return;
        acc.workerThreads = v;
      },
      'max-connections': (n, p) => {
        const v = readInt(ctx, n, p, 1, 10_000_000);
        if (v !== undefined) acc.maxConnections = v;
      },
      'graceful-shutdown-timeout-secs': (n, p) => {
        const v = readSecsAsMs(ctx, n, p);
        if (v !== undefined) acc.gracefulShutdownTimeoutMs = v;
      },
      'trace-id-format': (n, p) => {
        const v = readEnum<TraceIdFormat>(ctx, n, p, ['uuid', 'tinyflake']);
        if (v !== undefined) acc.traceIdFormat = v;
      },
      'auto-reload': (n, p) => {
        const v = readBool(ctx, n, p);
        if (v !== undefined) acc.autoReload = v;
      },
    },
    notImplemented: ['daemon', 'pid-file', 'user', 'group', 'working-directory', 'route-cache-size'],
  });
}

// ---------- listeners ----------

interface ListenerAcc {
  readonly config: ListenerConfig;
  readonly node: LNode;
}

function readListener(ctx: Ctx, node: LNode, parentPath: string): ListenerAcc | undefined {
  const id = readId(ctx, node, `${parentPath}/listener`, 'listener');
  const path = nodePath(parentPath, node, id);
  const label = `listener ${id !== undefined ? q(id) : ''}`.trim();
  let addr: HostPort | undefined;
  let protocol: ListenerProtocol = 'http';
  let headersTimeoutMs = 10_000;
  let requestTimeoutMs = 60_000;
  let keepaliveTimeoutMs = 75_000;
  let keepaliveMaxRequests = 0;
  let defaultRoute: string | null = null;
  let sawAddress = false;
  walkBlock(ctx, node, path, {
    label,
    keys: {
      address: (n, p) => {
        sawAddress = true;
        addr = readAddress(ctx, n, p, 0);
      },
      protocol: (n, p) => {
        const v = readEnum<'http'>(ctx, n, p, ['http'], ['https', 'h2', 'h3']);
        if (v !== undefined) protocol = v;
      },
      'headers-timeout-secs': (n, p) => {
        headersTimeoutMs = readSecsAsMs(ctx, n, p) ?? headersTimeoutMs;
      },
      'request-timeout-secs': (n, p) => {
        requestTimeoutMs = readSecsAsMs(ctx, n, p) ?? requestTimeoutMs;
      },
      'keepalive-timeout-secs': (n, p) => {
        keepaliveTimeoutMs = readSecsAsMs(ctx, n, p) ?? keepaliveTimeoutMs;
      },
      'keepalive-max-requests': (n, p) => {
        keepaliveMaxRequests = readInt(ctx, n, p, 0, 2 ** 31 - 1) ?? keepaliveMaxRequests;
      },
      'default-route': (n, p) => {
        const v = readString(ctx, n, p);
        if (v !== undefined) {
          defaultRoute = v;
          ctx.routeRefs.push({ from: label, name: v, node: n, path: p });
        }
      },
    },
    notImplemented: ['tls', 'max-concurrent-streams', 'namespace'],
  });
  if (!sawAddress) {
    error(ctx, node, node.pos, 'missing-key', `${label} has no "address"`, path, 'e.g. address "127.0.0.1:8080"');
  }
  if (id === undefined || addr === undefined) return undefined;
  return {
    node,
    config: {
      id,
      host: addr.host,
      port: addr.port,
      protocol,
      headersTimeoutMs,
      requestTimeoutMs,
      keepaliveTimeoutMs,
      keepaliveMaxRequests,
      defaultRoute,
      loc: locOf(node),
    },
  };
}

// ---------- routes ----------

const PRIORITY_NAMES: Readonly<Record<string, number>> = { low: 10, normal: 50, high: 100, critical: 1000 };
const BUILTIN_HANDLERS: readonly BuiltinHandler[] = ['status', 'health', 'metrics', 'not-found'];
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ROUTE_NOT_IMPLEMENTED = [
  'filters', 'policies', 'static-files', 'api-schema', 'cache', 'shadow', 'fallback', 'retry-policy',
  'websocket', 'websocket-inspection', 'waf-enabled', 'error-pages', 'inference',
];

interface RouteAcc {
  readonly config: RouteConfig;
  readonly node: LNode;
}

function readPriority(ctx: Ctx, n: LNode, p: string): number | undefined {
  const v = single(ctx, n, p);
  if (v === undefined) return undefined;
  if (typeof v.value === 'string') {
    const named = PRIORITY_NAMES[v.value.toLowerCase()];
    if (named !== undefined) return named;
    error(ctx, n, v.pos, 'invalid-value', `invalid priority ${q(v.value)}`, p, suggestionHint(v.value, Object.keys(PRIORITY_NAMES), 'use an integer or one of'));
    return undefined;
  }
  return checkInt(ctx, n, v, p, -(2 ** 31), 2 ** 31 - 1, 'priority');
}

function hostPatternError(h: string): string | undefined {
  if (h.startsWith('[')) return isIPv6(h.slice(1, -1)) && h.endsWith(']') ? undefined : 'not a valid bracketed IPv6 address';
  if (h.includes(':')) return 'a port is not allowed in a host pattern (the port is ignored when matching)';
  const rest = h.startsWith('*.') ? h.slice(2) : h;
  if (rest.includes('*')) return 'only a leading "*." wildcard is supported';
  if (!HOSTNAME_RE.test(rest)) return 'not a valid host name';
  return undefined;
}

/** name [value] or name= / value= properties; for header and query-param. */
function readNameValue(ctx: Ctx, n: LNode, p: string, isHeader: boolean): { name: string; value: string | null } | undefined {
  rejectProps(ctx, n, p, ['name', 'value']);
  rejectBlock(ctx, n, p);
  const third = n.args[2];
  if (third !== undefined) error(ctx, n, third.pos, 'extra-argument', `${q(n.name)} takes a name and an optional value, got ${n.args.length} arguments`, p);
  const nameArg = n.args[0];
  const nameProp = n.props.get('name');
  const valueArg = n.args[1];
  const valueProp = n.props.get('value');
  if (nameArg !== undefined && nameProp !== undefined) {
    error(ctx, n, nameProp.pos, 'conflict', `${q(n.name)} has both a name argument and name=`, p);
    return undefined;
  }
  if (valueArg !== undefined && valueProp !== undefined) {
    error(ctx, n, valueProp.pos, 'conflict', `${q(n.name)} has both a value argument and value=`, p);
    return undefined;
  }
  const nameV = nameArg ?? nameProp;
  if (nameV === undefined) {
    error(ctx, n, n.pos, 'missing-argument', `${q(n.name)} needs a name`, p, `e.g. ${n.name} "x-tenant" "acme"`);
    return undefined;
  }
  const name = expectString(ctx, n, nameV, p);
  if (name === undefined) return undefined;
  if (isHeader ? !TOKEN_RE.test(name) : name === '') {
    error(ctx, n, nameV.pos, 'invalid-value', `invalid ${n.name} name ${q(name)}`, p);
    return undefined;
  }
  const valueV = valueArg ?? valueProp;
  let value: string | null = null;
  if (valueV !== undefined) {
    const s = expectString(ctx, n, valueV, p);
    if (s === undefined) return undefined;
    value = s;
  }
  return { name: isHeader ? name.toLowerCase() : name, value };
}

function readManyStrings(ctx: Ctx, n: LNode, p: string): { value: string; pos: Pos }[] | undefined {
  rejectProps(ctx, n, p);
  rejectBlock(ctx, n, p);
  if (n.args.length === 0) {
    error(ctx, n, n.pos, 'missing-argument', `${q(n.name)} needs at least one value`, p);
    return undefined;
  }
  const out: { value: string; pos: Pos }[] = [];
  let ok = true;
  for (const a of n.args) {
    const s = expectString(ctx, n, a, p);
    if (s === undefined) ok = false;
    else out.push({ value: s, pos: a.pos });
  }
  return ok ? out : undefined;
}

function readMatches(ctx: Ctx, block: LNode, path: string, routeLabel: string): MatchCondition[] {
  checkBlockNode(ctx, block, path);
  const out: MatchCondition[] = [];
  let pathCond: LNode | undefined;
  const pathKind = (n: LNode, p: string): boolean => {
    if (pathCond !== undefined) {
      error(ctx, n, n.pos, 'duplicate-condition', `${routeLabel} has more than one path condition (first: ${pathCond.name} at ${where(pathCond)})`, p,
        'conditions are AND-ed, so two path conditions almost never match together; use one route per path, or one path-regex');
      return false;
    }
    pathCond = n;
    return true;
  };
  const readPath = (n: LNode, p: string): string | undefined => {
    const v = readString(ctx, n, p);
    if (v === undefined) return undefined;
    if (!v.startsWith('/')) {
      error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `${n.name} must start with "/", got ${q(v)}`, p);
      return undefined;
    }
    return v;
  };
  walkBlock(ctx, block, path, {
    label: `${routeLabel} matches`,
    repeatable: ['path', 'path-prefix', 'path-regex', 'header', 'query-param'],
    keys: {
      path: (n, p) => {
        if (!pathKind(n, p)) return;
        const v = readPath(n, p);
        if (v !== undefined) out.push({ kind: 'path', value: v });
      },
      'path-prefix': (n, p) => {
        if (!pathKind(n, p)) return;
        const v = readPath(n, p);
        if (v !== undefined) out.push({ kind: 'path-prefix', value: v });
      },
      'path-regex': (n, p) => {
        if (!pathKind(n, p)) return;
        const v = readString(ctx, n, p);
        if (v === undefined) return;
        try {
          new RegExp(v);
          out.push({ kind: 'path-regex', value: v });
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `path-regex does not compile: ${msg}`, p);
        }
      },
      host: (n, p) => {
        const vals = readManyStrings(ctx, n, p);
        if (vals === undefined) return;
        const hosts: string[] = [];
        for (const { value, pos } of vals) {
          const h = value.toLowerCase();
          const problem = hostPatternError(h);
          if (problem !== undefined) error(ctx, n, pos, 'invalid-value', `invalid host pattern ${q(value)}: ${problem}`, p);
          else if (!hosts.includes(h)) hosts.push(h);
        }
        if (hosts.length > 0) out.push({ kind: 'host', values: hosts });
      },
      method: (n, p) => {
        const vals = readManyStrings(ctx, n, p);
        if (vals === undefined) return;
        const methods: string[] = [];
        for (const { value, pos } of vals) {
          if (!TOKEN_RE.test(value)) error(ctx, n, pos, 'invalid-value', `invalid method ${q(value)}: not an HTTP token`, p);
          else if (!methods.includes(value.toUpperCase())) methods.push(value.toUpperCase());
        }
        if (methods.length > 0) out.push({ kind: 'method', values: methods });
      },
      header: (n, p) => {
        const v = readNameValue(ctx, n, p, true);
        if (v !== undefined) out.push({ kind: 'header', name: v.name, value: v.value });
      },
      'query-param': (n, p) => {
        const v = readNameValue(ctx, n, p, false);
        if (v !== undefined) out.push({ kind: 'query-param', name: v.name, value: v.value });
      },
    },
  });
  return out;
}

function readRoute(ctx: Ctx, node: LNode, parentPath: string): RouteAcc | undefined {
  const id = readId(ctx, node, `${parentPath}/route`, 'route');
  const path = nodePath(parentPath, node, id);
  const label = `route ${id !== undefined ? q(id) : ''}`.trim();
  let priority = 50;
  let matches: MatchCondition[] | undefined;
  let upstream: string | undefined;
  let upstreamNode: LNode | undefined;
  let handler: BuiltinHandler | undefined;
  let handlerNode: LNode | undefined;
  let matchesNode: LNode | undefined;
  walkBlock(ctx, node, path, {
    label,
    keys: {
      priority: (n, p) => {
        priority = readPriority(ctx, n, p) ?? priority;
      },
      matches: (n, p) => {
        matchesNode = n;
        matches = readMatches(ctx, n, p, label);
      },
      upstream: (n, p) => {
        upstreamNode = n;
        upstream = readString(ctx, n, p);
        if (upstream !== undefined) ctx.upstreamRefs.push({ from: label, name: upstream, node: n, path: p });
      },
      'builtin-handler': (n, p) => {
        handlerNode = n;
        handler = readEnum<BuiltinHandler>(ctx, n, p, BUILTIN_HANDLERS, ['config', 'upstreams', 'cache-purge', 'cache-stats']);
      },
    },
    notImplemented: ROUTE_NOT_IMPLEMENTED,
  });
  if (matchesNode === undefined) {
    error(ctx, node, node.pos, 'missing-matches', `${label} has no "matches" block`, path, 'e.g. matches { path-prefix "/" }');
  } else if (matchesNode.children.length === 0) {
    error(ctx, matchesNode, matchesNode.pos, 'missing-matches', `${label} has an empty "matches" block`, `${path}/matches`, 'add at least one condition, e.g. path-prefix "/"');
  }
  if (upstreamNode !== undefined && handlerNode !== undefined) {
    error(ctx, handlerNode, handlerNode.pos, 'conflict', `${label} has both "upstream" and "builtin-handler"`, path, 'a route does exactly one thing: keep one of them');
  } else if (upstreamNode === undefined && handlerNode === undefined) {
    error(ctx, node, node.pos, 'missing-action', `${label} has neither "upstream" nor "builtin-handler"`, path, 'e.g. upstream "backend"');
  }
  if (id === undefined || matches === undefined || matches.length === 0) return undefined;
  let action: RouteAction;
  if (upstream !== undefined && handlerNode === undefined) action = { kind: 'upstream', upstream };
  else if (handler !== undefined && upstreamNode === undefined) action = { kind: 'builtin', handler };
  else return undefined;
  return { node, config: { id, priority, matches, action, loc: locOf(node) } };
}

// ---------- load balancing ----------

/** Canonical names and aliases: the table shared with upstream/select (src/core/load-balancing.ts). */
export const LB_ALGORITHMS: readonly LoadBalancingAlgorithm[] = ALGORITHMS;
const LB_NOT_IMPLEMENTED: Readonly<Record<string, string>> = {
  locality_aware: 'locality_aware', localityaware: 'locality_aware', locality: 'locality_aware',
  deterministic_subset: 'deterministic_subset', subset: 'deterministic_subset', subsetting: 'deterministic_subset',
  least_tokens_queued: 'least_tokens_queued', leasttokensqueued: 'least_tokens_queued', least_tokens: 'least_tokens_queued',
};

/** Canonical algorithm for a configured name (case-insensitive, '-' read as '_', aliases), or null. */
export const parseLoadBalancingName: (name: string) => LoadBalancingAlgorithm | null = parseAlgorithm;

const HTTP_TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Cookie Path attribute value: starts with "/", printable ASCII without ";" (RFC 6265). */
const COOKIE_PATH_RE = /^\/[\x20-\x3a\x3c-\x7e]*$/;
/** Browsers cap cookie lifetimes at 400 days (RFC 6265bis). */
const MAX_COOKIE_TTL_SECS = 400 * 86_400;
const MIN_STICKY_SECRET_CHARS = 16;
const SAME_SITE: Readonly<Record<string, SameSitePolicy>> = { strict: 'Strict', lax: 'Lax', none: 'None' };
const HASH_KEY_KINDS = ['header', 'cookie', 'query'] as const;
const HASH_KEY_FORMS = 'expected "client-ip", "path", "header:NAME", "cookie:NAME" or "query:NAME"';

/**
 * Validates a hash key; returns its stored form (header names lower-cased) or an error message.
 * Accepts exactly what `parseHashKey` (upstream/select) accepts.
 */
export function parseHashKeyConfig(s: string): { key: HashKey } | { error: string; hint: string } {
  if (s === 'client-ip' || s === 'path') return { key: s };
  const colon = s.indexOf(':');
  if (colon < 0) {
    return { error: `invalid hash-key ${q(s)}`, hint: suggestionHint(s, ['client-ip', 'path', 'header:NAME', 'cookie:NAME', 'query:NAME'], 'valid forms') ?? HASH_KEY_FORMS };
  }
  const kind = s.slice(0, colon);
  const name = s.slice(colon + 1);
  if (!(HASH_KEY_KINDS as readonly string[]).includes(kind)) {
    const c = closest(kind, HASH_KEY_KINDS);
    return { error: `invalid hash-key ${q(s)}: unknown source ${q(kind)}`, hint: c !== undefined ? `did you mean "${c}:${name}"?` : HASH_KEY_FORMS };
  }
  if (!HTTP_TOKEN_RE.test(name)) return { error: `invalid hash-key ${q(s)}: ${q(name)} is not a valid ${kind} name`, hint: HASH_KEY_FORMS };
  return { key: kind === 'header' ? `header:${name.toLowerCase()}` : s };
}

/** Where each option applies, for "does not apply" hints. */
const LB_OPTION_HOMES: Readonly<Record<string, string>> = {
  'hash-key': 'consistent_hash, maglev',
  'decay-secs': 'peak_ewma, adaptive',
  'cookie-name': 'sticky',
  'cookie-ttl-secs': 'sticky',
  'cookie-path': 'sticky',
  'cookie-secure': 'sticky',
  'cookie-http-only': 'sticky',
  'cookie-same-site': 'sticky',
  fallback: 'sticky',
  secret: 'sticky',
};

function misplacedHints(keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, home] of Object.entries(LB_OPTION_HOMES)) if (!keys.includes(k)) out[k] = `${q(k)} applies to load-balancing ${home}`;
  return out;
}

/**
 * `load-balancing "<name>" [{ options }]` (and a sticky `fallback "<name>" [{ options }]`, where
 * `sticky` is refused). Returns undefined after reporting any problem.
 */
function readLoadBalancing(ctx: Ctx, n: LNode, p: string, upstreamLabel: string, isFallback: false): LoadBalancing | undefined;
function readLoadBalancing(ctx: Ctx, n: LNode, p: string, upstreamLabel: string, isFallback: true): BaseLoadBalancing | undefined;
function readLoadBalancing(ctx: Ctx, n: LNode, p: string, upstreamLabel: string, isFallback: boolean): LoadBalancing | undefined {
  rejectProps(ctx, n, p);
  const first = n.args[0];
  if (first === undefined) {
    error(ctx, n, n.pos, 'missing-argument', `${q(n.name)} needs an algorithm name`, p, `e.g. ${n.name} "round_robin"`);
    return undefined;
  }
  const extra = n.args[1];
  if (extra !== undefined) error(ctx, n, extra.pos, 'extra-argument', `${q(n.name)} takes one algorithm name, got ${n.args.length}`, p, 'options go in a { } block');
  const name = expectString(ctx, n, first, p);
  if (name === undefined) return undefined;
  const algorithm = parseLoadBalancingName(name);
  if (algorithm === null) {
    const norm = normalizeAlgorithmName(name);
    const ni = LB_NOT_IMPLEMENTED[norm];
    if (ni !== undefined) {
      error(ctx, n, first.pos, 'not-implemented', `load-balancing ${q(ni)} is not implemented yet`, p, `supported: ${LB_ALGORITHMS.map(q).join(', ')}`);
    } else {
      // A near miss of an alias suggests the alias's canonical name.
      const near = closest(norm, [...LB_ALGORITHMS, ...Object.keys(ALGORITHM_ALIASES), ...Object.keys(LB_NOT_IMPLEMENTED)]);
      const canonical = near === undefined ? undefined : (ALGORITHM_ALIASES[near] ?? LB_NOT_IMPLEMENTED[near] ?? near);
      const names = [...LB_ALGORITHMS, ...new Set(Object.values(LB_NOT_IMPLEMENTED))];
      const hint = canonical !== undefined ? `did you mean ${q(canonical)}?` : suggestionHint(norm, names, 'valid values');
      error(ctx, n, first.pos, 'invalid-value', `unknown load-balancing algorithm ${q(name)}`, p, hint);
    }
    return undefined;
  }
  if (isFallback && algorithm === 'sticky') {
    error(ctx, n, first.pos, 'invalid-value', 'the sticky fallback cannot itself be "sticky"', p, 'use e.g. fallback "round_robin"');
    return undefined;
  }
  const label = `${n.name} ${q(algorithm)} of ${upstreamLabel}`;
  let ok = true;
  /** Wraps a reader: a value it rejects (undefined) marks the whole block invalid. */
  const take = <T>(v: T | undefined, set: (v: T) => void): void => {
    if (v === undefined) ok = false;
    else set(v);
  };
  const keys: Record<string, (c: LNode, cp: string) => void> = {};
  let hashKey: HashKey = 'client-ip';
  let decayMs = 10_000;
  const sticky = {
    cookieName: 'SERVERID', ttlMs: 3_600_000, cookiePath: '/', secure: true, httpOnly: true,
    sameSite: 'Lax' as SameSitePolicy, secret: null as string | null,
  };
  let fallback: BaseLoadBalancing = { algorithm: 'round_robin' };
  let secureNode: LNode | undefined;
  let sameSiteNode: LNode | undefined;
  switch (algorithm) {
    case 'consistent_hash':
    case 'maglev':
      keys['hash-key'] = (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined) { ok = false; return; }
        const r = parseHashKeyConfig(s);
        if ('error' in r) {
          ok = false;
          error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', r.error, cp, r.hint);
        } else hashKey = r.key;
      };
      break;
    case 'peak_ewma':
    case 'adaptive':
      keys['decay-secs'] = (c, cp) => take(readSecsAsMs(ctx, c, cp), (v) => { decayMs = v; });
      break;
    case 'sticky':
      keys['cookie-name'] = (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined) { ok = false; return; }
        if (!HTTP_TOKEN_RE.test(s)) {
          ok = false;
          error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `cookie-name ${q(s)} is not a valid cookie name`, cp, 'use letters, digits and !#$%&\'*+-.^_`|~');
        } else sticky.cookieName = s;
      };
      keys['cookie-ttl-secs'] = (c, cp) => take(readInt(ctx, c, cp, 0, MAX_COOKIE_TTL_SECS), (v) => { sticky.ttlMs = v * 1000; });
      keys['cookie-path'] = (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined) { ok = false; return; }
        if (!COOKIE_PATH_RE.test(s)) {
          ok = false;
          error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `cookie-path ${q(s)} must start with "/" and contain no ";" or control characters`, cp);
        } else sticky.cookiePath = s;
      };
      keys['cookie-secure'] = (c, cp) => {
        secureNode = c;
        take(readBool(ctx, c, cp), (v) => { sticky.secure = v; });
      };
      keys['cookie-http-only'] = (c, cp) => take(readBool(ctx, c, cp), (v) => { sticky.httpOnly = v; });
      keys['cookie-same-site'] = (c, cp) => {
        sameSiteNode = c;
        const s = readString(ctx, c, cp);
        if (s === undefined) { ok = false; return; }
        const lower = s.toLowerCase();
        const v = Object.hasOwn(SAME_SITE, lower) ? SAME_SITE[lower] : undefined;
        if (v === undefined) {
          ok = false;
          error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `invalid cookie-same-site ${q(s)}`, cp, suggestionHint(lower, Object.keys(SAME_SITE), 'valid values'));
        } else sticky.sameSite = v;
      };
      keys['fallback'] = (c, cp) => take(readLoadBalancing(ctx, c, cp, upstreamLabel, true), (v) => { fallback = v; });
      keys['secret'] = (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined) { ok = false; return; }
        if (s.length < MIN_STICKY_SECRET_CHARS) {
          ok = false;
          error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `sticky secret is too short (${s.length} characters, at least ${MIN_STICKY_SECRET_CHARS})`, cp,
            'use a long random string, e.g. the output of `openssl rand -base64 32`');
        } else sticky.secret = s;
      };
      break;
  }
  if (n.hasBlock) walkBlock(ctx, n, p, { label, keys, misplaced: misplacedHints(Object.keys(keys)) });
  if (!ok || ctx.diags.some((d) => d.severity === 'error' && d.path.startsWith(`${p}/`))) return undefined;
  if (algorithm === 'sticky' && sticky.sameSite === 'None' && !sticky.secure) {
    const at = sameSiteNode ?? secureNode ?? n;
    error(ctx, at, at.pos, 'conflict', 'cookie-same-site "none" requires cookie-secure #true', p, 'browsers reject SameSite=None cookies without Secure');
    return undefined;
  }
  switch (algorithm) {
    case 'consistent_hash':
    case 'maglev':
      return { algorithm, hashKey };
    case 'peak_ewma':
    case 'adaptive':
      return { algorithm, decayMs };
    case 'sticky':
      return { algorithm, ...sticky, fallback };
    default:
      return { algorithm };
  }
}

// ---------- upstreams ----------

const UPSTREAM_NOT_IMPLEMENTED = ['health-check', 'circuit-breaker', 'retry-policy', 'tls', 'http-version', 'discovery'];

interface UpstreamAcc {
  readonly config: UpstreamConfig;
  readonly node: LNode;
}

function readTarget(ctx: Ctx, n: LNode, p: string, upstreamLabel: string): TargetConfig | undefined {
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

function readUpstream(ctx: Ctx, node: LNode, parentPath: string): UpstreamAcc | undefined {
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
  const pool = { maxConnections: 128, idleTimeoutMs: 60_000 };
  walkBlock(ctx, node, path, {
    label,
    repeatable: ['target'],
    keys: {
      target: (n, p) => {
        sawTarget = true;
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
            'idle-timeout-secs': (c, cp) => {
              pool.idleTimeoutMs = readSecsAsMs(ctx, c, cp) ?? pool.idleTimeoutMs;
            },
          },
          notImplemented: ['max-idle', 'max-lifetime-secs'],
        });
      },
    },
    notImplemented: UPSTREAM_NOT_IMPLEMENTED,
  });
  if (!sawTarget) error(ctx, node, node.pos, 'missing-key', `${label} has no "target"`, path, 'e.g. target "127.0.0.1:3000"');
  if (preserveHost === true && hostHeaderNode !== undefined && preserveHostNode !== undefined) {
    error(ctx, hostHeaderNode, hostHeaderNode.pos, 'conflict', `${label} sets both preserve-host #true and host-header`, path,
      `drop preserve-host (host-header alone implies preserve-host #false), see ${where(preserveHostNode)}`);
  }
  if (id === undefined || !targetsOk || targets.length === 0) return undefined;
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
      loc: locOf(node),
    },
  };
}

// ---------- observability ----------

interface ObsAcc {
  metrics: { enabled: boolean; host: string; port: number; path: string };
  metricsAddressNode: LNode | undefined;
  level: LogLevel;
  accessLog: { enabled: boolean; destination: string };
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function readObservability(ctx: Ctx, block: LNode, acc: ObsAcc): void {
  const path = 'observability';
  checkBlockNode(ctx, block, path);
  walkBlock(ctx, block, path, {
    label: 'observability',
    keys: {
      metrics: (n, p) => {
        checkBlockNode(ctx, n, p);
        walkBlock(ctx, n, p, {
          label: 'observability metrics',
          keys: {
            enabled: (c, cp) => {
              acc.metrics.enabled = readBool(ctx, c, cp) ?? acc.metrics.enabled;
            },
            address: (c, cp) => {
              const a = readAddress(ctx, c, cp, 0);
              if (a !== undefined) {
                acc.metrics.host = a.host;
                acc.metrics.port = a.port;
                acc.metricsAddressNode = c;
              }
            },
            path: (c, cp) => {
              const s = readString(ctx, c, cp);
              if (s === undefined) return;
              if (!s.startsWith('/')) error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `metrics path must start with "/", got ${q(s)}`, cp);
              else acc.metrics.path = s;
            },
          },
          notImplemented: ['high-cardinality'],
        });
      },
      logging: (n, p) => {
        checkBlockNode(ctx, n, p);
        walkBlock(ctx, n, p, {
          label: 'observability logging',
          keys: {
            level: (c, cp) => {
              const s = readString(ctx, c, cp);
              if (s === undefined) return;
              const lower = s.toLowerCase();
              if ((LOG_LEVELS as readonly string[]).includes(lower)) acc.level = lower as LogLevel;
              else error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `invalid log level ${q(s)}`, cp, suggestionHint(lower, LOG_LEVELS, 'valid values'));
            },
            format: (c, cp) => {
              const s = readString(ctx, c, cp);
              if (s === undefined || s === 'json') return;
              error(ctx, c, c.args[0]?.pos ?? c.pos, 'not-implemented', `log format ${q(s)} is not implemented yet (only "json")`, cp);
            },
            'access-log': (c, cp) => {
              checkBlockNode(ctx, c, cp);
              walkBlock(ctx, c, cp, {
                label: 'observability logging access-log',
                keys: {
                  enabled: (d, dp) => {
                    acc.accessLog.enabled = readBool(ctx, d, dp) ?? acc.accessLog.enabled;
                  },
                  file: (d, dp) => {
                    const s = readString(ctx, d, dp);
                    if (s === undefined) return;
                    if (s === '' || s.includes('\0')) error(ctx, d, d.args[0]?.pos ?? d.pos, 'invalid-value', 'access-log file must be "stdout", "stderr" or a file path', dp);
                    else acc.accessLog.destination = s;
                  },
                },
                notImplemented: ['format', 'buffer-size'],
              });
            },
          },
          notImplemented: ['error-log', 'audit-log'],
        });
      },
    },
    notImplemented: ['tracing'],
  });
}

// ---------- admin ----------

interface AdminAcc { enabled: boolean; host: string; port: number; node: LNode | undefined }

function readAdmin(ctx: Ctx, block: LNode, acc: AdminAcc): void {
  const path = 'admin';
  checkBlockNode(ctx, block, path);
  acc.node = block;
  walkBlock(ctx, block, path, {
    label: 'admin',
    keys: {
      enabled: (n, p) => { acc.enabled = readBool(ctx, n, p) ?? acc.enabled; },
      address: (n, p) => {
        const a = readAddress(ctx, n, p, 0);
        if (a !== undefined) { acc.host = a.host; acc.port = a.port; }
      },
    },
  });
}

// ---------- top level ----------

const TOP_LEVEL = ['schema-version', 'system', 'listeners', 'routes', 'upstreams', 'observability', 'admin', 'include'];
const TOP_NOT_IMPLEMENTED = ['filters', 'agents', 'waf', 'namespace', 'limits', 'rate-limits', 'cache'];
const FORBIDDEN_IN_INCLUDE = ['schema-version', 'system', 'observability', 'admin'];

/** Records a declared id (valid or not, so references to it are not reported as dangling). */
function checkRawId(ctx: Ctx, kind: string, seen: Map<string, LNode>, node: LNode, parentPath: string): boolean {
  const id = node.args[0]?.value;
  if (typeof id !== 'string' || id === '') return true;
  const path = `${parentPath}/${kind} ${q(id)}`;
  const first = seen.get(id);
  if (first !== undefined) {
    error(ctx, node, node.args[0]?.pos ?? node.pos, 'duplicate-id', `${kind} ${q(id)} is already defined at ${where(first)}`, path, `${kind} ids must be unique across all files`);
    return false;
  }
  seen.set(id, node);
  return true;
}

function danglingHint(id: string, available: readonly string[], kind: string): string {
  return suggestionHint(id, available, `available ${kind}s`) ?? `no ${kind} is defined`;
}

/** Validates the merged top-level nodes; `mainFile` is used for whole-config diagnostics. */
export function validateConfig(top: readonly TopNode[], files: readonly string[], mainFile: string): { config: Config | null; diagnostics: Diagnostic[] } {
  const ctx: Ctx = { diags: [], upstreamRefs: [], routeRefs: [] };
  const admin: AdminAcc = { enabled: false, host: '127.0.0.1', port: 9901, node: undefined };
  const system: SystemAcc = { autoReload: false, workerThreads: 1, maxConnections: 10_000, gracefulShutdownTimeoutMs: 30_000, traceIdFormat: 'uuid' };
  const obs: ObsAcc = {
    metrics: { enabled: true, host: '127.0.0.1', port: 9090, path: '/metrics' },
    metricsAddressNode: undefined,
    level: 'info',
    accessLog: { enabled: true, destination: 'stdout' },
  };
  const listeners: ListenerAcc[] = [];
  const routes: RouteAcc[] = [];
  const upstreams: UpstreamAcc[] = [];
  const listenerIds = new Map<string, LNode>();
  const routeIds = new Map<string, LNode>();
  const upstreamIds = new Map<string, LNode>();
  const onceBlocks = new Map<string, LNode>();
  let sawListenersBlock = false;

  for (const { node, included } of top) {
    const name = node.name;
    if (included && FORBIDDEN_IN_INCLUDE.includes(name)) {
      error(ctx, node, node.pos, 'include-forbidden-block', `${q(name)} is not allowed in an included file`, name,
        'included files may only contain listeners, routes, upstreams and include; move it to the main file');
      continue;
    }
    if (name === 'schema-version' || name === 'system' || name === 'observability' || name === 'admin') {
      const first = onceBlocks.get(name);
      if (first !== undefined) {
        error(ctx, node, node.pos, 'duplicate-block', `${q(name)} appears twice (first at ${where(first)})`, name, 'merge them into one block');
        continue;
      }
      onceBlocks.set(name, node);
    }
    switch (name) {
      case 'schema-version': {
        const v = single(ctx, node, name);
        if (v !== undefined && v.value !== '1') {
          error(ctx, node, v.pos, 'invalid-value', `unsupported schema-version ${typeof v.value === 'string' ? q(v.value) : String(v.value)}`, name, 'the only supported version is schema-version "1"');
        }
        break;
      }
      case 'system':
        readSystem(ctx, node, system);
        break;
      case 'listeners':
        sawListenersBlock = true;
        checkBlockNode(ctx, node, name);
        walkBlock(ctx, node, name, {
          label: 'listeners',
          repeatable: ['listener'],
          keys: {
            listener: (n) => {
              const unique = checkRawId(ctx, 'listener', listenerIds, n, name);
              const l = readListener(ctx, n, name);
              if (l !== undefined && unique) listeners.push(l);
            },
          },
        });
        break;
      case 'routes':
        checkBlockNode(ctx, node, name);
        walkBlock(ctx, node, name, {
          label: 'routes',
          repeatable: ['route'],
          keys: {
            route: (n) => {
              const unique = checkRawId(ctx, 'route', routeIds, n, name);
              const r = readRoute(ctx, n, name);
              if (r !== undefined && unique) routes.push(r);
            },
          },
        });
        break;
      case 'upstreams':
        checkBlockNode(ctx, node, name);
        walkBlock(ctx, node, name, {
          label: 'upstreams',
          repeatable: ['upstream'],
          keys: {
            upstream: (n) => {
              const unique = checkRawId(ctx, 'upstream', upstreamIds, n, name);
              const u = readUpstream(ctx, n, name);
              if (u !== undefined && unique) upstreams.push(u);
            },
          },
        });
        break;
      case 'observability':
        readObservability(ctx, node, obs);
        break;
      case 'admin':
        readAdmin(ctx, node, admin);
        break;
      default:
        if (TOP_NOT_IMPLEMENTED.includes(name)) {
          error(ctx, node, node.pos, 'not-implemented', `top-level block ${q(name)} is not implemented yet`, name, NOT_IMPLEMENTED_HINT);
        } else {
          error(ctx, node, node.pos, 'unknown-block', `unknown top-level block ${q(name)}`, name, suggestionHint(name, TOP_LEVEL, 'valid blocks'));
        }
    }
  }

  if (listenerIds.size === 0 && !ctx.diags.some((d) => d.path.startsWith('listeners'))) {
    const pos = { line: 1, column: 1 };
    error(ctx, { file: mainFile }, pos, 'missing-key', sawListenersBlock ? 'the "listeners" block defines no listener' : 'no "listeners" block: at least one listener is required', 'listeners',
      'e.g. listeners { listener "http" { address "127.0.0.1:8080" } }');
  }
  const routeNames = [...routeIds.keys()];
  const upstreamNames = [...upstreamIds.keys()];
  const used = new Set<string>();
  for (const ref of ctx.upstreamRefs) {
    used.add(ref.name);
    if (!upstreamIds.has(ref.name)) {
      error(ctx, ref.node, ref.node.args[0]?.pos ?? ref.node.pos, 'dangling-reference', `${ref.from} refers to unknown upstream ${q(ref.name)}`, ref.path, danglingHint(ref.name, upstreamNames, 'upstream'));
    }
  }
  for (const ref of ctx.routeRefs) {
    if (!routeIds.has(ref.name)) {
      error(ctx, ref.node, ref.node.args[0]?.pos ?? ref.node.pos, 'dangling-reference', `${ref.from} default-route refers to unknown route ${q(ref.name)}`, ref.path, danglingHint(ref.name, routeNames, 'route'));
    }
  }
  for (const u of upstreams) {
    if (!used.has(u.config.id)) {
      warning(ctx, u.node, u.node.pos, 'unused-upstream', `upstream ${q(u.config.id)} is not used by any route`, `upstreams/upstream ${q(u.config.id)}`);
    }
  }
  if (obs.metrics.enabled && obs.metrics.port !== 0) {
    for (const l of listeners) {
      if (l.config.port === obs.metrics.port && (l.config.host === obs.metrics.host || l.config.host === '0.0.0.0' || obs.metrics.host === '0.0.0.0' || l.config.host === '::' || obs.metrics.host === '::')) {
        const n = obs.metricsAddressNode;
        error(ctx, n ?? l.node, n?.args[0]?.pos ?? l.node.pos, 'conflict', `metrics address ${obs.metrics.host}:${obs.metrics.port} collides with listener ${q(l.config.id)}`, 'observability/metrics/address',
          'give the metrics endpoint its own port, or disable it with enabled #false');
      }
    }
  }

  if (admin.enabled) {
    const clash = (host: string, port: number) => port === admin.port && port !== 0 && (host === admin.host || host === '0.0.0.0' || admin.host === '0.0.0.0' || host === '::' || admin.host === '::');
    const n = admin.node;
    for (const l of listeners) {
      if (clash(l.config.host, l.config.port)) error(ctx, n ?? l.node, n?.pos ?? l.node.pos, 'conflict', `admin address ${admin.host}:${admin.port} collides with listener ${q(l.config.id)}`, 'admin/address', 'give the admin listener its own port');
    }
    if (obs.metrics.enabled && clash(obs.metrics.host, obs.metrics.port) && n !== undefined) {
      error(ctx, n, n.pos, 'conflict', `admin address ${admin.host}:${admin.port} collides with the metrics address`, 'admin/address', 'give the admin listener its own port');
    }
  }

  const fileOrder = new Map(files.map((f, i) => [f, i]));
  const diagnostics = ctx.diags
    .map((d, i) => ({ d, i }))
    .sort((a, b) =>
      (fileOrder.get(a.d.file) ?? 0) - (fileOrder.get(b.d.file) ?? 0) || a.d.line - b.d.line || a.d.column - b.d.column || a.i - b.i)
    .map((x) => x.d);
  if (diagnostics.some((d) => d.severity === 'error')) return { config: null, diagnostics };
  return {
    config: {
      system: { ...system },
      listeners: listeners.map((l) => l.config),
      routes: routes.map((r) => r.config),
      upstreams: upstreams.map((u) => u.config),
      observability: {
        metrics: { ...obs.metrics },
        logging: { level: obs.level, accessLog: { ...obs.accessLog } },
      },
      admin: { enabled: admin.enabled, host: admin.host, port: admin.port },
      files: [...files],
    },
    diagnostics,
  };
}
