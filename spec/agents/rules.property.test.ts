// The pure enforcement rules: decision precedence and merging, header mutation rules, redirect and
// block checks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AgentFailureMode } from '../../src/config/types.ts';
import { allowResponse } from '../../src/protocol/types.ts';
import type { AgentResponse, Decision, HeaderOp } from '../../src/protocol/types.ts';
import { blockStatus, checkBlockHeaders, checkHeaderOps, earlyBlock, isProtected, mergeVerdict, validRedirect } from '../../src/agents/rules.ts';
import type { Outcome } from '../../src/agents/rules.ts';
import { HOP_BY_HOP } from '../../src/core/headers.ts';

const answer = (decision: Decision): Outcome => ({ kind: 'answer', res: { ...allowResponse(), decision } as AgentResponse });
const BLOCK: Decision = { block: { status: 403 } };
const CHALLENGE: Decision = { challenge: { challenge_type: 'captcha', params: {} } };
const REDIRECT: Decision = { redirect: { url: '/login', status: 302 } };

const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.constantFrom<Decision>('allow', BLOCK, CHALLENGE, REDIRECT).map(answer),
  fc.constantFrom('timeout', 'unavailable', 'protocol', 'circuit_open', 'overloaded', 'cancelled' as const).map((failure): Outcome => ({ kind: 'failure', failure })),
  fc.constant<Outcome>({ kind: 'none' }),
);
const mode = fc.constantFrom<AgentFailureMode>('open', 'closed');

/** The documented ranking, written independently: block 4, fail-closed failure 3, challenge 2, redirect 1. */
function rank(o: Outcome, m: AgentFailureMode): number {
  if (o.kind === 'none') return 0;
  if (o.kind === 'failure') return m === 'closed' && o.failure !== 'cancelled' ? 3 : 0;
  const d = o.res.decision;
  if (d === 'allow') return 0;
  if ('block' in d) return 4;
  if ('challenge' in d) return 2;
  return 1;
}

describe('decision merge', () => {
  it('the first agent (filter order) at the highest rank decides; nothing above allow means allow', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(outcome, mode), { maxLength: 8 }), (pairs) => {
        const outcomes = pairs.map((p) => p[0]);
        const modes = pairs.map((p) => p[1]);
        const v = mergeVerdict(outcomes, modes);
        const ranks = pairs.map(([o, m]) => rank(o, m));
        const top = Math.max(0, ...ranks);
        if (top === 0) {
          expect(v).toEqual({ action: 'allow', index: -1 });
          return;
        }
        expect(v.index).toBe(ranks.indexOf(top));
        expect({ 4: 'block', 3: 'fail', 2: 'challenge', 1: 'redirect' }[top]).toBe(v.action);
      }),
      { numRuns: 2000 },
    );
  });

  it('a fail-open failure never decides, and a fail-closed failure never outranks an explicit block', () => {
    expect(mergeVerdict([{ kind: 'failure', failure: 'timeout' }], ['open'])).toEqual({ action: 'allow', index: -1 });
    expect(mergeVerdict([{ kind: 'failure', failure: 'timeout' }, answer(BLOCK)], ['closed', 'open'])).toEqual({ action: 'block', index: 1 });
    expect(mergeVerdict([answer(REDIRECT), { kind: 'failure', failure: 'circuit_open' }], ['open', 'closed'])).toEqual({ action: 'fail', index: 1, failure: 'circuit_open' });
  });

  it('an early block is final only when every agent before it has answered', () => {
    expect(earlyBlock([answer('allow'), answer(BLOCK), undefined])).toBe(1);
    expect(earlyBlock([undefined, answer(BLOCK)])).toBe(-1);
    expect(earlyBlock([answer(CHALLENGE), answer('allow')])).toBe(-1);
    fc.assert(
      fc.property(fc.array(fc.option(outcome, { nil: undefined }), { maxLength: 8 }), (os) => {
        const i = earlyBlock(os);
        if (i < 0) return;
        // Nothing unsettled before it, and it is the first block: the merge of any completion agrees.
        const completed = os.map((o) => o ?? ({ kind: 'none' } as Outcome));
        expect(mergeVerdict(completed, completed.map(() => 'open')).index).toBe(i);
      }),
    );
  });
});

const tokenName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
const wireOp: fc.Arbitrary<HeaderOp> = fc.oneof(
  fc.record({ set: fc.record({ name: tokenName, value: fc.string({ maxLength: 8 }) }) }),
  fc.record({ add: fc.record({ name: tokenName, value: fc.string({ maxLength: 8 }) }) }),
  fc.record({ remove: fc.record({ name: tokenName }) }),
);
const protectedName = fc.constantFrom('Host', 'X-Forwarded-For', 'x-forwarded-proto', 'X-Request-Id', 'via', 'traceparent', 'Connection', 'Transfer-Encoding', 'Content-Length', 'keep-alive', 'Upgrade', 'X-Sentinel-Anything');

describe('header mutation rules', () => {
  it('protected names never pass, every op is either kept or counted, kept ops keep their order', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(wireOp, protectedName.map((name): HeaderOp => ({ set: { name, value: 'x' } }))), { maxLength: 12 }), (ops) => {
        const r = checkHeaderOps(ops, 'request', []);
        expect(r.ops.length + r.rejected).toBe(ops.length);
        for (const o of r.ops) expect(isProtected(o.name.toLowerCase(), 'request', [])).toBe(false);
        const keptNames = ops.filter((o) => !isProtected(('set' in o ? o.set.name : 'add' in o ? o.add.name : o.remove.name).toLowerCase(), 'request', []) && !('set' in o && /[\r\n\0]/.test(o.set.value)) && !('add' in o && /[\r\n\0]/.test(o.add.value)));
        expect(r.ops.map((o) => o.name)).toEqual(keptNames.map((o) => ('set' in o ? o.set.name : 'add' in o ? o.add.name : o.remove.name)));
      }),
    );
  });

  it('allow-header-mutation unlocks Host and internal headers, never hop-by-hop or framing headers', () => {
    const allowed = ['host', 'x-forwarded-for', 'connection', 'content-length'];
    expect(isProtected('host', 'request', allowed)).toBe(false);
    expect(isProtected('x-forwarded-for', 'request', allowed)).toBe(false);
    expect(isProtected('x-request-id', 'request', allowed)).toBe(true);
    for (const h of [...HOP_BY_HOP, 'content-length']) expect(isProtected(h, 'request', allowed)).toBe(true);
  });

  it('values with CR, LF or NUL and names that are not tokens are refused (header injection)', () => {
    const r = checkHeaderOps([
      { set: { name: 'X-A', value: 'ok' } },
      { set: { name: 'X-B', value: 'a\r\nSet-Cookie: pwned=1' } },
      { add: { name: 'X-C', value: 'nul\0' } },
      { set: { name: 'Bad Name', value: 'v' } },
      { remove: { name: 'X-(x)' } },
    ], 'response', []);
    expect(r.ops).toEqual([{ op: 'set', name: 'X-A', value: 'ok' }]);
    expect(r.rejected).toBe(4);
  });

  it('response direction protects X-Request-Id and Via but lets the agent set cookies', () => {
    const r = checkHeaderOps([{ set: { name: 'X-Request-Id', value: 'forged' } }, { add: { name: 'Set-Cookie', value: 'a=1' } }, { remove: { name: 'Via' } }], 'response', []);
    expect(r.ops).toEqual([{ op: 'add', name: 'Set-Cookie', value: 'a=1' }]);
    expect(r.rejected).toBe(2);
  });
});

describe('what the proxy sends for an agent', () => {
  it('block status: 400–599 as given, anything else 403', () => {
    expect(blockStatus(451)).toBe(451);
    expect(blockStatus(599)).toBe(599);
    for (const s of [100, 200, 302, 399, 600, 999, 3.5]) expect(blockStatus(s)).toBe(403);
  });

  it('block headers drop framing and protected fields', () => {
    expect(checkBlockHeaders({ 'content-type': 'text/plain', 'content-length': '9999', 'x-request-id': 'x', 'www-authenticate': 'Basic' }, [])).toEqual({ list: ['content-type', 'text/plain', 'www-authenticate', 'Basic'], rejected: 2 });
  });

  it('redirects: redirect statuses only; absolute http(s) URLs or absolute paths; no scheme tricks', () => {
    expect(validRedirect('https://example.test/login', 302)).toBe(true);
    expect(validRedirect('/login?next=/a', 307)).toBe(true);
    for (const [url, status] of [
      ['javascript:alert(1)', 302], ['//evil.test/x', 302], ['/\\evil.test', 302], ['https://ok.test/', 200], ['https://ok.test/', 304],
      ['http://a.test/\r\nSet-Cookie: x=1', 302], ['data:text/html,hi', 301], ['', 302], ['ftp://x.test/', 302], ['https:///x', 302],
    ] as const) expect(validRedirect(url, status), url).toBe(false);
  });
});
