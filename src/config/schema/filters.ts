// `filters { filter "id" { type "…"; … } }`: named request filters that routes attach in order
// with `filters "id" …`. This module reads the id and the `type`, then hands the node to the
// reader of that type (one module per type, `filter-<type>.ts`); a new type adds a row to
// FILTER_TYPES.
import type { FilterConfig } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { suggestionHint } from '../diagnostics.ts';
import { error, nodePath, q, readId, readString } from './reader.ts';
import type { Ctx } from './reader.ts';
import { readRateLimitFilter } from './filter-rate-limit.ts';
import { readAgentFilter } from './filter-agent.ts';

/**
 * Reads the keys of one filter type (every child except `type`, which is already read).
 * `path` is the filter's node path, `label` its human label (`filter "rl"`).
 */
export type FilterTypeReader = (ctx: Ctx, node: LNode, path: string, label: string, id: string) => FilterConfig | undefined;

const FILTER_TYPES: Readonly<Record<string, FilterTypeReader>> = {
  'rate-limit': readRateLimitFilter,
  agent: readAgentFilter,
};

/** Zentinel filter types Sentinel recognises but does not implement: each is a loud error. */
const FILTER_TYPES_NOT_IMPLEMENTED = ['headers', 'compress', 'cors', 'timeout', 'log', 'geo', 'redirect', 'url-rewrite'];

export interface FilterAcc {
  readonly config: FilterConfig;
  readonly node: LNode;
}

export function readFilter(ctx: Ctx, node: LNode, parentPath: string): FilterAcc | undefined {
  const id = readId(ctx, node, `${parentPath}/filter`, 'filter');
  const path = nodePath(parentPath, node, id);
  const label = `filter ${id !== undefined ? q(id) : ''}`.trim();
  const typeNodes = node.children.filter((c) => c.name === 'type');
  const typeNode = typeNodes[0];
  if (typeNode === undefined) {
    error(ctx, node, node.pos, 'missing-key', `${label} has no "type"`, path, `e.g. type "rate-limit"; types: ${Object.keys(FILTER_TYPES).map(q).join(', ')}`);
    return undefined;
  }
  const dup = typeNodes[1];
  if (dup !== undefined) {
    error(ctx, dup, dup.pos, 'duplicate-key', `"type" is set twice in ${label}`, `${path}/type`, 'remove one of them');
    return undefined;
  }
  const type = readString(ctx, typeNode, `${path}/type`);
  if (type === undefined) return undefined;
  const reader = Object.hasOwn(FILTER_TYPES, type) ? FILTER_TYPES[type] : undefined;
  if (reader === undefined) {
    const pos = typeNode.args[0]?.pos ?? typeNode.pos;
    if (FILTER_TYPES_NOT_IMPLEMENTED.includes(type)) {
      error(ctx, typeNode, pos, 'not-implemented', `filter type ${q(type)} is not implemented yet`, `${path}/type`, `supported: ${Object.keys(FILTER_TYPES).map(q).join(', ')}`);
    } else {
      error(ctx, typeNode, pos, 'invalid-value', `unknown filter type ${q(type)}`, `${path}/type`, suggestionHint(type, [...Object.keys(FILTER_TYPES), ...FILTER_TYPES_NOT_IMPLEMENTED], 'valid types'));
    }
    return undefined;
  }
  if (id === undefined) return undefined;
  const config = reader(ctx, node, path, label, id);
  return config === undefined ? undefined : { config, node };
}
