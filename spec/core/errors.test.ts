import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, ERROR_TABLE, ProxyError, errorBody } from '../../src/core/errors.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('error table', () => {
  it('documents every code in docs/errors.md with its status', () => {
    for (const code of ERROR_CODES) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      expect(row, `docs/errors.md has no row for ${code}`).toBeDefined();
      expect(row).toContain(`| ${ERROR_TABLE[code].status} |`);
    }
  });

  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...ERROR_CODES].sort());
  });

  it('maps 5xx to upstream/proxy/agent sources and 4xx to the client', () => {
    for (const code of ERROR_CODES) {
      const spec = ERROR_TABLE[code];
      if (spec.status < 500) expect(spec.source).toBe('client');
      else expect(spec.source).not.toBe('client');
    }
  });

  it('renders a JSON body with code, client-safe message and request id, never the detail', () => {
    const e = new ProxyError('UPSTREAM_RESET', 'socket hang up at 10.0.0.1:8080');
    expect(e.status).toBe(502);
    const body = JSON.parse(errorBody(e.code, 'rid-1')) as unknown;
    expect(body).toEqual({ error: { code: 'UPSTREAM_RESET', message: ERROR_TABLE.UPSTREAM_RESET.message, request_id: 'rid-1' } });
    expect(errorBody(e.code, 'rid-1')).not.toContain('10.0.0.1');
  });
});
