// Hand-written SVG bar chart of benchmark results (no dependency). Pure.
import type { CellSummary, PacedSummary } from './stats.ts';
import { BODY_LABELS } from './types.ts';

export interface Bar {
  readonly label: string;
  readonly value: number;
  /** Extra text printed after the value, e.g. a ratio. */
  readonly note?: string;
}

/** One horizontal bar group with its own scale. */
export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
}

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac', '#eeca3b'];

/** A stable colour per label: the order in which labels first appear across all panels. */
function colourMap(panels: readonly Panel[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of panels) for (const b of p.bars) if (!m.has(b.label)) m.set(b.label, PALETTE[m.size % PALETTE.length] as string);
  return m;
}

function fmtValue(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(3);
}

const WIDTH = 900;
const LABEL_W = 150;
const VALUE_W = 280;
const BAR_H = 18;
const BAR_GAP = 6;
const PANEL_HEAD = 28;
const PANEL_GAP = 18;
const TOP = 56;

/** Renders panels of horizontal bars as a standalone SVG document. Negative or non-finite values draw no bar. */
export function renderBarChart(title: string, panels: readonly Panel[], subtitle = ''): string {
  const colours = colourMap(panels);
  const plotW = WIDTH - LABEL_W - VALUE_W;
  const out: string[] = [];
  let y = TOP;
  for (const p of panels) {
    out.push(`<text x="10" y="${y + 16}" class="panel">${escapeXml(p.title)}${p.unit ? ` (${escapeXml(p.unit)})` : ''}</text>`);
    y += PANEL_HEAD;
    const max = Math.max(0, ...p.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
    for (const b of p.bars) {
      const w = max > 0 && Number.isFinite(b.value) && b.value > 0 ? (b.value / max) * plotW : 0;
      const colour = colours.get(b.label) ?? '#888888';
      const text = fmtValue(b.value) + (b.note ? ` · ${b.note}` : '');
      out.push(
        `<text x="${LABEL_W - 8}" y="${y + BAR_H - 5}" text-anchor="end">${escapeXml(b.label)}</text>`,
        `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${colour}"/>`,
        `<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + BAR_H - 5}">${escapeXml(text)}</text>`,
      );
      y += BAR_H + BAR_GAP;
    }
    y += PANEL_GAP;
  }
  const height = y + 10;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<style>.title{font-size:16px;font-weight:bold}.panel{font-size:13px;font-weight:bold}</style>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" class="title">${escapeXml(title)}</text>`,
    `<text x="10" y="40" fill="#555555">${escapeXml(subtitle)}</text>`,
    ...out,
    `</svg>`,
    '',
  ].join('\n');
}

/** The standard results chart: one panel of req/s per (body, connections) cell, then paced added p99. */
export function resultsPanels(cells: readonly CellSummary[], paced: readonly PacedSummary[]): Panel[] {
  const panels: Panel[] = [];
  const byCell = new Map<string, CellSummary[]>();
  for (const c of cells) {
    const k = `${BODY_LABELS[c.body]} body, ${c.connections} connections`;
    const g = byCell.get(k);
    if (g) g.push(c);
    else byCell.set(k, [c]);
  }
  for (const [k, g] of byCell) {
    panels.push({
      title: `req/s, ${k}`,
      unit: 'best pass',
      bars: g.map((c) => ({
        label: c.scenario,
        value: c.best.load.rps,
        note: [c.ratioVsDirect !== null ? `${c.ratioVsDirect.toFixed(2)}× direct` : '', c.ratioVsNginx !== null ? `${c.ratioVsNginx.toFixed(2)}× nginx` : '']
          .filter((s) => s !== '')
          .join(', '),
      })),
    });
  }
  if (paced.length > 0) {
    panels.push({
      title: 'p99 latency at equal load (paced)',
      unit: 'ms',
      bars: paced.map((p) => ({
        label: p.scenario,
        value: p.p99Ms,
        note: p.addedP99Ms !== null && p.scenario !== 'direct' ? `${p.addedP99Ms >= 0 ? '+' : ''}${p.addedP99Ms.toFixed(3)} ms vs direct` : '',
      })),
    });
  }
  return panels;
}
