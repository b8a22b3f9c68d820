// Request key specs shared by the config reader and the rate limiter: a comma-separated list of
// parts such as "client-ip", "header:X-Api-Key", "path", "route", "query:token"
// ("client-ip,path" combines them), and the trusted-proxy entries `client-ip` honours. Pure.
import { BlockList, isIP } from 'node:net';

export type KeyPartKind = 'client-ip' | 'path' | 'route' | 'header' | 'query';

export interface KeyPart {
  readonly kind: KeyPartKind;
  /** Header (lower-cased) or query parameter name; '' for the other kinds. */
  readonly name: string;
}

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parse a key spec; throws a RangeError naming the bad part (config turns it into a diagnostic). */
export function parseKeySpec(spec: string): KeyPart[] {
  const raw = spec.split(',').map((s) => s.trim());
  if (raw.length === 0 || raw.some((s) => s === '')) throw new RangeError(`empty part in rate-limit key "${spec}"`);
  const parts = raw.map((s): KeyPart => {
    if (s === 'client-ip' || s === 'path' || s === 'route') return { kind: s, name: '' };
    // Zentinel's spelling, kept for familiarity.
    if (s === 'client-ip-and-path') throw new RangeError('use "client-ip,path" instead of "client-ip-and-path"');
    const colon = s.indexOf(':');
    const kind = colon > 0 ? s.slice(0, colon) : s;
    const name = colon > 0 ? s.slice(colon + 1) : '';
    if ((kind === 'header' || kind === 'query') && name !== '') {
      if (kind === 'header' && !TOKEN_RE.test(name)) throw new RangeError(`invalid header name in rate-limit key part "${s}"`);
      return { kind, name: kind === 'header' ? name.toLowerCase() : name };
    }
    throw new RangeError(`unknown rate-limit key part "${s}" (expected client-ip, path, route, header:NAME, query:NAME)`);
  });
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i] as KeyPart;
    if (parts.slice(0, i).some((q) => q.kind === p.kind && q.name === p.name)) throw new RangeError(`rate-limit key part "${raw[i]}" appears twice`);
  }
  return parts;
}

/** Build a BlockList from addresses and CIDRs; throws RangeError on a bad entry. */
export function compileTrustedProxies(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(address);
    if (family === 0) throw new RangeError(`invalid trusted proxy "${entry}" (expected an IP address or a CIDR such as 10.0.0.0/8)`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) {
      list.addAddress(address, type);
    } else {
      const prefixText = entry.slice(slash + 1);
      const prefix = Number(prefixText);
      if (!/^\d{1,3}$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) throw new RangeError(`invalid prefix length in trusted proxy "${entry}"`);
      list.addSubnet(address, prefix, type);
    }
  }
  return list;
}
