// Where log lines go: stdout, stderr or a file. One destination per target, shared by every log
// that names it (two writers on one pipe could interleave partial writes). Files are opened for
// append (their directory is created) and reopened on SIGUSR1, so logrotate can rename them:
// lines written between the rename and the signal land in the renamed file, lines after it in
// the new one, and a write in flight during the reopen is completed first — no line is lost.
//
// Every destination is bounded: past MAX_BUFFERED_LOG_BYTES waiting to be written (a stalled
// disk, a reader that stopped reading stdout) new lines are dropped and counted, never queued
// without limit.
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino } from 'pino';

type SonicBoom = ReturnType<typeof pino.destination>;

/** Bytes a destination may hold waiting for the disk or the pipe before it drops new lines. */
export const MAX_BUFFERED_LOG_BYTES = 16 * 1024 * 1024;
/** How often a destination with a `buffer-size` writes what it holds, even if the buffer is not full. */
export const BUFFERED_FLUSH_INTERVAL_MS = 1000;

export function isStdio(target: string): boolean {
  return target === 'stdout' || target === 'stderr';
}

/**
 * Creates the missing directories above `file`, one level at a time. (A recursive mkdirSync
 * under /proc never returns on Node 24: it loops on ENOENT.)
 */
function makeParents(file: string): void {
  const missing: string[] = [];
  for (let dir = dirname(file); !existsSync(dir); dir = dirname(dir)) {
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing.reverse()) {
    try { mkdirSync(dir); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; }
  }
}

export class LogDestination {
  readonly target: string;
  readonly stream: SonicBoom;
  private dropped = false;

  constructor(target: string, bufferBytes: number) {
    this.target = target;
    const common = {
      sync: false,
      maxLength: MAX_BUFFERED_LOG_BYTES,
      // sonic-boom needs minLength < maxWrite.
      ...(bufferBytes > 0 ? { minLength: bufferBytes, maxWrite: Math.max(16_384, bufferBytes * 2), periodicFlush: BUFFERED_FLUSH_INTERVAL_MS } : {}),
    };
    if (target === 'stdout') this.stream = pino.destination({ dest: 1, ...common });
    else if (target === 'stderr') this.stream = pino.destination({ dest: 2, ...common });
    else {
      // Fail now, with the file's name, rather than on the first write.
      try {
        makeParents(target);
        closeSync(openSync(target, 'a'));
      } catch (err) {
        throw new Error(`cannot open log file ${target}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
      this.stream = pino.destination({ dest: target, ...common });
    }
    // Emitted synchronously inside write() when the line does not fit.
    this.stream.on('drop', () => { this.dropped = true; });
  }

  /** Writes one line (with its newline); false when it was dropped because the buffer is full. */
  write(line: string): boolean {
    this.dropped = false;
    this.stream.write(line);
    return !this.dropped;
  }

  /** Writes what is buffered now, synchronously (the write in flight, if any, may still be pending). */
  flushSync(): void {
    try { this.stream.flushSync(); } catch { /* not open yet, or the destination is gone */ }
  }

  /**
   * Shutdown: waits (bounded) for the file to be open and the write in flight to complete, then
   * writes the rest synchronously, so every line is on disk, in order, before the process exits.
   */
  async drain(timeoutMs: number): Promise<void> {
    // sonic-boom has no public "write in flight" flag; `_writing` is what its own flush uses.
    const s = this.stream as SonicBoom & { _writing?: boolean; fd: number };
    const deadline = Date.now() + timeoutMs;
    while ((s._writing === true || s.fd < 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    this.flushSync();
  }
}

/** The destinations of one process, by target. */
export class LogDestinations {
  private readonly byTarget = new Map<string, LogDestination>();
  private readonly lastReportMs = new Map<string, number>();
  /** Told about write, open and reopen failures, at most once per 10 s per destination. */
  onError: ((target: string, err: Error) => void) | null = null;

  /** The destination for `target`, opened on first use (throws with the file name when it cannot be opened). */
  get(target: string, bufferBytes: number): LogDestination {
    let d = this.byTarget.get(target);
    if (d === undefined) {
      d = new LogDestination(target, bufferBytes);
      d.stream.on('error', (err: Error) => this.report(target, err));
      this.byTarget.set(target, d);
    }
    return d;
  }

  private report(target: string, err: Error): void {
    const now = Date.now();
    if (now - (this.lastReportMs.get(target) ?? 0) < 10_000) return;
    this.lastReportMs.set(target, now);
    try { this.onError?.(target, err); } catch { /* reporting must not throw */ }
  }

  /** Reopens every file (stdout and stderr stay as they are); returns the files reopened. */
  reopen(): string[] {
    const files: string[] = [];
    for (const d of this.byTarget.values()) {
      if (isStdio(d.target)) continue;
      try {
        d.stream.reopen();
        files.push(d.target);
      } catch (err) {
        this.report(d.target, err as Error);
      }
    }
    return files;
  }

  /** Shutdown: every destination written out (bounded by `timeoutMs` overall). */
  async drain(timeoutMs: number): Promise<void> {
    await Promise.all([...this.byTarget.values()].map((d) => d.drain(timeoutMs)));
  }
}
