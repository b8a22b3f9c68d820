// node scripts/ci/count-checks.ts chaos|soak FILE  →  prints "<passed> <failed>"
// How .ci/run counts the steps that run outside the test runner in its final "N passed, N failed"
// line: each chaos scenario of `npm run chaos -- --json FILE` is one check, and each k6 threshold and
// each check of a soak report (`npm run soak -- --results DIR`, DIR/latest-soak.json) is one check.
// A missing or unreadable file is "0 1": a step that produced no report failed.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export type ReportKind = 'chaos' | 'soak';

export interface Counts {
  readonly passed: number;
  readonly failed: number;
}

const NO_REPORT: Counts = { passed: 0, failed: 1 };

function tallyOf(entries: unknown, pass: (e: Record<string, unknown>) => boolean): Counts | null {
  if (!Array.isArray(entries)) return null;
  let passed = 0;
  for (const e of entries) if (typeof e === 'object' && e !== null && pass(e as Record<string, unknown>)) passed++;
  return { passed, failed: entries.length - passed };
}

/** Counts the checks of a report's JSON text; a report with nothing in it counts as one failure. */
export function countChecks(kind: ReportKind, text: string): Counts {
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return NO_REPORT;
  }
  if (typeof report !== 'object' || report === null) return NO_REPORT;
  let counts: Counts | null;
  if (kind === 'chaos') {
    counts = tallyOf(report['results'], (r) => r['outcome'] === 'PASS');
  } else {
    const thresholds = tallyOf(report['thresholds'], (t) => t['pass'] === true);
    const checks = tallyOf(report['checks'], (c) => c['pass'] === true);
    counts = thresholds === null || checks === null ? null : { passed: thresholds.passed + checks.passed, failed: thresholds.failed + checks.failed };
  }
  if (counts === null || counts.passed + counts.failed === 0) return NO_REPORT;
  return counts;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [kind, file] = process.argv.slice(2);
  if ((kind !== 'chaos' && kind !== 'soak') || file === undefined) {
    process.stderr.write('usage: node scripts/ci/count-checks.ts chaos|soak FILE\n');
    process.exit(2);
  }
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // no report: counted as one failure
  }
  const c = countChecks(kind, text);
  process.stdout.write(`${c.passed} ${c.failed}\n`);
}
