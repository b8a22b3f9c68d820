// Plain-text table rendering of benchmark summaries. Pure.
import type { CellSummary, LbSummary, PacedSummary } from './stats.ts';
import type { IdleResult, ProtocolCell } from './protocols.ts';
import { BODY_LABELS } from './types.ts';

export type Align = 'left' | 'right';

export interface Column {
  readonly header: string;
  readonly align: Align;
}

/** Renders rows under headers, columns padded to the widest cell, separated by two spaces. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const w = widths[i] ?? 0;
        return c.align === 'left' ? cell.padEnd(w) : cell.padStart(w);
      })
      .join('  ')
      .trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(columns.map((c) => c.header)), sep, ...rows.map(line)].join('\n');
}

export const DASH = '–';

export function fmtInt(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return DASH;
  return Math.round(v).toLocaleString('en-US');
}

export function fmtFixed(v: number | null, digits: number): string {
  if (v === null || !Number.isFinite(v)) return DASH;
  return v.toFixed(digits);
}

/** Milliseconds with precision adapted to magnitude: 0.583, 8.85, 120. */
export function fmtMs(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return DASH;
  const a = Math.abs(v);
  return v.toFixed(a < 10 ? 3 : a < 100 ? 2 : 0);
}

export function fmtSignedMs(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return DASH;
  return (v >= 0 ? '+' : '') + fmtMs(v);
}

export function fmtRatio(v: number | null): string {
  return v === null || !Number.isFinite(v) ? DASH : `${v.toFixed(2)}×`;
}

const THROUGHPUT_COLUMNS: readonly Column[] = [
  { header: 'scenario', align: 'left' },
  { header: 'body', align: 'right' },
  { header: 'conns', align: 'right' },
  { header: 'req/s', align: 'right' },
  { header: 'p50 ms', align: 'right' },
  { header: 'p99 ms', align: 'right' },
  { header: 'CPU µs/req', align: 'right' },
  { header: 'RSS MB', align: 'right' },
  { header: '÷ direct', align: 'right' },
  { header: '÷ nginx', align: 'right' },
  { header: 'errors', align: 'right' },
  { header: 'passes req/s', align: 'left' },
];

export function renderThroughputTable(cells: readonly CellSummary[]): string {
  const rows = cells.map((c) => [
    c.scenario,
    BODY_LABELS[c.body],
    String(c.connections),
    fmtInt(c.best.load.rps),
    fmtMs(c.best.load.p50Ms),
    fmtMs(c.best.load.p99Ms),
    fmtFixed(c.best.proxyCpuUsPerReq, 1),
    fmtFixed(c.best.rssMb, 0),
    fmtRatio(c.ratioVsDirect),
    fmtRatio(c.ratioVsNginx),
    c.errors > 0 ? `${c.errors} !` : '0',
    c.passesRps.length > 1 ? c.passesRps.map((r) => fmtInt(r)).join(' / ') : '',
  ]);
  return renderTable(THROUGHPUT_COLUMNS, rows);
}

const PACED_COLUMNS: readonly Column[] = [
  { header: 'scenario', align: 'left' },
  { header: 'req/s', align: 'right' },
  { header: 'p50 ms', align: 'right' },
  { header: 'p99 ms', align: 'right' },
  { header: 'added p50', align: 'right' },
  { header: 'added p99', align: 'right' },
  { header: 'CPU µs/req', align: 'right' },
  { header: 'errors', align: 'right' },
];

export function renderPacedTable(rows: readonly PacedSummary[]): string {
  return renderTable(
    PACED_COLUMNS,
    rows.map((p) => [
      p.scenario,
      fmtInt(p.rps),
      fmtMs(p.p50Ms),
      fmtMs(p.p99Ms),
      fmtSignedMs(p.addedP50Ms),
      fmtSignedMs(p.addedP99Ms),
      fmtFixed(p.cpuUsPerReq, 1),
      p.errors > 0 ? `${p.errors} !` : '0',
    ]),
  );
}

const LB_COLUMNS: readonly Column[] = [
  { header: 'algorithm', align: 'left' },
  { header: 'req/s', align: 'right' },
  { header: '÷ round_robin', align: 'right' },
  { header: 'p50 ms', align: 'right' },
  { header: 'p99 ms', align: 'right' },
  { header: 'CPU µs/req', align: 'right' },
  { header: 'CPU ÷ rr', align: 'right' },
  { header: 'errors', align: 'right' },
  { header: 'passes req/s', align: 'left' },
];

export function renderLbTable(rows: readonly LbSummary[]): string {
  return renderTable(
    LB_COLUMNS,
    rows.map((l) => [
      l.algorithm,
      fmtInt(l.cell.best.load.rps),
      fmtRatio(l.rpsVsRoundRobin),
      fmtMs(l.cell.best.load.p50Ms),
      fmtMs(l.cell.best.load.p99Ms),
      fmtFixed(l.cell.medianCpuUsPerReq, 1),
      fmtRatio(l.cpuVsRoundRobin),
      l.cell.errors > 0 ? `${l.cell.errors} !` : '0',
      l.cell.passesRps.length > 1 ? l.cell.passesRps.map((r) => fmtInt(r)).join(' / ') : '',
    ]),
  );
}

const VERSUS_COLUMNS: readonly Column[] = [
  { header: 'cell', align: 'left' },
  { header: 'req/s', align: 'right' },
  { header: 'baseline req/s', align: 'right' },
  { header: '÷ baseline', align: 'right' },
  { header: 'p99 ms', align: 'right' },
  { header: 'baseline p99 ms', align: 'right' },
  { header: 'CPU µs/req', align: 'right' },
  { header: 'baseline CPU µs/req', align: 'right' },
];

/**
 * One scenario against another of the same run (deployment routing against the plain proxy route):
 * each saturated cell both ran (best passes, as in the main table) and the paced medians.
 * Null when the two never ran together.
 */
export function renderVersusTable(cells: readonly CellSummary[], paced: readonly PacedSummary[], subject: string, baseline: string): string | null {
  const rows: string[][] = [];
  for (const c of cells) {
    if (c.scenario !== subject) continue;
    const b = cells.find((x) => x.scenario === baseline && x.body === c.body && x.connections === c.connections);
    if (b === undefined) continue;
    rows.push([
      `${BODY_LABELS[c.body]} c${c.connections}`,
      fmtInt(c.best.load.rps), fmtInt(b.best.load.rps), fmtRatio(b.best.load.rps > 0 ? c.best.load.rps / b.best.load.rps : null),
      fmtMs(c.best.load.p99Ms), fmtMs(b.best.load.p99Ms),
      fmtFixed(c.medianCpuUsPerReq, 1), fmtFixed(b.medianCpuUsPerReq, 1),
    ]);
  }
  const ps = paced.find((p) => p.scenario === subject);
  const pb = paced.find((p) => p.scenario === baseline);
  if (ps !== undefined && pb !== undefined) {
    rows.push(['paced', fmtInt(ps.rps), fmtInt(pb.rps), fmtRatio(pb.rps > 0 ? ps.rps / pb.rps : null), fmtMs(ps.p99Ms), fmtMs(pb.p99Ms), fmtFixed(ps.cpuUsPerReq, 1), fmtFixed(pb.cpuUsPerReq, 1)]);
  }
  return rows.length === 0 ? null : renderTable(VERSUS_COLUMNS, rows);
}

const PROTOCOL_COLUMNS: readonly Column[] = [
  { header: 'protocol', align: 'left' },
  { header: 'proxy', align: 'left' },
  { header: 'negotiated', align: 'left' },
  { header: 'req/s', align: 'right' },
  { header: 'mean ms', align: 'right' },
  { header: 'CPU µs/req', align: 'right' },
  { header: 'RSS MB', align: 'right' },
  { header: '÷ nginx', align: 'right' },
  { header: 'failed', align: 'right' },
  { header: 'passes req/s', align: 'left' },
];

export function renderProtocolTable(cells: readonly ProtocolCell[]): string {
  return renderTable(
    PROTOCOL_COLUMNS,
    cells.map((c) => [
      c.protocol === 'h2' ? 'HTTP/2 (TLS, ALPN h2)' : 'HTTP/1.1 over TLS 1.3, keep-alive',
      c.proxy,
      `${c.tlsProtocol ?? '?'} ${c.alpn ?? '?'}`,
      fmtInt(c.rps),
      fmtMs(c.meanMs),
      fmtFixed(c.cpuUsPerReq, 1),
      fmtFixed(c.rssMb, 0),
      fmtRatio(c.vsNginx),
      c.failed > 0 ? `${c.failed} !` : '0',
      c.allRps.length > 1 ? c.allRps.map((r) => fmtInt(r)).join(' / ') : '',
    ]),
  );
}

const IDLE_COLUMNS: readonly Column[] = [
  { header: 'proxy', align: 'left' },
  { header: 'idle conns', align: 'right' },
  { header: 'RSS at rest MB', align: 'right' },
  { header: 'RSS with them MB', align: 'right' },
  { header: 'KiB / conn', align: 'right' },
  { header: 'new request served', align: 'left' },
];

export function renderIdleTable(rows: readonly IdleResult[]): string {
  return renderTable(
    IDLE_COLUMNS,
    rows.map((r) => [r.proxy, `${fmtInt(r.opened)} / ${fmtInt(r.connections)}`, fmtFixed(r.restRssMb, 0), fmtFixed(r.idleRssMb, 0), fmtFixed(r.kibPerConnection, 1), r.servedMeanwhile ? 'yes' : 'NO']),
  );
}
