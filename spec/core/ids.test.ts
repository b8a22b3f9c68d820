import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isAcceptableRequestId, newRequestId, newSpanId, newTinyflake, newTraceId, newTraceparent, parseTraceparent } from '../../src/core/ids.ts';

describe('request ids', () => {
  it('uuid format by default', () => {
    expect(newRequestId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('tinyflake: 11 Base58 characters, ordered by time, unique in a burst', () => {
    const a = newTinyflake(1_700_000_000_000);
    const b = newTinyflake(1_700_000_000_001);
    expect(a).toMatch(/^[1-9A-HJ-NP-Za-km-z]{11}$/);
    expect(a < b).toBe(true);
    const burst = new Set(Array.from({ length: 4000 }, () => newRequestId('tinyflake')));
    expect(burst.size).toBe(4000);
    for (const id of burst) expect(isAcceptableRequestId(id)).toBe(true);
  });

  it('accepts only short ids of safe characters from clients', () => {
    expect(isAcceptableRequestId('abc-123_x.y:z')).toBe(true);
    expect(isAcceptableRequestId('')).toBe(false);
    expect(isAcceptableRequestId('a'.repeat(129))).toBe(false);
    expect(isAcceptableRequestId('a b')).toBe(false);
    expect(isAcceptableRequestId('a\r\nb')).toBe(false);
  });
});

describe('traceparent', () => {
  it('generated values parse, with the sampled flag off', () => {
    for (let i = 0; i < 100; i++) expect(parseTraceparent(newTraceparent())).toMatchObject({ flags: '00' });
  });

  it('rejects malformed, all-zero and version ff values', () => {
    expect(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeNull();
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01')).toBeNull();
    expect(parseTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBeNull();
    expect(parseTraceparent('00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01')).toBeNull();
    fc.assert(fc.property(fc.string(), (s) => { parseTraceparent(s); }));
  });

  it('new trace and span ids make valid traceparents and do not repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const traceId = newTraceId();
      const spanId = newSpanId();
      expect(parseTraceparent(`00-${traceId}-${spanId}-01`)).toEqual({ traceId, parentId: spanId, flags: '01' });
      seen.add(spanId);
    }
    expect(seen.size).toBe(1000);
  });
});
