// Filter configs → request filters, one instance per filter id and snapshot, shared by the routes
// that list it. Each filter type has its builder in its own module (src/ratelimit, src/agents).
import type { FilterConfig } from '../config/types.ts';
import type { RequestFilter } from '../pipeline/filters.ts';
import type { CompileContext } from './context.ts';
import { compileRateLimitFilter } from './rate-limit.ts';
import { buildAgentFilter, groupAgentFilters } from '../agents/filter.ts';

type FilterBuilders = {
  readonly [K in FilterConfig['type']]: (f: Extract<FilterConfig, { type: K }>, cc: CompileContext) => RequestFilter;
};

const BUILDERS: FilterBuilders = {
  'rate-limit': compileRateLimitFilter,
  agent: buildAgentFilter,
};

export function compileFilters(cc: CompileContext): Map<string, RequestFilter> {
  const out = new Map<string, RequestFilter>();
  for (const f of cc.config.filters) {
    const build = BUILDERS[f.type] as (f: FilterConfig, cc: CompileContext) => RequestFilter;
    out.set(f.id, build(f, cc));
  }
  return out;
}

/**
 * A route's filters in run order, with filter types that run together composed: consecutive agent
 * filters become one step whose request-header calls go out in parallel (src/agents/filter.ts).
 */
export function composeRouteFilters(filters: readonly RequestFilter[]): readonly RequestFilter[] {
  return filters.length === 0 ? filters : groupAgentFilters(filters);
}
