// Loads a config in a short-lived child process. The KDL parser (kdljs, built on chevrotain) and
// the validator grow a process by about 40 MB of memory that a long-running proxy never needs
// again, and that a worker thread would not give back to the OS either. Parsing in a child keeps
// the dataplane lean (measured: idle RSS 134 MB → see docs/design.md). The result is plain data,
// exactly what `loadConfigFile`/`loadConfigText` return, sent back as JSON.
import { spawn } from 'node:child_process';
import type { LoadResult } from './types.ts';

export type LoadRequest =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'text'; readonly text: string; readonly file: string };

const CHILD = new URL('./load-child.ts', import.meta.url).pathname;

/** Bound on the loader's run time: a config that takes longer than this to parse is refused. */
export const LOAD_TIMEOUT_MS = 30_000;

export function loadConfigIsolated(request: LoadRequest): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), LOAD_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`config loader exited with ${signal ?? `code ${code}`}`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadResult);
      } catch (err) {
        reject(new Error(`config loader returned invalid output: ${(err as Error).message}`));
      }
    });
    child.stdin.end(JSON.stringify(request));
  });
}
