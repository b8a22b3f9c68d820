// The toxic stages and pure helpers in isolation, on a fake clock, plus address parsing.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { bandwidthPieces, createStage, decodeAttributes, newStageState, sliceOffsets, TOXIC_ATTRIBUTES, TOXIC_TYPES } from '../../../chaos/toxiproxy/toxics.ts';
import type { Stage, StageContext, ToxicSpec, ToxicType } from '../../../chaos/toxiproxy/toxics.ts';
import { formatAddress, isLoopbackHost, parseLoopbackAddress } from '../../../chaos/toxiproxy/address.ts';

interface Recorder {
  readonly ctx: StageContext;
  readonly out: Array<{ chunk: Buffer | null; at: number }>;
  resets: number;
}

function recorder(random: () => number = () => 0.5): Recorder {
  const rec: Recorder = {
    out: [],
    resets: 0,
    ctx: {
      emit: (chunk) => rec.out.push({ chunk, at: Date.now() }),
      emitEnd: () => rec.out.push({ chunk: null, at: Date.now() }),
      reset: () => rec.resets++,
      random,
      now: () => Date.now(),
    },
  };
  return rec;
}

function spec(type: ToxicType, attributes: Record<string, number>, toxicity = 1): ToxicSpec {
  return { name: `${type}_downstream`, type, stream: 'downstream', toxicity, attributes };
}

const data = (rec: Recorder): Buffer => Buffer.concat(rec.out.flatMap((o) => (o.chunk === null ? [] : [o.chunk])));
const ended = (rec: Recorder): boolean => rec.out.some((o) => o.chunk === null);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('sliceOffsets', () => {
  it('cuts [0, length) into strictly increasing pieces no larger than average + variation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 300 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (length, avg, variation, r) => {
        const cuts = sliceOffsets(length, avg, variation, () => r);
        expect(cuts[0]).toBe(0);
        expect(cuts[cuts.length - 1]).toBe(length);
        const effectiveVariation = Math.min(variation, avg - 1);
        for (let i = 1; i < cuts.length; i++) {
          const size = (cuts[i] as number) - (cuts[i - 1] as number);
          expect(size).toBeGreaterThan(0);
          expect(size).toBeLessThanOrEqual(avg + effectiveVariation);
        }
      }),
    );
  });

  it('survives degenerate attributes (average 0, variation 0)', () => {
    expect(sliceOffsets(5, 0, 0, () => 0.5)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('bandwidthPieces', () => {
  it('splits into pieces of at most 100 ms worth, losing nothing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), fc.integer({ min: 1, max: 50 }), (bytes, rate) => {
        const buf = Buffer.from(bytes);
        const pieces = bandwidthPieces(buf, rate);
        expect(Buffer.concat(pieces).equals(buf)).toBe(true);
        for (const p of pieces) expect(p.length).toBeLessThanOrEqual(rate * 100);
      }),
    );
  });
});

describe('decodeAttributes', () => {
  it('fills every attribute of the type, merging onto a base and ignoring unknown fields', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TOXIC_TYPES), fc.dictionary(fc.string({ maxLength: 12 }), fc.integer()), fc.dictionary(fc.string({ maxLength: 12 }), fc.integer()), (type, base, patch) => {
        const first = decodeAttributes(type, base);
        expect(first.ok).toBe(true);
        if (!first.ok) return;
        expect(Object.keys(first.attributes)).toEqual([...TOXIC_ATTRIBUTES[type]]);
        const merged = decodeAttributes(type, patch, first.attributes);
        expect(merged.ok).toBe(true);
        if (!merged.ok) return;
        for (const field of TOXIC_ATTRIBUTES[type]) {
          expect(merged.attributes[field]).toBe(patch[field] ?? base[field] ?? 0);
        }
      }),
    );
  });

  it('rejects non-integers', () => {
    expect(decodeAttributes('latency', { latency: 1.5 }).ok).toBe(false);
    expect(decodeAttributes('latency', { latency: '10' }).ok).toBe(false);
    expect(decodeAttributes('latency', [1]).ok).toBe(false);
    expect(decodeAttributes('latency', { latency: null }, { latency: 7, jitter: 0 })).toEqual({ ok: true, attributes: { latency: 7, jitter: 0 } });
  });
});

describe('latency stage (fake clock)', () => {
  it('keeps order and never releases a chunk before arrival + latency - jitter', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 50 }), size: fc.integer({ min: 1, max: 64 }) }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 100 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        async (pushes, latency, jitter, r) => {
          const rec = recorder(() => r);
          const stage = createStage(spec('latency', { latency, jitter }), rec.ctx, newStageState());
          const sentAt: number[] = [];
          const sent: Buffer[] = [];
          for (const [i, p] of pushes.entries()) {
            await vi.advanceTimersByTimeAsync(p.gapMs);
            const chunk = Buffer.alloc(p.size, i % 256);
            sent.push(chunk);
            sentAt.push(Date.now());
            stage.push(chunk);
          }
          stage.end();
          await vi.advanceTimersByTimeAsync(latency + jitter + 10);
          expect(data(rec).equals(Buffer.concat(sent))).toBe(true);
          expect(rec.out[rec.out.length - 1]?.chunk).toBeNull();
          expect(stage.pendingBytes).toBe(0);
          for (const [i, o] of rec.out.slice(0, -1).entries()) {
            expect(o.at).toBeGreaterThanOrEqual((sentAt[i] as number) + latency - jitter);
          }
          stage.dispose();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('detach hands on everything held, end included', () => {
    const rec = recorder();
    const stage = createStage(spec('latency', { latency: 10_000, jitter: 0 }), rec.ctx, newStageState());
    stage.push(Buffer.from('ab'));
    stage.push(Buffer.from('cd'));
    stage.end();
    expect(rec.out).toHaveLength(0);
    expect(stage.pendingBytes).toBe(4);
    stage.detach('remove');
    expect(data(rec).toString()).toBe('abcd');
    expect(ended(rec)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('bandwidth stage (fake clock)', () => {
  it('delivers N bytes no sooner than N / rate ms, in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 30_000 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 200 }), async (sizes, rate) => {
        const rec = recorder();
        const stage = createStage(spec('bandwidth', { rate }), rec.ctx, newStageState());
        const start = Date.now();
        const sent = sizes.map((n, i) => Buffer.alloc(n, i));
        for (const b of sent) stage.push(b);
        stage.end();
        const total = sizes.reduce((a, b) => a + b, 0);
        await vi.advanceTimersByTimeAsync(Math.ceil(total / rate) + 1000);
        expect(data(rec).equals(Buffer.concat(sent))).toBe(true);
        expect(ended(rec)).toBe(true);
        const lastData = rec.out.filter((o) => o.chunk !== null).at(-1);
        expect((lastData?.at ?? 0) - start).toBeGreaterThanOrEqual(total / rate - 1);
      }),
      { numRuns: 40 },
    );
  });

  it('rate 0 stalls until removed', async () => {
    const rec = recorder();
    const stage = createStage(spec('bandwidth', { rate: 0 }), rec.ctx, newStageState());
    stage.push(Buffer.from('stuck'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(rec.out).toHaveLength(0);
    stage.detach('remove');
    expect(data(rec).toString()).toBe('stuck');
  });
});

describe('slow_close, timeout, reset_peer, slicer, limit_data stages (fake clock)', () => {
  it('slow_close passes data at once and the end after the delay', async () => {
    const rec = recorder();
    const stage = createStage(spec('slow_close', { delay: 500 }), rec.ctx, newStageState());
    stage.push(Buffer.from('x'));
    expect(data(rec).toString()).toBe('x');
    stage.end();
    await vi.advanceTimersByTimeAsync(499);
    expect(ended(rec)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(ended(rec)).toBe(true);
  });

  it('timeout drops data and closes after the timeout, re-armed by each chunk', async () => {
    const rec = recorder();
    const stage = createStage(spec('timeout', { timeout: 100 }), rec.ctx, newStageState());
    await vi.advanceTimersByTimeAsync(80);
    stage.push(Buffer.from('dropped'));
    await vi.advanceTimersByTimeAsync(80);
    expect(rec.out).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(20);
    expect(rec.out).toEqual([{ chunk: null, at: Date.now() }]);
  });

  it('timeout 0 holds forever; removal closes, update does not', async () => {
    const rec = recorder();
    const stage = createStage(spec('timeout', { timeout: 0 }), rec.ctx, newStageState());
    stage.push(Buffer.from('dropped'));
    await vi.advanceTimersByTimeAsync(600_000);
    stage.detach('update');
    expect(rec.out).toHaveLength(0);
    stage.detach('remove');
    expect(data(rec).length).toBe(0);
    expect(ended(rec)).toBe(true);
  });

  it('reset_peer resets once, after the timeout from the first data', async () => {
    const rec = recorder();
    const stage = createStage(spec('reset_peer', { timeout: 300 }), rec.ctx, newStageState());
    await vi.advanceTimersByTimeAsync(1000);
    expect(rec.resets).toBe(0);
    stage.push(Buffer.from('a'));
    stage.push(Buffer.from('b'));
    await vi.advanceTimersByTimeAsync(299);
    expect(rec.resets).toBe(0);
    expect(stage.keepsRunning).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(rec.resets).toBe(1);
    expect(rec.out).toHaveLength(0);
  });

  it('slicer keeps the bytes and spaces pieces by the delay', async () => {
    const rec = recorder(() => 0.3);
    const stage = createStage(spec('slicer', { average_size: 10, size_variation: 3, delay: 5000 }), rec.ctx, newStageState());
    const payload = Buffer.from('abcdefghijklmnopqrstuvwxyz'.repeat(10));
    stage.push(payload);
    stage.end();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(data(rec).equals(payload)).toBe(true);
    expect(ended(rec)).toBe(true);
    const pieces = rec.out.filter((o) => o.chunk !== null);
    expect(pieces.length).toBeGreaterThanOrEqual(Math.floor(payload.length / 13));
    for (let i = 1; i < pieces.length; i++) expect((pieces[i]?.at ?? 0) - (pieces[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(5);
  });

  it('limit_data passes exactly min(limit, total) bytes and closes once the limit is reached', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 20 }), fc.integer({ min: 0, max: 3000 }), (sizes, limit) => {
        const rec = recorder();
        const stage: Stage = createStage(spec('limit_data', { bytes: limit }), rec.ctx, newStageState());
        for (const n of sizes) stage.push(Buffer.alloc(n));
        const total = sizes.reduce((a, b) => a + b, 0);
        expect(data(rec).length).toBe(Math.min(limit, total));
        expect(ended(rec)).toBe(total > 0 && total >= limit);
      }),
    );
  });

  it('toxicity decides per stage whether the toxic runs', () => {
    const off = recorder(() => 0.5);
    createStage(spec('limit_data', { bytes: 0 }, 0.5), off.ctx, newStageState()).push(Buffer.from('free'));
    expect(data(off).toString()).toBe('free');
    const on = recorder(() => 0.49);
    createStage(spec('limit_data', { bytes: 0 }, 0.5), on.ctx, newStageState()).push(Buffer.from('cut'));
    expect(data(on).length).toBe(0);
    expect(ended(on)).toBe(true);
  });
});

describe('loopback addresses', () => {
  it('accepts loopback host:port forms and formats like Go', () => {
    expect(parseLoopbackAddress('127.0.0.1:0', 'listen')).toEqual({ ok: true, address: { host: '127.0.0.1', port: 0 } });
    expect(parseLoopbackAddress('localhost:8474', 'listen')).toEqual({ ok: true, address: { host: 'localhost', port: 8474 } });
    expect(parseLoopbackAddress('[::1]:80', 'listen')).toEqual({ ok: true, address: { host: '::1', port: 80 } });
    expect(parseLoopbackAddress('127.9.9.9:1', 'upstream').ok).toBe(true);
    expect(formatAddress('::1', 80)).toBe('[::1]:80');
    expect(formatAddress('127.0.0.1', 80)).toBe('127.0.0.1:80');
  });

  it('rejects everything that is not loopback or not host:port', () => {
    for (const bad of ['0.0.0.0:1', ':1', '[::]:1', '10.0.0.1:1', 'example.com:80', '127.0.0.1', '127.0.0.1:99999', '127.0.0.1:-1', '[::ffff:10.0.0.1]:1', '']) {
      expect(parseLoopbackAddress(bad, 'listen').ok, bad).toBe(false);
    }
  });

  it('isLoopbackHost never accepts a non-127 IPv4 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(isLoopbackHost(ip)).toBe(ip.startsWith('127.'));
      }),
    );
  });
});
