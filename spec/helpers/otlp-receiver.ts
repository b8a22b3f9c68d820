// A small OTLP/HTTP trace receiver for tests: an HTTP server on 127.0.0.1:0 that accepts
// `POST /v1/traces` in protobuf (what Sentinel sends) or JSON, decodes the export with its own
// protobuf wire decoder (written from opentelemetry/proto/trace/v1/trace.proto, independent of the
// SDK that encoded it) and keeps the spans.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly traceState: string;
  readonly name: string;
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly resource: Readonly<Record<string, string | number | boolean>>;
  readonly scope: string;
}

export interface OtlpReceiver {
  readonly url: string;
  readonly spans: ReceivedSpan[];
  /** Export requests received (each may hold many spans). */
  readonly requests: number;
  /** Content types seen. */
  readonly contentTypes: Set<string>;
  waitFor(predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

// ---- protobuf wire format -----------------------------------------------------------------------

type Field = { wire: 0; value: bigint } | { wire: 1; value: Buffer } | { wire: 2; value: Buffer } | { wire: 5; value: Buffer };

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
    if (shift > 63n) throw new Error('varint too long');
  }
}

/** Decodes one message into its fields by number (repeated fields keep every occurrence). */
export function decodeMessage(buf: Buffer): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos);
    pos = p1;
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    let f: Field;
    if (wire === 0) { const [v, p] = readVarint(buf, pos); pos = p; f = { wire: 0, value: v }; }
    else if (wire === 1) { f = { wire: 1, value: buf.subarray(pos, pos + 8) }; pos += 8; }
    else if (wire === 2) {
      const [len, p] = readVarint(buf, pos);
      pos = p;
      f = { wire: 2, value: buf.subarray(pos, pos + Number(len)) };
      pos += Number(len);
    } else if (wire === 5) { f = { wire: 5, value: buf.subarray(pos, pos + 4) }; pos += 4; }
    else throw new Error(`unsupported wire type ${wire} (field ${no})`);
    if (pos > buf.length) throw new Error('truncated field');
    const list = out.get(no);
    if (list === undefined) out.set(no, [f]); else list.push(f);
  }
  return out;
}

function bytes(m: Map<number, Field[]>, no: number): Buffer {
  const f = m.get(no)?.[0];
  return f !== undefined && f.wire === 2 ? f.value : Buffer.alloc(0);
}
function str(m: Map<number, Field[]>, no: number): string {
  return bytes(m, no).toString('utf8');
}
function varint(m: Map<number, Field[]>, no: number): bigint {
  const f = m.get(no)?.[0];
  return f !== undefined && f.wire === 0 ? f.value : 0n;
}
function fixed64(m: Map<number, Field[]>, no: number): bigint {
  const f = m.get(no)?.[0];
  return f !== undefined && f.wire === 1 ? f.value.readBigUInt64LE(0) : 0n;
}
function messages(m: Map<number, Field[]>, no: number): Map<number, Field[]>[] {
  return (m.get(no) ?? []).filter((f) => f.wire === 2).map((f) => decodeMessage(f.value as Buffer));
}

/** common.proto KeyValue list → plain object (string, bool, int, double values). */
function attributes(kvs: Map<number, Field[]>[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of kvs) {
    const key = str(kv, 1);
    const any = messages(kv, 2)[0];
    if (any === undefined) continue;
    if (any.has(1)) out[key] = str(any, 1);
    else if (any.has(2)) out[key] = varint(any, 2) !== 0n;
    else if (any.has(3)) out[key] = Number(BigInt.asIntN(64, varint(any, 3)));
    else if (any.has(4)) out[key] = (any.get(4)?.[0]?.value as Buffer).readDoubleLE(0);
  }
  return out;
}

/** ExportTraceServiceRequest (protobuf) → spans. */
export function decodeTraceExport(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of messages(decodeMessage(body), 1)) {
    const resource = attributes(messages(messages(rs, 1)[0] ?? new Map(), 1));
    for (const ss of messages(rs, 2)) {
      const scope = str(messages(ss, 1)[0] ?? new Map(), 1);
      for (const s of messages(ss, 2)) {
        const status = messages(s, 15)[0] ?? new Map();
        spans.push({
          traceId: bytes(s, 1).toString('hex'),
          spanId: bytes(s, 2).toString('hex'),
          traceState: str(s, 3),
          parentSpanId: bytes(s, 4).toString('hex'),
          name: str(s, 5),
          kind: Number(varint(s, 6)),
          startNs: fixed64(s, 7),
          endNs: fixed64(s, 8),
          attributes: attributes(messages(s, 9)),
          statusMessage: str(status, 2),
          statusCode: Number(varint(status, 3)),
          resource,
          scope,
        });
      }
    }
  }
  return spans;
}

interface JsonKv { key: string; value: { stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number } }

function jsonAttributes(kvs: JsonKv[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of kvs ?? []) {
    const v = kv.value;
    if (v.stringValue !== undefined) out[kv.key] = v.stringValue;
    else if (v.boolValue !== undefined) out[kv.key] = v.boolValue;
    else if (v.intValue !== undefined) out[kv.key] = Number(v.intValue);
    else if (v.doubleValue !== undefined) out[kv.key] = v.doubleValue;
  }
  return out;
}

/** The OTLP/JSON encoding of the same request (ids in hex). */
export function decodeTraceExportJson(body: Buffer): ReceivedSpan[] {
  const doc = JSON.parse(body.toString('utf8')) as { resourceSpans?: Array<{ resource?: { attributes?: JsonKv[] }; scopeSpans?: Array<{ scope?: { name?: string }; spans?: Array<Record<string, unknown>> }> }> };
  const spans: ReceivedSpan[] = [];
  for (const rs of doc.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        const status = (s.status ?? {}) as { code?: number; message?: string };
        spans.push({
          traceId: String(s.traceId ?? ''), spanId: String(s.spanId ?? ''), parentSpanId: String(s.parentSpanId ?? ''),
          traceState: String(s.traceState ?? ''), name: String(s.name ?? ''), kind: Number(s.kind ?? 0),
          startNs: BigInt(String(s.startTimeUnixNano ?? '0')), endNs: BigInt(String(s.endTimeUnixNano ?? '0')),
          attributes: jsonAttributes(s.attributes as JsonKv[] | undefined),
          statusCode: status.code ?? 0, statusMessage: status.message ?? '', resource, scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return spans;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  let requests = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') { res.writeHead(404).end(); return; }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const type = (req.headers['content-type'] ?? '').split(';')[0] as string;
      contentTypes.add(type);
      try {
        spans.push(...(type === 'application/json' ? decodeTraceExportJson(body) : decodeTraceExport(body)));
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end((err as Error).message);
        return;
      }
      requests++;
      // An empty ExportTraceServiceResponse: full success.
      res.writeHead(200, { 'content-type': type === 'application/json' ? 'application/json' : 'application/x-protobuf' }).end(type === 'application/json' ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    get requests() { return requests; },
    contentTypes,
    async waitFor(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline) throw new Error(`OTLP receiver: condition not met within ${timeoutMs} ms; ${spans.length} spans received`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
