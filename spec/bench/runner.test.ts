import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStatFields } from '../../bench/lib/proc-stats.ts';
import { rotate } from '../../bench/lib/runner.ts';
import { fileTimestamp } from '../../bench/run.ts';
import { sentinelBenchConfig, sentinelPoolConfig } from '../../bench/scenarios/sentinel.ts';
import { loadConfigText } from '../../src/config/load.ts';
import { LB_ALGORITHMS } from '../../bench/lib/args.ts';

describe('rotate', () => {
  it('starts each pass at a different scenario and keeps them all', () => {
    expect(rotate(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(rotate(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(rotate(['a', 'b', 'c'], 4)).toEqual(['b', 'c', 'a']);
    expect(rotate([], 3)).toEqual([]);
    fc.assert(fc.property(fc.array(fc.integer()), fc.integer({ min: -50, max: 50 }), (xs, k) => {
      expect([...rotate(xs, k)].sort()).toEqual([...xs].sort());
    }));
  });
});

describe('parseStatFields', () => {
  it('indexes /proc/PID/stat fields after a comm containing spaces and parentheses', () => {
    const line = '1234 (node (worker) x) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 75 3 4 20 0 11 0 100 1000000 2000';
    const f = parseStatFields(line);
    expect(f[0]).toBe('S'); // field 3
    expect(f[11]).toBe('250'); // field 14 utime
    expect(f[12]).toBe('75'); // field 15 stime
    expect(f[13]).toBe('3'); // field 16 cutime
    expect(parseStatFields('garbage')).toEqual([]);
  });
});

describe('fileTimestamp', () => {
  it('is an ISO time without colons or milliseconds', () => {
    expect(fileTimestamp(new Date('2026-11-23T14:05:09.123Z'))).toBe('2026-11-23T14-05-09Z');
  });
});

describe('sentinelBenchConfig', () => {
  it('renders the CLI contract config on loopback', () => {
    const kdl = sentinelBenchConfig(40123, { host: '127.0.0.1', port: 40124 });
    expect(kdl).toContain('address "127.0.0.1:40123"');
    expect(kdl).toContain('target "127.0.0.1:40124"');
    expect(kdl).toContain('max-connections 128');
    expect(kdl).toContain('metrics { enabled #false }');
  });
});

describe('sentinelPoolConfig', () => {
  it('is a valid config with one target per backend port and the algorithm, for every benchmarked algorithm', () => {
    const backends = [40124, 40125, 40126].map((port) => ({ host: '127.0.0.1', port }));
    for (const algorithm of LB_ALGORITHMS) {
      const r = loadConfigText(sentinelPoolConfig(40123, backends, algorithm), 'pool.kdl');
      expect(r.diagnostics.filter((d) => d.severity === 'error'), algorithm).toEqual([]);
      const u = r.config?.upstreams[0];
      expect(u?.targets.map((t) => t.port)).toEqual([40124, 40125, 40126]);
      expect(u?.loadBalancing.algorithm).toBe(algorithm);
    }
  });
});
