// The chaos runner itself: scenario discovery and selection, the run loop (checks, errors, timeouts,
// cleanups, interruption), the results table, and the CLI's exit codes (against fixture scenarios in
// spec/chaos/fixtures/scenarios, so no drill runs here; CI runs the real ones with `npm run chaos -- --ci`).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseChaosArgs, UsageError } from '../../chaos/lib/cli.ts';
import { createToxiproxyServer } from '../../chaos/toxiproxy/server.ts';
import { collectScenarios, loadScenarios, selectScenarios, SelectionError } from '../../chaos/lib/registry.ts';
import { exitCode, observedText, runScenario, runScenarios } from '../../chaos/lib/runner.ts';
import type { ScenarioResult } from '../../chaos/lib/runner.ts';
import type { Scenario, ScenarioContext } from '../../chaos/lib/scenario.ts';
import { renderResults, summaryLine, wrap } from '../../chaos/lib/table.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'spec/chaos/fixtures/scenarios');

function scenario(name: string, run: Scenario['run'], extra: Partial<Scenario> = {}): Scenario {
  return { name, area: 'upstream', fault: 'f', expectation: 'e', ci: false, timeoutMs: 5000, run, ...extra };
}
const same = (base: ScenarioContext): ScenarioContext => base;

describe('command line', () => {
  it('repeated and comma-separated --scenario, flags, defaults', () => {
    expect(parseChaosArgs([])).toEqual({ names: [], ci: false, list: false, json: null, scenariosDir: null, help: false });
    expect(parseChaosArgs(['--scenario', 'a,b', '--scenario', ' c ', '--ci', '--json', 'r.json', '--list'])).toEqual({ names: ['a', 'b', 'c'], ci: true, list: true, json: 'r.json', scenariosDir: null, help: false });
  });

  it('unknown options and stray arguments are usage errors', () => {
    expect(() => parseChaosArgs(['--bogus'])).toThrow(UsageError);
    expect(() => parseChaosArgs(['upstream-down'])).toThrow(UsageError);
    expect(() => parseChaosArgs(['--scenario'])).toThrow(UsageError);
  });
});

describe('selection', () => {
  const all = collectScenarios([
    { file: 'a.ts', module: { scenario: scenario('upstream-down', async () => {}, { ci: true }) } },
    { file: 'b.ts', module: { scenarios: [scenario('upstream-slow', async () => {}), scenario('proxy-reload', async () => {}, { area: 'proxy', ci: true })] } },
    { file: 'c.ts', module: { scenario: scenario('agent-frozen', async () => {}, { area: 'agent' }) } },
  ]);
  const names = (list: readonly Scenario[]): string[] => list.map((s) => s.name);

  it('orders by area (upstream, agent, redis, proxy), then name', () => {
    expect(names(all)).toEqual(['upstream-down', 'upstream-slow', 'agent-frozen', 'proxy-reload']);
  });

  it('no names: everything; --ci: the CI subset', () => {
    expect(names(selectScenarios(all, { names: [], ci: false }))).toEqual(names(all));
    expect(names(selectScenarios(all, { names: [], ci: true }))).toEqual(['upstream-down', 'proxy-reload']);
  });

  it('names and prefix patterns, deduplicated, in catalogue order', () => {
    expect(names(selectScenarios(all, { names: ['proxy-reload', 'upstream-slow', 'proxy-reload'], ci: false }))).toEqual(['upstream-slow', 'proxy-reload']);
    expect(names(selectScenarios(all, { names: ['upstream-*'], ci: false }))).toEqual(['upstream-down', 'upstream-slow']);
    expect(names(selectScenarios(all, { names: ['upstream-*'], ci: true }))).toEqual(['upstream-down']);
  });

  it('an unknown name, or a named scenario outside the CI subset with --ci, is a usage error that says what exists', () => {
    expect(() => selectScenarios(all, { names: ['upstream-dwn'], ci: false })).toThrow(SelectionError);
    expect(() => selectScenarios(all, { names: ['upstream-dwn'], ci: false })).toThrow(/known: upstream-down, upstream-slow, agent-frozen, proxy-reload/);
    expect(() => selectScenarios(all, { names: ['redis-*'], ci: false })).toThrow(/unknown scenario "redis-\*"/);
    expect(() => selectScenarios(all, { names: ['upstream-slow'], ci: true })).toThrow(/not in the CI subset: upstream-slow/);
    expect(() => selectScenarios(all, { names: ['agent-*'], ci: true })).toThrow(/no scenario selected/);
  });

  it('rejects malformed scenarios and duplicate names, naming the file', () => {
    expect(() => collectScenarios([{ file: 'x.ts', module: {} }])).toThrow(/x\.ts: exports neither/);
    expect(() => collectScenarios([{ file: 'x.ts', module: { scenario: scenario('Bad_Name', async () => {}) } }])).toThrow(/not kebab-case/);
    expect(() => collectScenarios([{ file: 'x.ts', module: { scenario: scenario('ok', async () => {}, { expectation: ' ' }) } }])).toThrow(/expectation is empty/);
    expect(() =>
      collectScenarios([
        { file: 'x.ts', module: { scenario: scenario('dup', async () => {}) } },
        { file: 'y.ts', module: { scenario: scenario('dup', async () => {}) } },
      ]),
    ).toThrow(/y\.ts: scenario "dup" is also defined in x\.ts/);
  });

  it('the real catalogue loads: unique names, every scenario with its expectation, a non-empty CI subset', async () => {
    const real = await loadScenarios(join(ROOT, 'chaos/scenarios'));
    expect(real.length).toBeGreaterThanOrEqual(8);
    expect(new Set(real.map((s) => s.name)).size).toBe(real.length);
    expect(real.filter((s) => s.ci).length).toBeGreaterThan(0);
    for (const s of real) expect(s.expectation.length, s.name).toBeGreaterThan(20);
  });
});

describe('running', () => {
  it('PASS only when every check passed; the observed text lists each check, failed ones with what was expected', async () => {
    const ok = await runScenario(scenario('ok', async (c) => c.check('status', '200', '200', true)), same);
    expect(ok.outcome).toBe('PASS');
    expect(observedText(ok)).toBe('status: 200');
    const bad = await runScenario(
      scenario('bad', async (c) => {
        c.check('status', '200', '200', true);
        c.check('latency', '≤ 2500 ms', '3100 ms', false);
      }),
      same,
    );
    expect(bad.outcome).toBe('FAIL');
    expect(observedText(bad)).toBe('status: 200; ✗ latency: 3100 ms (expected ≤ 2500 ms)');
  });

  it('a scenario that records no check fails (a drill that cannot fail is no drill)', async () => {
    const r = await runScenario(scenario('empty', async () => {}), same);
    expect(r).toMatchObject({ outcome: 'FAIL', error: 'recorded no check' });
  });

  it('a thrown error fails the scenario, and cleanups still run, in reverse order', async () => {
    const order: string[] = [];
    const r = await runScenario(
      scenario('throws', async (c) => {
        c.defer(() => order.push('first'));
        c.defer(async () => order.push('second'));
        c.check('before', 'x', 'x', true);
        throw new Error('upstream exploded');
      }),
      same,
    );
    expect(r).toMatchObject({ outcome: 'FAIL', error: 'upstream exploded' });
    expect(order).toEqual(['second', 'first']);
  });

  it('a scenario past its time limit fails as timed out; its signal is aborted and its cleanups run', async () => {
    let aborted = false;
    let cleaned = false;
    const r = await runScenario(
      scenario(
        'hangs',
        async (c) => {
          c.defer(() => {
            cleaned = true;
          });
          c.signal.addEventListener('abort', () => (aborted = true));
          await new Promise(() => undefined);
        },
        { timeoutMs: 200 },
      ),
      same,
    );
    expect(r).toMatchObject({ outcome: 'FAIL', error: 'timed out after 0.2 s' });
    expect(aborted).toBe(true);
    expect(cleaned).toBe(true);
  });

  it('a failing cleanup fails an otherwise passing scenario', async () => {
    const r = await runScenario(
      scenario('dirty', async (c) => {
        c.defer(() => {
          throw new Error('port still bound');
        });
        c.check('x', 'x', 'x', true);
      }),
      same,
    );
    expect(r).toMatchObject({ outcome: 'FAIL', error: 'cleanup failed: port still bound' });
  });

  it('runs in order with progress reported; an interrupt ends the current scenario and starts no other', async () => {
    const events: string[] = [];
    const interrupt = new AbortController();
    const list = [
      scenario('one', async (c) => {
        c.progress('working');
        c.check('x', 'x', 'x', true);
      }),
      scenario('two', async (c) => {
        c.check('x', 'x', 'x', true);
        interrupt.abort();
        await new Promise(() => undefined);
      }),
      scenario('three', async (c) => c.check('x', 'x', 'x', true)),
    ];
    const results = await runScenarios(list, same, {
      signal: interrupt.signal,
      reporter: {
        start: (s, i, n) => events.push(`start ${s.name} ${i + 1}/${n}`),
        progress: (s, m) => events.push(`${s.name}: ${m}`),
        end: (r) => events.push(`end ${r.name} ${r.outcome}`),
      },
    });
    expect(events).toEqual(['start one 1/3', 'one: working', 'end one PASS', 'start two 2/3', 'end two FAIL']);
    expect(results.map((r) => [r.name, r.outcome, r.error])).toEqual([
      ['one', 'PASS', null],
      ['two', 'FAIL', 'interrupted'],
    ]);
    expect(exitCode(results)).toBe(1);
  });

  it('exit code: 0 only for a non-empty run where everything passed', () => {
    const r = (outcome: 'PASS' | 'FAIL'): ScenarioResult => ({ name: 'n', area: 'proxy', expectation: 'e', checks: [], error: null, outcome, durationMs: 1 });
    expect(exitCode([])).toBe(1);
    expect(exitCode([r('PASS'), r('PASS')])).toBe(0);
    expect(exitCode([r('PASS'), r('FAIL')])).toBe(1);
  });
});

describe('results table', () => {
  const result = (name: string, outcome: 'PASS' | 'FAIL', expectation: string, observed: string): ScenarioResult => ({
    name,
    area: 'upstream',
    expectation,
    checks: [{ what: 'status', expected: 'x', observed, pass: outcome === 'PASS' }],
    error: null,
    outcome,
    durationMs: 1234,
  });

  it('wrap keeps every word, in order, within the width (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 30 }).filter((w) => !/\s/.test(w)), { maxLength: 40 }), fc.integer({ min: 1, max: 60 }), (words, width) => {
        const lines = wrap(words.join(' '), width);
        for (const line of lines) expect([...line].length).toBeLessThanOrEqual(width);
        expect(lines.join('').replaceAll(' ', '')).toBe(words.join(''));
      }),
    );
  });

  it('one row per scenario with its expectation, observation and PASS/FAIL, every line the same width', () => {
    const long = 'all 502 UPSTREAM_CONNECT_FAILED, each answered within connect-secs 1 s + 1500 ms = 2500 ms; sentinel_errors_total{code="UPSTREAM_CONNECT_FAILED"} +20';
    const table = renderResults([result('upstream-down', 'PASS', long, '20×502 UPSTREAM_CONNECT_FAILED'), result('upstream-slow', 'FAIL', 'all 504', '3×200')], 100);
    const lines = table.split('\n');
    expect(new Set(lines.map((l) => [...l].length))).toEqual(new Set([100]));
    expect(lines[1]).toMatch(/^\| scenario\s+\| expectation\s+\| observed\s+\| result \|$/);
    const rows = lines.filter((l) => /\| (PASS|FAIL)\s+\|$/.test(l));
    expect(rows.map((l) => /\| (PASS|FAIL)\s+\|$/.exec(l)![1])).toEqual(['PASS', 'FAIL']);
    expect(rows[0]).toMatch(/^\| upstream-down /);
    // the expectation column of the first scenario's row, read back line by line, is the whole text
    // (a word longer than the column is cut, so compare without spaces)
    const start = lines.findIndex((l) => l.startsWith('| upstream-down '));
    const cells: string[] = [];
    for (let i = start; !lines[i]!.startsWith('+'); i++) cells.push(lines[i]!.split('|')[2]!.trim());
    expect(cells.join('').replaceAll(' ', '')).toBe(long.replaceAll(' ', ''));
    expect(table).toContain('✗ status: 3×200 (expected x)');
  });

  it('never narrower than 80 columns; summary counts PASS and FAIL', () => {
    const table = renderResults([result('a', 'PASS', 'e', 'o')], 20);
    expect([...table.split('\n')[0]!].length).toBe(80);
    expect(summaryLine([result('a', 'PASS', 'e', 'o'), result('b', 'FAIL', 'e', 'o')], 52_300)).toBe('chaos: 2 scenarios, 1 PASS, 1 FAIL (52.3 s)');
  });
});

describe('npm run chaos (CLI, fixture scenarios)', () => {
  const run = (args: string[], toxiproxyUrl = ''): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'chaos/run.ts'), '--scenarios-dir', FIXTURES, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TOXIPROXY_URL: toxiproxyUrl } });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });

  it('all passing: exit 0, progress on stderr, the table and summary on stdout', async () => {
    const r = await run(['--scenario', 'fixture-pass']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('[1/1] fixture-pass: none');
    expect(r.stderr).toMatch(/checking/);
    expect(r.stderr).toMatch(/Toxiproxy built in: http:\/\/127\.0\.0\.1:\d+/);
    expect(r.stdout).toMatch(/\| fixture-pass\s+\| one check passes\s+\| answer: 42\s+\| PASS\s+\|/);
    expect(r.stdout).toContain('chaos: 1 scenario, 1 PASS, 0 FAIL');
  });

  it('any failure: exit 1, with the failed checks and errors in the table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-chaos-'));
    try {
      const json = join(dir, 'results.json');
      const r = await run(['--json', json]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/\| fixture-fail\s+\| status 200\s+\| ✗ status: 502 \(expected 200\)\s+\| FAIL\s+\|/);
      expect(r.stdout).toMatch(/\| fixture-throws .*✗ boom\s+\| FAIL/);
      expect(r.stdout).toContain('chaos: 3 scenarios, 1 PASS, 2 FAIL');
      const written = JSON.parse(readFileSync(json, 'utf8')) as { results: ScenarioResult[] };
      expect(written.results.map((x) => [x.name, x.outcome])).toEqual([
        ['fixture-fail', 'FAIL'],
        ['fixture-throws', 'FAIL'],
        ['fixture-pass', 'PASS'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('TOXIPROXY_URL: drives that Toxiproxy (it must answer) instead of starting one', async () => {
    const external = await createToxiproxyServer({ host: '127.0.0.1', port: 0 });
    try {
      const r = await run(['--scenario', 'fixture-pass'], external.url);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`Toxiproxy at TOXIPROXY_URL: ${external.url}`);
    } finally {
      await external.close();
    }
    const dead = await run(['--scenario', 'fixture-pass'], external.url);
    expect(dead.code).toBe(1);
    expect(dead.stderr).toContain(`chaos: Toxiproxy at ${external.url} does not answer`);
  });

  it('--ci runs only the CI subset', async () => {
    const r = await run(['--ci']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('chaos: 1 scenario, 1 PASS, 0 FAIL');
  });

  it('an unknown scenario is a usage error: exit 2, the known names, nothing run', async () => {
    const r = await run(['--scenario', 'fixture-nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown scenario "fixture-nope"; known: fixture-fail, fixture-throws, fixture-pass');
    expect(r.stdout).toBe('');
    expect((await run(['--bogus'])).code).toBe(2);
  });

  it('--list prints each scenario with its expectation and runs nothing', async () => {
    const r = await run(['--list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('fixture-pass  [proxy, ci]');
    expect(r.stdout).toContain('expect: one check passes');
    expect(r.stderr).toBe('');
  });
});
