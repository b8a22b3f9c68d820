// Static checks for dashboards and Prometheus rules: pull every PromQL expression out of the Grafana
// JSON and the rules YAML, pull the metric names out of each expression, and compare them with the
// metric catalogue. Used by spec/dashboards/*.test.ts and scripts/render-dashboard-png.ts.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CATALOGUE_LIST, PROCESS_METRICS } from '../../src/observability/catalogue.ts';
import type { MetricSpec } from '../../src/observability/catalogue.ts';

export const DASHBOARDS_DIR = fileURLToPath(new URL('../../dashboards/', import.meta.url));
export const RULES_FILE = fileURLToPath(new URL('../../dashboards/rules/sentinel.rules.yml', import.meta.url));
export const RULES_TEST_FILE = fileURLToPath(new URL('../../dashboards/rules/sentinel.rules.test.yml', import.meta.url));
export const RUNBOOKS_DIR = fileURLToPath(new URL('../../docs/runbooks/', import.meta.url));

/** PromQL words that look like identifiers but are not metric names. */
const KEYWORDS: ReadonlySet<string> = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool',
  'atan2', 'inf', 'nan',
]);

/**
 * Metric names an expression selects: identifiers followed by `{`, `[` or used bare, plus
 * `{__name__="…"}` matchers. Function and aggregation names, keywords, label names (inside `{…}`,
 * `by (…)`, `on (…)`, …), string contents and durations are not metric names.
 */
export function metricNames(expr: string): string[] {
  const names: string[] = [];
  // Strings first, so braces, brackets and identifiers inside them do not count.
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (str) => `"${str.length}"`);
  s = s.replace(/#[^\n]*/g, ' ');
  // Label matchers: keep only __name__ equality matchers.
  const original = expr.replace(/#[^\n]*/g, ' ');
  s = s.replace(/\{[^}]*\}/g, '{}');
  for (const m of original.matchAll(/__name__\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
    const op = m[1] as string;
    const value = m[2] as string;
    if (op === '=') names.push(value);
    else names.push(`__name__${op}"${value}"`); // regex or negative name matchers cannot be checked: report as-is
  }
  s = s.replace(/\[[^\]]*\]/g, '[]');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1 ');
  for (const m of s.matchAll(/(?<![\w:.$])[a-zA-Z_:][\w:]*/g)) {
    const name = m[0];
    const after = s.slice((m.index ?? 0) + name.length);
    if (/^\s*(\(|by\b|without\b)/.test(after)) continue; // function call or aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue;
    names.push(name);
  }
  return names;
}

/** Every series name a catalogue metric puts in Prometheus (histograms: _bucket, _sum, _count only). */
export function seriesNames(spec: MetricSpec): string[] {
  return spec.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => spec.name + s) : [spec.name];
}

export interface KnownMetrics {
  readonly names: ReadonlySet<string>;
}

/**
 * Names a dashboard or rule may use: the catalogue, `up`, the documented prom-client process
 * metrics (exact names: a typo in one is caught), and recorded names.
 */
export function knownMetrics(catalogue: readonly MetricSpec[] = CATALOGUE_LIST, recorded: readonly string[] = []): KnownMetrics {
  return { names: new Set(['up', ...catalogue.flatMap(seriesNames), ...PROCESS_METRICS.flatMap(seriesNames), ...recorded]) };
}

export function unknownMetrics(expr: string, known: KnownMetrics): string[] {
  return metricNames(expr).filter((n) => !known.names.has(n));
}

// --- Grafana dashboards ----------------------------------------------------------------------

export interface GrafanaTarget { readonly expr?: string; readonly refId?: string; readonly legendFormat?: string }
export interface GrafanaPanel { readonly id?: number; readonly title?: string; readonly type?: string; readonly targets?: readonly GrafanaTarget[]; readonly panels?: readonly GrafanaPanel[] }
export interface GrafanaVariable { readonly name: string; readonly type: string; readonly query?: string | { readonly query?: string } }
export interface GrafanaDashboard {
  readonly title: string;
  readonly uid: string;
  readonly panels: readonly GrafanaPanel[];
  readonly templating?: { readonly list: readonly GrafanaVariable[] };
}

export interface PanelQuery { readonly dashboard: string; readonly panel: string; readonly refId: string; readonly legend: string; readonly expr: string }

export function loadDashboards(dir: string = DASHBOARDS_DIR): Map<string, GrafanaDashboard> {
  const out = new Map<string, GrafanaDashboard>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    out.set(f, JSON.parse(readFileSync(dir + f, 'utf8')) as GrafanaDashboard);
  }
  return out;
}

/** Every target expression of every panel, rows' nested panels included. */
export function panelQueries(file: string, d: GrafanaDashboard): PanelQuery[] {
  const out: PanelQuery[] = [];
  const walk = (panels: readonly GrafanaPanel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        out.push({ dashboard: file, panel: p.title ?? `#${p.id}`, refId: t.refId ?? '?', legend: t.legendFormat ?? '', expr: t.expr ?? '' });
      }
      if (p.panels !== undefined) walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

/** The metric selector inside each query variable (`label_values(metric, label)` → `metric`). */
export function variableQueries(d: GrafanaDashboard): { name: string; expr: string }[] {
  const out: { name: string; expr: string }[] = [];
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const lv = /^\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*$/.exec(q);
    const qr = /^\s*query_result\((.*)\)\s*$/.exec(q);
    out.push({ name: v.name, expr: lv?.[1] ?? qr?.[1] ?? q });
  }
  return out;
}

/** Grafana's interpolation of the variables our dashboards use, for running a panel query directly. */
export function substituteVariables(expr: string, values: { rateInterval?: string; range?: string; all?: string } = {}): string {
  const rateInterval = values.rateInterval ?? '1m';
  const range = values.range ?? '1h';
  return expr
    .replace(/\$__rate_interval\b|\$\{__rate_interval\}/g, rateInterval)
    .replace(/\$__interval\b|\$\{__interval\}/g, rateInterval)
    .replace(/\$__range\b|\$\{__range\}/g, range)
    .replace(/\$(?!__)([a-zA-Z_]\w*)|\$\{(?!__)([a-zA-Z_]\w*)\}/g, values.all ?? '.*');
}

// --- Prometheus rules --------------------------------------------------------------------------

export interface RuleExpr { readonly kind: 'record' | 'alert'; readonly name: string; readonly expr: string; readonly annotations: Record<string, string> }

/**
 * Extracts the rules of a Prometheus rules file written in the layout of dashboards/rules
 * (`- record:`/`- alert:` items with `expr:` inline or as a `|` block). The test cross-checks the
 * count with promtool's, so a rule this reader misses fails the suite.
 */
export function parseRules(yaml: string): RuleExpr[] {
  const lines = yaml.split('\n');
  const rules: { kind: 'record' | 'alert'; name: string; expr: string; annotations: Record<string, string> }[] = [];
  let current: (typeof rules)[number] | undefined;
  let inAnnotations = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const item = /^(\s*)- (record|alert):\s*(\S+)\s*$/.exec(line);
    if (item !== null) {
      current = { kind: item[2] as 'record' | 'alert', name: item[3] as string, expr: '', annotations: {} };
      rules.push(current);
      inAnnotations = -1;
      continue;
    }
    if (current === undefined) continue;
    const indent = /^\s*/.exec(line)?.[0].length ?? 0;
    const expr = /^\s*expr:\s*(.*)$/.exec(line);
    if (expr !== null) {
      const rest = (expr[1] as string).trim();
      if (rest === '|' || rest === '>' || rest === '|-' || rest === '>-') {
        const body: string[] = [];
        while (i + 1 < lines.length && ((lines[i + 1] as string).trim() === '' || (/^\s*/.exec(lines[i + 1] as string)?.[0].length ?? 0) > indent)) {
          body.push((lines[++i] as string).trim());
        }
        current.expr = body.join(rest.startsWith('>') ? ' ' : '\n').trim();
      } else {
        current.expr = rest.replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1');
      }
      inAnnotations = -1;
      continue;
    }
    if (/^\s*annotations:\s*$/.test(line)) { inAnnotations = indent; continue; }
    if (inAnnotations >= 0) {
      const kv = /^\s*([\w]+):\s*"?(.*?)"?\s*$/.exec(line);
      if (indent > inAnnotations && kv !== null) current.annotations[kv[1] as string] = kv[2] as string;
      else if (line.trim() !== '') inAnnotations = -1;
    }
  }
  return rules;
}

export function loadRules(file: string = RULES_FILE): RuleExpr[] {
  return parseRules(readFileSync(file, 'utf8'));
}

/** Catalogue names plus the names the rules file records (dashboards may use recorded series). */
export function knownMetricsWithRules(rules: readonly RuleExpr[] = loadRules()): KnownMetrics {
  return knownMetrics(CATALOGUE_LIST, rules.filter((r) => r.kind === 'record').map((r) => r.name));
}
