// `policies { }` of a route: request limits, header rules and the security headers. Zentinel's
// shape: `policies { request-headers { rename {…}; set {…}; add {…}; remove … }; response-headers {…} }`.
import type { HeaderRule, RoutePolicies, SecurityHeadersConfig, ServerHeaderPolicy } from '../types.ts';
import type { LNode, LValue } from '../kdl.ts';
import { checkBlockNode, error, expectString, q, readInt, readManyStrings, rejectBlock, rejectProps, typeName, walkBlock } from './reader.ts';
import type { Ctx } from './reader.ts';

/** Largest request body accepted by default (Zentinel's default too). */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Sent unless a route says otherwise; each only when the response does not carry it already. */
export const DEFAULT_SECURITY_HEADERS: SecurityHeadersConfig = {
  strictTransportSecurity: 'max-age=31536000',
  contentTypeOptions: 'nosniff',
  frameOptions: 'SAMEORIGIN',
  referrerPolicy: 'strict-origin-when-cross-origin',
};

export const NO_SECURITY_HEADERS: SecurityHeadersConfig = {
  strictTransportSecurity: null,
  contentTypeOptions: null,
  frameOptions: null,
  referrerPolicy: null,
};

export const DEFAULT_POLICIES: RoutePolicies = {
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  maxConcurrentRequests: 0,
  requestHeaders: [],
  responseHeaders: [],
  securityHeaders: DEFAULT_SECURITY_HEADERS,
  serverHeader: { mode: 'remove' },
};

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A field value (RFC 9110 §5.5): visible characters, spaces and tabs; no CR, LF, NUL or other controls.
// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const FIELD_VALUE_BAD_RE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/**
 * Fields a header rule may not touch: they frame the message or belong to one connection, so a rule
 * on them could desynchronise the parser at the other end (request smuggling) or break keep-alive.
 */
const FORBIDDEN_FIELDS: Readonly<Record<string, string>> = {
  'content-length': 'the proxy frames every message itself',
  'transfer-encoding': 'the proxy frames every message itself',
  connection: 'connection options are hop-by-hop and set by the proxy',
  'keep-alive': 'connection options are hop-by-hop and set by the proxy',
  'proxy-connection': 'connection options are hop-by-hop and set by the proxy',
  te: 'TE is hop-by-hop',
  trailer: 'Trailer is hop-by-hop here',
  upgrade: 'protocol upgrades are decided by the route (websocket), not by header rules',
};

/** Extra fields forbidden in request rules. */
const FORBIDDEN_REQUEST_FIELDS: Readonly<Record<string, string>> = {
  host: 'set the upstream Host with the upstream\'s host-header or preserve-host',
};

function fieldProblem(name: string, request: boolean): string | undefined {
  if (!TOKEN_RE.test(name)) return 'not a valid header name (RFC 9110 token)';
  const lower = name.toLowerCase();
  return FORBIDDEN_FIELDS[lower] ?? (request ? FORBIDDEN_REQUEST_FIELDS[lower] : undefined);
}

function checkValue(ctx: Ctx, n: LNode, v: LValue, p: string): string | undefined {
  const s = expectString(ctx, n, v, p);
  if (s === undefined) return undefined;
  if (FIELD_VALUE_BAD_RE.test(s)) {
    error(ctx, n, v.pos, 'invalid-value', `header value ${q(s)} contains a control character`, p, 'CR, LF and NUL are never allowed in a header value');
    return undefined;
  }
  return s.trim();
}

/** `set { "X-Name" "value"; … }` (and add, rename): one child per field, its name and one value. */
function readPairs(ctx: Ctx, block: LNode, p: string, request: boolean, what: string): { name: string; value: string }[] {
  checkBlockNode(ctx, block, p);
  if (!block.hasBlock || block.children.length === 0) {
    error(ctx, block, block.pos, 'missing-argument', `${q(block.name)} needs a block of fields`, p, `e.g. ${block.name} { "X-Name" "value" }`);
    return [];
  }
  const out: { name: string; value: string }[] = [];
  for (const c of block.children) {
    const cp = `${p}/${c.name}`;
    rejectProps(ctx, c, cp);
    rejectBlock(ctx, c, cp);
    const problem = fieldProblem(c.name, request);
    if (problem !== undefined) {
      error(ctx, c, c.pos, 'invalid-value', `${q(c.name)} cannot be used in ${what}: ${problem}`, cp);
      continue;
    }
    const v = c.args[0];
    if (v === undefined) {
      error(ctx, c, c.pos, 'missing-argument', `${q(c.name)} in ${q(block.name)} needs a value`, cp, `e.g. "${c.name}" "value"`);
      continue;
    }
    const extra = c.args[1];
    if (extra !== undefined) error(ctx, c, extra.pos, 'extra-argument', `${q(c.name)} takes one value, got ${c.args.length}`, cp);
    const value = checkValue(ctx, c, v, cp);
    if (value !== undefined) out.push({ name: c.name, value });
  }
  return out;
}

/** `request-headers { … }` / `response-headers { … }`: rules in the order written. */
function readHeaderRules(ctx: Ctx, block: LNode, p: string, request: boolean): HeaderRule[] {
  checkBlockNode(ctx, block, p);
  const what = request ? 'request-headers' : 'response-headers';
  const rules: HeaderRule[] = [];
  walkBlock(ctx, block, p, {
    label: what,
    repeatable: ['set', 'add', 'remove', 'rename'],
    keys: {
      set: (n, np) => { for (const f of readPairs(ctx, n, np, request, what)) rules.push({ op: 'set', name: f.name, value: f.value }); },
      add: (n, np) => { for (const f of readPairs(ctx, n, np, request, what)) rules.push({ op: 'add', name: f.name, value: f.value }); },
      rename: (n, np) => {
        for (const f of readPairs(ctx, n, np, request, what)) {
          const problem = fieldProblem(f.value, request);
          if (problem !== undefined) error(ctx, n, n.pos, 'invalid-value', `cannot rename ${q(f.name)} to ${q(f.value)}: ${problem}`, np);
          else rules.push({ op: 'rename', name: f.name, to: f.value });
        }
      },
      remove: (n, np) => {
        const names = readManyStrings(ctx, n, np);
        if (names === undefined) return;
        for (const { value, pos } of names) {
          const problem = fieldProblem(value, request);
          if (problem !== undefined) error(ctx, n, pos, 'invalid-value', `${q(value)} cannot be used in ${what}: ${problem}`, np);
          else rules.push({ op: 'remove', name: value });
        }
      },
    },
  });
  if (block.children.length === 0) error(ctx, block, block.pos, 'missing-argument', `${what} is empty`, p, 'add set { }, add { }, rename { } or remove "…"');
  return rules;
}

/** A string, or #false for "not sent". */
function readValueOrOff(ctx: Ctx, n: LNode, p: string): string | null | undefined {
  rejectProps(ctx, n, p);
  rejectBlock(ctx, n, p);
  const v = n.args[0];
  if (v === undefined) {
    error(ctx, n, n.pos, 'missing-argument', `${q(n.name)} needs a value, or #false to not send it`, p);
    return undefined;
  }
  if (n.args[1] !== undefined) error(ctx, n, n.args[1].pos, 'extra-argument', `${q(n.name)} takes one value`, p);
  if (v.value === false) return null;
  if (typeof v.value !== 'string') {
    error(ctx, n, v.pos, 'invalid-type', `expected a string or #false, got ${typeName(v.value)}`, p);
    return undefined;
  }
  const s = checkValue(ctx, n, v, p);
  if (s === '') {
    error(ctx, n, v.pos, 'invalid-value', `${q(n.name)} must not be empty`, p, 'use #false to not send it');
    return undefined;
  }
  return s;
}

/** `security-headers { … }` or `security-headers #false`. */
function readSecurityHeaders(ctx: Ctx, n: LNode, p: string): SecurityHeadersConfig | undefined {
  rejectProps(ctx, n, p);
  const arg = n.args[0];
  if (arg !== undefined) {
    if (n.hasBlock) error(ctx, n, n.pos, 'conflict', 'security-headers has both a value and a { } block', p, 'use security-headers #false, or a block');
    if (arg.value === false) return NO_SECURITY_HEADERS;
    error(ctx, n, arg.pos, 'invalid-value', 'security-headers takes #false (none) or a { } block', p, 'the defaults apply when security-headers is absent');
    return undefined;
  }
  const out = { ...DEFAULT_SECURITY_HEADERS };
  const set = (key: keyof SecurityHeadersConfig) => (c: LNode, cp: string): void => {
    const v = readValueOrOff(ctx, c, cp);
    if (v !== undefined) out[key] = v;
  };
  walkBlock(ctx, n, p, {
    label: 'security-headers',
    keys: {
      'strict-transport-security': set('strictTransportSecurity'),
      'x-content-type-options': set('contentTypeOptions'),
      'x-frame-options': set('frameOptions'),
      'referrer-policy': set('referrerPolicy'),
    },
    notImplemented: ['content-security-policy', 'permissions-policy'],
  });
  return out;
}

/** `server-header "name"` (replace), `#true` (relay the upstream's), `#false` (remove). */
function readServerHeader(ctx: Ctx, n: LNode, p: string): ServerHeaderPolicy | undefined {
  rejectProps(ctx, n, p);
  rejectBlock(ctx, n, p);
  const v = n.args[0];
  if (v === undefined) {
    error(ctx, n, n.pos, 'missing-argument', 'server-header needs a value', p, 'a name to send, #true to relay the upstream\'s, or #false to remove it');
    return undefined;
  }
  if (v.value === true) return { mode: 'pass' };
  if (v.value === false) return { mode: 'remove' };
  const s = readValueOrOff(ctx, n, p);
  return typeof s === 'string' ? { mode: 'set', value: s } : undefined;
}

/** Policies keys that only mean something on a route that forwards to an upstream. */
const UPSTREAM_ONLY = ['max-body-size-bytes', 'request-headers'];

/**
 * Reads `policies { }`. `upstreamOnly` lists the nodes of keys that only apply when the route
 * forwards to an upstream (the route reader refuses them on other routes: they would do nothing).
 */
export function readPolicies(ctx: Ctx, block: LNode, p: string, label: string): { policies: RoutePolicies; upstreamOnly: LNode[] } {
  checkBlockNode(ctx, block, p);
  let maxBodyBytes = DEFAULT_POLICIES.maxBodyBytes;
  let maxConcurrentRequests = DEFAULT_POLICIES.maxConcurrentRequests;
  let requestHeaders: HeaderRule[] = [];
  let responseHeaders: HeaderRule[] = [];
  let securityHeaders = DEFAULT_POLICIES.securityHeaders;
  let serverHeader = DEFAULT_POLICIES.serverHeader;
  walkBlock(ctx, block, p, {
    label: `${label} policies`,
    keys: {
      'max-body-size-bytes': (n, np) => { maxBodyBytes = readInt(ctx, n, np, 0, 2 ** 40) ?? maxBodyBytes; },
      'max-concurrent-requests': (n, np) => { maxConcurrentRequests = readInt(ctx, n, np, 0, 1_000_000) ?? maxConcurrentRequests; },
      'request-headers': (n, np) => { requestHeaders = readHeaderRules(ctx, n, np, true); },
      'response-headers': (n, np) => { responseHeaders = readHeaderRules(ctx, n, np, false); },
      'security-headers': (n, np) => { securityHeaders = readSecurityHeaders(ctx, n, np) ?? securityHeaders; },
      'server-header': (n, np) => { serverHeader = readServerHeader(ctx, n, np) ?? serverHeader; },
    },
    misplaced: { 'max-body-size': 'Sentinel takes an integer number of bytes: max-body-size-bytes 10485760' },
    notImplemented: ['timeout-secs', 'failure-mode', 'buffer-requests', 'buffer-responses', 'rate-limit'],
  });
  const upstreamOnly = block.children.filter((c) => UPSTREAM_ONLY.includes(c.name));
  return { policies: { maxBodyBytes, maxConcurrentRequests, requestHeaders, responseHeaders, securityHeaders, serverHeader }, upstreamOnly };
}
