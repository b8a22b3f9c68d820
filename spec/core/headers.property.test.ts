import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HOP_BY_HOP, connectionTokens, filterHeaders } from '../../src/core/headers.ts';

const tokenChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'.split(''));
const name = fc.oneof(
  fc.constantFrom('Connection', 'connection', 'CONNECTION', 'Keep-Alive', 'TE', 'Transfer-Encoding', 'Upgrade', 'Proxy-Authorization', 'X-A', 'x-b', 'Host', 'Content-Type'),
  fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 }),
);
const connValue = fc.array(fc.oneof(name, fc.constant(' '), fc.constant('')), { maxLength: 5 }).map((parts) => parts.join(', '));
const rawHeaders = fc.array(fc.oneof(
  fc.tuple(name, fc.string({ maxLength: 10 })),
  fc.tuple(fc.constantFrom('Connection', 'connection'), connValue),
), { maxLength: 20 }).map((pairs) => pairs.flat());

describe('filterHeaders', () => {
  it('removes every hop-by-hop header and every header named in Connection', () => {
    fc.assert(fc.property(rawHeaders, (raw) => {
      const named = connectionTokens(raw) ?? new Set<string>();
      const out = filterHeaders(raw, [], null);
      for (let i = 0; i < out.length; i += 2) {
        const lower = (out[i] as string).toLowerCase();
        expect(HOP_BY_HOP.has(lower)).toBe(false);
        expect(named.has(lower)).toBe(false);
      }
    }), { numRuns: 2000 });
  });

  it('is idempotent', () => {
    fc.assert(fc.property(rawHeaders, (raw) => {
      const once = filterHeaders(raw, [], null);
      expect(filterHeaders(once, [], null)).toEqual(once);
    }), { numRuns: 2000 });
  });

  it('keeps every end-to-end header, in order, with its original case and value', () => {
    fc.assert(fc.property(rawHeaders, (raw) => {
      const named = connectionTokens(raw) ?? new Set<string>();
      const expected: string[] = [];
      for (let i = 0; i < raw.length; i += 2) {
        const lower = (raw[i] as string).toLowerCase();
        if (!HOP_BY_HOP.has(lower) && !named.has(lower)) expected.push(raw[i] as string, raw[i + 1] as string);
      }
      expect(filterHeaders(raw, [], null)).toEqual(expected);
    }), { numRuns: 1000 });
  });

  it('drops the extra names it is given', () => {
    expect(filterHeaders(['Host', 'a', 'X-Keep', 'b', 'Via', 'c'], [], new Set(['host', 'via']))).toEqual(['X-Keep', 'b']);
  });
});
