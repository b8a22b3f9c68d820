// Property: for any PromQL expression built from selectors, functions, aggregations, binary
// operators and literals, metricNames() returns exactly the selectors' metric names, whatever the
// label names and values (which may contain braces, brackets, quotes and identifiers) look like.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { metricNames, substituteVariables } from './promql.ts';

interface Expr { readonly text: string; readonly names: readonly string[] }

const metricName = fc.constantFrom(
  'sentinel_requests_total', 'sentinel_request_duration_seconds_bucket', 'up', 'by_metric', 'sum_total',
  'sentinel:request_errors:ratio_rate5m', 'rate', 'x',
);
const labelName = fc.constantFrom('route', 'status', 'le', 'sum', 'rate', 'by', 'sentinel_requests_total', 'job');
const escape = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
const labelValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('5..', '$route', '}', '{', '[5m]', 'foo_bar(', 'a"b', 'c\\', 'other_metric{x="1"}'),
);
const matcher = fc.tuple(labelName, fc.constantFrom('=', '!=', '=~', '!~'), labelValue).map(([n, op, v]) => `${n}${op}"${escape(v)}"`);
const range = fc.constantFrom('', '[5m]', '[$__rate_interval]', '[1h:1m]');
const offset = fc.constantFrom('', ' offset 5m', ' @ start()');

const leaf: fc.Arbitrary<Expr> = fc.tuple(metricName, fc.array(matcher, { maxLength: 3 }), range, offset).map(([name, ms, r, o]) => ({
  text: `${name}${ms.length > 0 ? `{${ms.join(', ')}}` : ''}${r}${o}`,
  names: [name],
}));
const literal: fc.Arbitrary<Expr> = fc.constantFrom('0.99', '1e3', '14.4 * 0.001', 'vector(0)', 'Inf', 'scalar(vector(1))').map((text) => ({ text, names: [] }));

const { expr } = fc.letrec<{ expr: Expr; node: Expr }>((tie) => ({
  expr: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, literal, tie('node')),
  node: fc.oneof(
    fc.tuple(fc.constantFrom('rate', 'abs', 'increase', 'sum', 'count'), tie('expr')).map(([f, e]) => ({ text: `${f}(${e.text})`, names: e.names })),
    fc.tuple(fc.constantFrom('sum', 'max', 'count', 'topk'), fc.constantFrom('by', 'without'), fc.array(labelName, { minLength: 1, maxLength: 3 }), tie('expr')).map(([agg, kw, ls, e]) => ({
      text: `${agg} ${kw} (${ls.join(', ')}) (${agg === 'topk' ? '5, ' : ''}${e.text})`, names: e.names,
    })),
    fc.tuple(tie('expr'), fc.constantFrom('+', '/', ' and ', ' or ', ' unless ', ' > bool ', ' / on (job) group_left (version) ', ' * ignoring(le) '), tie('expr')).map(([a, op, b]) => ({
      text: `(${a.text})${op}(${b.text})`, names: [...a.names, ...b.names],
    })),
    fc.tuple(fc.constantFrom('0.5', '0.99'), tie('expr')).map(([q, e]) => ({ text: `histogram_quantile(${q}, ${e.text})`, names: e.names })),
    tie('expr').map((e) => ({ text: `label_replace(${e.text}, "dst", "\${1}xx", "src", "(x_y)..")`, names: e.names })),
  ),
}));

describe('metricNames (property)', () => {
  it('returns exactly the metric names of the selectors', () => {
    fc.assert(fc.property(expr, (e) => {
      expect(metricNames(substituteVariables(e.text)).sort()).toEqual([...e.names].sort());
    }), { numRuns: 500 });
  });
});
