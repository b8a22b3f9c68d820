import { describe, expect, it } from 'vitest';
import { ALL_SCENARIOS, LB_ALGORITHMS, parseBenchArgs } from '../../bench/lib/args.ts';

describe('parseBenchArgs', () => {
  it('defaults to the full matrix: 3 passes of 10 s, 50 and 256 connections, both bodies', () => {
    const a = parseBenchArgs([]);
    expect(a).toMatchObject({ quick: false, passes: 3, durationS: 10, warmupS: 3, connections: [50, 256], bodies: ['small', 'large'], paced: true, jsonPath: null, loadTool: 'auto' });
    expect(a.scenarios).toEqual(ALL_SCENARIOS);
    expect(a.pacedScenarios).toEqual(['direct', 'sentinel', 'sentinel-agent', 'nginx', 'sentinel-deployments', 'sentinel-rl-local', 'sentinel-rl-redis']);
  });

  it('--quick means 3 s runs, 1 pass, 50 connections, 13 B only', () => {
    expect(parseBenchArgs(['--quick'])).toMatchObject({ quick: true, passes: 1, durationS: 3, warmupS: 1, connections: [50], bodies: ['small'] });
  });

  it('explicit options override --quick whatever their order', () => {
    const a = parseBenchArgs(['--duration', '5', '--quick', '--connections=50,256', '--scenarios', 'direct,nginx', '--json', '/tmp/x.json', '--no-paced']);
    expect(a).toMatchObject({ durationS: 5, connections: [50, 256], scenarios: ['direct', 'nginx'], jsonPath: '/tmp/x.json', paced: false });
    expect(a.pacedScenarios).toEqual(['direct', 'nginx']);
  });

  it('rejects bad input with a readable message', () => {
    expect(() => parseBenchArgs(['--scenarios', 'direct,envoy'])).toThrow(/unknown scenario\(s\) envoy/);
    expect(() => parseBenchArgs(['--duration', '0'])).toThrow(/positive integer/);
    expect(() => parseBenchArgs(['--duration'])).toThrow(/positive integer/);
    expect(() => parseBenchArgs(['--connections', '50,x'])).toThrow(/positive integer/);
    expect(() => parseBenchArgs(['--bodies', 'huge'])).toThrow(/small and\/or large/);
    expect(() => parseBenchArgs(['--load', 'ab'])).toThrow(/wrk or node/);
    expect(() => parseBenchArgs(['--frobnicate'])).toThrow(/unknown option --frobnicate/);
    expect(() => parseBenchArgs(['--lb', 'round_robin,fastest'])).toThrow(/unknown load-balancing algorithm\(s\) fastest/);
  });

  it('load-balancing runs: every algorithm by default, round_robin always kept as the baseline, --no-lb for none', () => {
    expect(parseBenchArgs([])).toMatchObject({ lbAlgorithms: LB_ALGORITHMS, lbDurationS: 5 });
    expect(parseBenchArgs(['--quick'])).toMatchObject({ lbDurationS: 3 });
    expect(parseBenchArgs(['--lb', 'Maglev,p2c', '--lb-duration', '2'])).toMatchObject({ lbAlgorithms: ['round_robin', 'maglev', 'p2c'], lbDurationS: 2 });
    expect(parseBenchArgs(['--no-lb']).lbAlgorithms).toEqual([]);
  });
});
