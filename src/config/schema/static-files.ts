// `static-files { root "…"; index "index.html"; cache-control "…"; precompressed "br" "gzip"; fallback "…" }`:
// a route served from a directory (src/static/).
import { dirname, isAbsolute, join } from 'node:path';
import type { ContentCoding, StaticFilesConfig } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { checkBlockNode, error, q, readBool, readManyStrings, readString, rejectBlock, rejectProps, walkBlock } from './reader.ts';
import type { Ctx } from './reader.ts';

export const DEFAULT_STATIC_CACHE_CONTROL = 'public, max-age=3600';
const CODINGS: readonly ContentCoding[] = ['br', 'gzip'];

/** A file name inside a directory: no separators, not `.` or `..`, no NUL. */
function isPlainName(s: string): boolean {
  return s !== '' && s !== '.' && s !== '..' && !/[/\\\0]/.test(s);
}

/** A relative path below root: plain names joined by `/`. */
function isRelativeBelow(s: string): boolean {
  return s !== '' && !s.startsWith('/') && s.split('/').every(isPlainName);
}

export function readStaticFiles(ctx: Ctx, n: LNode, p: string, label: string): StaticFilesConfig | undefined {
  checkBlockNode(ctx, n, p);
  let root: string | undefined;
  let sawRoot = false;
  let index: readonly string[] = ['index.html'];
  let cacheControl: string | null = DEFAULT_STATIC_CACHE_CONTROL;
  let precompressed: readonly ContentCoding[] = [];
  let fallback: string | null = null;
  walkBlock(ctx, n, p, {
    label: `${label} static-files`,
    keys: {
      root: (c, cp) => {
        sawRoot = true;
        const s = readString(ctx, c, cp);
        if (s === undefined) return;
        if (s === '' || s.includes('\0')) {
          error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `invalid root ${q(s)}`, cp);
          return;
        }
        // Relative to the file that names it, like include paths.
        root = isAbsolute(s) ? s : join(dirname(c.file), s);
      },
      index: (c, cp) => {
        const vals = readManyStrings(ctx, c, cp);
        if (vals === undefined) return;
        const names: string[] = [];
        for (const { value, pos } of vals) {
          if (!isPlainName(value)) error(ctx, c, pos, 'invalid-value', `index ${q(value)} must be a file name, not a path`, cp);
          else names.push(value);
        }
        index = names;
      },
      'cache-control': (c, cp) => {
        rejectProps(ctx, c, cp);
        rejectBlock(ctx, c, cp);
        const v = c.args[0];
        if (v === undefined) {
          error(ctx, c, c.pos, 'missing-argument', 'cache-control needs a value, or #false to send none', cp);
          return;
        }
        if (v.value === false) cacheControl = null;
        // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
        else if (typeof v.value === 'string' && v.value.trim() !== '' && !/[\u0000-\u001f\u007f]/.test(v.value)) cacheControl = v.value.trim();
        else error(ctx, c, v.pos, 'invalid-value', 'cache-control must be a non-empty header value or #false', cp);
      },
      precompressed: (c, cp) => {
        const vals = readManyStrings(ctx, c, cp);
        if (vals === undefined) return;
        const out: ContentCoding[] = [];
        for (const { value, pos } of vals) {
          const v = value.toLowerCase() === 'gz' ? 'gzip' : value.toLowerCase();
          if (!(CODINGS as readonly string[]).includes(v)) error(ctx, c, pos, 'invalid-value', `unknown precompressed coding ${q(value)}`, cp, 'use "br" and/or "gzip", in order of preference');
          else if (!out.includes(v as ContentCoding)) out.push(v as ContentCoding);
        }
        precompressed = out;
      },
      fallback: (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined) return;
        if (!isRelativeBelow(s)) error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `fallback ${q(s)} must be a path relative to root without "." or ".." segments`, cp, 'e.g. fallback "index.html"');
        else fallback = s;
      },
      'directory-listing': (c, cp) => {
        const v = readBool(ctx, c, cp);
        if (v === true) error(ctx, c, c.args[0]?.pos ?? c.pos, 'not-implemented', 'directory-listing #true is not implemented', cp, 'a directory without an index file is answered 404');
      },
      compress: (c, cp) => {
        const v = readBool(ctx, c, cp);
        if (v === true) error(ctx, c, c.args[0]?.pos ?? c.pos, 'not-implemented', 'on-the-fly compression (compress #true) is not implemented', cp, 'serve precompressed siblings instead: precompressed "br" "gzip"');
      },
    },
  });
  if (!sawRoot) error(ctx, n, n.pos, 'missing-key', `${label} static-files has no "root"`, p, 'e.g. root "/var/www/html"');
  if (root === undefined) return undefined;
  return { root, index, cacheControl, precompressed, fallback };
}
