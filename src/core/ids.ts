// Request ids and W3C trace context.
import { randomBytes, randomUUID } from 'node:crypto';

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** An incoming X-Request-Id is honoured when it is short and made of safe characters. */
export function isAcceptableRequestId(value: string): boolean {
  return REQUEST_ID_RE.test(value);
}

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
let flakeCounter = 0;

/**
 * Tinyflake: 11 Base58 characters over 64 bits: milliseconds since the epoch (42 bits, so ids sort
 * by time), a per-process counter (12 bits) and random bits (10), as Zentinel's short ids.
 */
export function newTinyflake(nowMs: number = Date.now()): string {
  flakeCounter = (flakeCounter + 1) & 0xfff;
  const rand = Number.parseInt(randomHex(2), 16) & 0x3ff;
  let v = (BigInt(nowMs) << 22n) | (BigInt(flakeCounter) << 10n) | BigInt(rand);
  let out = '';
  for (let i = 0; i < 11; i++) {
    out = BASE58[Number(v % 58n)] + out;
    v /= 58n;
  }
  return out;
}

export function newRequestId(format: 'uuid' | 'tinyflake' = 'uuid'): string {
  return format === 'tinyflake' ? newTinyflake() : randomUUID();
}

// Pool of random bytes, refilled in blocks, so a trace id costs no syscall per request.
let pool = randomBytes(4096);
let offset = 0;
function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  const s = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return s;
}

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceContext {
  readonly traceId: string;
  readonly parentId: string;
  readonly flags: string;
}

/** Parses a W3C traceparent (version 00 shape; future versions parsed by the same prefix rule). */
export function parseTraceparent(value: string): TraceContext | null {
  const m = TRACEPARENT_RE.exec(value.trim());
  if (m === null) return null;
  const version = m[1] as string;
  const traceId = m[2] as string;
  const parentId = m[3] as string;
  if (version === 'ff') return null;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return null;
  return { traceId, parentId, flags: m[4] as string };
}

export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-00`;
}

/** A W3C trace id: 32 lower-case hex digits, never all zero. */
export function newTraceId(): string {
  const id = randomHex(16);
  return id === '00000000000000000000000000000000' ? newTraceId() : id;
}

/** A W3C span (parent) id: 16 lower-case hex digits, never all zero. */
export function newSpanId(): string {
  const id = randomHex(8);
  return id === '0000000000000000' ? newSpanId() : id;
}
