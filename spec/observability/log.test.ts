// Unit tests of the log writers: the combined format's escaping and time, access-log sampling,
// the bounded destination buffer (lines past it are dropped and counted, never queued), the
// audit log's destinations, and parser-error classification.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { AccessLog, Logs, clfTime, escapeLogField, formatCombined, formatJson } from '../../src/observability/log.ts';
import type { AccessRecord } from '../../src/observability/log.ts';
import { LogDestination, MAX_BUFFERED_LOG_BYTES } from '../../src/observability/log-destinations.ts';
import { classifyClientError } from '../../src/server/http-listener.ts';
import { Metrics } from '../../src/observability/metrics.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'sentinel-log-unit-'));
  dirs.push(d);
  return d;
}

const RECORD: AccessRecord = {
  request_id: 'r-1', trace_id: '0af7651916cd43dd8448eb211c80319c', listener: 'main', client_ip: '::1', method: 'GET', path: '/a b',
  host: 'h', route: 'api', upstream: 'app', target: '127.0.0.1:3000', attempts: 2, status: 200, error_code: undefined,
  bytes_in: 0, bytes_out: 0, duration_ms: 1.5, upstream_ms: 1.25, agents_ms: 0.125,
};

function fakeReq(headers: Record<string, string>): IncomingMessage {
  return { headers, httpVersion: '1.1' } as unknown as IncomingMessage;
}

describe('combined format', () => {
  it('escapes quotes, backslashes, control and non-ASCII bytes as Apache does', () => {
    expect(escapeLogField('plain/text-1')).toBe('plain/text-1');
    expect(escapeLogField('a"b\\c')).toBe('a\\"b\\\\c');
    expect(escapeLogField('x\ny\t\x7f')).toBe('x\\x0ay\\x09\\x7f');
    expect(escapeLogField('é')).toBe('\\xc3\\xa9');
  });

  it('an escaped field never contains a raw quote, control character or non-ASCII byte (property)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => {
      const e = escapeLogField(s);
      // Every quote is escaped; the output is printable ASCII only.
      expect(e.replace(/\\\\/g, '').replace(/\\"/g, '')).not.toContain('"');
      expect(e).toMatch(/^[\x20-\x7e]*$/);
    }));
  });

  it('time is %t in UTC', () => {
    expect(clfTime(Date.UTC(2000, 9, 10, 13, 55, 36))).toBe('[10/Oct/2000:13:55:36 +0000]');
    expect(clfTime(Date.UTC(2026, 0, 2, 3, 4, 5))).toBe('[02/Jan/2026:03:04:05 +0000]');
  });

  it('one line: client, -, -, time, request line, status, bytes ("-" for 0), referer, user agent, then key=value fields', () => {
    const line = formatCombined(RECORD, fakeReq({ 'user-agent': 'curl/8 "x"' }), Date.UTC(2000, 9, 10, 13, 55, 36));
    expect(line).toBe('::1 - - [10/Oct/2000:13:55:36 +0000] "GET /a b HTTP/1.1" 200 - "-" "curl/8 \\"x\\"" request_id=r-1 trace_id=0af7651916cd43dd8448eb211c80319c route=api upstream=app target=127.0.0.1:3000 attempts=2 error=- duration_ms=1.5 upstream_ms=1.25 agents_ms=0.125\n');
    expect(formatCombined({ ...RECORD, bytes_out: 42, error_code: 'UPSTREAM_RESET', status: 502 }, fakeReq({ referer: 'http://r/' }), 0))
      .toContain('502 42 "http://r/" "-"');
  });
});

describe('json format', () => {
  it('one JSON object per line: level, time, every field (an undefined error code left out), msg', () => {
    const line = formatJson({ ...RECORD, path: '/a"\n\u2028' }, Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    expect(line.endsWith('}\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    const o = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(o)).toEqual(['level', 'time', ...Object.keys(RECORD).filter((k) => k !== 'error_code'), 'msg']);
    expect(o).toMatchObject({ level: 30, time: '2026-01-02T03:04:05.006Z', msg: 'access', path: '/a"\n\u2028', agents_ms: 0.125 });
    expect(JSON.parse(formatJson({ ...RECORD, error_code: 'UPSTREAM_RESET' }, 0)).error_code).toBe('UPSTREAM_RESET');
  });

  it('fields a route handler adds (ex.logFields) follow the standard ones, in both formats; a standard name is not overridden', () => {
    const extra = { deployment_id: 'd 1', instance_id: 'i-2', status: 999 };
    const o = JSON.parse(formatJson(RECORD, 0, extra)) as Record<string, unknown>;
    expect(o).toMatchObject({ deployment_id: 'd 1', instance_id: 'i-2', status: 200, msg: 'access' });
    const line = formatCombined(RECORD, fakeReq({}), 0, extra);
    expect(line.trimEnd().endsWith(' agents_ms=0.125 deployment_id=d\\x201 instance_id=i-2')).toBe(true);
  });
});

describe('access log sampling', () => {
  it('rate 1 logs all, rate 0 none, rate 0.25 about a quarter', () => {
    const dir = tmp();
    const dest = new LogDestination(join(dir, 'a.log'), 0);
    const log = new AccessLog(dest, { enabled: true, destination: '', format: 'json', sampleRate: 1, bufferBytes: 0 });
    const count = (n: number) => { let k = 0; for (let i = 0; i < n; i++) if (log.sampled()) k++; return k; };
    expect(count(1000)).toBe(1000);
    log.configure({ enabled: true, destination: '', format: 'json', sampleRate: 0, bufferBytes: 0 });
    expect(count(1000)).toBe(0);
    log.configure({ enabled: true, destination: '', format: 'combined', sampleRate: 0.25, bufferBytes: 0 });
    expect(log.format).toBe('combined');
    // Binomial(20000, 0.25): sd ≈ 61; ±1000 is more than 16 sd.
    expect(Math.abs(count(20_000) - 5000)).toBeLessThan(1000);
  });
});

describe('destination bound', () => {
  it('past 16 MiB waiting to be written, lines are dropped and reported, not queued', async () => {
    const dir = tmp();
    const dest = new LogDestination(join(dir, 'big.log'), 0);
    await once(dest.stream, 'ready');
    const line = `${'x'.repeat(1024 * 1024 - 1)}\n`;
    let kept = 0;
    let dropped = 0;
    // All in one tick: nothing can be written before the loop ends.
    for (let i = 0; i < 24; i++) { if (dest.write(line)) kept++; else dropped++; }
    expect(kept).toBeLessThanOrEqual(MAX_BUFFERED_LOG_BYTES / line.length);
    expect(kept).toBeGreaterThanOrEqual(15);
    expect(dropped).toBe(24 - kept);
    await dest.drain(10_000);
    expect(readFileSync(join(dir, 'big.log')).length).toBe(kept * line.length);
  });

  it('Logs counts a dropped access line in sentinel_log_dropped_total', async () => {
    const dir = tmp();
    const logs = new Logs('silent');
    const metrics = new Metrics({ processMetrics: false });
    logs.counters = metrics;
    const log = logs.openAccessLog({ enabled: true, destination: join(dir, 'acc.log'), format: 'combined', sampleRate: 1, bufferBytes: 0 }) as AccessLog;
    const huge = { ...RECORD, path: 'p'.repeat(6 * 1024 * 1024) };
    for (let i = 0; i < 4; i++) log.write(huge, fakeReq({}));
    await logs.flush();
    expect(await metrics.registry.metrics()).toMatch(/sentinel_log_dropped_total\{log="access"\} [1-9]/);
  });
});

describe('audit log', () => {
  it('to its own file, counted; disabled: counted but not written', async () => {
    const dir = tmp();
    const logs = new Logs('silent');
    const metrics = new Metrics({ processMetrics: false });
    const file = join(dir, 'audit', 'audit.log');
    const audit = logs.openAuditLog({ enabled: true, destination: file, bufferBytes: 0 }, (c, a) => metrics.audited(c, a));
    audit.record({ component: 'rate-limit', action: 'reject', reason: 'limit exceeded', rule_ids: ['r1'] });
    const off = logs.openAuditLog({ enabled: false, destination: null, bufferBytes: 0 }, (c, a) => metrics.audited(c, a));
    off.record({ component: 'agent', action: 'block', reason: 'denylist' });
    await logs.flush();
    const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toEqual([expect.objectContaining({ audit: true, msg: 'audit', component: 'rate-limit', action: 'reject', reason: 'limit exceeded', rule_ids: ['r1'] })]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('sentinel_audit_events_total{component="rate-limit",action="reject"} 1');
    expect(text).toContain('sentinel_audit_events_total{component="agent",action="block"} 1');
  });
});

describe('parser errors (clientError)', () => {
  it.each([
    ['HPE_INVALID_TRANSFER_ENCODING', 400, 'smuggling rejected'],
    ['HPE_UNEXPECTED_CONTENT_LENGTH', 400, 'smuggling rejected'],
    ['HPE_INVALID_HEADER_TOKEN', 400, 'smuggling rejected'],
    ['HPE_LF_EXPECTED', 400, 'smuggling rejected'],
    ['HPE_INVALID_CHUNK_SIZE', 400, 'smuggling rejected'],
    ['HPE_INVALID_METHOD', 400, 'malformed request'],
    ['HPE_HEADER_OVERFLOW', 431, 'header block too large'],
    ['HPE_CHUNK_EXTENSIONS_OVERFLOW', 413, 'chunk extensions too large'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'request not received within headers-timeout or request-timeout'],
  ])('%s → %i, audited as "%s"', (code, status, reason) => {
    const v = classifyClientError(code);
    expect(v.status).toBe(status);
    expect(v.audit?.reason).toBe(reason);
  });

  it('a reset or broken pipe is not a decision: no audit record', () => {
    expect(classifyClientError('ECONNRESET').audit).toBeNull();
    expect(classifyClientError(undefined).audit).toBeNull();
  });
});
