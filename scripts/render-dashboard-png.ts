// Renders Grafana dashboards' panels from real Prometheus data into SVGs (docs/images/<dashboard>.svg),
// so a reader sees what the dashboards show without running Grafana. (Named -png for the issue; the
// output is SVG, which needs no image library and which GitHub shows inline.)
//
//   node scripts/render-dashboard-png.ts                  # the demo stack of the live dashboard check
//                                                         # (spec/dashboards/scenario.ts) + Prometheus,
//                                                         # load with faults for 90 s, every dashboard
//   node scripts/render-dashboard-png.ts --seconds 180    # longer demo run
//   node scripts/render-dashboard-png.ts --prometheus http://127.0.0.1:9090 --minutes 30   # from an existing Prometheus
//   options: --dashboard dashboards/overview.json (one only)  --out-dir docs/images
import { writeFileSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DASHBOARDS_DIR, loadDashboards, panelQueries, substituteVariables, RULES_FILE } from '../spec/dashboards/promql.ts';
import type { GrafanaDashboard } from '../spec/dashboards/promql.ts';

export interface Series { readonly label: string; readonly points: readonly (readonly [number, number])[] }
export interface GridPos { readonly x: number; readonly y: number; readonly w: number; readonly h: number }
export interface RenderPanel {
  readonly title: string;
  readonly kind: string;
  readonly unit: string;
  readonly gridPos: GridPos;
  readonly series: readonly Series[];
  /** Grafana threshold steps (value null = base); a stat is coloured by the step it reaches. */
  readonly thresholds?: readonly { readonly color: string; readonly value: number | null }[];
  /** Value mappings (state-timeline): value → text and colour. */
  readonly mappings?: Readonly<Record<string, { readonly text: string; readonly color: string }>>;
}

interface DashPanel {
  title?: string; type?: string; gridPos?: GridPos;
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { steps?: { color: string; value: number | null }[] }; mappings?: { type: string; options?: Record<string, { text: string; color: string }> }[] } };
  targets?: { expr?: string; legendFormat?: string }[];
  panels?: DashPanel[];
}

const COL_PX = 60;
const ROW_PX = 34;
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac', '#eeca3b'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Formats a value in a Grafana unit (the subset the dashboards use). */
export function formatValue(v: number, unit: string): string {
  if (!Number.isFinite(v)) return String(v);
  const num = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? Number(x.toFixed(1)).toString() : Number(x.toPrecision(3)).toString());
  switch (unit) {
    case 'percentunit': return `${num(v * 100)}%`;
    case 's': return Math.abs(v) < 1 && v !== 0 ? (Math.abs(v) < 0.001 ? `${num(v * 1e6)} µs` : `${num(v * 1000)} ms`) : `${num(v)} s`;
    case 'bytes': {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let i = 0;
      let x = v;
      while (Math.abs(x) >= 1024 && i < units.length - 1) { x /= 1024; i++; }
      return `${num(x)} ${units[i] as string}`;
    }
    case 'reqps': return `${num(v)} req/s`;
    case 'ops': return `${num(v)} ops/s`;
    case 'cps': return `${num(v)} /s`;
    default: return Math.abs(v) >= 1e6 ? `${num(v / 1e6)}M` : Math.abs(v) >= 1e3 ? `${num(v / 1e3)}k` : num(v);
  }
}

/** Grafana legend: `{{label}}` replaced by the series' label values. */
export function legend(format: string, labels: Record<string, string>): string {
  if (format === '') return JSON.stringify(labels);
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, k: string) => labels[k] ?? '');
}

/** The text cut to about `widthPx` at the legend's 11 px font (an ellipsis marks the cut). */
export function fit(text: string, widthPx: number): string {
  const max = Math.max(4, Math.floor(widthPx / 6.2));
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function renderTimeseries(p: RenderPanel, x0: number, y0: number, w: number, h: number): string {
  const out: string[] = [];
  const plot = { x: x0 + 58, y: y0 + 28, w: w - 70, h: h - 28 - 22 - 14 * Math.min(3, Math.ceil(p.series.length / 3)) };
  const all = p.series.flatMap((s) => s.points);
  if (all.length === 0) {
    out.push(`<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" class="muted">No data</text>`);
    return out.join('');
  }
  const tMin = Math.min(...all.map((q) => q[0]));
  const tMax = Math.max(...all.map((q) => q[0]));
  const vals = all.map((q) => q[1]).filter(Number.isFinite);
  const vMin = Math.min(0, ...vals);
  const top = Math.max(...vals, 0);
  const vMax = p.unit === 'percentunit' && top <= 1 ? 1 : niceMax(top * 1.05);
  const sx = (t: number) => plot.x + (tMax === tMin ? 0 : ((t - tMin) / (tMax - tMin)) * plot.w);
  const sy = (v: number) => plot.y + plot.h - ((v - vMin) / (vMax - vMin || 1)) * plot.h;
  for (let i = 0; i <= 4; i++) {
    const v = vMin + ((vMax - vMin) * i) / 4;
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}" class="grid"/>`);
    out.push(`<text x="${plot.x - 4}" y="${Number(y) + 3}" text-anchor="end" class="axis">${escapeXml(formatValue(v, p.unit))}</text>`);
  }
  const fmtTime = (t: number) => new Date(t * 1000).toISOString().slice(11, 19);
  out.push(`<text x="${plot.x}" y="${plot.y + plot.h + 12}" class="axis">${fmtTime(tMin)}</text>`);
  out.push(`<text x="${plot.x + plot.w}" y="${plot.y + plot.h + 12}" text-anchor="end" class="axis">${fmtTime(tMax)} UTC</text>`);
  p.series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length] as string;
    // Break the line where values are missing or not finite.
    const segments: string[][] = [[]];
    for (const [t, v] of s.points) {
      if (Number.isFinite(v)) (segments[segments.length - 1] as string[]).push(`${sx(t).toFixed(1)},${sy(v).toFixed(1)}`);
      else segments.push([]);
    }
    for (const seg of segments) if (seg.length > 0) out.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${seg.join(' ')}"/>`);
  });
  const legendY = plot.y + plot.h + 26;
  const columnW = (w - 20) / 3;
  p.series.slice(0, 9).forEach((s, i) => {
    const lx = x0 + 12 + (i % 3) * columnW;
    const ly = legendY + Math.floor(i / 3) * 14;
    out.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="3" fill="${PALETTE[i % PALETTE.length] as string}"/>`);
    out.push(`<text x="${lx + 14}" y="${ly - 4}" class="legend">${escapeXml(fit(s.label, columnW - 20))}</text>`);
  });
  return out.join('');
}

const GRAFANA_COLOURS: Record<string, string> = { green: '#73bf69', orange: '#ff9830', red: '#f2495c', yellow: '#fade2a', blue: '#5794f2' };

export function statColour(v: number, steps: RenderPanel['thresholds']): string {
  let colour = 'green';
  for (const s of steps ?? []) if (s.value === null || v >= s.value) colour = s.color;
  return GRAFANA_COLOURS[colour] ?? colour;
}

function renderStat(p: RenderPanel, x0: number, y0: number, w: number, h: number): string {
  const values = p.series.map((s) => ({ label: s.label, v: s.points.length > 0 ? (s.points[s.points.length - 1] as readonly [number, number])[1] : NaN }));
  if (values.length === 0) return `<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" class="muted">No data</text>`;
  return values.map((x, i) => {
    const cx = x0 + ((i + 0.5) * w) / values.length;
    const colour = statColour(x.v, p.thresholds);
    return `<text x="${cx}" y="${y0 + h / 2 + 8}" text-anchor="middle" class="stat" fill="${colour}">${escapeXml(formatValue(x.v, p.unit))}</text>`
      + (values.length > 1 ? `<text x="${cx}" y="${y0 + h / 2 + 28}" text-anchor="middle" class="legend">${escapeXml(x.label)}</text>` : '');
  }).join('');
}

/** One band per series, each step in the colour its value maps to (Grafana's state timeline). */
function renderStateTimeline(p: RenderPanel, x0: number, y0: number, w: number, h: number): string {
  const all = p.series.flatMap((s) => s.points);
  if (all.length === 0) return `<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" class="muted">No data</text>`;
  const out: string[] = [];
  const labelW = Math.min(180, w * 0.35);
  const plot = { x: x0 + labelW, y: y0 + 28, w: w - labelW - 10, h: h - 28 - 26 };
  const tMin = Math.min(...all.map((q) => q[0]));
  const tMax = Math.max(...all.map((q) => q[0]));
  const sx = (t: number) => plot.x + (tMax === tMin ? 0 : ((t - tMin) / (tMax - tMin)) * plot.w);
  const shown = p.series.slice(0, Math.max(1, Math.floor(plot.h / 14)));
  const band = plot.h / shown.length;
  shown.forEach((s, i) => {
    const y = plot.y + i * band;
    out.push(`<text x="${x0 + 10}" y="${(y + band / 2 + 4).toFixed(1)}" class="legend">${escapeXml(s.label.slice(0, 28))}</text>`);
    s.points.forEach(([t, v], j) => {
      if (!Number.isFinite(v)) return;
      const next = s.points[j + 1];
      const x1 = sx(t);
      const x2 = next !== undefined ? sx(next[0]) : plot.x + plot.w;
      const colour = p.mappings?.[String(v)]?.color ?? statColour(v, p.thresholds);
      out.push(`<rect x="${x1.toFixed(1)}" y="${(y + 1).toFixed(1)}" width="${Math.max(0.5, x2 - x1).toFixed(1)}" height="${Math.max(1, band - 2).toFixed(1)}" fill="${GRAFANA_COLOURS[colour] ?? colour}"/>`);
    });
  });
  const legend = Object.values(p.mappings ?? {});
  legend.forEach((m, i) => {
    const lx = plot.x + i * 110;
    out.push(`<rect x="${lx}" y="${plot.y + plot.h + 10}" width="10" height="8" fill="${GRAFANA_COLOURS[m.color] ?? m.color}"/>`);
    out.push(`<text x="${lx + 14}" y="${plot.y + plot.h + 18}" class="legend">${escapeXml(m.text)}</text>`);
  });
  return out.join('');
}

/** A table: one line per series, its label and its last value. */
function renderTable(p: RenderPanel, x0: number, y0: number, w: number, h: number): string {
  const lines = Math.max(1, Math.floor((h - 40) / 16));
  return p.series.slice(0, lines).map((s, i) => {
    const y = y0 + 46 + i * 16;
    const last = s.points[s.points.length - 1];
    const value = last === undefined ? '' : formatValue(last[1], p.unit);
    return `<text x="${x0 + 12}" y="${y}" class="legend">${escapeXml(s.label)}</text><text x="${x0 + w - 12}" y="${y}" text-anchor="end" class="legend">${escapeXml(value)}</text>`;
  }).join('');
}

/** A whole dashboard as one SVG: Grafana's 24-column grid, rows as headings, panels as charts. */
export function renderDashboardSvg(title: string, subtitle: string, panels: readonly RenderPanel[]): string {
  const width = 24 * COL_PX;
  const bottom = Math.max(0, ...panels.map((p) => p.gridPos.y + p.gridPos.h));
  const top = 56;
  const height = top + bottom * ROW_PX + 16;
  const body: string[] = [];
  for (const p of panels) {
    const x = p.gridPos.x * COL_PX + 4;
    const y = top + p.gridPos.y * ROW_PX + 4;
    const w = p.gridPos.w * COL_PX - 8;
    const h = p.gridPos.h * ROW_PX - 8;
    if (p.kind === 'row') {
      body.push(`<text x="${x + 4}" y="${y + 18}" class="row">${escapeXml(p.title)}</text>`);
      continue;
    }
    body.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="3" class="panel"/>`);
    body.push(`<text x="${x + 10}" y="${y + 17}" class="title">${escapeXml(p.title)}</text>`);
    if (p.kind === 'stat') body.push(renderStat(p, x, y, w, h));
    else if (p.kind === 'table') body.push(renderTable(p, x, y, w, h));
    else if (p.kind === 'state-timeline') body.push(renderStateTimeline(p, x, y, w, h));
    else body.push(renderTimeseries(p, x, y, w, h));
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">
<style>
.bg{fill:#111217}.panel{fill:#181b1f;stroke:#2c3235}.title{fill:#ccccdc;font-size:13px;font-weight:600}
.row{fill:#ccccdc;font-size:15px;font-weight:600}.axis{fill:#8e8e8e;font-size:10px}.legend{fill:#ccccdc;font-size:11px}
.grid{stroke:#2c3235;stroke-width:1}.stat{font-size:30px;font-weight:600}.muted{fill:#8e8e8e;font-size:13px}
.h1{fill:#ffffff;font-size:20px;font-weight:600}.sub{fill:#8e8e8e;font-size:12px}
</style>
<rect width="100%" height="100%" class="bg"/>
<text x="12" y="28" class="h1">${escapeXml(title)}</text>
<text x="12" y="46" class="sub">${escapeXml(subtitle)}</text>
${body.join('\n')}
</svg>
`;
}

// --- Data: query_range every panel target ---------------------------------------------------

interface RangeResp { status: string; error?: string; data?: { result: { metric: Record<string, string>; values: [number, string][] }[] } }

export async function queryPanels(promUrl: string, dashboard: GrafanaDashboard, startS: number, endS: number, stepS: number): Promise<RenderPanel[]> {
  const out: RenderPanel[] = [];
  const rangeS = Math.max(60, Math.round(endS - startS));
  const walk = async (panels: readonly DashPanel[]): Promise<void> => {
    for (const p of panels) {
      const gridPos = p.gridPos ?? { x: 0, y: 0, w: 12, h: 8 };
      const series: Series[] = [];
      for (const t of p.targets ?? []) {
        // Stat panels over the dashboard range: use the rendered window.
        const expr = substituteVariables(t.expr ?? '', { rateInterval: '1m', range: `${rangeS}s` });
        const body = new URLSearchParams({ query: expr, start: String(startS), end: String(endS), step: String(stepS) });
        const res = (await (await fetch(`${promUrl}/api/v1/query_range`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() })).json()) as RangeResp;
        if (res.status !== 'success') throw new Error(`${p.title ?? '?'}: ${res.error ?? 'query failed'}\n  ${expr}`);
        for (const r of res.data?.result ?? []) {
          series.push({ label: legend(t.legendFormat ?? '', r.metric), points: r.values.map(([ts, v]) => [ts, Number(v)] as const) });
        }
      }
      const d = p.fieldConfig?.defaults;
      const mappings = Object.assign({}, ...(d?.mappings ?? []).filter((m) => m.type === 'value').map((m) => m.options ?? {})) as RenderPanel['mappings'];
      out.push({ title: p.title ?? '', kind: p.type ?? 'timeseries', unit: d?.unit ?? 'short', gridPos, series, thresholds: d?.thresholds?.steps, mappings });
      if (p.panels !== undefined) await walk(p.panels);
    }
  };
  await walk(dashboard.panels as readonly DashPanel[]);
  return out;
}

// --- Demo stack: the scenario of the live dashboard check, scraped by a real Prometheus -------

async function demo(seconds: number, render: (promUrl: string, startS: number, endS: number) => Promise<void>): Promise<void> {
  const { startScenario } = await import('../spec/dashboards/scenario.ts');
  const { startPrometheus } = await import('../spec/dashboards/prometheus.ts');
  const scenario = await startScenario();
  try {
    const prom = await startPrometheus({ scrapeTargets: [scenario.metricsTarget], ruleFiles: [RULES_FILE] });
    try {
      const startS = Date.now() / 1000;
      // Traffic swells and ebbs over the run (0.5× to 2.5× the test's load), faults throughout.
      scenario.startLoad((elapsedMs) => 0.5 + 2 * Math.sin(Math.min(1, elapsedMs / (seconds * 1000)) * Math.PI));
      await new Promise((r) => setTimeout(r, seconds * 1000));
      await scenario.stopLoad();
      await new Promise((r) => setTimeout(r, 2000)); // one more scrape and rule evaluation
      await render(prom.url, startS, Date.now() / 1000);
    } finally {
      await prom.stop();
    }
  } finally {
    await scenario.close();
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const arg = (name: string): string | undefined => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const only = arg('--dashboard');
  const dashboards = [...loadDashboards()].filter(([file]) => only === undefined || resolve(DASHBOARDS_DIR, file) === resolve(root, only));
  if (dashboards.length === 0) throw new Error(`no dashboard ${only ?? ''} under ${DASHBOARDS_DIR}`);
  const outDir = resolve(root, arg('--out-dir') ?? 'docs/images');
  const render = async (promUrl: string, startS: number, endS: number): Promise<void> => {
    const stepS = Math.max(1, Math.round((endS - startS) / 240));
    mkdirSync(outDir, { recursive: true });
    for (const [file, dashboard] of dashboards) {
      const panels = await queryPanels(promUrl, dashboard, startS, endS, stepS);
      const empty = panels.filter((p) => p.kind !== 'row' && p.series.length === 0).map((p) => p.title);
      const subtitle = `Rendered from a real Prometheus by scripts/render-dashboard-png.ts, ${new Date(startS * 1000).toISOString().slice(0, 16)}–${new Date(endS * 1000).toISOString().slice(11, 16)} UTC; variables = All; ${panelQueries(file, dashboard).length} queries.`;
      const outFile = join(outDir, `${basename(file, '.json')}.svg`);
      writeFileSync(outFile, renderDashboardSvg(dashboard.title, subtitle, panels));
      process.stdout.write(`${outFile} written (${panels.length} panels${empty.length > 0 ? `; no data: ${empty.join(', ')}` : ''})\n`);
    }
  };
  const promUrl = arg('--prometheus');
  if (promUrl !== undefined) {
    const endS = Date.now() / 1000;
    await render(promUrl.replace(/\/$/, ''), endS - Number(arg('--minutes') ?? '30') * 60, endS);
  } else {
    await demo(Number(arg('--seconds') ?? '90'), render);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
