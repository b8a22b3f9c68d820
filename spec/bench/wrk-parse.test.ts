import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseWrkOutput, parseWrkTimeMs, totalErrors, WrkParseError } from '../../bench/lib/wrk-parse.ts';

const fixture = (name: string): string => readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');

describe('parseWrkTimeMs', () => {
  it('converts every wrk time unit to ms', () => {
    expect(parseWrkTimeMs('583.00us')).toBeCloseTo(0.583, 9);
    expect(parseWrkTimeMs('0.85ms')).toBeCloseTo(0.85, 9);
    expect(parseWrkTimeMs('2.01s')).toBeCloseTo(2010, 9);
    expect(parseWrkTimeMs('1.50m')).toBeCloseTo(90_000, 9);
    expect(parseWrkTimeMs('1.00h')).toBeCloseTo(3_600_000, 9);
  });
  it('rejects malformed times', () => {
    expect(parseWrkTimeMs('12')).toBeNaN();
    expect(parseWrkTimeMs('ms')).toBeNaN();
    expect(parseWrkTimeMs('1.2.3ms')).toBeNaN();
  });
  it('round-trips any value printed with a unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.constantFrom('us', 'ms', 's'), (hundredths, unit) => {
        const text = `${(hundredths / 100).toFixed(2)}${unit}`;
        const factor = unit === 'us' ? 0.001 : unit === 'ms' ? 1 : 1000;
        expect(parseWrkTimeMs(text)).toBeCloseTo((hundredths / 100) * factor, 6);
      }),
    );
  });
});

describe('parseWrkOutput on captured wrk 4.1.0 output', () => {
  it('reads a saturated small-body run', () => {
    const r = parseWrkOutput(fixture('wrk-c50.txt'));
    expect(r).toEqual({
      tool: 'wrk',
      requests: 124204,
      durationS: 2,
      rps: 62002.49,
      p50Ms: expect.closeTo(0.583, 9),
      p75Ms: expect.closeTo(0.652, 9),
      p90Ms: expect.closeTo(0.725, 9),
      p99Ms: expect.closeTo(0.85, 9),
      non2xx: 0,
      socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 },
    });
  });

  it('reads millisecond percentiles of a 64 KiB, 256-connection run', () => {
    const r = parseWrkOutput(fixture('wrk-big256.txt'));
    expect(r.requests).toBe(36501);
    expect(r.durationS).toBeCloseTo(2.09, 9);
    expect(r.rps).toBe(17483.62);
    expect(r.p50Ms).toBeCloseTo(8.85, 9);
    expect(r.p99Ms).toBeCloseTo(20.45, 9);
  });

  it('reads a paced (pace.lua) run', () => {
    const r = parseWrkOutput(fixture('wrk-paced.txt'));
    expect(r.rps).toBe(4952.71);
    expect(r.p50Ms).toBeCloseTo(0.138, 9);
    expect(r.p99Ms).toBeCloseTo(0.715, 9);
  });

  it('counts non-2xx responses', () => {
    const r = parseWrkOutput(fixture('wrk-404.txt'));
    expect(r.non2xx).toBe(40577);
    expect(r.p99Ms).toBeCloseTo(1.4, 9);
    expect(totalErrors(r)).toBe(40577);
  });

  it('counts socket errors', () => {
    const r = parseWrkOutput(fixture('wrk-errors.txt'));
    expect(r.socketErrors).toEqual({ connect: 0, read: 38, write: 0, timeout: 0 });
    expect(r.non2xx).toBe(0);
    expect(totalErrors(r)).toBe(38);
    expect(r.p99Ms).toBeCloseTo(7.64, 9);
  });

  it('throws on a run that never connected', () => {
    expect(() => parseWrkOutput(fixture('wrk-refused.txt'))).toThrow(WrkParseError);
    expect(() => parseWrkOutput(fixture('wrk-refused.txt'))).toThrow(/Connection refused/);
  });

  it('throws when --latency percentiles are missing', () => {
    const text = fixture('wrk-c50.txt').replace(/^\s+99%.*$/m, '');
    expect(() => parseWrkOutput(text)).toThrow(/99% latency/);
  });

  it('never throws anything but WrkParseError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          parseWrkOutput(s);
        } catch (e) {
          expect(e).toBeInstanceOf(WrkParseError);
        }
      }),
    );
  });
});
