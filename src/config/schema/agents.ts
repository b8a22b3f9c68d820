// `agents { agent "id" { … } }` (issue 5): external agent processes Sentinel connects to.
import type { AgentConfig } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { NOT_IMPLEMENTED_HINT, error, nodePath, q, readId } from './reader.ts';
import type { Ctx } from './reader.ts';

export interface AgentAcc {
  readonly config: AgentConfig;
  readonly node: LNode;
}

export function readAgent(ctx: Ctx, node: LNode, parentPath: string): AgentAcc | undefined {
  const id = readId(ctx, node, `${parentPath}/agent`, 'agent');
  const path = nodePath(parentPath, node, id);
  error(ctx, node, node.pos, 'not-implemented', `agent ${id !== undefined ? q(id) : ''}: agents are not implemented yet`, path, NOT_IMPLEMENTED_HINT);
  return undefined;
}
