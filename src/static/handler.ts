// The static-files route handler: serves a directory with traversal protection, index files,
// validators and conditional requests, single byte ranges, per-route Cache-Control, content
// types, precompressed siblings, and streaming with backpressure.
//
// Path policy (docs/design.md, "Static files"):
//   - the normalised request path (src/core/path.ts: no `.`/`..` segments, no encoded slashes) is
//     decoded into file-name segments and appended to `root` (nginx `root`, not `alias`);
//   - hidden names (a segment starting with `.`) are not served, except `.well-known`;
//   - symlinks are followed only when the fully resolved file is still under the resolved root
//     (`realpath` of both, per request, so a root that is itself a symlink swapped on deploy is
//     picked up at once); anything resolving outside is answered 404 and audited;
//   - the file is opened with O_NOFOLLOW | O_NONBLOCK and checked with fstat: a symlink swapped in
//     after the check fails to open, and a FIFO or device is never read;
//   - only GET and HEAD (405 with Allow otherwise).
import { constants, createReadStream } from 'node:fs';
import type { Stats } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream';
import type { ContentCoding, StaticFilesConfig } from '../config/types.ts';
import { decodePathSegments } from '../core/path.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { ProxyError } from '../core/errors.ts';
import type { Exchange, Pending, RouteHandler } from '../pipeline/exchange.ts';
import { acceptedCodings, evaluatePreconditions, ifRangeAllows, makeEtag, parseRange } from './conditional.ts';
import { contentTypeFor } from './mime.ts';

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const STREAM_HIGH_WATER_MARK = 64 * 1024;
const SUFFIX: Readonly<Record<ContentCoding, string>> = { br: '.br', gzip: '.gz' };

/** An open regular file or directory under the root. */
interface Opened {
  readonly fh: FileHandle;
  readonly stat: Stats;
}

type Lookup = Opened | ErrorCode;

function errorCodeFor(err: unknown): ErrorCode {
  switch ((err as { code?: unknown } | null)?.code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
    case 'ELOOP':
      return 'FILE_NOT_FOUND';
    case 'EACCES':
    case 'EPERM':
      return 'FILE_FORBIDDEN';
    default:
      return 'INTERNAL_ERROR';
  }
}

/** One value of a request field Node may deliver as an array (unknown names repeated). */
function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function isHidden(segments: readonly string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as string;
    if (s.charCodeAt(0) === 46 && !(i === 0 && s === '.well-known')) return true;
  }
  return false;
}

/** Streams a file to the response; cancelled when the client goes away or the exchange ends. */
class FileStream implements Pending {
  readonly ex: Exchange;
  readonly stream: ReturnType<typeof createReadStream>;

  constructor(ex: Exchange, fh: FileHandle, start: number, end: number) {
    this.ex = ex;
    this.stream = createReadStream('', { fd: fh, start, end, highWaterMark: STREAM_HIGH_WATER_MARK, autoClose: true });
  }

  start(length: number): void {
    const ex = this.ex;
    ex.pending = this;
    // pipeline: backpressure from the client pauses the file read; an error on either side
    // destroys both (an aborted response never looks complete), and the file is closed.
    pipeline(this.stream, ex.res, (err) => {
      if (ex.pending === this) ex.pending = null;
      if (ex.finished) return;
      if (err === undefined || err === null) {
        ex.bytesOut += length;
        ex.finalize();
      } else {
        ex.fail(ex.res.destroyed && !ex.res.writableFinished ? 'CLIENT_CLOSED_REQUEST' : 'INTERNAL_ERROR');
      }
    });
  }

  cancel(reason: ProxyError): void {
    if (this.ex.pending === this) this.ex.pending = null;
    this.stream.destroy();
    this.ex.fail(reason.code);
  }
}

export class StaticFilesHandler implements RouteHandler {
  readonly kind = 'static';
  readonly config: StaticFilesConfig;
  readonly root: string;

  constructor(config: StaticFilesConfig) {
    this.config = config;
    this.root = resolve(config.root);
  }

  handle(ex: Exchange): void {
    const method = ex.req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      ex.fail('METHOD_NOT_ALLOWED', ['allow', 'GET, HEAD']);
      return;
    }
    this.serve(ex).catch((err: unknown) => {
      if (ex.finished) return;
      process.emitWarning(`sentinel: static-files on route "${ex.route?.id ?? '-'}" failed: ${(err as Error)?.message ?? String(err)}`);
      ex.fail('INTERNAL_ERROR');
    });
  }

  /** Opens `path` if it resolves under `realRoot`; a symlink pointing outside is audited and 404. */
  private async openUnder(ex: Exchange, realRoot: string, path: string): Promise<Lookup> {
    let real: string;
    try {
      real = await realpath(path);
    } catch (err) {
      return errorCodeFor(err);
    }
    if (real !== realRoot && !real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) {
      ex.audit('static', 'reject', 'symlink resolves outside root', { status: 404 });
      return 'FILE_NOT_FOUND';
    }
    let fh: FileHandle;
    try {
      fh = await open(real, OPEN_FLAGS);
    } catch (err) {
      return errorCodeFor(err);
    }
    try {
      const stat = await fh.stat();
      if (stat.isFile() || stat.isDirectory()) return { fh, stat };
    } catch { /* closed below */ }
    await fh.close().catch(() => undefined);
    return 'FILE_NOT_FOUND';
  }

  private async serve(ex: Exchange): Promise<void> {
    const segments = decodePathSegments(ex.path);
    if (segments === null || isHidden(segments)) {
      this.notFound(ex);
      return;
    }
    let realRoot: string;
    try {
      realRoot = await realpath(this.root);
    } catch (err) {
      // The loader checked the root; it went away since. An operator problem, not the client's.
      process.emitWarning(`sentinel: static-files root ${JSON.stringify(this.root)} is unavailable: ${(err as Error).message}`);
      if (!ex.finished) ex.fail('INTERNAL_ERROR');
      return;
    }
    if (ex.finished) return;
    const path = segments.length === 0 ? realRoot : join(realRoot, ...segments);
    let found = await this.openUnder(ex, realRoot, path);
    let fileName = segments.at(-1) ?? '';
    let filePath = path;
    if (typeof found !== 'string' && found.stat.isDirectory()) {
      await found.fh.close().catch(() => undefined);
      if (!ex.path.endsWith('/')) {
        // A directory without its trailing slash: relative links in its index would resolve
        // against the parent, so send the client to the canonical URL (relative Location).
        if (!ex.finished) ex.reply(301, ['location', ex.query === null ? `${ex.path}/` : `${ex.path}/?${ex.query}`], null);
        return;
      }
      found = 'FILE_NOT_FOUND';
      for (const name of this.config.index) {
        const candidate = await this.openUnder(ex, realRoot, join(path, name));
        if (typeof candidate !== 'string' && candidate.stat.isDirectory()) {
          await candidate.fh.close().catch(() => undefined);
          continue;
        }
        if (candidate !== 'FILE_NOT_FOUND') {
          found = candidate;
          fileName = name;
          filePath = join(path, name);
          break;
        }
      }
    }
    if (found === 'FILE_NOT_FOUND' && this.config.fallback !== null) {
      const fb = await this.openUnder(ex, realRoot, join(realRoot, this.config.fallback));
      if (typeof fb !== 'string' && fb.stat.isDirectory()) await fb.fh.close().catch(() => undefined);
      else {
        found = fb;
        fileName = this.config.fallback;
        filePath = join(realRoot, this.config.fallback);
      }
    }
    if (typeof found === 'string') {
      if (found === 'FILE_NOT_FOUND') this.notFound(ex);
      else if (!ex.finished) ex.fail(found);
      return;
    }
    if (ex.finished) {
      await found.fh.close().catch(() => undefined);
      return;
    }
    await this.respond(ex, realRoot, found, fileName, filePath);
  }

  private notFound(ex: Exchange): void {
    if (!ex.finished) ex.fail('FILE_NOT_FOUND');
  }

  /** Picks a precompressed sibling the client accepts (never for Range requests), or keeps the file. */
  private async pickVariant(ex: Exchange, realRoot: string, file: Opened, filePath: string): Promise<{ opened: Opened; coding: ContentCoding | null }> {
    const h = ex.req.headers;
    if (this.config.precompressed.length === 0 || h.range !== undefined) return { opened: file, coding: null };
    for (const coding of acceptedCodings(h['accept-encoding'], this.config.precompressed)) {
      const sibling = await this.openUnder(ex, realRoot, filePath + SUFFIX[coding]);
      if (typeof sibling === 'string') continue;
      if (!sibling.stat.isFile()) {
        await sibling.fh.close().catch(() => undefined);
        continue;
      }
      await file.fh.close().catch(() => undefined);
      return { opened: sibling, coding };
    }
    return { opened: file, coding: null };
  }

  private async respond(ex: Exchange, realRoot: string, file: Opened, fileName: string, filePath: string): Promise<void> {
    const { opened, coding } = await this.pickVariant(ex, realRoot, file, filePath);
    const { fh, stat } = opened;
    if (ex.finished) {
      await fh.close().catch(() => undefined);
      return;
    }
    const h = ex.req.headers;
    const etag = makeEtag(stat.size, stat.mtimeMs, coding);
    const lastModifiedSecs = Math.floor(stat.mtimeMs / 1000);
    const lastModified = new Date(lastModifiedSecs * 1000).toUTCString();
    // Fields every answer about this representation carries, 304 included (RFC 9110 §15.4.5).
    const head: string[] = ['etag', etag, 'last-modified', lastModified];
    const cacheControl = this.config.cacheControl;
    if (cacheControl !== null) head.push('cache-control', cacheControl);
    if (this.config.precompressed.length > 0) head.push('vary', 'Accept-Encoding');

    const verdict = evaluatePreconditions({
      ifMatch: h['if-match'], ifNoneMatch: h['if-none-match'],
      ifModifiedSince: h['if-modified-since'], ifUnmodifiedSince: h['if-unmodified-since'],
    }, etag, lastModifiedSecs);
    if (verdict !== 'ok') {
      await fh.close().catch(() => undefined);
      if (ex.finished) return;
      if (verdict === 'failed') ex.fail('PRECONDITION_FAILED');
      else this.writeNoBody(ex, 304, head);
      return;
    }

    let start = 0;
    let end = stat.size - 1;
    let status = 200;
    const range = ex.req.method === 'GET' && ifRangeAllows(one(h['if-range']), etag, lastModifiedSecs) ? parseRange(h.range, stat.size) : null;
    if (range === 'unsatisfiable') {
      await fh.close().catch(() => undefined);
      if (!ex.finished) ex.fail('RANGE_NOT_SATISFIABLE', ['content-range', `bytes */${stat.size}`]);
      return;
    }
    if (range !== null) {
      start = range.start;
      end = range.end;
      status = 206;
      head.push('content-range', `bytes ${start}-${end}/${stat.size}`);
    }
    const length = stat.size === 0 ? 0 : end - start + 1;
    head.push('content-type', contentTypeFor(fileName), 'accept-ranges', 'bytes', 'content-length', String(length));
    if (coding !== null) head.push('content-encoding', coding);

    if (ex.req.method === 'HEAD' || length === 0) {
      await fh.close().catch(() => undefined);
      if (!ex.finished) this.writeNoBody(ex, status, head);
      return;
    }
    if (!ex.writeHead(status, ex.finishResponseHead(head, false))) {
      await fh.close().catch(() => undefined);
      ex.fail('INTERNAL_ERROR');
      return;
    }
    new FileStream(ex, fh, start, end).start(length);
  }

  /** A head without a body (HEAD, 304, an empty file): the head's Content-Length stays as computed. */
  private writeNoBody(ex: Exchange, status: number, head: string[]): void {
    if (!ex.writeHead(status, ex.finishResponseHead(head, false))) {
      ex.fail('INTERNAL_ERROR');
      return;
    }
    ex.res.end();
    ex.finalize();
  }
}
