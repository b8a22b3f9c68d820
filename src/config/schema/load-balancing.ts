// `load-balancing "<name>" { options }` inside an upstream, and the sticky fallback.
import { ALGORITHMS, ALGORITHM_ALIASES, normalizeAlgorithmName, parseAlgorithm } from '../../core/load-balancing.ts';
import type { BaseLoadBalancing, HashKey, LoadBalancing, LoadBalancingAlgorithm, SameSitePolicy } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { closest, suggestionHint } from '../diagnostics.ts';
import { error, expectString, q, readBool, readInt, readSecsAsMs, readString, rejectProps, walkBlock } from './reader.ts';
import type { Ctx } from './reader.ts';


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
export function readLoadBalancing(ctx: Ctx, n: LNode, p: string, upstreamLabel: string, isFallback: false): LoadBalancing | undefined;
export function readLoadBalancing(ctx: Ctx, n: LNode, p: string, upstreamLabel: string, isFallback: true): BaseLoadBalancing | undefined;
export function readLoadBalancing(ctx: Ctx, n: LNode, p: string, upstreamLabel: string, isFallback: boolean): LoadBalancing | undefined {
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
