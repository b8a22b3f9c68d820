// File discovery: a list of targets in a file, polled every watch-interval (a stat; the file is
// re-read only when its size, mtime or inode changed). Polling works on every filesystem and in
// containers where inotify does not; the interval bounds how stale the set can be.
//
// Formats, by extension (`.json`, `.kdl`; anything else: JSON when it starts with `[` or `{`):
//   JSON  ["10.0.0.1:8080", {"address": "10.0.0.2:8080", "weight": 2}]  (or {"targets": [ … ]})
//   KDL   target "10.0.0.1:8080"; target "10.0.0.2:8080" weight=2      (the upstream's target syntax)
// A file that cannot be read or parsed, or lists no target, is a failed refresh: the last known
// good set stays, and the error (with file and line for KDL) goes to the log and the status page.
import { open, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { DiscoveryConfig } from '../config/types.ts';
import { parseHostPort } from '../config/schema/reader.ts';
import { MAX_DISCOVERED_TARGETS, failureDelayMs } from './types.ts';
import type { DiscoveredAddress, Discoverer, DiscoveryResult } from './types.ts';

/** Largest target file read. */
export const MAX_TARGET_FILE_BYTES = 1024 * 1024;

/** The `discovery "file"` block of an upstream. */
export type FileDiscoveryOptions = Omit<Extract<DiscoveryConfig, { kind: 'file' }>, 'kind'>;

type Parsed = { readonly addresses: DiscoveredAddress[] } | { readonly error: string };

function entry(v: unknown, where: string): DiscoveredAddress | string {
  let address: unknown = v;
  let weight: unknown = 1;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'address' && k !== 'weight') return `${where}: unknown field "${k}" (expected address, weight)`;
    address = o['address'];
    weight = o['weight'] ?? 1;
  }
  if (typeof address !== 'string') return `${where}: expected "host:port" or {"address": "host:port", "weight": N}`;
  const hp = parseHostPort(address, 1);
  if (typeof hp === 'string') return `${where}: invalid address ${JSON.stringify(address)}: ${hp}`;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 1000) return `${where}: weight must be an integer between 1 and 1000`;
  return { host: hp.host, port: hp.port, weight };
}

/** Parses the JSON form. Pure. */
export function parseJsonTargets(text: string): Parsed {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { error: `invalid JSON: ${(err as Error).message}` };
  }
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) {
    const keys = Object.keys(doc);
    if (keys.length !== 1 || keys[0] !== 'targets') return { error: 'expected a list of targets, or {"targets": [ … ]}' };
    doc = (doc as { targets: unknown }).targets;
  }
  if (!Array.isArray(doc)) return { error: 'expected a list of targets, or {"targets": [ … ]}' };
  const out: DiscoveredAddress[] = [];
  for (let i = 0; i < doc.length; i++) {
    const e = entry(doc[i], `target ${i + 1}`);
    if (typeof e === 'string') return { error: e };
    out.push(e);
  }
  return { addresses: out };
}

/**
 * Parses the KDL form with the config's own parser and target reader (loaded on first use: a
 * process that never reads a KDL target file never loads the KDL parser).
 */
export async function parseKdlTargets(text: string, file: string): Promise<Parsed> {
  const [{ parseKdl }, { readTarget }, { createCtx }] = await Promise.all([
    import('../config/kdl.ts'), import('../config/schema/upstreams.ts'), import('../config/schema/reader.ts'),
  ]);
  const parsed = parseKdl(text, file);
  const first = parsed.diagnostics[0];
  if (parsed.nodes === null || first !== undefined) {
    return { error: first !== undefined ? `${file}:${first.line}: ${first.message}` : `${file}: cannot parse` };
  }
  const ctx = createCtx();
  const out: DiscoveredAddress[] = [];
  for (const n of parsed.nodes) {
    if (n.name !== 'target') return { error: `${file}:${n.pos.line}: unexpected "${n.name}" (only target lines are allowed)` };
    const t = readTarget(ctx, n, 'targets/target', 'the target file');
    const d = ctx.diags.find((x) => x.severity === 'error');
    if (d !== undefined) return { error: `${file}:${d.line}: ${d.message}` };
    if (t !== undefined) out.push({ host: t.host, port: t.port, weight: t.weight });
  }
  return { addresses: out };
}

export class FileDiscoverer implements Discoverer {
  readonly kind = 'file' as const;
  readonly subject: string;
  private readonly o: FileDiscoveryOptions;
  /** Identity of the last content read successfully. */
  private seen = '';

  constructor(o: FileDiscoveryOptions) {
    this.o = o;
    this.subject = o.path;
  }

  async refresh(failures: number): Promise<DiscoveryResult> {
    const o = this.o;
    const failed = (error: string): DiscoveryResult => ({ ok: false, error, nextMs: Math.min(o.watchIntervalMs, failureDelayMs(failures + 1, o.watchIntervalMs)) });
    let text: string;
    let identity: string;
    try {
      const st = await stat(o.path);
      identity = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (identity === this.seen) return { ok: true, addresses: null, nextMs: o.watchIntervalMs };
      if (!st.isFile()) return failed(`${o.path} is not a regular file`);
      if (st.size > MAX_TARGET_FILE_BYTES) return failed(`${o.path} is larger than ${MAX_TARGET_FILE_BYTES} bytes`);
      const fh = await open(o.path, 'r');
      try {
        const buf = Buffer.alloc(MAX_TARGET_FILE_BYTES + 1);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        if (bytesRead > MAX_TARGET_FILE_BYTES) return failed(`${o.path} is larger than ${MAX_TARGET_FILE_BYTES} bytes`);
        text = buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await fh.close();
      }
    } catch (err) {
      return failed((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    }
    const ext = extname(o.path).toLowerCase();
    const json = ext === '.json' || (ext !== '.kdl' && /^\s*[[{]/.test(text));
    const parsed = json ? parseJsonTargets(text) : await parseKdlTargets(text, o.path);
    if ('error' in parsed) return failed(parsed.error);
    if (parsed.addresses.length === 0) return failed(`${o.path} lists no target`);
    this.seen = identity;
    return { ok: true, addresses: parsed.addresses.slice(0, MAX_DISCOVERED_TARGETS), nextMs: o.watchIntervalMs };
  }

  close(): void {
    // Nothing in progress outlives a refresh.
  }
}
