// The results table: scenario | expectation | observed | result, with the two text columns word-wrapped
// to fit the terminal. Pure.
import { observedText } from './runner.ts';
import type { ScenarioResult } from './runner.ts';

/** Word-wraps `text` to lines of at most `width` characters (longer words are cut). */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(1, Math.floor(width));
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((x) => x !== '')) {
    let rest = word;
    while ([...rest].length > w) {
      if (line !== '') {
        lines.push(line);
        line = '';
      }
      const chars = [...rest];
      lines.push(chars.slice(0, w).join(''));
      rest = chars.slice(w).join('');
    }
    if (rest === '') continue;
    if (line === '') line = rest;
    else if ([...line].length + 1 + [...rest].length <= w) line += ` ${rest}`;
    else {
      lines.push(line);
      line = rest;
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines;
}

const pad = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - [...s].length));

/** The table for `results`, at most `width` characters wide (minimum 80). */
export function renderResults(results: readonly ScenarioResult[], width = 160): string {
  const total = Math.max(80, width);
  const nameW = Math.min(32, Math.max('scenario'.length, ...results.map((r) => r.name.length)));
  const resultW = 'result'.length;
  const textW = total - nameW - resultW - 13; // "| " + " | " ×3 + " |"
  const expW = Math.max(20, Math.floor(textW / 2));
  const obsW = Math.max(20, textW - expW);
  const rule = `+-${'-'.repeat(nameW)}-+-${'-'.repeat(expW)}-+-${'-'.repeat(obsW)}-+-${'-'.repeat(resultW)}-+`;
  const row = (cells: readonly string[][]): string[] => {
    const height = Math.max(...cells.map((c) => c.length));
    const widths = [nameW, expW, obsW, resultW];
    const out: string[] = [];
    for (let i = 0; i < height; i++) out.push(`| ${cells.map((c, j) => pad(c[i] ?? '', widths[j]!)).join(' | ')} |`);
    return out;
  };
  const lines = [rule, ...row([['scenario'], ['expectation'], ['observed'], ['result']]), rule];
  for (const r of results) {
    lines.push(...row([wrap(r.name, nameW), wrap(r.expectation, expW), wrap(observedText(r), obsW), [r.outcome]]), rule);
  }
  return lines.join('\n');
}

/** "chaos: 8 scenarios, 7 PASS, 1 FAIL (52.3 s)" */
export function summaryLine(results: readonly ScenarioResult[], elapsedMs: number): string {
  const pass = results.filter((r) => r.outcome === 'PASS').length;
  return `chaos: ${results.length} scenario${results.length === 1 ? '' : 's'}, ${pass} PASS, ${results.length - pass} FAIL (${(elapsedMs / 1000).toFixed(1)} s)`;
}
