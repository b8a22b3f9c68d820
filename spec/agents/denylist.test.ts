// The denylist agent: rule compilation and matching (CIDR v4/v6, path prefix, User-Agent), and the
// real process: --config file, config pushed in the handshake, SIGHUP reload.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { compileDenylist, matchRequest, normalizePath } from '../../agents/denylist/rules.ts';
import type { CompiledDenylist } from '../../agents/denylist/rules.ts';
import { AgentClient } from '../../src/protocol/client.ts';
import type { RunningAgent } from '../protocol/helpers.ts';
import { DENYLIST_MAIN, headersEvent, startAgent } from '../protocol/helpers.ts';

function compiled(cfg: unknown): CompiledDenylist {
  const r = compileDenylist(cfg);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.value;
}

describe('denylist rules', () => {
  const d = compiled({ ips: ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1'], paths: ['/admin', '/.git/', '/private'], user_agents: ['sqlmap', '^curl/7\\.'] });

  it('IPv4 CIDR and single address', () => {
    expect(matchRequest(d, '10.1.2.3', '/', [])).toEqual({ rule: 'ip', value: '10.1.2.3' });
    expect(matchRequest(d, '10.255.255.255', '/', [])?.rule).toBe('ip');
    expect(matchRequest(d, '11.0.0.1', '/', [])).toBeNull();
    expect(matchRequest(d, '192.0.2.7', '/', [])?.rule).toBe('ip');
    expect(matchRequest(d, '192.0.2.8', '/', [])).toBeNull();
  });

  it('IPv6 CIDR, single address, and IPv4-mapped IPv6 clients', () => {
    expect(matchRequest(d, '2001:db8:1::5', '/', [])?.rule).toBe('ip');
    expect(matchRequest(d, '2001:db9::1', '/', [])).toBeNull();
    expect(matchRequest(d, '::1', '/', [])?.rule).toBe('ip');
    expect(matchRequest(d, '::ffff:10.9.9.9', '/', [])?.rule).toBe('ip');
    expect(matchRequest(d, '::ffff:11.9.9.9', '/', [])).toBeNull();
  });

  it('IPv4 /8 matches exactly the addresses whose first octet is 10 (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(matchRequest(d, ip, '/', []) !== null).toBe(ip.startsWith('10.') || ip === '192.0.2.7');
      }),
    );
  });

  it('path prefix on segment boundaries, after normalisation', () => {
    expect(matchRequest(d, '1.1.1.1', '/admin', [])).toEqual({ rule: 'path', value: '/admin' });
    expect(matchRequest(d, '1.1.1.1', '/admin/users?x=1', [])?.rule).toBe('path');
    expect(matchRequest(d, '1.1.1.1', '/administrator', [])).toBeNull();
    expect(matchRequest(d, '1.1.1.1', '/.git/config', [])?.rule).toBe('path');
    for (const bypass of ['//admin', '/./admin', '/x/../admin', '/%61dmin', '/%2561dmin', '/admin%2Fusers', '/a\\..\\admin', '/private/']) {
      expect(matchRequest(d, '1.1.1.1', bypass, []), bypass).not.toBeNull();
    }
    expect(matchRequest(d, '1.1.1.1', '/public/admin', [])).toBeNull();
  });

  it('normalizePath is idempotent and always absolute (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const n = normalizePath(`/${s}`);
        expect(n.startsWith('/')).toBe(true);
        expect(n.split('/').includes('..')).toBe(false);
        expect(normalizePath(n)).toBe(n);
      }),
      { numRuns: 500 },
    );
  });

  it('User-Agent patterns, case-insensitive, any of several values', () => {
    expect(matchRequest(d, '1.1.1.1', '/', ['Mozilla/5.0', 'SQLMap/1.7'])?.rule).toBe('user_agent');
    expect(matchRequest(d, '1.1.1.1', '/', ['curl/7.88.1'])?.rule).toBe('user_agent');
    expect(matchRequest(d, '1.1.1.1', '/', ['curl/8.1.0'])).toBeNull();
    expect(matchRequest(d, '1.1.1.1', '/', [])).toBeNull();
  });

  it('rejects invalid configs with every error listed', () => {
    const r = compileDenylist({ ips: ['10.0.0.0/33', 'nope', '::1/129'], paths: ['admin'], user_agents: ['('], status: 200, extra: 1 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toHaveLength(7);
    expect(compileDenylist(null).ok).toBe(true);
    expect(compileDenylist([]).ok).toBe(false);
    expect(compileDenylist({ ips: [1] }).ok).toBe(false);
  });

  it('a single string is a list of one (KDL config { paths "/admin" } arrives as a string)', () => {
    const r = compileDenylist({ ips: '10.0.0.0/8', paths: '/admin', user_agents: 'sqlmap' });
    expect(r.ok && { ips: r.value.ipCount, paths: r.value.paths, uas: r.value.userAgents.length }).toEqual({ ips: 1, paths: ['/admin'], uas: 1 });
  });
});

describe('denylist agent process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-denylist-'));
  const running: RunningAgent[] = [];
  const clients: AgentClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(running.splice(0).map((a) => a.stop('SIGKILL')));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function client(a: RunningAgent, config?: unknown, grpc = false): AgentClient {
    const c = new AgentClient({ agentId: 'denylist', endpoint: grpc ? { kind: 'grpc', address: a.grpc as string } : { kind: 'uds', path: a.socket as string }, keepaliveIntervalMs: 0, config: (config ?? null) as never });
    clients.push(c);
    return c;
  }

  it('blocks from a --config file and picks up a new file on SIGHUP', async () => {
    const cfg = join(dir, 'denylist.json');
    writeFileSync(cfg, JSON.stringify({ paths: ['/old'], status: 403, body: 'Forbidden' }));
    const a = await startAgent(DENYLIST_MAIN, ['--socket', join(dir, 'dl.sock'), '--grpc', '127.0.0.1:0', '--config', cfg]);
    running.push(a);
    for (const c of [client(a), client(a, undefined, true)]) {
      const r = await c.call(headersEvent('a1', '/old/x'), { timeoutMs: 5000 });
      expect(r.decision).toEqual({ block: { status: 403, body: 'Forbidden' } });
      expect(r.audit.rule_ids).toEqual(['denylist.path']);
      expect(r.audit.reason_codes).toEqual(['DENYLIST_PATH']);
      expect((await c.call(headersEvent('a2', '/new/x'), { timeoutMs: 5000 })).decision).toBe('allow');
    }
    writeFileSync(cfg, JSON.stringify({ paths: ['/new'], ips: ['203.0.113.0/24'], status: 451, body: 'gone' }));
    a.proc.kill('SIGHUP');
    expect((await a.waitFor('reloaded'))['ok']).toBe(true);
    const c = client(a);
    expect((await c.call(headersEvent('b1', '/old/x'), { timeoutMs: 5000 })).decision).toBe('allow');
    expect((await c.call(headersEvent('b2', '/new/x'), { timeoutMs: 5000 })).decision).toEqual({ block: { status: 451, body: 'gone' } });
    expect((await c.call(headersEvent('b3', '/', {}, '203.0.113.9'), { timeoutMs: 5000 })).decision).toEqual({ block: { status: 451, body: 'gone' } });
  });

  it('a broken file on SIGHUP is refused and the previous lists stay in force', async () => {
    const cfg = join(dir, 'denylist2.json');
    writeFileSync(cfg, JSON.stringify({ paths: ['/x'] }));
    const a = await startAgent(DENYLIST_MAIN, ['--socket', join(dir, 'dl2.sock'), '--config', cfg]);
    running.push(a);
    writeFileSync(cfg, JSON.stringify({ ips: ['not-an-ip'] }));
    a.proc.kill('SIGHUP');
    expect((await a.waitFor('reloaded'))['ok']).toBe(false);
    // stderr and stdout are separate pipes: wait for the error line rather than assume ordering.
    await new Promise<void>((r) => {
      const poll = (): void => (a.stderr.includes('not-an-ip') ? r() : void setTimeout(poll, 5));
      poll();
    });
    expect(a.stderr).toContain('ips: not-an-ip is not an IP address or CIDR');
    expect((await client(a).call(headersEvent('c1', '/x'), { timeoutMs: 5000 })).decision).toEqual({ block: { status: 403, body: 'Forbidden' } });
  });

  it('uses the config pushed in the handshake (IPv6 CIDR and User-Agent)', async () => {
    const a = await startAgent(DENYLIST_MAIN, ['--socket', join(dir, 'dl3.sock')]);
    running.push(a);
    const c = client(a, { ips: ['2001:db8::/32'], user_agents: ['evilbot'] });
    expect((await c.call(headersEvent('d1', '/', {}, '2001:db8::1'), { timeoutMs: 5000 })).decision).toEqual({ block: { status: 403, body: 'Forbidden' } });
    expect((await c.call(headersEvent('d2', '/', { headers: { 'user-agent': ['EvilBot/2'] } }), { timeoutMs: 5000 })).audit.rule_ids).toEqual(['denylist.user_agent']);
    expect((await c.call(headersEvent('d3', '/', {}, '2001:db9::1'), { timeoutMs: 5000 })).decision).toBe('allow');
  });
});
