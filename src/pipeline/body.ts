// The request-body phase: the route's body limit, `Expect: 100-continue`, and the two ways a body
// leaves: streamed from the client to the upstream with backpressure (src/pipeline/forward.ts), or
// read whole into memory, bounded, for the phases that need it at once (an agent inspecting it, a
// retry that must replay it).
//
// Body limit (`policies { max-body-size-bytes }`): a declared Content-Length over it is refused
// before anything is read or forwarded; a chunked body is counted as it streams and cut off at the
// limit (the upstream request is aborted, the client gets 413 if no response head went out yet).
import type { Dispatcher } from 'undici';
import { ProxyError } from '../core/errors.ts';
import type { Exchange } from './exchange.ts';

export type BufferResult =
  | { readonly ok: true; readonly body: Buffer }
  /**
   * Over `maxBytes` (declared or counted). `read` holds the bytes read before the limit was found
   * (empty when Content-Length said so up front; the rest is unread), so a caller that lets the
   * body through anyway can replay them.
   */
  | { readonly ok: false; readonly reason: 'too-large'; readonly read: readonly Buffer[] }
  /** The client went away. */
  | { readonly ok: false; readonly reason: 'aborted' };

/** The declared Content-Length, or -1 when there is none (chunked, or no body). */
export function declaredLength(ex: Exchange): number {
  const cl = ex.req.headers['content-length'];
  if (cl === undefined) return -1;
  const n = Number(cl);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

/** The body limit of the exchange's route (bodies are read only once routed; unrouted: none accepted). */
export function bodyLimit(ex: Exchange): number {
  return ex.route?.maxBodyBytes ?? 0;
}

/**
 * Checks the declared body size against the route's limit and, when the client waits for it,
 * sends `100 Continue`. Call right before a handler reads the body. False: the exchange was ended
 * (413, counted and audited).
 */
export function admitRequestBody(ex: Exchange): boolean {
  if (!ex.hasRequestBody()) return true;
  if (declaredLength(ex) > bodyLimit(ex)) {
    ex.limitExceeded('body_bytes', 'PAYLOAD_TOO_LARGE');
    return false;
  }
  ex.sendContinue();
  return true;
}

/**
 * A body source that ends the upload at the route's limit (`max` bytes): counted, audited, and
 * thrown as PAYLOAD_TOO_LARGE (the upstream request is aborted, the client gets 413 if no response
 * head went out yet). `source` is the request itself or what a filter built from it.
 */
export async function* countedBody(ex: Exchange, source: AsyncIterable<Buffer>, max: number): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size > max) {
      ex.ctx.metrics.limitTriggered(ex.ctx.listenerId, 'body_bytes');
      ex.audit('limits', 'reject', 'body_bytes exceeded', { status: 413, limit: 'body_bytes' });
      throw new ProxyError('PAYLOAD_TOO_LARGE', `chunked body over ${max} bytes`);
    }
    yield chunk;
  }
}

/**
 * What the upstream request sends as its body: the request itself when its Content-Length was
 * declared (admitted against the limit already; the parser and undici enforce the exact length),
 * or a counting reader for a chunked body, which ends the upload at the limit.
 */
export function requestBodySource(ex: Exchange): Dispatcher.DispatchOptions['body'] {
  const req = ex.req;
  if (declaredLength(ex) >= 0) return req;
  // undici sends any async iterable (lib/core/request.js: isIterable); its typings list only streams.
  // destroyOnReturn false: stopping at the limit must not destroy the request (and with it the
  // client connection) before the 413 is written.
  return countedBody(ex, req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>, bodyLimit(ex)) as unknown as Dispatcher.DispatchOptions['body'];
}

/**
 * Reads the request body into one Buffer, stopping at `maxBytes` (the rest is not read: the
 * caller answers and the connection closes). The time it may take is bounded by the listener's
 * request timeout (node:http) and by the client closing. Sets `ex.body` and `ex.bytesIn`.
 */
export function bufferRequestBody(ex: Exchange, maxBytes: number): Promise<BufferResult> {
  if (!ex.hasRequestBody()) {
    ex.body = Buffer.alloc(0);
    return Promise.resolve({ ok: true, body: ex.body });
  }
  if (declaredLength(ex) > maxBytes) return Promise.resolve({ ok: false, reason: 'too-large', read: [] });
  ex.sendContinue();
  const req = ex.req;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (r: BufferResult): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      chunks.push(chunk);
      if (size > maxBytes) {
        req.pause();
        done({ ok: false, reason: 'too-large', read: chunks });
      }
    };
    const onEnd = (): void => {
      const body = chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, size);
      ex.body = body;
      ex.bytesIn = size;
      done({ ok: true, body });
    };
    const onError = (): void => done({ ok: false, reason: 'aborted' });
    const onClose = (): void => { if (!req.complete) done({ ok: false, reason: 'aborted' }); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
