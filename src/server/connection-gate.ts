// Connection caps: one gate shared by every listener (`system max-connections`) and one per listener
// (`max-connections`). A connection counts from accept (before any TLS handshake) until its socket
// closes, whatever it carries (HTTP/1.1, an HTTP/2 session, a WebSocket tunnel).
//
// Slow-client defence: when a cap is reached, the oldest connection that is not serving anything
// (still sending its request head, in its TLS handshake, or idle between keep-alive requests) is
// closed to admit the new one. Only when every connection is busy is the new one refused. A client
// holding thousands of idle or slow connections therefore cannot lock others out: it loses its
// oldest idle connections instead (nginx reuses its idle keep-alive connections the same way).
import type { Socket } from 'node:net';
import { kTunnel } from '../pipeline/websocket.ts';

/** Set on a raw socket by the listener: the socket or session that tells whether it is busy. */
export const kConnectionOwner = Symbol('sentinel.connectionOwner');
/** Set on an HTTP/2 session: streams open right now. */
export const kOpenStreams = Symbol('sentinel.openStreams');

interface Owner {
  /** node:http sets this to the response in progress on an HTTP/1.1 socket. */
  _httpMessage?: unknown;
  /** An HTTP/2 session's open streams. */
  [kOpenStreams]?: number;
  /** The socket carries a WebSocket tunnel. */
  [kTunnel]?: boolean;
}

export type TrackedSocket = Socket & Owner & {
  /** The TLS socket or HTTP/2 session on this raw socket, once known. */
  [kConnectionOwner]?: object;
  [kGates]?: ConnectionGate[];
  /** The admitting listener's accounting for this connection being evicted. */
  [kOnEvicted]?: () => void;
};

const kGates = Symbol('sentinel.gates');
const kOnEvicted = Symbol('sentinel.onEvicted');

/** Oldest connections examined when looking for one to evict (bounds the work per accept at a full cap). */
export const EVICTION_SCAN_LIMIT = 4096;

/** True while the connection serves a request, a stream or a tunnel. */
export function isBusy(socket: TrackedSocket): boolean {
  const owner = (socket[kConnectionOwner] ?? socket) as Owner;
  if (owner[kTunnel] === true) return true;
  const streams = owner[kOpenStreams];
  if (streams !== undefined) return streams > 0;
  return owner._httpMessage !== undefined && owner._httpMessage !== null;
}

/** Open connections under one cap, oldest first. `max` 0 = no cap of its own. */
export class ConnectionGate {
  readonly conns = new Set<TrackedSocket>();
  max: number;
  constructor(max: number) { this.max = max; }

  get open(): number { return this.conns.size; }

  full(): boolean {
    return this.max > 0 && this.conns.size >= this.max;
  }

  /** The oldest connection that is not busy (and not in `skip`), or null. */
  idleVictim(skip: readonly TrackedSocket[] | null = null): TrackedSocket | null {
    let scanned = 0;
    for (const s of this.conns) {
      if (!isBusy(s) && (skip === null || !skip.includes(s))) return s;
      if (++scanned >= EVICTION_SCAN_LIMIT) break;
    }
    return null;
  }
}

export type AdmitResult = 'admitted' | 'evicted' | 'refused';

/** Removes a socket from every gate it is in (idempotent). True when it was still counted. */
export function release(socket: TrackedSocket): boolean {
  const gates = socket[kGates];
  if (gates === undefined) return false;
  socket[kGates] = undefined;
  for (const g of gates) g.conns.delete(socket);
  return true;
}

/**
 * Admits a new connection under every gate in `gates` (the listener's and the global one). At a
 * full cap the oldest idle connection is closed to make room (`evicted`), whichever listener it
 * belongs to: the `onEvicted` its own listener gave when admitting it runs, so each listener
 * accounts for its own connections. `refused` when every connection under a full cap is busy:
 * nothing is closed and the caller closes the new connection.
 */
export function admit(socket: TrackedSocket, gates: readonly ConnectionGate[], onEvicted: () => void): AdmitResult {
  let victims: TrackedSocket[] | null = null;
  for (const g of gates) {
    if (!g.full()) continue;
    // A victim chosen for another gate may free this one too (it is in both).
    if (victims !== null && victims.some((v) => g.conns.has(v))) continue;
    const v = g.idleVictim(victims);
    if (v === null) return 'refused';
    (victims ??= []).push(v);
  }
  if (victims !== null) {
    for (const v of victims) {
      release(v);
      v[kOnEvicted]?.();
      v.destroy();
    }
  }
  socket[kGates] = gates as ConnectionGate[];
  socket[kOnEvicted] = onEvicted;
  for (const g of gates) g.conns.add(socket);
  return victims === null ? 'admitted' : 'evicted';
}
