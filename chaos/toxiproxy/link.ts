// One proxied connection: the client socket, the upstream socket and one toxic chain (link) per
// direction. Like Toxiproxy there is no half-close: when either direction reaches its end, its
// destination is closed and the other direction is ended too (Go's conn.Close() is a full close).
import type { Socket } from 'node:net';
import { createStage, newStageState } from './toxics.ts';
import type { Stage, StageContext, StageState, Stream, ToxicSpec } from './toxics.ts';

/** Bytes a link may hold (inside toxics plus the destination's write buffer) before it stops reading. */
export const LINK_HIGH_WATER_BYTES = 256 * 1024;

export interface ConnectionOptions {
  readonly random: () => number;
  readonly now: () => number;
  readonly onClosed: (conn: Connection) => void;
}

interface Entry {
  readonly name: string;
  readonly state: StageState;
  stage: Stage;
  endedIn: boolean;
  endedOut: boolean;
}

class Link {
  readonly direction: Stream;
  private readonly conn: Connection;
  private readonly source: Socket;
  private readonly dest: Socket;
  private readonly entries: Entry[] = [];
  /** Detached stages whose timers must still run (reset_peer); disposed with the connection. */
  private readonly retired: Stage[] = [];
  private inputEnded = false;
  private paused = false;
  finished = false;

  constructor(conn: Connection, direction: Stream, source: Socket, dest: Socket, toxics: readonly ToxicSpec[]) {
    this.conn = conn;
    this.direction = direction;
    this.source = source;
    this.dest = dest;
    for (const spec of toxics) this.entries.push(this.makeEntry(spec, newStageState()));
  }

  private makeEntry(spec: ToxicSpec, state: StageState): Entry {
    const entry: Entry = { name: spec.name, state, stage: undefined as unknown as Stage, endedIn: false, endedOut: false };
    const ctx: StageContext = {
      emit: (chunk) => this.emitFrom(entry, chunk),
      emitEnd: () => this.emitEndFrom(entry),
      reset: () => this.conn.reset(),
      random: this.conn.random,
      now: this.conn.now,
    };
    entry.stage = createStage(spec, ctx, state);
    return entry;
  }

  start(): void {
    this.source.on('data', (chunk: Buffer) => {
      if (this.inputEnded) return;
      this.pushTo(0, chunk);
      this.checkFlow();
    });
    this.source.on('end', () => this.endInput());
    this.dest.on('drain', () => this.checkFlow());
  }

  /** The source can no longer be read (it ended, failed, or the other direction closed it). */
  endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    this.endTo(0);
  }

  /** The destination is gone: nothing more can be delivered. */
  destGone(): void {
    if (this.finished) return;
    this.finished = true;
    this.conn.linkFinished(this);
  }

  private pushTo(index: number, chunk: Buffer): void {
    const next = this.entries[index];
    if (next === undefined) {
      this.sinkWrite(chunk);
      return;
    }
    if (next.endedIn) return;
    next.stage.push(chunk);
  }

  private endTo(index: number): void {
    const next = this.entries[index];
    if (next === undefined) {
      this.sinkEnd();
      return;
    }
    if (next.endedIn) return;
    next.endedIn = true;
    next.stage.end();
  }

  private emitFrom(entry: Entry, chunk: Buffer): void {
    if (entry.endedOut) return;
    const i = this.entries.indexOf(entry);
    if (i < 0) return;
    this.pushTo(i + 1, chunk);
    this.checkFlow();
  }

  private emitEndFrom(entry: Entry): void {
    if (entry.endedOut) return;
    const i = this.entries.indexOf(entry);
    if (i < 0) return;
    entry.endedOut = true;
    this.endTo(i + 1);
    this.checkFlow();
  }

  private sinkWrite(chunk: Buffer): void {
    if (this.finished || this.dest.destroyed || this.dest.writableEnded) return;
    this.dest.write(chunk);
  }

  private sinkEnd(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.dest.destroyed && !this.dest.writableEnded) this.dest.end();
    this.conn.linkFinished(this);
  }

  /** Stops reading the source while too much is held, resumes when it has drained. */
  checkFlow(): void {
    if (this.inputEnded) return;
    let held = this.dest.writableLength;
    for (const e of this.entries) held += e.stage.pendingBytes;
    if (held > LINK_HIGH_WATER_BYTES) {
      if (!this.paused) {
        this.paused = true;
        this.source.pause();
      }
    } else if (this.paused) {
      this.paused = false;
      this.source.resume();
    }
  }

  addToxic(spec: ToxicSpec): void {
    if (this.finished) return;
    this.entries.push(this.makeEntry(spec, newStageState()));
  }

  updateToxic(spec: ToxicSpec): void {
    const i = this.entries.findIndex((e) => e.name === spec.name);
    const old = this.entries[i];
    if (old === undefined || this.finished) return;
    old.stage.detach('update');
    if (old.stage.keepsRunning) this.retired.push(old.stage);
    const fresh = this.makeEntry(spec, old.state);
    // An updated toxic keeps its place and whatever end of stream it already saw.
    fresh.endedIn = old.endedIn;
    fresh.endedOut = old.endedOut;
    const at = this.entries.indexOf(old);
    if (at >= 0) this.entries[at] = fresh;
    if (fresh.endedIn && !fresh.endedOut) fresh.stage.end();
    this.checkFlow();
  }

  removeToxic(name: string): void {
    const entry = this.entries.find((e) => e.name === name);
    if (entry === undefined) return;
    if (!this.finished) entry.stage.detach('remove');
    const at = this.entries.indexOf(entry);
    if (at >= 0) this.entries.splice(at, 1);
    if (entry.stage.keepsRunning) this.retired.push(entry.stage);
    else entry.stage.dispose();
    // Data the removed stage had already passed on, or the end it swallowed, must reach the
    // stage after it: if it had ended its input but never emitted the end, end the next one.
    if (entry.endedIn && !entry.endedOut && !this.finished) this.endTo(at);
    this.checkFlow();
  }

  dispose(): void {
    for (const e of this.entries) e.stage.dispose();
    for (const s of this.retired) s.dispose();
    this.retired.length = 0;
  }
}

export class Connection {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly random: () => number;
  readonly now: () => number;
  private readonly onClosed: (conn: Connection) => void;
  private readonly up: Link;
  private readonly down: Link;
  private closed = false;
  private tearingDown = false;
  private socketsClosed = 0;

  constructor(client: Socket, upstream: Socket, toxics: readonly ToxicSpec[], options: ConnectionOptions) {
    this.client = client;
    this.upstream = upstream;
    this.random = options.random;
    this.now = options.now;
    this.onClosed = options.onClosed;
    this.up = new Link(this, 'upstream', client, upstream, toxics.filter((t) => t.stream === 'upstream'));
    this.down = new Link(this, 'downstream', upstream, client, toxics.filter((t) => t.stream === 'downstream'));
    for (const [sock, readBy, writtenBy] of [
      [client, this.up, this.down],
      [upstream, this.down, this.up],
    ] as const) {
      sock.setNoDelay(true);
      sock.on('error', () => {});
      sock.on('close', () => {
        readBy.endInput();
        writtenBy.destGone();
        this.socketsClosed++;
        if (this.socketsClosed === 2) this.finish();
      });
    }
  }

  /** Starts both directions; the client socket must have been accepted paused. */
  start(): void {
    this.up.start();
    this.down.start();
    this.client.resume();
  }

  linkFinished(link: Link): void {
    // No half-close: the other direction's source is the socket we just closed for writing.
    const other = link === this.up ? this.down : this.up;
    other.endInput();
    if (this.up.finished && this.down.finished) this.teardown();
  }

  /** Both directions are done: close the sockets once their pending writes are flushed. */
  private teardown(): void {
    if (this.tearingDown) return;
    this.tearingDown = true;
    for (const sock of [this.client, this.upstream]) {
      if (sock.destroyed) continue;
      // end() was called on a live destination: let the kernel have the data, then close.
      if (sock.writableEnded && !sock.writableFinished) sock.once('finish', () => sock.destroy());
      else sock.destroy();
    }
  }

  /** TCP RST to both peers (SO_LINGER 0). */
  reset(): void {
    if (this.closed) return;
    for (const sock of [this.client, this.upstream]) {
      if (!sock.destroyed) sock.resetAndDestroy();
    }
  }

  /** Proxy disabled or removed: close both sockets now. */
  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  addToxic(spec: ToxicSpec): void {
    (spec.stream === 'upstream' ? this.up : this.down).addToxic(spec);
  }

  updateToxic(spec: ToxicSpec): void {
    (spec.stream === 'upstream' ? this.up : this.down).updateToxic(spec);
  }

  removeToxic(spec: ToxicSpec): void {
    (spec.stream === 'upstream' ? this.up : this.down).removeToxic(spec.name);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.up.dispose();
    this.down.dispose();
    this.onClosed(this);
  }
}
