import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeXml, renderBarChart, resultsPanels } from '../../bench/lib/svg.ts';
import { summarizeCells, summarizePaced } from '../../bench/lib/stats.ts';
import type { Panel } from '../../bench/lib/svg.ts';
import type { LoadResult, RunRecord } from '../../bench/lib/types.ts';

/**
 * A small XML well-formedness checker: one root, properly nested and closed tags, quoted attributes,
 * no raw `<` or unescaped `&` in text or attribute values. Returns the element names in document order.
 */
function checkWellFormed(xml: string): string[] {
  let s = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const names: string[] = [];
  let roots = 0;
  const entity = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;
  const checkText = (t: string): void => {
    for (let i = 0; i < t.length; i++) {
      if (t[i] === '<') throw new Error(`raw < in text: ${t}`);
      if (t[i] === '&') {
        entity.lastIndex = i;
        if (!entity.test(t)) throw new Error(`bad entity in: ${t}`);
      }
    }
  };
  while (s.length > 0) {
    const lt = s.indexOf('<');
    if (lt < 0) {
      if (s.trim() !== '') throw new Error('text after root');
      break;
    }
    const text = s.slice(0, lt);
    if (stack.length === 0 && text.trim() !== '') throw new Error('text outside root');
    checkText(text);
    s = s.slice(lt);
    const close = /^<\/([A-Za-z][\w.-]*)\s*>/.exec(s);
    if (close) {
      if (stack.pop() !== close[1]) throw new Error(`mismatched </${close[1]}>`);
      s = s.slice(close[0].length);
      continue;
    }
    const open = /^<([A-Za-z][\w.-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"<]*")*)\s*(\/?)>/.exec(s);
    if (!open || open[1] === undefined) throw new Error(`malformed tag at: ${s.slice(0, 60)}`);
    for (const m of (open[2] ?? '').matchAll(/="([^"]*)"/g)) checkText(m[1] ?? '');
    if (stack.length === 0) roots++;
    names.push(open[1]);
    if (open[3] !== '/') stack.push(open[1]);
    s = s.slice(open[0].length);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('><')}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return names;
}

describe('checkWellFormed (the test oracle itself)', () => {
  it('rejects broken documents', () => {
    expect(() => checkWellFormed('<svg><g></svg>')).toThrow();
    expect(() => checkWellFormed('<svg>a < b</svg>')).toThrow();
    expect(() => checkWellFormed('<svg>a & b</svg>')).toThrow();
    expect(() => checkWellFormed('<svg x=1></svg>')).toThrow();
    expect(() => checkWellFormed('<svg/><svg/>')).toThrow();
    expect(checkWellFormed('<svg a="1"><g/>x &amp; y</svg>')).toEqual(['svg', 'g']);
  });
});

describe('renderBarChart', () => {
  it('escapes XML metacharacters', () => {
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  });

  it('produces a well-formed SVG with one rect per bar plus the background', () => {
    const panels: Panel[] = [
      { title: 'req/s <13 B> & "50"', unit: 'best', bars: [{ label: 'direct', value: 60_000 }, { label: 'a&b<c>', value: 30_000, note: '0.50× direct' }] },
      { title: 'p99', unit: 'ms', bars: [{ label: 'direct', value: 0.5 }, { label: 'x', value: Number.NaN }, { label: 'neg', value: -1 }] },
    ];
    const svg = renderBarChart('Title & <more>', panels, 'sub "title"');
    const names = checkWellFormed(svg);
    expect(names[0]).toBe('svg');
    expect(names.filter((n) => n === 'rect')).toHaveLength(1 + 5);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain('a&amp;b&lt;c&gt;');
    // The largest bar spans the full plot width; NaN and negative values draw zero-width bars.
    const widths = [...svg.matchAll(/<rect x="150" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toEqual([470, 235, 470, 0, 0]);
  });

  it('stays well-formed for arbitrary labels and values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ title: fc.string(), unit: fc.string(), bars: fc.array(fc.record({ label: fc.string(), value: fc.double(), note: fc.option(fc.string(), { nil: undefined }) }), { maxLength: 6 }) }), { maxLength: 4 }),
        fc.string(),
        (panels, title) => {
          // XML 1.0 forbids most control characters even escaped; the harness only prints printable labels.
          const printable = (t: string): string =>
            Array.from(t, (ch) => {
              const c = ch.codePointAt(0) ?? 0;
              const forbidden = (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff;
              return forbidden ? '?' : ch;
            }).join('');
          const clean = panels.map((p) => ({ title: printable(p.title), unit: printable(p.unit), bars: p.bars.map((b) => ({ ...b, label: printable(b.label), note: b.note === undefined ? undefined : printable(b.note) })) }));
          const svg = renderBarChart(printable(title), clean);
          checkWellFormed(svg);
          expect(svg).not.toMatch(/="[^"]*(NaN|Infinity)/);
        },
      ),
    );
  });
});

describe('resultsPanels', () => {
  const load = (rps: number, p99Ms: number): LoadResult => ({ tool: 'wrk', requests: rps, durationS: 1, rps, p50Ms: 0.1, p75Ms: 0.1, p90Ms: 0.1, p99Ms, non2xx: 0, socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 } });
  const rec = (scenario: string, rps: number, connections: number, paced = false): RunRecord => ({ pass: 1, scenario, body: 'small', connections, paced, load: load(rps, paced ? 1 : 5), proxyCpuUsPerReq: null, proxyCpuPct: null, rssMb: null, idleRssMb: null, foreignCpuPct: null });
  it('makes one panel per cell and one for paced p99', () => {
    const runs = [rec('direct', 60_000, 50), rec('nginx', 30_000, 50), rec('direct', 50_000, 256), rec('direct', 4900, 100, true), rec('nginx', 4800, 100, true)];
    const panels = resultsPanels(summarizeCells(runs), summarizePaced(runs));
    expect(panels.map((p) => p.title)).toEqual(['req/s, 13 B body, 50 connections', 'req/s, 13 B body, 256 connections', 'p99 latency at equal load (paced)']);
    expect(panels[0]?.bars[1]?.note).toBe('0.50× direct, 1.00× nginx');
    expect(panels[2]?.bars[1]?.note).toBe('+0.000 ms vs direct');
  });
});
