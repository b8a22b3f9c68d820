// `routes { route "id" { } }`: match conditions, priority and what the route does.
import type { BuiltinHandler, MatchCondition, RouteAction, RouteConfig, RoutePolicies } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { suggestionHint } from '../diagnostics.ts';
import {
  HOSTNAME_RE, checkBlockNode, checkInt, error, expectString, isIPv6, locOf, nodePath, q, readBool, readEnum, readId, readManyStrings, readSecsAsMs, readString,
  rejectBlock, rejectProps, single, walkBlock, where,
} from './reader.ts';
import type { Ctx } from './reader.ts';
import { readDeploymentsAction } from './route-deployments.ts';
import { DEFAULT_POLICIES, readPolicies } from './route-policies.ts';
import { readStaticFiles } from './static-files.ts';

// ---------- routes ----------

const PRIORITY_NAMES: Readonly<Record<string, number>> = { low: 10, normal: 50, high: 100, critical: 1000 };
const BUILTIN_HANDLERS: readonly BuiltinHandler[] = ['status', 'health', 'ready', 'upstreams', 'metrics', 'not-found'];
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ROUTE_NOT_IMPLEMENTED = [
  'api-schema', 'cache', 'shadow', 'fallback', 'retry-policy',
  'websocket-inspection', 'waf-enabled', 'error-pages', 'inference',
];

export interface RouteAcc {
  readonly config: RouteConfig;
  readonly node: LNode;
}

export function readPriority(ctx: Ctx, n: LNode, p: string): number | undefined {
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

export function hostPatternError(h: string): string | undefined {
  if (h.startsWith('[')) return isIPv6(h.slice(1, -1)) && h.endsWith(']') ? undefined : 'not a valid bracketed IPv6 address';
  if (h.includes(':')) return 'a port is not allowed in a host pattern (the port is ignored when matching)';
  const rest = h.startsWith('*.') ? h.slice(2) : h;
  if (rest.includes('*')) return 'only a leading "*." wildcard is supported';
  if (!HOSTNAME_RE.test(rest)) return 'not a valid host name';
  return undefined;
}

/** name [value] or name= / value= properties; for header and query-param. */
export function readNameValue(ctx: Ctx, n: LNode, p: string, isHeader: boolean): { name: string; value: string | null } | undefined {
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


export function readMatches(ctx: Ctx, block: LNode, path: string, routeLabel: string): MatchCondition[] {
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

/**
 * What a route does: exactly one of these keys. Each reads its node into a `RouteAction` (or
 * reports a problem and returns undefined). New route types add a row.
 */
type ActionReader = (ctx: Ctx, n: LNode, p: string, label: string) => RouteAction | undefined;

const ROUTE_ACTIONS: Readonly<Record<string, ActionReader>> = {
  upstream: (ctx, n, p, label) => {
    const upstream = readString(ctx, n, p);
    if (upstream === undefined) return undefined;
    ctx.refs.push({ kind: 'upstream', from: label, name: upstream, node: n, path: p });
    return { kind: 'upstream', upstream };
  },
  'builtin-handler': (ctx, n, p) => {
    const handler = readEnum<BuiltinHandler>(ctx, n, p, BUILTIN_HANDLERS, ['config', 'cache-purge', 'cache-stats']);
    return handler === undefined ? undefined : { kind: 'builtin', handler };
  },
  deployments: (ctx, n, p, label) => {
    const deployments = readDeploymentsAction(ctx, n, p, label);
    return deployments === undefined ? undefined : { kind: 'deployments', deployments };
  },
  'static-files': (ctx, n, p, label) => {
    const files = readStaticFiles(ctx, n, p, label);
    return files === undefined ? undefined : { kind: 'static', files };
  },
};

const ACTION_KEYS = Object.keys(ROUTE_ACTIONS);

/** The config key of each action kind, for messages. */
const ACTION_KEY_OF: Readonly<Record<RouteAction['kind'], string>> = {
  upstream: 'upstream', builtin: 'builtin-handler', deployments: 'deployments', static: 'static-files',
};

function actionList(or: 'nor' | 'or'): string {
  const names = ACTION_KEYS.map(q);
  if (names.length === 2) return `${or === 'nor' ? 'neither' : 'either'} ${names[0]} ${or} ${names[1]}`;
  return `${or === 'nor' ? 'none of' : 'one of'} ${names.join(', ')}`;
}

export function readRoute(ctx: Ctx, node: LNode, parentPath: string): RouteAcc | undefined {
  const id = readId(ctx, node, `${parentPath}/route`, 'route');
  const path = nodePath(parentPath, node, id);
  const label = `route ${id !== undefined ? q(id) : ''}`.trim();
  let priority = 50;
  let matches: MatchCondition[] | undefined;
  let matchesNode: LNode | undefined;
  const filters: string[] = [];
  let policies: RoutePolicies = DEFAULT_POLICIES;
  let upstreamOnly: LNode[] = [];
  let websocket = false;
  let websocketNode: LNode | undefined;
  let websocketIdleTimeoutMs = 300_000;
  let websocketIdleNode: LNode | undefined;
  /** Action keys present (valid or not), in order, and the action read from the first. */
  const actionNodes: LNode[] = [];
  let action: RouteAction | undefined;
  const keys: Record<string, (n: LNode, p: string) => void> = {
    priority: (n, p) => {
      priority = readPriority(ctx, n, p) ?? priority;
    },
    matches: (n, p) => {
      matchesNode = n;
      matches = readMatches(ctx, n, p, label);
    },
    filters: (n, p) => {
      const vals = readManyStrings(ctx, n, p);
      if (vals === undefined) return;
      for (const { value, pos } of vals) {
        if (filters.includes(value)) {
          error(ctx, n, pos, 'duplicate-value', `filter ${q(value)} is listed twice in ${label}`, p, 'each filter runs once per request');
          continue;
        }
        filters.push(value);
        ctx.refs.push({ kind: 'filter', from: label, name: value, node: n, path: p });
      }
    },
    policies: (n, p) => {
      ({ policies, upstreamOnly } = readPolicies(ctx, n, p, label));
    },
    websocket: (n, p) => {
      websocketNode = n;
      websocket = readBool(ctx, n, p) ?? websocket;
    },
    'websocket-idle-timeout-secs': (n, p) => {
      websocketIdleNode = n;
      websocketIdleTimeoutMs = readSecsAsMs(ctx, n, p) ?? websocketIdleTimeoutMs;
    },
  };
  for (const [key, read] of Object.entries(ROUTE_ACTIONS)) {
    keys[key] = (n, p) => {
      actionNodes.push(n);
      const a = read(ctx, n, p, label);
      if (actionNodes.length === 1) action = a;
    };
  }
  walkBlock(ctx, node, path, { label, keys, notImplemented: ROUTE_NOT_IMPLEMENTED });
  if (matchesNode === undefined) {
    error(ctx, node, node.pos, 'missing-matches', `${label} has no "matches" block`, path, 'e.g. matches { path-prefix "/" }');
  } else if (matchesNode.children.length === 0) {
    error(ctx, matchesNode, matchesNode.pos, 'missing-matches', `${label} has an empty "matches" block`, `${path}/matches`, 'add at least one condition, e.g. path-prefix "/"');
  }
  const second = actionNodes[1];
  if (second !== undefined) {
    const first = actionNodes[0] as LNode;
    error(ctx, second, second.pos, 'conflict', `${label} has both ${q(first.name)} and ${q(second.name)}`, path, 'a route does exactly one thing: keep one of them');
  } else if (actionNodes.length === 0) {
    error(ctx, node, node.pos, 'missing-action', `${label} has ${actionList('nor')}`, path, 'e.g. upstream "backend"');
  }
  if (action !== undefined && action.kind !== 'upstream') {
    for (const n of upstreamOnly) {
      error(ctx, n, n.pos, 'conflict', `${q(n.name)} applies only to routes that forward to an upstream; ${label} is ${ACTION_KEY_OF[action.kind]}`, `${path}/policies/${n.name}`,
        'remove it: on static-files and builtin-handler routes the body is never read, and deployments routes stream bodies as Unkey\'s Sentinel does');
    }
  }
  const wsAction = action as RouteAction | undefined;
  if (websocket && websocketNode !== undefined && wsAction !== undefined && wsAction.kind !== 'upstream') {
    error(ctx, websocketNode, websocketNode.pos, 'conflict', `${label} allows WebSocket but does not forward to an upstream`, `${path}/websocket`, 'WebSocket upgrades are forwarded to the route\'s upstream');
  }
  if (!websocket && websocketIdleNode !== undefined) {
    error(ctx, websocketIdleNode, websocketIdleNode.pos, 'conflict', `${label} sets websocket-idle-timeout-secs without websocket #true`, `${path}/websocket-idle-timeout-secs`, 'add websocket #true, or remove the timeout');
  }
  if (id === undefined || matches === undefined || matches.length === 0 || action === undefined || second !== undefined) return undefined;
  return { node, config: { id, priority, matches, action, filters, policies, ...(websocket ? { websocket: { idleTimeoutMs: websocketIdleTimeoutMs } } : {}), loc: locOf(node) } };
}
