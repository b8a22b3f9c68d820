// Reading Sentinel's /metrics for metric deltas: parse the Prometheus text format and sum the series
// of a metric whose labels include the given ones.
import { send } from './http.ts';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Sum of the series of `name` whose labels include `labels` (0 when none). */
export function sumOf(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Scrapes http://127.0.0.1:<port>/metrics. */
export async function scrape(port: number): Promise<Sample[]> {
  const o = await send(port, '/metrics', { timeoutMs: 10_000, keepBodyBytes: 16 * 1024 * 1024 });
  if (o.status !== 200 || o.body === null) throw new Error(`GET /metrics on ${port}: ${o.status ?? o.error}`);
  return parsePrometheus(o.body.toString('utf8'));
}

/** `name{labels}` as text, for messages. */
export function seriesName(name: string, labels: Readonly<Record<string, string>> = {}): string {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return l.length === 0 ? name : `${name}{${l.join(',')}}`;
}
