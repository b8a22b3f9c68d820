// The request-body phase: reading a whole request body into memory, bounded, for the phases that
// need it at once (an agent inspecting it, a retry that must replay it). Bodies that are not
// buffered stream from the client to the upstream with backpressure (src/pipeline/forward.ts).
import type { Exchange } from './exchange.ts';

export type BufferResult =
  | { readonly ok: true; readonly body: Buffer }
  /** `too-large`: over `maxBytes` (declared or counted); `aborted`: the client went away. */
  | { readonly ok: false; readonly reason: 'too-large' | 'aborted' };

/** The declared Content-Length, or -1 when there is none (chunked, or no body). */
export function declaredLength(ex: Exchange): number {
  const cl = ex.req.headers['content-length'];
  if (cl === undefined) return -1;
  const n = Number(cl);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
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
  if (declaredLength(ex) > maxBytes) return Promise.resolve({ ok: false, reason: 'too-large' });
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
      if (size > maxBytes) {
        req.pause();
        done({ ok: false, reason: 'too-large' });
        return;
      }
      chunks.push(chunk);
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
