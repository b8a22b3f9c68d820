// `filter "id" { type "agent"; agent "id"; timeout-ms N; failure-mode "open"|"closed" }`: attaches an
// agent of the `agents` block to the routes that list the filter, with per-filter overrides.
import type { AgentFailureMode, FilterConfig } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { error, locOf, readInt, readString, walkBlock } from './reader.ts';
import type { Ctx } from './reader.ts';
import { readFailureMode } from './agents.ts';

export function readAgentFilter(ctx: Ctx, node: LNode, path: string, label: string, id: string): FilterConfig | undefined {
  let agent: string | undefined;
  let timeoutMs: number | null = null;
  let failureMode: AgentFailureMode | null = null;
  let ok = true;
  walkBlock(ctx, node, path, {
    label,
    keys: {
      type: () => undefined, // read by filters.ts
      agent: (n, p) => {
        const s = readString(ctx, n, p);
        if (s === undefined || s === '') {
          if (s === '') error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', 'agent id must not be empty', p);
          ok = false;
          return;
        }
        agent = s;
        ctx.refs.push({ kind: 'agent', from: label, name: s, node: n, path: p });
      },
      'timeout-ms': (n, p) => {
        const v = readInt(ctx, n, p, 1, 3_600_000);
        if (v === undefined) ok = false;
        else timeoutMs = v;
      },
      'failure-mode': (n, p) => {
        const v = readFailureMode(ctx, n, p);
        if (v === undefined) ok = false;
        else failureMode = v;
      },
    },
    notImplemented: ['phase', 'inspect-body', 'max-body-bytes'],
  });
  if (agent === undefined) {
    if (ok) error(ctx, node, node.pos, 'missing-key', `${label} has no "agent"`, path, 'e.g. agent "waf" (an id from the agents block)');
    return undefined;
  }
  if (!ok) return undefined;
  return { type: 'agent', id, agent, timeoutMs, failureMode, loc: locOf(node) };
}
