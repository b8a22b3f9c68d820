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

export interface Panel {
  readonly kind: 'timeseries' | 'stat' | 'table';
  readonly spec: TimeseriesSpec | StatSpec | TableSpec;
}

export interface Row {
  readonly title: string;
  readonly panels: readonly Panel[];
}

export function timeseries(spec: TimeseriesSpec): Panel { return { kind: 'timeseries', spec }; }
export function stat(spec: StatSpec): Panel { return { kind: 'stat', spec }; }
export function table(spec: TableSpec): Panel { return { kind: 'table', spec }; }
export function row(title: string, panels: readonly Panel[]): Row { return { title, panels }; }

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
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
  return {
    ...head,
    targets: targetsJson(s.targets, true),
    fieldConfig: { defaults: { unit: s.unit }, overrides: [] },
    options: {},
    transformations: [{ id: 'labelsToFields', options: {} }],
  };
}

/** The `datasource` and multi-value `route` variables every Sentinel dashboard has. */
const TEMPLATING = {
  list: [
    { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', options: [] },
    {
      name: 'route', label: 'Route', type: 'query', datasource: DATASOURCE,
      definition: 'label_values(sentinel_requests_total, route)',
      query: { query: 'label_values(sentinel_requests_total, route)', refId: 'PrometheusVariableQueryEditor-VariableQuery' },
      includeAll: true, multi: true, allValue: '.*', current: { selected: true, text: ['All'], value: ['$__all'] },
      refresh: 2, sort: 1, hide: 0, regex: '', options: [],
    },
  ],
};

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
    templating: TEMPLATING,
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
