import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { loadConfigText } from '../../src/config/load.ts';
import type { LoadOptions } from '../../src/config/load.ts';
import { formatDiagnostics } from '../../src/config/format.ts';
import { configHash } from '../../src/config/hash.ts';
import type { LoadResult } from '../../src/config/types.ts';
import { DEFAULT_CONFIG_KDL } from '../../src/config/default.ts';
import { FULL_CONFIG_KDL } from './fixtures.ts';

const SEVERITIES = new Set(['error', 'warning']);

/** The loader's contract on any input: no exception, well-formed diagnostics, config iff no errors. */
function checkContract(text: string, opts?: LoadOptions): LoadResult {
  let result: LoadResult | undefined;
  expect(() => {
    result = loadConfigText(text, 'prop.kdl', opts);
  }).not.toThrow();
  if (result === undefined) throw new Error('no result');
  const hasError = result.diagnostics.some((d) => d.severity === 'error');
  expect(result.config !== null).toBe(!hasError);
  for (const d of result.diagnostics) {
    expect(d.code).toMatch(/^[a-z][a-z-]*$/);
    expect(SEVERITIES.has(d.severity)).toBe(true);
    expect(d.message.length).toBeGreaterThan(0);
    expect(Number.isInteger(d.line) && d.line >= 0).toBe(true);
    expect(Number.isInteger(d.column) && d.column >= 0).toBe(true);
    expect(typeof d.file).toBe('string');
  }
  expect(typeof formatDiagnostics(result.diagnostics)).toBe('string');
  if (result.config !== null) expect(configHash(result.config)).toMatch(/^[0-9a-f]{16}$/);
  return result;
}

const TOKENS = [
  'schema-version', 'system', 'listeners', 'listener', 'routes', 'route', 'upstreams', 'upstream', 'observability',
  'metrics', 'logging', 'access-log', 'matches', 'path', 'path-prefix', 'path-regex', 'host', 'method', 'header',
  'query-param', 'target', 'weight=2', 'weight=0', 'address', 'protocol', 'priority', 'builtin-handler', 'include',
  'timeouts', 'connect-secs', 'connection-pool', 'load-balancing', 'preserve-host', 'host-header', 'default-route',
  'worker-threads', 'filters', 'cache', '"http"', '"1"', '"127.0.0.1:0"', '"[::1]:80"', '"/"', '"/api"', '"^(["',
  '"*.kdl"', '"a.kdl"', '"status"', '"backend"', '"high"', '"round_robin"', '"p2c"', '#true', '#false', '#null',
  '1', '0', '-1', '1.5', '1e400', '0x10', '{', '}', '{', '}', ';', '\n', '\n', ' ', ' ', '=', '/-', '(t)', '"',
  '/*', '*/', '//', '\\', '#"raw"#', '"""\nx\n"""', 'true', '\u0000', '\u2028',
];

const ENV: LoadOptions = {
  // Every include resolves to the whole valid config, so includes are exercised (and cycles are impossible).
  readFile: (p) => (p.endsWith('.kdl') && p !== 'prop.kdl' ? FULL_CONFIG_KDL.replace('schema-version "1"', '').replace(/system \{[^}]*\}/, '').replace(/observability \{[\s\S]*$/, '') : null),
  listDir: () => ['a.kdl', 'b.kdl', 'x.txt'],
};

describe('loadConfigText never throws and returns a config iff there are no errors', () => {
  it('the valid fixtures satisfy the contract and load', () => {
    expect(checkContract(FULL_CONFIG_KDL).config).not.toBeNull();
    expect(checkContract(DEFAULT_CONFIG_KDL).config).not.toBeNull();
  });

  it('on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void checkContract(s)), { numRuns: 500 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => void checkContract(s)), { numRuns: 300 });
  });

  it('on KDL-ish token soups', () => {
    const soup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }).chain((toks) =>
      fc.array(fc.constantFrom(' ', '', '\n', ';'), { minLength: toks.length, maxLength: toks.length }).map((seps) => toks.map((t, i) => t + (seps[i] ?? '')).join('')),
    );
    fc.assert(fc.property(soup, (s) => void checkContract(s, ENV)), { numRuns: 1500 });
  });

  it('on random line deletions, duplications and swaps of a valid config', () => {
    const lines = FULL_CONFIG_KDL.split('\n');
    const edit = fc.oneof(
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(lines.length - 1) }),
      fc.record({ op: fc.constant('dup' as const), at: fc.nat(lines.length - 1) }),
      fc.record({ op: fc.constant('swap' as const), at: fc.nat(lines.length - 1), to: fc.nat(lines.length - 1) }),
      fc.record({ op: fc.constant('char' as const), at: fc.nat(lines.length - 1), pos: fc.nat(80), ch: fc.constantFrom('"', '{', '}', ';', 'x', '0', '-', ' ', '#', '/') }),
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => {
        const cur = [...lines];
        for (const e of edits) {
          const line = cur[e.at % Math.max(cur.length, 1)] ?? '';
          if (e.op === 'delete') cur.splice(e.at % Math.max(cur.length, 1), 1);
          else if (e.op === 'dup') cur.splice(e.at % Math.max(cur.length, 1), 0, line);
          else if (e.op === 'swap') {
            const j = e.to % Math.max(cur.length, 1);
            const other = cur[j] ?? '';
            cur[j] = line;
            cur[e.at % Math.max(cur.length, 1)] = other;
          } else {
            const p = e.pos % (line.length + 1);
            cur[e.at % Math.max(cur.length, 1)] = line.slice(0, p) + e.ch + line.slice(p);
          }
        }
        checkContract(cur.join('\n'), ENV);
      }),
      { numRuns: 1000 },
    );
  });

  it('deleting any single line of the valid config either still loads or says why, with a location', () => {
    const lines = FULL_CONFIG_KDL.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const r = checkContract([...lines.slice(0, i), ...lines.slice(i + 1)].join('\n'));
      for (const d of r.diagnostics) {
        if (d.code !== 'missing-key') expect(d.line, `${d.code} after deleting line ${i + 1}`).toBeGreaterThan(0);
      }
    }
  });
});
