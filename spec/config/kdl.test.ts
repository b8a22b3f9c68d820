import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseKdl } from '../../src/config/kdl.ts';
import type { LNode } from '../../src/config/kdl.ts';
import { FULL_CONFIG_KDL } from './fixtures.ts';

/** The text at a 1-based line/column (lines split the way the KDL lexer does for these inputs). */
function at(text: string, line: number, column: number): string {
  return (text.split('\n')[line - 1] ?? '').slice(column - 1);
}

function all(nodes: readonly LNode[]): LNode[] {
  return nodes.flatMap((n) => [n, ...all(n.children)]);
}

/** Every node position points at its name (possibly quoted or tagged); every argument position at a value. */
function checkPositions(text: string): number {
  const parsed = parseKdl(text, 'x.kdl');
  if (parsed.nodes === null) return 0;
  const nodes = all(parsed.nodes);
  for (const n of nodes) {
    const here = at(text, n.pos.line, n.pos.column).replace(/^\([^)]*\)\s*/, '');
    const ok = here.startsWith(n.name) || here.startsWith(JSON.stringify(n.name)) || here.startsWith('"') || here.startsWith('#"');
    expect(ok, `node ${JSON.stringify(n.name)} at ${n.pos.line}:${n.pos.column} sees ${JSON.stringify(here.slice(0, 20))}`).toBe(true);
    for (const a of n.args) {
      const v = at(text, a.pos.line, a.pos.column).replace(/^\([^)]*\)\s*/, '');
      const expected = typeof a.value === 'string' ? [a.value, '"', '#"'] : a.value === null ? ['#null'] : typeof a.value === 'boolean' ? [`#${a.value}`] : [String(a.value), '0x', '1'];
      expect(expected.some((e) => v.startsWith(e)), `arg ${JSON.stringify(a.value)} sees ${JSON.stringify(v.slice(0, 20))}`).toBe(true);
    }
    for (const [key, p] of n.props) {
      const v = at(text, p.pos.line, p.pos.column);
      expect(v.startsWith(key) || v.startsWith('"'), `prop ${key} sees ${JSON.stringify(v.slice(0, 20))}`).toBe(true);
    }
  }
  return nodes.length;
}

describe('parseKdl positions', () => {
  it('positions in the full fixture point at the nodes', () => {
    expect(checkPositions(FULL_CONFIG_KDL)).toBeGreaterThan(50);
  });

  it('handles slashdash, tags, multi-line strings and comments', () => {
    const text = '/- a 1\n(t)b "x" /- 2 k=1 {\n  c """\n  m\n  """ d\n  /* x\n */ e #"r"# ; f\n}\n"g h" 1 \\\n  2\n';
    const nodes = parseKdl(text, 'x.kdl').nodes ?? [];
    expect(all(nodes).map((n) => `${n.name}@${n.pos.line}:${n.pos.column}`)).toEqual(['b@2:1', 'c@3:3', 'e@7:5', 'f@7:15', 'g h@9:1']);
    const b = nodes[0];
    expect(b?.args.map((a) => [a.value, a.pos.column])).toEqual([['x', 6]]);
    expect(b?.props.get('k')?.pos).toEqual({ line: 2, column: 15 });
    expect(nodes[1]?.args.map((a) => [a.value, a.pos.line, a.pos.column])).toEqual([[1, 9, 7], [2, 10, 3]]);
  });

  it('positions are right on random well-formed documents', () => {
    const ident = fc.constantFrom('a', 'bb', 'node-x', 'listener', '"q s"', '#"raw"#', '(t)n');
    const value = fc.constantFrom('1', '"s"', '#true', '#null', 'word', '(u)2', '#"r"#', '1.5');
    const entry = fc.oneof(value, fc.tuple(fc.constantFrom('p', 'weight', '"k k"'), value).map(([k, v]) => `${k}=${v}`), value.map((v) => `/- ${v}`));
    const node: fc.Memo<string> = fc.memo((depth) =>
      fc.tuple(
        fc.constantFrom('', '/- '),
        ident,
        fc.array(entry, { maxLength: 3 }),
        depth > 1 ? fc.option(fc.array(node(depth - 1), { maxLength: 3 }), { nil: undefined }) : fc.constant(undefined),
        fc.constantFrom('\n', ';', ' // c\n', '\n\n', ' /* c */\n'),
      ).map(([sd, name, entries, kids, end]) => `${sd}${name}${entries.map((e) => ` ${e}`).join('')}${kids === undefined ? '' : ` {\n${kids.join('')}}`}${end}`),
    );
    fc.assert(
      fc.property(fc.array(node(3), { maxLength: 5 }), (nodes) => {
        const text = nodes.join('');
        const parsed = parseKdl(text, 'x.kdl');
        expect(parsed.diagnostics).toEqual([]);
        checkPositions(text);
      }),
      { numRuns: 400 },
    );
  });
});
