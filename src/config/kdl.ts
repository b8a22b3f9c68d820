// KDL v2 parsing with source locations. kdljs gives values but no positions, so we re-walk its own
// lexer's token stream (same tokens the parser consumed) and zip the two trees together.
import { parse } from 'kdljs';
import type { Node as KdlNode, Value } from 'kdljs';
import { lexer } from 'kdljs/src/parser/kdl.js';
import type { KdlToken } from 'kdljs/src/parser/kdl.js';
import type { Diagnostic } from './types.ts';

export interface Pos {
  readonly line: number;
  readonly column: number;
}

export interface LValue {
  readonly value: Value;
  readonly pos: Pos;
}

/** A KDL node with positions, tagged with the file it came from. */
export interface LNode {
  readonly name: string;
  readonly file: string;
  readonly pos: Pos;
  readonly args: readonly LValue[];
  /** Property name → value; `pos` is the position of the property's key. */
  readonly props: ReadonlyMap<string, LValue>;
  readonly children: readonly LNode[];
  /** True when the node has a `{ }` block, even an empty one. */
  readonly hasBlock: boolean;
}

export interface ParsedKdl {
  readonly nodes: readonly LNode[] | null;
  readonly diagnostics: readonly Diagnostic[];
}

interface ScanNode {
  pos: Pos;
  args: Pos[];
  props: Map<string, Pos>;
  children: ScanNode[];
  hasBlock: boolean;
}

const NO_POS: Pos = { line: 0, column: 0 };

function tokPos(t: KdlToken | undefined): Pos {
  if (t === undefined) return NO_POS;
  const line = t.startLine ?? 0;
  const column = t.startColumn ?? 0;
  return Number.isFinite(line) && Number.isFinite(column) ? { line, column } : NO_POS;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\n': '\n', '\\r': '\r', '\\t': '\t', '\\\\': '\\', '\\/': '/', '\\"': '"', '\\b': '\b', '\\f': '\f', '\\s': ' ',
};

/** Walks a token stream that kdljs accepted, building the node tree with positions only. */
function scanTokens(tokens: readonly KdlToken[]): ScanNode[] {
  let i = 0;
  const n = tokens.length;
  const kind = (k: number): string => tokens[k]?.tokenType.name ?? 'EOF';

  const skipComment = (): void => {
    // at OpenMultiLineComment: skip to the matching close (they nest)
    let depth = 0;
    while (i < n) {
      const k = kind(i);
      if (k === 'OpenMultiLineComment') depth++;
      else if (k === 'CloseMultiLineComment') depth--;
      i++;
      if (depth === 0) return;
    }
  };
  const skipNodeSpace = (): void => {
    while (i < n) {
      const k = kind(i);
      if (k === 'WhiteSpace') i++;
      else if (k === 'OpenMultiLineComment') skipComment();
      else if (k === 'EscLine') {
        i++;
        while (i < n && (kind(i) === 'WhiteSpace' || kind(i) === 'OpenMultiLineComment')) {
          if (kind(i) === 'WhiteSpace') i++;
          else skipComment();
        }
        if (kind(i) === 'LineComment') i++;
        if (kind(i) === 'NewLine') i++;
      } else return;
    }
  };
  const skipLineSpace = (): void => {
    while (i < n) {
      skipNodeSpace();
      const k = kind(i);
      if (k === 'NewLine' || k === 'LineComment' || k === 'BOM') i++;
      else return;
    }
  };
  const skipTag = (): void => {
    if (kind(i) !== 'LeftParenthesis') return;
    while (i < n && kind(i) !== 'RightParenthesis') i++;
    i++;
    skipNodeSpace();
  };
  /** Consumes one value (string, number, keyword) and returns its text as a string. */
  const readValue = (): string => {
    const t = tokens[i];
    if (t === undefined) return '';
    const k = t.tokenType.name;
    if (k === 'OpenQuote') {
      i++;
      let s = '';
      while (i < n && kind(i) !== 'CloseQuote') {
        const img = tokens[i]?.image ?? '';
        const k2 = kind(i);
        if (k2 === 'Escape') s += SIMPLE_ESCAPES[img] ?? '';
        else if (k2 === 'UnicodeEscape') s += String.fromCodePoint(parseInt(img.slice(3, -1), 16));
        else if (k2 !== 'WhiteSpaceEscape') s += img;
        i++;
      }
      i++;
      return s;
    }
    if (k === 'MultiLineOpenQuote') {
      i++;
      while (i < n && kind(i) !== 'MultiLineCloseQuote') i++;
      i++;
      return '';
    }
    i++;
    if (k === 'RawString') {
      const hashes = /^#+/.exec(t.image)?.[0].length ?? 1;
      return t.image.slice(hashes + 1, -(hashes + 1));
    }
    return t.image;
  };

  const parseNodes = (inBlock: boolean): ScanNode[] => {
    const out: ScanNode[] = [];
    while (i < n) {
      skipLineSpace();
      if (i >= n) break;
      const k = kind(i);
      if (k === 'SemiColon') {
        i++;
        continue;
      }
      if (k === 'RightBrace') {
        i++;
        if (inBlock) return out;
        continue;
      }
      let discard = false;
      if (k === 'BlockComment') {
        discard = true;
        i++;
        skipLineSpace();
      }
      const node = parseNode();
      if (!discard) out.push(node);
    }
    return out;
  };

  const parseNode = (): ScanNode => {
    const node: ScanNode = { pos: tokPos(tokens[i]), args: [], props: new Map(), children: [], hasBlock: false };
    skipTag();
    readValue();
    while (i < n) {
      skipNodeSpace();
      const k = kind(i);
      if (k === 'NewLine' || k === 'SemiColon') {
        i++;
        return node;
      }
      if (k === 'LineComment') {
        i++;
        if (kind(i) === 'NewLine') i++;
        return node;
      }
      if (k === 'RightBrace' || i >= n) return node;
      let discard = false;
      if (k === 'BlockComment') {
        discard = true;
        i++;
        skipLineSpace();
      }
      if (kind(i) === 'LeftBrace') {
        i++;
        const children = parseNodes(true);
        if (!discard) {
          node.children = children;
          node.hasBlock = true;
        }
        continue;
      }
      const start = tokPos(tokens[i]);
      skipTag();
      const text = readValue();
      const save = i;
      skipNodeSpace();
      if (kind(i) === 'Equals') {
        i++;
        skipNodeSpace();
        skipTag();
        readValue();
        if (!discard) node.props.set(text, start);
      } else {
        i = save;
        if (!discard) node.args.push(start);
      }
    }
    return node;
  };

  return parseNodes(false);
}

function zip(kdl: readonly KdlNode[], scan: readonly ScanNode[] | undefined, file: string, parentPos: Pos): LNode[] {
  return kdl.map((k, idx) => {
    const s = scan?.[idx];
    const pos = s?.pos ?? parentPos;
    const props = new Map<string, LValue>();
    for (const [key, value] of Object.entries(k.properties)) {
      props.set(key, { value, pos: s?.props.get(key) ?? pos });
    }
    return {
      name: k.name,
      file,
      pos,
      args: k.values.map((value, j) => ({ value, pos: s?.args[j] ?? pos })),
      props,
      children: zip(k.children, s?.children, file, pos),
      hasBlock: s?.hasBlock ?? k.children.length > 0,
    };
  });
}

function endPos(text: string): Pos {
  // eslint-disable-next-line no-control-regex -- KDL's newline set includes VT and FF
  const lines = text.split(/\r\n|[\n\r\u0085\u2028\u2029\u000b\u000c]/);
  const last = lines[lines.length - 1] ?? '';
  return { line: lines.length, column: last.length + 1 };
}

const TOKEN_WORDS: Record<string, string> = {
  RightBrace: '"}"', LeftBrace: '"{"', EOF: 'end of file', NewLine: 'end of line', SemiColon: '";"', Equals: '"="',
  RightParenthesis: '")"', CloseQuote: 'closing quote', Identifier: 'a name',
};

interface ChevError {
  message?: unknown;
  token?: { image?: unknown; startLine?: unknown; startColumn?: unknown; startOffset?: unknown };
}

/** The last non-blank character before `offset` on the same line. */
function charBefore(text: string, offset: unknown): string | undefined {
  if (typeof offset !== 'number') return undefined;
  let k = offset - 1;
  while (k >= 0 && (text[k] === ' ' || text[k] === '\t')) k--;
  return text[k];
}

function syntaxDiagnostic(err: unknown, text: string, file: string): Diagnostic {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ChevError;
  const raw = typeof e.message === 'string' ? e.message : 'syntax error';
  const image = typeof e.token?.image === 'string' ? e.token.image : '';
  let line = typeof e.token?.startLine === 'number' ? e.token.startLine : NaN;
  let column = typeof e.token?.startColumn === 'number' ? e.token.startColumn : NaN;
  let message: string;
  let hint: string | undefined;
  if (raw.startsWith('unexpected character')) {
    message = `invalid character ${JSON.stringify(image.slice(0, 20))}`;
    if (image.startsWith('\n') || image.startsWith('\r')) {
      message = 'unterminated string (a line break inside "...")';
      hint = 'close the string on the same line, or use a multi-line string """..."""';
    }
  } else if (!Number.isFinite(line) || image === '') {
    message = 'unexpected end of file';
    hint = 'is a "{" block or a string left unclosed?';
    const end = endPos(text);
    line = end.line;
    column = end.column;
  } else {
    message = `unexpected ${JSON.stringify(image.slice(0, 40))}`;
    const expected = /Expecting token of type --> (\w+) <--/.exec(raw)?.[1];
    if (expected !== undefined) message += `, expected ${TOKEN_WORDS[expected] ?? expected}`;
    if (/^(true|false|null|inf|nan|-inf)$/.test(image)) hint = `KDL v2 spells keywords with "#": use #${image}`;
    else if (image === '=') hint = 'property names must be followed directly by "=" and a value, e.g. weight=2';
    else if (charBefore(text, e.token?.startOffset) === '}') hint = 'a node ends after its { } block: add a newline or ";" after "}"';
  }
  if (!Number.isFinite(line) || !Number.isFinite(column)) {
    line = 0;
    column = 0;
  }
  return { code: 'kdl-syntax', severity: 'error', message, file, line, column, path: '', ...(hint !== undefined ? { hint } : {}) };
}

/** Parses KDL text. Never throws: syntax errors come back as `kdl-syntax` diagnostics. */
export function parseKdl(text: string, file: string): ParsedKdl {
  let result: ReturnType<typeof parse>;
  try {
    result = parse(text);
  } catch (err) {
    return { nodes: null, diagnostics: [syntaxDiagnostic(err, text, file)] };
  }
  if (result.errors.length > 0 || result.output === undefined) {
    const diags = result.errors.slice(0, 1).map((e) => syntaxDiagnostic(e, text, file));
    if (diags.length === 0) diags.push(syntaxDiagnostic(undefined, text, file));
    return { nodes: null, diagnostics: diags };
  }
  let scanned: ScanNode[] | undefined;
  try {
    scanned = scanTokens(lexer.tokenize(text).tokens);
  } catch {
    scanned = undefined;
  }
  return { nodes: zip(result.output, scanned, file, NO_POS), diagnostics: [] };
}
