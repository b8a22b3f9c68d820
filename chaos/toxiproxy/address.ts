// "host:port" parsing for proxy listen and upstream addresses, restricted to loopback: this fault
// proxy must never listen on, or connect to, anything but the local machine.
import { isIPv4, isIPv6 } from 'node:net';

export interface HostPort {
  /** Host as it is used for listen()/connect(): no brackets around IPv6 literals. */
  readonly host: string;
  readonly port: number;
}

export type ParsedAddress =
  | { readonly ok: true; readonly address: HostPort }
  | { readonly ok: false; readonly message: string };

/** True for 127.0.0.0/8, ::1, IPv4-mapped loopback and the name "localhost". */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped?.[1] !== undefined && isIPv4(mapped[1]) && mapped[1].startsWith('127.');
  }
  return false;
}

/** Parses "host:port" / "[v6]:port" (Go's net.SplitHostPort shape) and checks the host is loopback. */
export function parseLoopbackAddress(value: string, field: string): ParsedAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (m === null) return { ok: false, message: `${field}: address ${JSON.stringify(value)} is not host:port` };
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port > 65535) return { ok: false, message: `${field}: port ${port} out of range` };
  if (host === '') return { ok: false, message: `${field}: empty host would mean all interfaces; only loopback is allowed` };
  if (!isLoopbackHost(host)) return { ok: false, message: `${field}: host ${host} is not a loopback address` };
  return { ok: true, address: { host, port } };
}

/** The host to bind: "localhost" is pinned to 127.0.0.1 so the answer is deterministic. */
export function bindHost(host: string): string {
  return host.toLowerCase() === 'localhost' ? '127.0.0.1' : host;
}

/** Formats an address the way Go's net.Addr.String() does. */
export function formatAddress(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
