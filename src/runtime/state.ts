// The one reference to the current snapshot. A request reads it once on arrival and keeps what it
// read to the end; a reload replaces it with one assignment.
import type { Snapshot } from '../compile/snapshot.ts';

export class RuntimeState {
  private snapshot: Snapshot;

  constructor(initial: Snapshot) {
    this.snapshot = initial;
  }

  get current(): Snapshot {
    return this.snapshot;
  }

  /** Installs `next` and returns the snapshot it replaced. */
  swap(next: Snapshot): Snapshot {
    const previous = this.snapshot;
    this.snapshot = next;
    return previous;
  }
}
