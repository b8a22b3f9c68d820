import { describe, expect, it } from 'vitest';
import { compileResponseOps } from '../../src/compile/snapshot.ts';
import { DEFAULT_POLICIES, NO_SECURITY_HEADERS } from '../../src/config/schema/route-policies.ts';
import { applyHeaderOps } from '../../src/pipeline/header-ops.ts';

describe('route response operations', () => {
  it('send Strict-Transport-Security only on TLS listeners (RFC 6797 §7.2)', () => {
    const plain = applyHeaderOps([], compileResponseOps(DEFAULT_POLICIES, false) ?? []);
    const tls = applyHeaderOps([], compileResponseOps(DEFAULT_POLICIES, true) ?? []);
    expect(plain).not.toContain('strict-transport-security');
    expect(tls).toEqual(expect.arrayContaining(['strict-transport-security', 'max-age=31536000']));
  });

  it('remove the upstream Server first, then the route rules, then the security headers as defaults', () => {
    const ops = compileResponseOps({ ...DEFAULT_POLICIES, responseHeaders: [{ op: 'set', name: 'X-Frame-Options', value: 'DENY' }] }, true) ?? [];
    const out = applyHeaderOps(['Server', 'Apache', 'content-type', 'text/html'], ops);
    expect(out).toEqual([
      'content-type', 'text/html',
      'X-Frame-Options', 'DENY',
      'strict-transport-security', 'max-age=31536000',
      'x-content-type-options', 'nosniff',
      'referrer-policy', 'strict-origin-when-cross-origin',
    ]);
  });

  it('are null when there is nothing to do', () => {
    expect(compileResponseOps({ ...DEFAULT_POLICIES, securityHeaders: NO_SECURITY_HEADERS, serverHeader: { mode: 'pass' } }, true)).toBeNull();
  });
});
