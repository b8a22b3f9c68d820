// `filter "id" { type "rate-limit"; … }` (issue 6).
import type { FilterConfig } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { NOT_IMPLEMENTED_HINT, error, q } from './reader.ts';
import type { Ctx } from './reader.ts';

export function readRateLimitFilter(ctx: Ctx, node: LNode, path: string, label: string, _id: string): FilterConfig | undefined {
  const typeNode = node.children.find((c) => c.name === 'type') ?? node;
  error(ctx, typeNode, typeNode.args[0]?.pos ?? typeNode.pos, 'not-implemented', `${label}: filter type ${q('rate-limit')} is not implemented yet`, `${path}/type`, NOT_IMPLEMENTED_HINT);
  return undefined;
}
