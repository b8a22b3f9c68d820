// Pure parts of agent enforcement: header mutation rules, decision precedence and merging, and the
// checks on what an agent asks the proxy to send (block status and headers, redirect targets).
// No I/O; property-tested in spec/agents/rules.property.test.ts.
import type { AgentFailureMode } from '../config/types.ts';
import type { AgentResponse, Decision, HeaderOp as WireHeaderOp } from '../protocol/types.ts';
import type { HeaderOp } from '../pipeline/header-ops.ts';
import { NEVER_MUTABLE } from '../core/headers.ts';
import type { CallFailure } from './manager.ts';

/** Headers only the proxy writes on the upstream request (see src/pipeline/forward.ts). */
export const PROTECTED_REQUEST = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'via', 'traceparent', 'tracestate']);
/** Headers only the proxy writes on the response. */
export const PROTECTED_RESPONSE = new Set(['x-request-id', 'via']);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Field values: visible ASCII, obs-text, space and tab; no CR, LF or NUL (RFC 9110 §5.5).
// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const BAD_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export function isProtected(lower: string, direction: 'request' | 'response', allowed: readonly string[]): boolean {
  if (NEVER_MUTABLE.has(lower)) return true;
  if (lower.startsWith('x-sentinel-')) return !allowed.includes(lower);
  const table = direction === 'request' ? PROTECTED_REQUEST : PROTECTED_RESPONSE;
  return table.has(lower) && !allowed.includes(lower);
}

export interface CheckedOps {
  readonly ops: HeaderOp[];
  readonly rejected: number;
}

/**
 * The agent's header operations as pipeline ops, minus those the rules refuse: protected names
 * (hop-by-hop, framing, Host and Sentinel's own headers unless the agent is allowed them), names
 * that are not HTTP tokens, values with control characters.
 */
export function checkHeaderOps(ops: readonly WireHeaderOp[], direction: 'request' | 'response', allowed: readonly string[]): CheckedOps {
  const out: HeaderOp[] = [];
  let rejected = 0;
  for (const op of ops) {
    if ('remove' in op) {
      const name = op.remove.name;
      if (!TOKEN.test(name) || isProtected(name.toLowerCase(), direction, allowed)) rejected++;
      else out.push({ op: 'remove', name });
      continue;
    }
    const kind = 'set' in op ? 'set' : 'add';
    const h = 'set' in op ? op.set : op.add;
    if (!TOKEN.test(h.name) || BAD_VALUE.test(h.value) || isProtected(h.name.toLowerCase(), direction, allowed)) rejected++;
    else out.push({ op: kind, name: h.name, value: h.value });
  }
  return { ops: out, rejected };
}

/** A block's own headers as a flat list, protected and invalid ones dropped (counted). */
export function checkBlockHeaders(headers: Readonly<Record<string, string>> | undefined, allowed: readonly string[]): { list: string[]; rejected: number } {
  const list: string[] = [];
  let rejected = 0;
  if (headers === undefined) return { list, rejected };
  for (const name of Object.keys(headers)) {
    const value = headers[name] as string;
    if (!TOKEN.test(name) || BAD_VALUE.test(value) || isProtected(name.toLowerCase(), 'response', allowed)) rejected++;
    else list.push(name, value);
  }
  return { list, rejected };
}

/** A block status the proxy will send: 400–599 as given, anything else becomes 403. */
export function blockStatus(status: number): number {
  return Number.isInteger(status) && status >= 400 && status <= 599 ? status : 403;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A redirect is honoured only with a redirect status and an absolute http(s) URL or an absolute path. */
export function validRedirect(url: string, status: number): boolean {
  if (!REDIRECT_STATUSES.has(status) || url.length === 0 || url.length > 8192 || BAD_VALUE.test(url) || /\s/.test(url)) return false;
  if (url.startsWith('/')) return !url.startsWith('//') && !url.startsWith('/\\');
  return /^https?:\/\/[^/\\]/i.test(url);
}

// ---- decisions ----

export type Action = 'allow' | 'block' | 'challenge' | 'redirect';

export function actionOf(d: Decision): Action {
  if (d === 'allow') return 'allow';
  if ('block' in d) return 'block';
  if ('challenge' in d) return 'challenge';
  return 'redirect';
}

/** One agent's part in a merge: its answer, or why there is none. */
export type Outcome =
  | { readonly kind: 'answer'; readonly res: AgentResponse }
  | { readonly kind: 'failure'; readonly failure: CallFailure; readonly detail?: string }
  /** Not asked (not subscribed, bypassed earlier, body over its limit with failure-mode open). */
  | { readonly kind: 'none' };

/** The merged verdict of parallel calls. `index` is the deciding agent (-1: nobody, allow). */
export type Verdict =
  | { readonly action: Action; readonly index: number }
  | { readonly action: 'fail'; readonly index: number; readonly failure: CallFailure };

/**
 * Precedence: block > fail-closed failure > challenge > redirect > allow; the first agent (in filter
 * order) at the highest rank decides. A failure of a fail-open agent counts as allow (it is
 * bypassed). A failure blocks only when no agent blocked explicitly: an explicit decision carries
 * the agent's own status, reasons and audit data.
 */
export function mergeVerdict(outcomes: readonly Outcome[], modes: readonly AgentFailureMode[]): Verdict {
  let best: Verdict = { action: 'allow', index: -1 };
  let bestRank = 0;
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i] as Outcome;
    let v: Verdict;
    let rank: number;
    if (o.kind === 'answer') {
      const action = actionOf(o.res.decision);
      rank = action === 'block' ? 4 : action === 'challenge' ? 2 : action === 'redirect' ? 1 : 0;
      v = { action, index: i };
    } else if (o.kind === 'failure' && modes[i] === 'closed' && o.failure !== 'cancelled') {
      rank = 3;
      v = { action: 'fail', index: i, failure: o.failure };
    } else continue;
    if (rank > bestRank) {
      best = v;
      bestRank = rank;
    }
  }
  return best;
}

/**
 * Whether the verdict is already final while some calls are still out: the first settled block
 * before any unsettled call. Lets the proxy answer without waiting for slower agents.
 */
export function earlyBlock(outcomes: readonly (Outcome | undefined)[]): number {
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i];
    if (o === undefined) return -1;
    if (o.kind === 'answer' && actionOf(o.res.decision) === 'block') return i;
  }
  return -1;
}
