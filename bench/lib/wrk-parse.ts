// Parser for `wrk --latency` text output (wrk 4.x). Pure.
import type { LoadResult, SocketErrors } from './types.ts';

const TIME_UNITS_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a wrk time such as `583.00us`, `1.40ms`, `2.01s`, `1.00m`; returns milliseconds, NaN if malformed. */
export function parseWrkTimeMs(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const unit = TIME_UNITS_MS[m[2] ?? ''];
  return unit === undefined ? Number.NaN : Number(m[1]) * unit;
}

export class WrkParseError extends Error {
  override readonly name = 'WrkParseError';
}

function percentileMs(text: string, pct: number): number {
  const re = new RegExp(`^\\s*${pct}%\\s+(\\S+)\\s*$`, 'm');
  const m = re.exec(text);
  if (!m || m[1] === undefined) throw new WrkParseError(`wrk output has no ${pct}% latency line (was --latency given?)`);
  const ms = parseWrkTimeMs(m[1]);
  if (Number.isNaN(ms)) throw new WrkParseError(`unreadable ${pct}% latency "${m[1]}"`);
  return ms;
}

/**
 * Extracts throughput, latency percentiles and error counts from wrk's output.
 * Throws WrkParseError when the output is not a completed wrk run (e.g. "unable to connect").
 */
export function parseWrkOutput(text: string): LoadResult {
  const done = /^\s*(\d+) requests in ([0-9.]+(?:us|ms|s|m|h)),/m.exec(text);
  if (!done || done[1] === undefined || done[2] === undefined) {
    const firstLine = text.trim().split('\n')[0] ?? '';
    throw new WrkParseError(`not a completed wrk run: ${firstLine.slice(0, 200)}`);
  }
  const rpsMatch = /^Requests\/sec:\s+([0-9.]+)\s*$/m.exec(text);
  if (!rpsMatch || rpsMatch[1] === undefined) throw new WrkParseError('wrk output has no Requests/sec line');
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors: SocketErrors = sock
    ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) }
    : { connect: 0, read: 0, write: 0, timeout: 0 };
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  return {
    tool: 'wrk',
    requests: Number(done[1]),
    durationS: parseWrkTimeMs(done[2]) / 1000,
    rps: Number(rpsMatch[1]),
    p50Ms: percentileMs(text, 50),
    p75Ms: percentileMs(text, 75),
    p90Ms: percentileMs(text, 90),
    p99Ms: percentileMs(text, 99),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors,
  };
}

export function totalErrors(r: LoadResult): number {
  const s = r.socketErrors;
  return r.non2xx + s.connect + s.read + s.write + s.timeout;
}
