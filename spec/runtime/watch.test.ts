import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConfigFiles } from '../../src/runtime/watch.ts';
import type { ConfigWatcher } from '../../src/runtime/watch.ts';

const open: ConfigWatcher[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const w of open.splice(0)) w.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-watch-'));
  dirs.push(dir);
  const file = join(dir, 'sentinel.kdl');
  writeFileSync(file, 'a');
  return { dir, file };
}

function counter(): { calls: number; next(): Promise<void>; fn: () => void } {
  let waiters: Array<() => void> = [];
  const c = {
    calls: 0,
    next: () => new Promise<void>((r) => waiters.push(r)),
    fn: () => { c.calls++; const w = waiters; waiters = []; for (const r of w) r(); },
  };
  return c;
}

for (const poll of [false, true]) {
  describe(`config watcher (${poll ? 'polling' : 'fs.watch'})`, () => {
    it('calls back once for a burst of writes (debounced)', async () => {
      const { file } = setup();
      const c = counter();
      const w = watchConfigFiles([file], c.fn, { debounceMs: 400, pollIntervalMs: 30, poll });
      open.push(w);
      expect(w.mode).toBe(poll ? 'poll' : 'watch');
      const changed = c.next();
      for (let i = 0; i < 5; i++) { writeFileSync(file, `b${i}${'x'.repeat(i)}`); await new Promise((r) => setTimeout(r, 10)); }
      await changed;
      await new Promise((r) => setTimeout(r, 600));
      expect(c.calls).toBe(1);
    });

    it('sees a file replaced by rename (how editors save)', async () => {
      const { dir, file } = setup();
      const c = counter();
      open.push(watchConfigFiles([file], c.fn, { debounceMs: 50, pollIntervalMs: 30, poll }));
      const changed = c.next();
      const tmp = join(dir, 'sentinel.kdl.tmp');
      writeFileSync(tmp, 'replaced-content');
      renameSync(tmp, file);
      await changed;
      expect(c.calls).toBeGreaterThanOrEqual(1);
    });

    it('ignores other files in the same directory and stops after close', async () => {
      const { dir, file } = setup();
      const c = counter();
      const w = watchConfigFiles([file], c.fn, { debounceMs: 50, pollIntervalMs: 30, poll });
      writeFileSync(join(dir, 'unrelated.txt'), 'x');
      await new Promise((r) => setTimeout(r, 300));
      expect(c.calls).toBe(0);
      w.close();
      writeFileSync(file, 'changed after close');
      await new Promise((r) => setTimeout(r, 300));
      expect(c.calls).toBe(0);
    });
  });
}
