// A small builder for Grafana dashboards (JSON model, schemaVersion 39). The committed
// dashboards/*.json are its output (`node scripts/render-dashboards.ts`; a test checks they are
// current), so a dashboard is a short list of rows and panels and adding a panel is one call:
//
//   row('Breakers', [
//     timeseries({ title: 'Open breakers', description: '…', unit: 'short', width: 12,
//       targets: [target('sum by (upstream) (sentinel_…)', '{{upstream}}')] }),
//   ])
//
// Layout is automatic: rows span the width, panels fill each row left to right and wrap at 24
// columns; ids are assigned in order.

export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;
const GRID_WIDTH = 24;
const PANEL_HEIGHT = 8;

export interface Target {
  readonly expr: string;
  readonly legendFormat: string;
}

export function target(expr: string, legendFormat: string): Target {
  return { expr, legendFormat };
}

/** The SLO windows of the recording rules (dashboards/rules/sentinel.rules.yml). */
export const SLO_WINDOWS = ['5m', '30m', '1h', '6h'] as const;

/** One target per window, legend = the window: `perWindow((w) => `sentinel:…:ratio_rate${w}`)`. */
export function perWindow(expr: (window: string) => string, windows: readonly string[] = SLO_WINDOWS): Target[] {
  return windows.map((w) => target(expr(w), w));
}

/** Threshold steps: the first has no value (the base colour). */
export type Steps = readonly [string, ...Array<readonly [string, number]>];

/** A value shown as text in a colour (breaker 0/1/2 → closed/half-open/open). */
export interface ValueText {
  readonly value: number;
  readonly text: string;
  readonly color: string;
}

/** Breaker gauges (0 closed, 1 half-open, 2 open), as upstream and agent breakers report them. */
export const BREAKER_STATES: readonly ValueText[] = [
  { value: 0, text: 'closed', color: 'green' },
  { value: 1, text: 'half-open', color: 'orange' },
  { value: 2, text: 'open', color: 'red' },
];

/** 0/1 gauges read as a verdict. */
export const UP_DOWN: readonly ValueText[] = [
  { value: 0, text: 'no', color: 'red' },
  { value: 1, text: 'yes', color: 'green' },
];

interface PanelBase {
  readonly title: string;
  readonly description: string;
  readonly targets: readonly Target[];
  /** Grafana unit id: `reqps`, `s`, `bytes`, `percentunit`, `short`, … */
  readonly unit: string;
  /** Columns out of 24. */
  readonly width: number;
  readonly height?: number;
}

export interface TimeseriesSpec extends PanelBase {
  /** Threshold lines drawn on the graph. */
  readonly thresholds?: Steps;
}

export interface StatSpec extends PanelBase {
  /** Colours the value. */
  readonly thresholds?: Steps;
}

export type TableSpec = PanelBase;

/** One row per series, coloured by its value over time (breaker states, up/down gauges). */
export interface StateTimelineSpec extends PanelBase {
  readonly values: readonly ValueText[];
}

export interface Panel {
  readonly kind: 'timeseries' | 'stat' | 'table' | 'state-timeline';
  readonly spec: TimeseriesSpec | StatSpec | TableSpec | StateTimelineSpec;
}

export interface Row {
  readonly title: string;
  readonly panels: readonly Panel[];
}

export function timeseries(spec: TimeseriesSpec): Panel { return { kind: 'timeseries', spec }; }
export function stat(spec: StatSpec): Panel { return { kind: 'stat', spec }; }
export function table(spec: TableSpec): Panel { return { kind: 'table', spec }; }
export function stateTimeline(spec: StateTimelineSpec): Panel { return { kind: 'state-timeline', spec }; }
export function row(title: string, panels: readonly Panel[]): Row { return { title, panels }; }

/** A multi-value query variable filled from one label of one metric (`label_values(metric, label)`). */
export interface VariableSpec {
  readonly name: string;
  readonly label: string;
  readonly metric: string;
  readonly labelName: string;
}

export function labelValues(name: string, label: string, metric: string, labelName: string = name): VariableSpec {
  return { name, label, metric, labelName };
}

/** `$route`: the variable every dashboard had before others existed (the default list). */
export const ROUTE_VARIABLE = labelValues('route', 'Route', 'sentinel_requests_total');

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  /** Query variables after `datasource`; default `[ROUTE_VARIABLE]`. Each is multi-value with "All" = `.*`. */
  readonly variables?: readonly VariableSpec[];
  readonly rows: readonly Row[];
}

function thresholdsJson(steps: Steps): unknown {
  const [base, ...rest] = steps;
  return { mode: 'absolute', steps: [{ color: base, value: null }, ...rest.map(([color, value]) => ({ color, value }))] };
}

function targetsJson(targets: readonly Target[], instant: boolean): unknown[] {
  return targets.map((t, i) => ({
    refId: String.fromCharCode(65 + i),
    datasource: DATASOURCE,
    expr: t.expr,
    legendFormat: t.legendFormat,
    range: true,
    instant,
  }));
}

function panelJson(p: Panel, id: number, gridPos: { h: number; w: number; x: number; y: number }): unknown {
  const s = p.spec;
  const head = { id, type: p.kind, title: s.title, description: s.description, datasource: DATASOURCE, gridPos };
  if (p.kind === 'timeseries') {
    const th = (s as TimeseriesSpec).thresholds;
    const custom = { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never', ...(th !== undefined ? { thresholdsStyle: { mode: 'line' } } : {}) };
    return {
      ...head,
      targets: targetsJson(s.targets, false),
      fieldConfig: { defaults: { unit: s.unit, custom, ...(th !== undefined ? { thresholds: thresholdsJson(th) } : {}) }, overrides: [] },
      options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
    };
  }
  if (p.kind === 'stat') {
    const th = (s as StatSpec).thresholds;
    return {
      ...head,
      targets: targetsJson(s.targets, true),
      fieldConfig: { defaults: { unit: s.unit, ...(th !== undefined ? { thresholds: thresholdsJson(th) } : {}) }, overrides: [] },
      options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto' },
    };
  }
  if (p.kind === 'state-timeline') {
    const values = (s as StateTimelineSpec).values;
    const options: Record<string, { text: string; color: string; index: number }> = {};
    values.forEach((v, index) => { options[String(v.value)] = { text: v.text, color: v.color, index }; });
    return {
      ...head,
      targets: targetsJson(s.targets, false),
      fieldConfig: {
        defaults: {
          unit: s.unit,
          color: { mode: 'thresholds' },
          mappings: [{ type: 'value', options }],
          thresholds: { mode: 'absolute', steps: values.map((v, i) => ({ color: v.color, value: i === 0 ? null : v.value })) },
          custom: { fillOpacity: 80, lineWidth: 0 },
        },
        overrides: [],
      },
      options: { showValue: 'never', mergeValues: true, rowHeight: 0.8, legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'single' } },
    };
  }
  return {
    ...head,
    targets: targetsJson(s.targets, true),
    fieldConfig: { defaults: { unit: s.unit }, overrides: [] },
    options: {},
    transformations: [{ id: 'labelsToFields', options: {} }],
  };
}

/** The `datasource` variable every Sentinel dashboard has, then its multi-value query variables. */
function templating(variables: readonly VariableSpec[]): unknown {
  return {
    list: [
      { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', options: [] },
      ...variables.map((v) => {
        const query = `label_values(${v.metric}, ${v.labelName})`;
        return {
          name: v.name, label: v.label, type: 'query', datasource: DATASOURCE,
          definition: query,
          query: { query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
          includeAll: true, multi: true, allValue: '.*', current: { selected: true, text: ['All'], value: ['$__all'] },
          refresh: 2, sort: 1, hide: 0, regex: '', options: [],
        };
      }),
    ],
  };
}

/** The Grafana JSON model of a dashboard, laid out. */
export function buildDashboard(d: DashboardSpec): Record<string, unknown> {
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const r of d.rows) {
    panels.push({ id: id++, type: 'row', title: r.title, collapsed: false, panels: [], gridPos: { h: 1, w: GRID_WIDTH, x: 0, y } });
    y += 1;
    let x = 0;
    let lineHeight = 0;
    for (const p of r.panels) {
      const w = p.spec.width;
      const h = p.spec.height ?? PANEL_HEIGHT;
      if (w < 1 || w > GRID_WIDTH) throw new Error(`panel "${p.spec.title}": width ${w} is not 1–${GRID_WIDTH}`);
      if (x + w > GRID_WIDTH) { y += lineHeight; x = 0; lineHeight = 0; }
      panels.push(panelJson(p, id++, { h, w, x, y }));
      x += w;
      lineHeight = Math.max(lineHeight, h);
    }
    y += lineHeight;
  }
  // Keys in the order Grafana exports them (alphabetical), so a re-export diffs cleanly.
  return {
    __inputs: [],
    annotations: { list: [] },
    description: d.description,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [],
    panels,
    refresh: '30s',
    schemaVersion: 39,
    tags: [...d.tags],
    templating: templating(d.variables ?? [ROUTE_VARIABLE]),
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: '',
    title: d.title,
    uid: d.uid,
    version: 1,
    weekStart: '',
  };
}

export function renderDashboard(d: DashboardSpec): string {
  return `${JSON.stringify(buildDashboard(d), null, 2)}\n`;
}
