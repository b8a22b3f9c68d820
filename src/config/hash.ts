// A stable fingerprint of a validated config: equal configs (whatever their layout, comments, key
// order or file split) hash equal. Used to tell whether a reload changed anything.
import { createHash } from 'node:crypto';
import type { Config } from './types.ts';

const OMIT = new Set(['loc', 'files']);

/** JSON with object keys sorted and `loc` / `files` removed. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([k, v]) => !OMIT.has(k) && v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** First 16 hex chars of the sha256 of the canonical JSON of `config`. */
export function configHash(config: Config): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}
