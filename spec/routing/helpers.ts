// Builders shared by the routing specs and the routing micro-benchmark.

import { DEFAULT_POLICIES } from '../../src/config/schema/route-policies.ts';
import type { MatchCondition, RouteConfig } from '../../src/config/types.ts';
import type { MatchInput } from '../../src/routing/types.ts';

export const PRIORITY = { low: 10, normal: 50, high: 100, critical: 1000 } as const;

export function route(id: string, matches: readonly MatchCondition[], priority: number = PRIORITY.normal): RouteConfig {
  return {
    id,
    priority,
    matches,
    action: { kind: 'upstream', upstream: `up-${id}` },
    filters: [], policies: DEFAULT_POLICIES,
    loc: { file: 'test.kdl', line: 1, column: 1 },
  };
}

export function req(fields: Partial<MatchInput> = {}): MatchInput {
  return { method: 'GET', host: 'example.com', path: '/', query: null, headers: {}, ...fields };
}
