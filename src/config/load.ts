// Config loading: read the main file, resolve `include`s, validate. Never throws.
import { readFile as readFileAsync } from 'node:fs/promises';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, basename } from 'node:path';
import type { Config, Diagnostic, LoadResult } from './types.ts';
import { parseKdl } from './kdl.ts';
import type { LNode } from './kdl.ts';
import { makeDiagnostic } from './diagnostics.ts';
import { validateConfig } from './validate.ts';
import { checkTlsFiles } from './tls-files.ts';
import type { TopNode } from './validate.ts';

export interface LoadOptions {
  /** Returns a file's text, or null when it does not exist or cannot be read. Default: nothing exists. */
  readonly readFile?: (path: string) => string | null;
  /** Returns the names (not paths) of the regular files in a directory, or null if it does not exist. */
  readonly listDir?: (dir: string) => readonly string[] | null;
}

/** Include nesting deeper than this is an error (protects against runaway configs). */
export const MAX_INCLUDE_DEPTH = 16;
/** More files than this in one config is an error. */
export const MAX_CONFIG_FILES = 256;
/** Files larger than this are refused. */
export const MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024;

interface LoadState {
  readonly files: string[];
  readonly top: TopNode[];
  readonly diags: Diagnostic[];
  readonly readFile: (path: string) => string | null;
  readonly listDir: (dir: string) => readonly string[] | null;
}

function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (const ch of pattern) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

function includeError(state: LoadState, node: LNode, code: string, message: string, hint?: string, severity: 'error' | 'warning' = 'error'): void {
  state.diags.push(makeDiagnostic(severity, code, message, node.file, node.args[0]?.pos ?? node.pos, 'include', hint));
}

function handleInclude(state: LoadState, node: LNode, chain: readonly string[]): void {
  const arg = node.args[0];
  for (const [key, v] of node.props) {
    state.diags.push(makeDiagnostic('error', 'unknown-property', `unknown property ${JSON.stringify(key)} on "include"`, node.file, v.pos, 'include', '"include" takes no properties'));
  }
  if (node.hasBlock) state.diags.push(makeDiagnostic('error', 'unexpected-block', '"include" takes a value, not a { } block', node.file, node.pos, 'include'));
  if (arg === undefined) {
    state.diags.push(makeDiagnostic('error', 'missing-argument', '"include" needs a path or glob', node.file, node.pos, 'include', 'e.g. include "conf.d/*.kdl"'));
    return;
  }
  const extra = node.args[1];
  if (extra !== undefined) {
    state.diags.push(makeDiagnostic('error', 'extra-argument', `"include" takes one path, got ${node.args.length}`, node.file, extra.pos, 'include', 'use one include line per path'));
  }
  if (typeof arg.value !== 'string' || arg.value === '') {
    state.diags.push(makeDiagnostic('error', 'invalid-type', `expected a path string, got ${arg.value === '' ? 'an empty string' : typeof arg.value}`, node.file, arg.pos, 'include'));
    return;
  }
  const pattern = arg.value;
  const target = normalize(isAbsolute(pattern) ? pattern : join(dirname(node.file), pattern));
  const dir = dirname(target);
  const last = basename(target);
  let paths: string[];
  if (/[*?]/.test(dir)) {
    includeError(state, node, 'invalid-value', `include ${JSON.stringify(pattern)}: wildcards are only supported in the last path segment`);
    return;
  }
  if (/[*?]/.test(last)) {
    const re = globToRegExp(last);
    const names = state.listDir(dir) ?? [];
    paths = names.filter((n) => re.test(n) && !(n.startsWith('.') && !last.startsWith('.'))).sort().map((n) => join(dir, n));
    if (paths.length === 0) {
      includeError(state, node, 'include-no-match', `include ${JSON.stringify(pattern)} matched no file`, undefined, 'warning');
      return;
    }
  } else {
    paths = [target];
  }
  for (const p of paths) {
    if (chain.includes(p)) {
      includeError(state, node, 'include-cycle', `include cycle: ${[...chain.slice(chain.indexOf(p)), p].join(' -> ')}`, 'remove one of the includes in the cycle');
      continue;
    }
    if (chain.length >= MAX_INCLUDE_DEPTH) {
      includeError(state, node, 'include-limit', `includes are nested more than ${MAX_INCLUDE_DEPTH} deep`);
      return;
    }
    if (state.files.length >= MAX_CONFIG_FILES) {
      includeError(state, node, 'include-limit', `more than ${MAX_CONFIG_FILES} config files`);
      return;
    }
    const text = state.readFile(p);
    if (text === null) {
      includeError(state, node, 'include-not-found', `included file ${JSON.stringify(p)} does not exist or cannot be read`, `paths are relative to the including file's directory (${dirname(node.file)})`);
      continue;
    }
    loadInto(state, text, p, [...chain, p]);
  }
}

function loadInto(state: LoadState, text: string, file: string, chain: readonly string[]): void {
  state.files.push(file);
  if (text.length > MAX_CONFIG_FILE_BYTES) {
    state.diags.push(makeDiagnostic('error', 'file-too-large', `config file is larger than ${MAX_CONFIG_FILE_BYTES} bytes`, file, { line: 0, column: 0 }, ''));
    return;
  }
  const parsed = parseKdl(text, file);
  state.diags.push(...parsed.diagnostics);
  if (parsed.nodes === null) return;
  const included = chain.length > 1;
  for (const node of parsed.nodes) {
    if (node.name === 'include') handleInclude(state, node, chain);
    else state.top.push({ node, included });
  }
}

/** Loads a config from text. Pure unless the given `readFile`/`listDir` do I/O. Never throws. */
export function loadConfigText(text: string, file: string, opts: LoadOptions = {}): LoadResult {
  try {
    const state: LoadState = {
      files: [],
      top: [],
      diags: [],
      readFile: opts.readFile ?? (() => null),
      listDir: opts.listDir ?? (() => null),
    };
    const main = normalize(file);
    loadInto(state, text, main, [main]);
    // After a syntax error anywhere, schema checks would only add noise (a missing block may just
    // be unparsed), so only the syntax and include diagnostics are reported.
    if (state.diags.some((d) => d.code === 'kdl-syntax' || d.code === 'file-too-large')) {
      return { config: null, diagnostics: sortDiagnostics(state.diags, state.files) };
    }
    const validated = validateConfig(state.top, state.files, main);
    const diagnostics = [...state.diags, ...validated.diagnostics];
    if (validated.config !== null) checkStaticRoots(state, validated.config, diagnostics);
    let config = diagnostics.some((d) => d.severity === 'error') ? null : validated.config;
    // Certificates and keys are read once the config itself is valid (their paths are known).
    if (config !== null) config = checkTlsFiles(config, state.readFile, diagnostics);
    const hasError = diagnostics.some((d) => d.severity === 'error');
    return { config: hasError ? null : config, diagnostics: sortDiagnostics(diagnostics, state.files) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { config: null, diagnostics: [makeDiagnostic('error', 'internal-error', `config loader failed: ${message}`, file, { line: 0, column: 0 }, '')] };
  }
}

/**
 * A static-files root that is not a readable directory would answer 404 to everything: refuse the
 * config instead (checked again on every reload, in the loader's child process).
 */
function checkStaticRoots(state: LoadState, config: Config, diags: Diagnostic[]): void {
  for (const r of config.routes) {
    if (r.action.kind !== 'static') continue;
    const root = r.action.files.root;
    if (state.listDir(root) !== null) continue;
    diags.push(makeDiagnostic('error', 'invalid-value', `route ${JSON.stringify(r.id)}: static-files root ${JSON.stringify(root)} is not a readable directory`,
      r.loc.file, { line: r.loc.line, column: r.loc.column }, `routes/route ${JSON.stringify(r.id)}/static-files/root`,
      'a relative root is resolved against the directory of the config file'));
  }
}

function sortDiagnostics(diags: readonly Diagnostic[], files: readonly string[]): Diagnostic[] {
  const order = new Map(files.map((f, i) => [f, i]));
  return diags
    .map((d, i) => ({ d, i }))
    .sort((a, b) => (order.get(a.d.file) ?? 0) - (order.get(b.d.file) ?? 0) || a.d.line - b.d.line || a.d.column - b.d.column || a.i - b.i)
    .map((x) => x.d);
}

function readFileOrNull(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

function listDirFiles(dir: string): string[] | null {
  try {
    return readdirSync(dir).filter((name) => {
      try {
        return statSync(join(dir, name)).isFile();
      } catch {
        return false;
      }
    });
  } catch {
    return null;
  }
}

/** Reads and validates a config file and its includes. Never throws (I/O errors are diagnostics). */
export async function loadConfigFile(path: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFileAsync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${String(code ?? err)})`;
    return { config: null, diagnostics: [makeDiagnostic('error', 'file-not-readable', `config file ${JSON.stringify(path)} ${why}`, path, { line: 0, column: 0 }, '')] };
  }
  return loadConfigText(text, path, { readFile: readFileOrNull, listDir: listDirFiles });
}
