// HTTP/2 downstream: one node:http2 server per listener (fed TLS sockets whose ALPN chose `h2`, or
// listening itself for h2c prior knowledge). Requests arrive as the compatibility API's
// Http2ServerRequest/Response and run through the same pipeline as HTTP/1.1; `adaptRequest`
// makes the head look like an HTTP/1.1 one (no pseudo-headers, Host from :authority, one Cookie).
//
// Limits per session:
// - `max-concurrent-streams`: advertised in SETTINGS; a client that waits gets queued streams, one
//   that does not gets them refused by nghttp2. Reaching the limit is counted.
// - header list: up to `max-header-bytes` / `max-header-count` is served; larger gets 431 from us
//   (counted); beyond twice the limit nghttp2 resets the stream before it reaches us.
// - rapid reset (CVE-2023-44487): streams the client cancels draw from a bucket of
//   `max-stream-resets-per-10s` tokens refilled over 10 s; an empty bucket ends the session with
//   GOAWAY ENHANCE_YOUR_CALM.
// - idle: a session gets `headers-timeout-secs` to open its first stream, then
//   `keepalive-timeout-secs` without open streams, before it is closed.
import { constants, createServer } from 'node:http2';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, Http2Session, ServerHttp2Stream } from 'node:http2';
import type { LimitName } from '../observability/catalogue/server.ts';
import { kOpenStreams } from './connection-gate.ts';

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_CANCEL } = constants;

/** Settings of one listener that a reload may change; read by every session and stream. */
export interface H2Settings {
  listenerId: string;
  maxConcurrentStreams: number;
  maxHeaderBytes: number;
  maxHeaderCount: number;
  maxResetsPer10s: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepaliveTimeoutMs: number;
  /** Counts a triggered limit (sentinel_limits_triggered_total). */
  limit: (name: LimitName) => void;
  /** Counts one client-cancelled stream (sentinel_http2_client_resets_total). */
  reset: () => void;
  /** Records a session closed for rapid reset in the audit log. */
  auditRapidReset: (session: Http2Session) => void;
}

const kH2 = Symbol('sentinel.h2State');
/** Set on a stream Sentinel cancels itself, so that its 'aborted' is not counted as a client reset. */
const kLocalReset = Symbol('sentinel.localReset');
/** The session of a stream, kept on the stream: node:http2 clears `stream.session` before 'close'. */
const kSessionOf = Symbol('sentinel.sessionOf');

type StreamWithSession = ServerHttp2Stream & { [kSessionOf]?: SessionWithState; [kLocalReset]?: boolean };

interface SessionState {
  readonly settings: H2Settings;
  /** Rapid-reset bucket. */
  tokens: number;
  lastRefillMs: number;
  /** A first stream arrived (the idle timeout switched to keep-alive). */
  active: boolean;
  closedForResets: boolean;
}

type SessionWithState = Http2Session & { [kH2]?: SessionState; [kOpenStreams]?: number };

const RESET_WINDOW_MS = 10_000;

/** Hard caps handed to nghttp2: twice ours, so that what lies between gets a counted 431. */
export function nghttp2Caps(s: Pick<H2Settings, 'maxHeaderBytes' | 'maxHeaderCount'>): { maxHeaderListSize: number; maxHeaderListPairs: number } {
  return { maxHeaderListSize: s.maxHeaderBytes * 2, maxHeaderListPairs: s.maxHeaderCount * 2 + 8 };
}

/** The node:http2 server of one listener. `onRequest` gets every stream as a compat request. */
export function createH2Server(s: H2Settings, onRequest: (req: Http2ServerRequest, res: Http2ServerResponse) => void): Http2Server {
  const caps = nghttp2Caps(s);
  const server = createServer({
    settings: {
      maxConcurrentStreams: s.maxConcurrentStreams,
      maxHeaderListSize: caps.maxHeaderListSize,
      enablePush: false,
    },
    maxHeaderListPairs: caps.maxHeaderListPairs,
  }, onRequest);
  server.on('session', (session: SessionWithState) => {
    const st: SessionState = { settings: s, tokens: s.maxResetsPer10s, lastRefillMs: Date.now(), active: false, closedForResets: false };
    session[kH2] = st;
    session[kOpenStreams] = 0;
    session.on('error', onSessionError);
    session.on('stream', onStream);
    session.setTimeout(s.headersTimeoutMs, onSessionTimeout);
  });
  return server;
}

/** Applies reloaded settings to the listener's future sessions (current ones keep theirs). */
export function updateH2Server(server: Http2Server, s: H2Settings): void {
  const caps = nghttp2Caps(s);
  server.updateSettings({ maxConcurrentStreams: s.maxConcurrentStreams, maxHeaderListSize: caps.maxHeaderListSize, enablePush: false });
}

function onSessionError(): void {
  // Protocol errors end the session; nghttp2 already sent GOAWAY. Nothing to add.
}

function onSessionTimeout(this: SessionWithState): void {
  if ((this[kOpenStreams] ?? 0) > 0) {
    // Streams in flight have their own deadlines (upstream timeouts, request budget).
    this.setTimeout(this[kH2]?.settings.keepaliveTimeoutMs ?? 0, onSessionTimeout);
    return;
  }
  this.close();
}

function onStream(this: SessionWithState, stream: ServerHttp2Stream): void {
  const st = this[kH2];
  if (st === undefined) return;
  const open = (this[kOpenStreams] ?? 0) + 1;
  this[kOpenStreams] = open;
  if (!st.active) {
    st.active = true;
    this.setTimeout(st.settings.keepaliveTimeoutMs, onSessionTimeout);
  }
  if (open >= st.settings.maxConcurrentStreams) st.settings.limit('h2_concurrent_streams');
  (stream as StreamWithSession)[kSessionOf] = this;
  stream.once('close', onStreamClose);
  stream.once('aborted', onStreamAborted);
}

function onStreamClose(this: StreamWithSession): void {
  const session = this[kSessionOf];
  if (session === undefined) return;
  session[kOpenStreams] = Math.max(0, (session[kOpenStreams] ?? 1) - 1);
}

/** The peer reset a stream we had not finished. Our own resets (stream.destroy) are not counted. */
function onStreamAborted(this: StreamWithSession): void {
  if (this.destroyed || this[kLocalReset] === true) return; // we reset it ourselves
  const session = this[kSessionOf];
  const st = session?.[kH2];
  if (session === undefined || st === undefined || st.closedForResets) return;
  st.settings.reset();
  const now = Date.now();
  const max = st.settings.maxResetsPer10s;
  st.tokens = Math.min(max, st.tokens + ((now - st.lastRefillMs) * max) / RESET_WINDOW_MS);
  st.lastRefillMs = now;
  st.tokens -= 1;
  if (st.tokens < 0) {
    st.closedForResets = true;
    st.settings.limit('h2_rapid_reset');
    st.settings.auditRapidReset(session);
    // GOAWAY ENHANCE_YOUR_CALM at once (no new stream is accepted from here on), then the session
    // and the streams still in it are destroyed after a short, fixed grace. Destroying at once
    // would close the socket with the client's frames still unread, which makes the kernel answer
    // with a TCP reset that can overtake the GOAWAY: the client would never learn why.
    session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    setTimeout(destroyAfterGoaway, GOAWAY_GRACE_MS, session).unref();
  }
}

/** How long a session ended for rapid reset lives on after its GOAWAY (see onStreamAborted). */
const GOAWAY_GRACE_MS = 500;

function destroyAfterGoaway(session: Http2Session): void {
  if (!session.destroyed) session.destroy(new Error('HTTP/2 rapid reset: too many streams cancelled'), NGHTTP2_ENHANCE_YOUR_CALM);
}

/** Sends GOAWAY: no new streams, the ones in flight finish (graceful drain). */
export function drainSession(session: Http2Session): void {
  if (!session.closed && !session.destroyed) session.close();
}

/**
 * Rewrites an HTTP/2 request head in place into the shape the pipeline expects from HTTP/1.1, in
 * one pass over `rawHeaders` (node:http2 hands out the same array every time it is read):
 * pseudo-headers dropped, `Host` from `:authority` when absent, split `cookie` fields joined with
 * "; " (RFC 9113 §8.2.3). On an mTLS listener (`identity` not null) the client's own copies of the
 * `identityNames` fields are dropped and `identity` is appended. Returns the size of the head as
 * the client sent it: regular fields, and HPACK bytes (name + value + 32 per field, RFC 7541 §4.1).
 */
export function adaptRequest(req: Http2ServerRequest, identityNames: readonly string[], identity: readonly string[] | null): { count: number; bytes: number } {
  const raw = req.rawHeaders;
  let count = 0;
  let bytes = 0;
  let w = 0;
  let authority: string | undefined;
  let host = false;
  let cookie: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    bytes += name.length + value.length + 32;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = value;
      continue;
    }
    count++;
    if (name === 'cookie') { cookie = cookie === null ? value : `${cookie}; ${value}`; continue; }
    if (identity !== null && identityNames.includes(name)) continue;
    if (name === 'host') host = true;
    raw[w++] = name;
    raw[w++] = value;
  }
  raw.length = w;
  const headers = req.headers as Record<string, string | string[] | undefined>;
  if (!host && authority !== undefined) {
    raw.push('host', authority);
    headers.host = authority;
  }
  if (cookie !== null) {
    raw.push('cookie', cookie);
    headers.cookie = cookie;
  }
  if (identity !== null) {
    for (const n of identityNames) delete headers[n];
    for (let i = 0; i < identity.length; i += 2) {
      raw.push(identity[i] as string, identity[i + 1] as string);
      headers[identity[i] as string] = identity[i + 1] as string;
    }
  }
  return { count, bytes };
}

/** request-timeout-secs for an HTTP/2 request body: the stream is cancelled when it runs out. */
export function armBodyTimeout(req: Http2ServerRequest, s: H2Settings): void {
  const stream = req.stream;
  if (stream.endAfterHeaders) return;
  const timer = setTimeout(onBodyTimeout, s.requestTimeoutMs, stream, s);
  req.once('end', () => clearTimeout(timer));
  stream.once('close', () => clearTimeout(timer));
}

function onBodyTimeout(stream: ServerHttp2Stream, s: H2Settings): void {
  if (stream.destroyed || stream.closed) return;
  s.limit('client_timeout');
  (stream as StreamWithSession)[kLocalReset] = true;
  stream.close(NGHTTP2_CANCEL);
}
