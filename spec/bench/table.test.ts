import { describe, expect, it } from 'vitest';
import { summarizeCells, summarizePaced } from '../../bench/lib/stats.ts';
import { DASH, fmtInt, fmtMs, fmtRatio, fmtSignedMs, renderPacedTable, renderTable, renderThroughputTable, renderVersusTable } from '../../bench/lib/table.ts';
import type { LoadResult, RunRecord } from '../../bench/lib/types.ts';

function load(rps: number, p50Ms: number, p99Ms: number, non2xx = 0): LoadResult {
  return { tool: 'wrk', requests: rps * 3, durationS: 3, rps, p50Ms, p75Ms: p50Ms, p90Ms: p99Ms, p99Ms, non2xx, socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 } };
}
function rec(scenario: string, l: LoadResult, extra: Partial<RunRecord> = {}): RunRecord {
  return { pass: 1, scenario, body: 'small', connections: 50, paced: false, load: l, proxyCpuUsPerReq: null, proxyCpuPct: null, rssMb: null, idleRssMb: null, foreignCpuPct: null, ...extra };
}

describe('formatters', () => {
  it('format numbers with units of precision', () => {
    expect(fmtInt(58710.6)).toBe('58,711');
    expect(fmtInt(null)).toBe(DASH);
    expect(fmtMs(0.5834)).toBe('0.583');
    expect(fmtMs(20.456)).toBe('20.46');
    expect(fmtMs(1050)).toBe('1050');
    expect(fmtSignedMs(0.047)).toBe('+0.047');
    expect(fmtSignedMs(-0.2)).toBe('-0.200');
    expect(fmtRatio(0.349)).toBe('0.35×');
    expect(fmtRatio(null)).toBe(DASH);
  });
});

describe('renderTable', () => {
  it('pads columns to the widest cell and aligns', () => {
    const t = renderTable(
      [
        { header: 'name', align: 'left' },
        { header: 'n', align: 'right' },
      ],
      [
        ['a', '1'],
        ['longer', '1000'],
      ],
    );
    expect(t.split('\n')).toEqual(['name       n', '------  ----', 'a          1', 'longer  1000']);
  });
});

describe('renderThroughputTable', () => {
  it('prints one row per cell with ratios, CPU, RSS and flagged errors', () => {
    const cells = summarizeCells([
      rec('direct', load(60_000, 0.6, 0.9)),
      rec('nginx', load(50_000, 0.8, 1.9), { proxyCpuUsPerReq: 20.2, rssMb: 14.4 }),
      rec('sentinel', load(25_000, 2.0, 6.5, 3), { proxyCpuUsPerReq: 40.04, rssMb: 88.6 }),
    ]);
    const lines = renderThroughputTable(cells).split('\n');
    expect(lines[0]).toMatch(/^scenario\s+body\s+conns\s+req\/s\s+p50 ms\s+p99 ms\s+CPU µs\/req\s+RSS MB\s+÷ direct\s+÷ nginx\s+errors/);
    expect(lines).toHaveLength(5);
    const sentinel = lines.find((l) => l.startsWith('sentinel')) ?? '';
    expect(sentinel.split(/\s{2,}/)).toEqual(['sentinel', '13 B', '50', '25,000', '2.000', '6.500', '40.0', '89', '0.42×', '0.50×', '3 !']);
    const direct = lines.find((l) => l.startsWith('direct')) ?? '';
    expect(direct.split(/\s{2,}/)).toEqual(['direct', '13 B', '50', '60,000', '0.600', '0.900', DASH, DASH, '1.00×', '1.20×', '0']);
  });
});

describe('renderPacedTable', () => {
  it('shows added latency against direct', () => {
    const paced = summarizePaced([rec('direct', load(4950, 0.166, 0.59), { paced: true }), rec('sentinel', load(4900, 0.4, 2.09), { paced: true, proxyCpuUsPerReq: 90 })]);
    const row = renderPacedTable(paced).split('\n').find((l) => l.startsWith('sentinel')) ?? '';
    expect(row.split(/\s{2,}/)).toEqual(['sentinel', '4,900', '0.400', '2.090', '+0.234', '+1.500', '90.0', '0']);
  });
});

describe('renderVersusTable', () => {
  it('compares a scenario with its baseline of the same run, cell by cell and paced', () => {
    const runs = [
      rec('sentinel', load(20_000, 2.0, 6.0), { proxyCpuUsPerReq: 45 }),
      rec('sentinel-deployments', load(18_000, 2.2, 7.0), { proxyCpuUsPerReq: 50 }),
      rec('sentinel', load(4900, 0.4, 2.0), { paced: true, proxyCpuUsPerReq: 90 }),
      rec('sentinel-deployments', load(4900, 0.45, 2.5), { paced: true, proxyCpuUsPerReq: 95 }),
    ];
    const lines = (renderVersusTable(summarizeCells(runs), summarizePaced(runs), 'sentinel-deployments', 'sentinel') ?? '').split('\n');
    expect(lines).toHaveLength(4);
    expect((lines[2] ?? '').split(/\s{2,}/)).toEqual(['13 B c50', '18,000', '20,000', '0.90×', '7.000', '6.000', '50.0', '45.0']);
    expect((lines[3] ?? '').split(/\s{2,}/)).toEqual(['paced', '4,900', '4,900', '1.00×', '2.500', '2.000', '95.0', '90.0']);
  });

  it('is null when the two scenarios never ran together', () => {
    expect(renderVersusTable(summarizeCells([rec('sentinel', load(1, 1, 1))]), [], 'sentinel-deployments', 'sentinel')).toBeNull();
  });
});
