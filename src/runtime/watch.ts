// Watches config files for changes and calls back once per burst of changes (debounced). Uses
// fs.watch on each file's directory (editors often replace files by rename, which a watch on the
// file itself would lose), and falls back to polling the files' mtime and size where fs.watch is
// unavailable or fails (network file systems, some containers).
import { watch, statSync } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface ConfigWatcher {
  /** Replaces the set of watched files (after a reload that changed the includes). */
  setFiles(files: readonly string[]): void;
  close(): void;
  /** `watch` or `poll`: what is in use (for logs and tests). */
  readonly mode: 'watch' | 'poll';
}

export interface WatchOptions {
  readonly debounceMs: number;
  readonly pollIntervalMs: number;
  /** Force polling (tests, or file systems where fs.watch is unreliable). */
  readonly poll?: boolean;
}

function signature(file: string): string {
  try {
    const s = statSync(file);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'missing';
  }
}

export function watchConfigFiles(files: readonly string[], onChange: () => void, o: WatchOptions): ConfigWatcher {
  let current = [...files];
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const fire = () => {
    if (closed) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; if (!closed) onChange(); }, o.debounceMs);
  };

  let mode: 'watch' | 'poll' = o.poll === true ? 'poll' : 'watch';
  let watchers: FSWatcher[] = [];
  let pollTimer: NodeJS.Timeout | null = null;
  let signatures = new Map<string, string>();

  const startPolling = () => {
    mode = 'poll';
    signatures = new Map(current.map((f) => [f, signature(f)]));
    pollTimer = setInterval(() => {
      let changed = false;
      for (const f of current) {
        const sig = signature(f);
        if (signatures.get(f) !== sig) { signatures.set(f, sig); changed = true; }
      }
      if (changed) fire();
    }, o.pollIntervalMs);
    pollTimer.unref();
  };

  const startWatching = (): boolean => {
    const names = new Map<string, Set<string>>();
    for (const f of current) {
      const dir = dirname(f);
      let set = names.get(dir);
      if (set === undefined) { set = new Set(); names.set(dir, set); }
      set.add(basename(f));
    }
    try {
      for (const [dir, set] of names) {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || set.has(name.toString())) fire();
        });
        w.on('error', () => { stopAll(); startPolling(); });
        watchers.push(w);
      }
      return true;
    } catch {
      for (const w of watchers) w.close();
      watchers = [];
      return false;
    }
  };

  const stopAll = () => {
    for (const w of watchers) w.close();
    watchers = [];
    if (pollTimer !== null) { clearInterval(pollTimer); pollTimer = null; }
  };

  const start = () => {
    if (mode === 'watch' && startWatching()) return;
    startPolling();
  };
  start();

  return {
    get mode() { return mode; },
    setFiles(next) {
      current = [...next];
      stopAll();
      if (o.poll !== true) mode = 'watch';
      start();
    },
    close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      stopAll();
    },
  };
}
