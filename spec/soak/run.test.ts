import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PROFILES, scaleProfile } from '../../soak/profiles.ts';
import { formatSummary, loopbackUrl, runProfile } from '../../soak/lib/runner.ts';

const run = promisify(execFile);
const RUN_TS = fileURLToPath(new URL('../../soak/run.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('soak runner against the real proxy', () => {
  it('runs the smoke profile scaled to 5 s: 0 failed requests, RSS/fd/heap samples, proxy stopped after', async () => {
    const lines: string[] = [];
    let proxyPid: number | null = null;
    const profile = scaleProfile(PROFILES.smoke, 5000);
    const report = await runProfile({
      profile,
      resultsDir: null,
      progressEveryMs: 1000,
      log: (l) => lines.push(l),
      onProxyStarted: (pid) => { proxyPid = pid; },
    });
    // 20/s for 5 s is exactly 100 arrivals; each was either sent or (if the proxy stalled) dropped.
    expect(report.requests.scheduled).toBe(100);
    expect(report.requests.sent + report.requests.dropped).toBe(100);
    expect(report.requests.failed).toBe(0);
    expect(report.requests.completed).toBe(report.requests.sent);
    expect(report.requests.statusCounts).toEqual({ 200: report.requests.sent });
    expect(report.selfStarted).toBe(true);
    expect(report.thresholds.map((t) => `${t.metric} ${t.expr}`)).toEqual(['http_req_failed rate<0.001', 'http_req_duration p(95)<50', 'http_req_duration p(99)<100']);
    expect(report.thresholds[0]?.pass).toBe(true);

    const s = report.resources.samples;
    expect(s.filter((x) => x.rssMb !== null && x.rssMb > 0).length).toBeGreaterThanOrEqual(3);
    expect(s.filter((x) => x.fds !== null && x.fds > 0).length).toBeGreaterThanOrEqual(3);
    expect(s.some((x) => x.heapUsedMb !== null && x.heapUsedMb > 0)).toBe(true);
    expect(report.leak?.samples).toBeGreaterThan(0);
    expect(report.checks.find((c) => c.name === 'proxy alive at the end')?.pass).toBe(true);
    expect(lines.some((l) => /^\[\s*\d+s\] stage 1\/1 target 20\/s/.test(l))).toBe(true);
    expect(formatSummary(report)).toMatch(/http_req_failed rate<0\.001 +\| observed 0\.0000 +\| PASS/);

    expect(proxyPid).not.toBeNull();
    expect(alive(proxyPid as unknown as number)).toBe(false);
  });
});

describe('soak CLI and target guard', () => {
  it('refuses non-loopback and non-http targets', () => {
    expect(loopbackUrl('http://127.0.0.1:8080').port).toBe('8080');
    expect(loopbackUrl('http://[::1]:8080').hostname).toBe('[::1]');
    expect(() => loopbackUrl('http://10.0.0.1:8080')).toThrow(/loopback/);
    expect(() => loopbackUrl('http://example.com/')).toThrow(/loopback/);
    expect(() => loopbackUrl('https://127.0.0.1/')).toThrow(/http/);
  });

  it('exits 2 on a bad profile and 1 on a non-loopback target, before sending anything', async () => {
    const bad = await run(process.execPath, [RUN_TS, '--profile', 'nope'], { timeout: 20_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toMatch(/--profile must be one of smoke, load, stress, spike, soak/);
    const remote = await run(process.execPath, [RUN_TS, '--profile', 'smoke', '--target', 'http://192.0.2.1:80', '--no-write'], { timeout: 20_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((remote as { code: number }).code).toBe(1);
    expect((remote as { stderr: string }).stderr).toMatch(/loopback/);
  });
});
