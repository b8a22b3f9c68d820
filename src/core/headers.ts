// Header tables and the one-pass header filter used in both directions.
// RFC 9110 §7.6.1: a proxy removes the hop-by-hop fields and every field named in `Connection`.

/** Hop-by-hop fields (lower case) that never cross the proxy, in either direction. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Headers no filter or agent may set or remove: hop-by-hop fields and message framing. */
export const NEVER_MUTABLE: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'content-length']);

/**
 * Lower-cased tokens of every `Connection` header in a raw header list (`[name, value, …]`),
 * or null when there are none (the common case: no allocation).
 */
export function connectionTokens(raw: readonly string[]): Set<string> | null {
  let tokens: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      const value = raw[i + 1] as string;
      for (const part of value.split(',')) {
        const t = part.trim().toLowerCase();
        if (t.length > 0) (tokens ??= new Set()).add(t);
      }
    }
  }
  return tokens;
}

/** Receives the fields that `filterHeaders` held back because they are in its `drop` set. */
export interface HeaderCollector {
  collect(lowerName: string, value: string): void;
}

/**
 * Copies `raw` into `out` minus hop-by-hop fields, fields named in `Connection`, and any name in
 * `drop` (lower case), which are handed to `collector` instead (so the caller can merge and
 * rewrite them). Returns `out`. One pass; names keep their original case.
 */
export function filterHeaders(raw: readonly string[], out: string[], drop: ReadonlySet<string> | null, collector?: HeaderCollector): string[] {
  const named = connectionTokens(raw);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    if (named !== null && named.has(lower)) continue;
    if (drop !== null && drop.has(lower)) {
      collector?.collect(lower, raw[i + 1] as string);
      continue;
    }
    out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** Joins a repeated list-valued field the way RFC 9110 §5.3 allows: comma and space. */
export function appendListValue(existing: string | null, value: string): string {
  return existing === null ? value : `${existing}, ${value}`;
}
