// Small helpers to build diagnostics and "did you mean" hints.
import type { Diagnostic, Severity } from './types.ts';
import type { Pos } from './kdl.ts';

export function makeDiagnostic(
  severity: Severity,
  code: string,
  message: string,
  file: string,
  pos: Pos,
  path: string,
  hint?: string,
): Diagnostic {
  return { code, severity, message, file, line: pos.line, column: pos.column, path, ...(hint !== undefined ? { hint } : {}) };
}

/** Levenshtein distance, bounded inputs only (config keys and short values). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const m = a.length;
  const n = b.length;
  if (m === 0) return n;
  if (n === 0) return m;
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[n] ?? Math.max(m, n);
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  if (input.length > 64) return undefined;
  const lower = input.toLowerCase();
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  const limit = Math.max(2, Math.floor(input.length / 3));
  return best !== undefined && bestDist <= limit && bestDist < input.length ? best : undefined;
}

/** `did you mean "x"?`, or a list of the valid choices when nothing is close. */
export function suggestionHint(input: string, candidates: readonly string[], listName = 'valid keys'): string | undefined {
  const c = closest(input, candidates);
  if (c !== undefined) return `did you mean "${c}"?`;
  if (candidates.length === 0) return undefined;
  return `${listName}: ${candidates.map((x) => `"${x}"`).join(', ')}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
