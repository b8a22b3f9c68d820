// Filter configs → request filters, one instance per filter id and snapshot, shared by the routes
// that list it. Each filter type has its builder in its own module (src/ratelimit, src/agents).
import type { FilterConfig } from '../config/types.ts';
import type { RequestFilter } from '../pipeline/filters.ts';
import type { CompileContext } from './context.ts';
import { compileRateLimitFilter } from './rate-limit.ts';

type FilterBuilders = {
  readonly [K in FilterConfig['type']]: (f: Extract<FilterConfig, { type: K }>, cc: CompileContext) => RequestFilter;
};

/** Reached only for types the config loader accepts; a type it still rejects never gets here. */
function unsupported(f: FilterConfig): never {
  throw new Error(`filter "${f.id}": type "${f.type}" has no runtime (the config loader should have rejected it)`);
}

const BUILDERS: FilterBuilders = {
  'rate-limit': compileRateLimitFilter,
  agent: (f) => unsupported(f),
};

export function compileFilters(cc: CompileContext): Map<string, RequestFilter> {
  const out = new Map<string, RequestFilter>();
  for (const f of cc.config.filters) {
    const build = BUILDERS[f.type] as (f: FilterConfig, cc: CompileContext) => RequestFilter;
    out.set(f.id, build(f, cc));
  }
  return out;
}
