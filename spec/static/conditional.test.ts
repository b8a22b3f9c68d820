import { describe, expect, it } from 'vitest';
import { acceptedCodings, etagListMatches, evaluatePreconditions, ifRangeAllows, makeEtag, parseRange } from '../../src/static/conditional.ts';
import { contentTypeFor } from '../../src/static/mime.ts';

const none = { ifMatch: undefined, ifNoneMatch: undefined, ifModifiedSince: undefined, ifUnmodifiedSince: undefined };
const LM = 1_700_000_000; // seconds
const lmDate = new Date(LM * 1000).toUTCString();

describe('entity tags', () => {
  it('differ by size, time and coding', () => {
    const a = makeEtag(10, 1000, null);
    expect(a).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(makeEtag(11, 1000, null)).not.toBe(a);
    expect(makeEtag(10, 2000, null)).not.toBe(a);
    expect(makeEtag(10, 1000, 'br')).not.toBe(a);
  });

  it('compare weakly for If-None-Match and strongly for If-Match (RFC 9110 §8.8.3.2)', () => {
    expect(etagListMatches('W/"a", "b"', '"a"', true)).toBe(true);
    expect(etagListMatches('W/"a"', '"a"', false)).toBe(false);
    expect(etagListMatches('"x", "a"', '"a"', false)).toBe(true);
    expect(etagListMatches('*', '"a"', false)).toBe(true);
    expect(etagListMatches('"b"', '"a"', true)).toBe(false);
  });
});

describe('preconditions (RFC 9110 §13.2.2)', () => {
  it('If-Match failing is 412, and wins over If-None-Match', () => {
    expect(evaluatePreconditions({ ...none, ifMatch: '"other"', ifNoneMatch: '"e"' }, '"e"', LM)).toBe('failed');
  });
  it('If-Unmodified-Since before the last modification is 412; ignored when If-Match is present', () => {
    expect(evaluatePreconditions({ ...none, ifUnmodifiedSince: new Date((LM - 10) * 1000).toUTCString() }, '"e"', LM)).toBe('failed');
    expect(evaluatePreconditions({ ...none, ifMatch: '"e"', ifUnmodifiedSince: new Date((LM - 10) * 1000).toUTCString() }, '"e"', LM)).toBe('ok');
  });
  it('If-None-Match matching is 304; If-Modified-Since is ignored when If-None-Match is present', () => {
    expect(evaluatePreconditions({ ...none, ifNoneMatch: '"e"' }, '"e"', LM)).toBe('not-modified');
    expect(evaluatePreconditions({ ...none, ifNoneMatch: '"x"', ifModifiedSince: lmDate }, '"e"', LM)).toBe('ok');
  });
  it('If-Modified-Since at or after the last modification is 304; an invalid date is ignored', () => {
    expect(evaluatePreconditions({ ...none, ifModifiedSince: lmDate }, '"e"', LM)).toBe('not-modified');
    expect(evaluatePreconditions({ ...none, ifModifiedSince: new Date((LM - 1) * 1000).toUTCString() }, '"e"', LM)).toBe('ok');
    expect(evaluatePreconditions({ ...none, ifModifiedSince: 'yesterday' }, '"e"', LM)).toBe('ok');
  });
});

describe('Range (RFC 9110 §14.1.2)', () => {
  it('parses single ranges', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ start: 50, end: 99 });
  });
  it('unsatisfiable ranges', () => {
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=200-300', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
  });
  it('ignores what it does not serve: absent, other units, malformed, last < first, several ranges', () => {
    for (const h of [undefined, 'items=0-1', 'bytes=', 'bytes=a-b', 'bytes=5-1', 'bytes=0-1,3-4', 'bytes=-']) expect(parseRange(h, 100), String(h)).toBeNull();
  });
  it('If-Range honours the range only for the current representation', () => {
    expect(ifRangeAllows(undefined, '"e"', LM)).toBe(true);
    expect(ifRangeAllows('"e"', '"e"', LM)).toBe(true);
    expect(ifRangeAllows('W/"e"', '"e"', LM)).toBe(false);
    expect(ifRangeAllows('"old"', '"e"', LM)).toBe(false);
    expect(ifRangeAllows(lmDate, '"e"', LM)).toBe(true);
    expect(ifRangeAllows(new Date((LM - 5) * 1000).toUTCString(), '"e"', LM)).toBe(false);
  });
});

describe('Accept-Encoding (RFC 9110 §12.5.3)', () => {
  it('keeps the route order among accepted codings', () => {
    expect(acceptedCodings('gzip, br', ['br', 'gzip'])).toEqual(['br', 'gzip']);
    expect(acceptedCodings('gzip', ['br', 'gzip'])).toEqual(['gzip']);
    expect(acceptedCodings('br;q=0, gzip;q=0.5', ['br', 'gzip'])).toEqual(['gzip']);
    expect(acceptedCodings('*', ['br', 'gzip'])).toEqual(['br', 'gzip']);
    expect(acceptedCodings('*, br;q=0', ['br', 'gzip'])).toEqual(['gzip']);
    expect(acceptedCodings('identity', ['br', 'gzip'])).toEqual([]);
    expect(acceptedCodings(undefined, ['br', 'gzip'])).toEqual([]);
    expect(acceptedCodings('x-gzip', ['gzip'])).toEqual(['gzip']);
  });
});

describe('content types', () => {
  it('maps common extensions case-insensitively, text with utf-8, unknown to octet-stream', () => {
    expect(contentTypeFor('index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeFor('APP.JS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('a.woff2')).toBe('font/woff2');
    expect(contentTypeFor('a.wasm')).toBe('application/wasm');
    expect(contentTypeFor('noext')).toBe('application/octet-stream');
    expect(contentTypeFor('a.unknownext')).toBe('application/octet-stream');
    expect(contentTypeFor('archive.tar.gz')).toBe('application/gzip');
  });
});
