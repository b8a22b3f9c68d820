// Golden files for the config loader. valid/*.kdl must load; their Config (without `loc`) is compared
// with valid/*.summary.json. invalid/*.kdl must fail; their formatted diagnostics are compared with
// invalid/*.diagnostics.txt. Paths in diagnostics are relative to this directory.
// Run with UPDATE_GOLDEN=1 to rewrite the expected files after an intended change (then review the diff).
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigText } from '../../src/config/load.ts';
import type { LoadOptions } from '../../src/config/load.ts';
import { formatDiagnostics } from '../../src/config/format.ts';
import { DEFAULT_CONFIG_KDL } from '../../src/config/default.ts';
import type { LoadResult } from '../../src/config/types.ts';

const ROOT = dirname(fileURLToPath(import.meta.url));
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

/** Every diagnostic code the invalid cases must exercise between them. */
const REQUIRED_CODES = [
  'kdl-syntax', 'unknown-key', 'unknown-block', 'unknown-property', 'unexpected-block', 'invalid-type',
  'missing-argument', 'extra-argument', 'invalid-value', 'invalid-address', 'duplicate-id', 'duplicate-key',
  'duplicate-block', 'duplicate-condition', 'duplicate-target', 'dangling-reference', 'missing-matches',
  'missing-action', 'missing-key', 'conflict', 'unused-upstream', 'unused-agent', 'not-implemented', 'include-forbidden-block',
  'include-cycle', 'include-not-found', 'include-no-match',
];

const fsOptions: LoadOptions = {
  readFile: (p) => {
    try {
      return readFileSync(join(ROOT, p), 'utf8');
    } catch {
      return null;
    }
  },
  listDir: (dir) => {
    try {
      return readdirSync(join(ROOT, dir)).filter((n) => statSync(join(ROOT, dir, n)).isFile());
    } catch {
      return null;
    }
  },
};

function cases(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).filter((n) => n.endsWith('.kdl')).sort();
}

function load(rel: string): LoadResult {
  return loadConfigText(readFileSync(join(ROOT, rel), 'utf8'), rel, fsOptions);
}

function withoutLoc(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutLoc);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'loc').map(([k, v]) => [k, withoutLoc(v)]));
  }
  return value;
}

function golden(path: string, actual: string): void {
  if (UPDATE || !existsSync(path)) {
    if (!UPDATE) throw new Error(`missing golden file ${path}; run with UPDATE_GOLDEN=1`);
    writeFileSync(path, actual);
    return;
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

describe('config golden files: valid', () => {
  const valid = cases('valid');
  it('there are at least 6 valid cases', () => {
    expect(valid.length).toBeGreaterThanOrEqual(6);
  });
  for (const name of valid) {
    it(name, () => {
      const r = load(`valid/${name}`);
      expect(formatDiagnostics(r.diagnostics)).toBe('0 errors, 0 warnings\n');
      expect(r.config).not.toBeNull();
      golden(join(ROOT, 'valid', name.replace(/\.kdl$/, '.summary.json')), `${JSON.stringify(withoutLoc(r.config), null, 2)}\n`);
    });
  }
  it('valid/embedded-default.kdl is the embedded default', () => {
    expect(readFileSync(join(ROOT, 'valid/embedded-default.kdl'), 'utf8')).toBe(DEFAULT_CONFIG_KDL);
  });
});

describe('config golden files: invalid', () => {
  const invalid = cases('invalid');
  it('there are at least 15 invalid cases', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(15);
  });
  const seen = new Set<string>();
  for (const name of invalid) {
    it(name, () => {
      const r = load(`invalid/${name}`);
      expect(r.config).toBeNull();
      for (const d of r.diagnostics) {
        seen.add(d.code);
        expect(d.line, `${d.code} must carry a line`).toBeGreaterThan(0);
        expect(d.column, `${d.code} must carry a column`).toBeGreaterThan(0);
      }
      golden(join(ROOT, 'invalid', name.replace(/\.kdl$/, '.diagnostics.txt')), formatDiagnostics(r.diagnostics));
    });
  }
  it('the invalid cases cover every diagnostic code', () => {
    if (seen.size === 0) for (const name of invalid) for (const d of load(`invalid/${name}`).diagnostics) seen.add(d.code);
    expect(REQUIRED_CODES.filter((c) => !seen.has(c))).toEqual([]);
  });
});
