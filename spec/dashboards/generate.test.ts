// The dashboards are generated from dashboards/src: the committed JSON must be the current
// rendering, and the builder's layout must be what Grafana expects (no overlap, rows wrap).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { renderDashboards } from '../../dashboards/src/index.ts';
import { buildDashboard, row, stat, target, timeseries } from '../../dashboards/src/grafana.ts';

describe('dashboard generation', () => {
  for (const [file, text] of renderDashboards()) {
    it(`dashboards/${file} is the current rendering of dashboards/src`, () => {
      expect(readFileSync(new URL(`../../dashboards/${file}`, import.meta.url), 'utf8'), 'run: node scripts/render-dashboards.ts').toBe(text);
    });
  }

  it('lays panels out left to right, wrapping at 24 columns, rows full width, ids in order', () => {
    const p = (title: string, width: number) => timeseries({ title, description: '', unit: 'short', width, targets: [target('up', 'x')] });
    const d = buildDashboard({
      uid: 'u', title: 't', description: '', tags: [],
      rows: [row('A', [p('a1', 12), p('a2', 8), p('a3', 8), stat({ title: 'a4', description: '', unit: 'short', width: 24, height: 4, targets: [target('up', 'x')] })]), row('B', [p('b1', 24)])],
    });
    const panels = d.panels as Array<{ id: number; title: string; gridPos: { h: number; w: number; x: number; y: number } }>;
    expect(panels.map((x) => [x.id, x.title, x.gridPos.x, x.gridPos.y, x.gridPos.w, x.gridPos.h])).toEqual([
      [1, 'A', 0, 0, 24, 1],
      [2, 'a1', 0, 1, 12, 8],
      [3, 'a2', 12, 1, 8, 8],
      [4, 'a3', 0, 9, 8, 8],
      [5, 'a4', 0, 17, 24, 4],
      [6, 'B', 0, 21, 24, 1],
      [7, 'b1', 0, 22, 24, 8],
    ]);
  });

  it('refuses a panel wider than the grid', () => {
    expect(() => buildDashboard({ uid: 'u', title: 't', description: '', tags: [], rows: [row('A', [timeseries({ title: 'wide', description: '', unit: 's', width: 25, targets: [] })])] }))
      .toThrow(/panel "wide": width 25/);
  });
});
