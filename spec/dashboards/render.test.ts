// The SVG renderer behind docs/images/overview.svg (scripts/render-dashboard-png.ts): pure parts.
import { describe, expect, it } from 'vitest';
import { fit, formatValue, legend, renderDashboardSvg, statColour } from '../../scripts/render-dashboard-png.ts';
import type { RenderPanel } from '../../scripts/render-dashboard-png.ts';

describe('render-dashboard', () => {
  it('formats values in the Grafana units the dashboards use', () => {
    expect(formatValue(0.0673, 'percentunit')).toBe('6.73%');
    expect(formatValue(0.25, 's')).toBe('250 ms');
    expect(formatValue(2.5, 's')).toBe('2.5 s');
    expect(formatValue(0.0002, 's')).toBe('200 µs');
    expect(formatValue(150 * 1024 * 1024, 'bytes')).toBe('150 MiB');
    expect(formatValue(12.5, 'reqps')).toBe('12.5 req/s');
    expect(formatValue(0.25, 'ops')).toBe('0.25 ops/s');
    expect(formatValue(1500, 'short')).toBe('1.5k');
    expect(formatValue(Number.NaN, 'short')).toBe('NaN');
  });

  it('fills Grafana legend templates from series labels', () => {
    expect(legend('{{upstream}} {{outcome}}', { upstream: 'api', outcome: 'success' })).toBe('api success');
    expect(legend('p99', {})).toBe('p99');
    expect(legend('{{missing}}x', { a: '1' })).toBe('x');
  });

  it('cuts legend labels to their column', () => {
    expect(fit('pool UPSTREAM_CONNECT_FAILED', 1000)).toBe('pool UPSTREAM_CONNECT_FAILED');
    expect(fit('pool UPSTREAM_CONNECT_FAILED', 75)).toBe('pool UPSTRE…');
  });

  it('colours a stat by the threshold step it reaches', () => {
    const steps = [{ color: 'green', value: null }, { color: 'orange', value: 0.001 }, { color: 'red', value: 0.01 }];
    expect(statColour(0, steps)).toBe('#73bf69');
    expect(statColour(0.005, steps)).toBe('#ff9830');
    expect(statColour(0.5, steps)).toBe('#f2495c');
  });

  it('draws rows, one polyline per series (split at gaps), stats, "No data", and escapes text', () => {
    const panels: RenderPanel[] = [
      { title: 'Traffic', kind: 'row', unit: 'short', gridPos: { x: 0, y: 0, w: 24, h: 1 }, series: [] },
      { title: 'RPS <by route>', kind: 'timeseries', unit: 'reqps', gridPos: { x: 0, y: 1, w: 12, h: 8 }, series: [
        { label: 'a&b', points: [[0, 1], [1, 2], [2, Number.NaN], [3, 4], [4, 5]] },
        { label: 'c', points: [[0, 3], [4, 3]] },
      ] },
      { title: 'Ratio', kind: 'stat', unit: 'percentunit', gridPos: { x: 12, y: 1, w: 6, h: 8 }, series: [{ label: 'r', points: [[0, 0.5], [1, 0.25]] }] },
      { title: 'Empty', kind: 'timeseries', unit: 's', gridPos: { x: 18, y: 1, w: 6, h: 8 }, series: [] },
      { title: 'Breakers', kind: 'state-timeline', unit: 'short', gridPos: { x: 0, y: 9, w: 12, h: 6 }, mappings: { 0: { text: 'closed', color: 'green' }, 2: { text: 'open', color: 'red' } }, series: [
        { label: 'pool 127.0.0.1:1', points: [[0, 0], [1, 2], [2, 0]] },
      ] },
    ];
    const svg = renderDashboardSvg('Dash', 'sub', panels);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline /g)?.length).toBe(3); // a (two segments) + c
    expect(svg).toContain('RPS &lt;by route&gt;');
    expect(svg).toContain('a&amp;b');
    expect(svg).toContain('>25%<'); // the stat shows the last value
    expect(svg).toContain('No data');
    expect(svg).not.toMatch(/NaN/);
    // The state timeline: one rectangle per step in the mapped colour, and the mapping as its legend.
    expect(svg.match(/fill="#f2495c"/g)?.length).toBe(2); // one "open" step + its legend swatch
    expect(svg).toContain('>closed<');
    expect(svg).toContain('>pool 127.0.0.1:1<');
  });
});
