import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { formatK6Duration, generatedK6Profiles, renderGeneratedK6Profiles, toK6Options } from '../../soak/lib/k6-options.ts';
import { PROFILES, PROFILE_NAMES, scaleProfile } from '../../soak/profiles.ts';
import { evaluateThresholds } from '../../soak/lib/stats.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K6_DIR = fileURLToPath(new URL('../../soak/k6/', import.meta.url));

describe('profile → k6 options', () => {
  it('formats k6 durations', () => {
    expect(formatK6Duration(120_000)).toBe('2m');
    expect(formatK6Duration(30_000)).toBe('30s');
    expect(formatK6Duration(90_000)).toBe('90s');
    expect(formatK6Duration(1500)).toBe('1500ms');
    expect(formatK6Duration(0)).toBe('0ms');
    expect(() => formatK6Duration(1.5)).toThrow(RangeError);
  });

  it('maps a profile to one ramping-arrival-rate scenario with its thresholds', () => {
    expect(toK6Options(PROFILES.load)).toEqual({
      scenarios: {
        load: {
          executor: 'ramping-arrival-rate',
          startRate: 0,
          timeUnit: '1s',
          preAllocatedVUs: 50,
          maxVUs: 200,
          stages: [{ duration: '1m', target: 500 }, { duration: '3m', target: 500 }, { duration: '1m', target: 0 }],
          gracefulStop: '30s',
        },
      },
      thresholds: { http_req_failed: ['rate<0.01'], http_req_duration: ['p(95)<100', 'p(99)<250'] },
      summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
      discardResponseBodies: true,
    });
    const scaled = toK6Options(scaleProfile(PROFILES.smoke, 5000)).scenarios.smoke;
    expect(scaled?.stages).toEqual([{ duration: '5s', target: 20 }]);
  });

  it('every profile maps, and its threshold strings are ones the Node runner evaluates', () => {
    const gen = generatedK6Profiles();
    expect(Object.keys(gen)).toEqual([...PROFILE_NAMES]);
    for (const name of PROFILE_NAMES) {
      const o = gen[name].options;
      const sc = o.scenarios[name];
      expect(sc?.stages.length).toBe(PROFILES[name].stages.length);
      const res = evaluateThresholds(o.thresholds, {
        http_req_failed: { kind: 'rate', passes: 0, total: 10 },
        http_req_duration: { kind: 'trend', sorted: [1, 2, 3] },
      });
      expect(res).toHaveLength(3);
      expect(res.every((r) => r.pass)).toBe(true);
    }
  });

  it('soak/k6/profiles.generated.json is current (regenerate with node soak/gen-k6.ts)', () => {
    expect(readFileSync(`${K6_DIR}profiles.generated.json`, 'utf8')).toBe(renderGeneratedK6Profiles());
  });

  it('there is one k6 script per profile, each naming its own profile', () => {
    for (const name of PROFILE_NAMES) {
      const text = readFileSync(`${K6_DIR}${name}.js`, 'utf8');
      expect(text).toContain(`pickProfile(open('./profiles.generated.json'), '${name}')`);
      expect(text).toMatch(/export const options = /);
      expect(text).toMatch(/export default /);
    }
    const scripts = readdirSync(K6_DIR).filter((f) => f.endsWith('.js') && f !== 'lib.js' && f !== 'options-check.js');
    expect(scripts.sort()).toEqual([...PROFILE_NAMES].map((n) => `${n}.js`).sort());
  });

  it('the k6 scripts and the mapping type-check against @types/k6', async () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const { stdout, stderr } = await run(process.execPath, [tsc, '-p', `${K6_DIR}tsconfig.json`], { cwd: ROOT }).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${stdout}${stderr}`).toBe('');
  });
});
