// `discovery "<kind>" { … }` inside an upstream: where its targets come from. `static` (the
// `target` lines, the default), `dns` (A, AAAA or SRV records) and `file` (a JSON or KDL list,
// polled). `consul` and `kubernetes` are recognised and refused: not yet supported.
import { dirname, isAbsolute, join } from 'node:path';
import type { DiscoveryConfig, DnsRecordType } from '../types.ts';
import type { LNode } from '../kdl.ts';
import {
  HOSTNAME_RE, NOT_IMPLEMENTED_HINT, error, expectString, hasErrorsUnder, isIPv4, isIPv6, parseHostPort, q, readInt, readSecsAsMs,
  readString, rejectProps, walkBlock,
} from './reader.ts';
import type { Ctx } from './reader.ts';

const KINDS = ['static', 'dns', 'file'] as const;
const NOT_YET = ['consul', 'kubernetes'];
const RECORD_TYPES: Readonly<Record<string, DnsRecordType>> = { a: 'A', aaaa: 'AAAA', srv: 'SRV' };

function readDns(ctx: Ctx, n: LNode, p: string, label: string): DiscoveryConfig | undefined {
  let hostname: string | undefined;
  let port: number | null = null;
  let portNode: LNode | undefined;
  let recordType = 'A' as DnsRecordType;
  let refreshIntervalMs = 30_000;
  let minTtlMs = 1_000;
  let maxTtlMs = 300_000;
  let resolver: { host: string; port: number } | null = null;
  let timeoutMs = 2_000;
  let minNode: LNode | undefined;
  walkBlock(ctx, n, p, {
    label,
    keys: {
      hostname: (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined) return;
        if (isIPv4(s) || isIPv6(s) || !HOSTNAME_RE.test(s)) {
          error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `${q(s)} is not a DNS name`, cp, 'an IP address needs no discovery: use target "ip:port"');
          return;
        }
        hostname = s;
      },
      port: (c, cp) => { portNode = c; port = readInt(ctx, c, cp, 1, 65_535) ?? port; },
      'record-type': (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined) return;
        const t = RECORD_TYPES[s.toLowerCase()];
        if (t === undefined) {
          error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `invalid record-type ${q(s)}`, cp, 'valid values: "A", "AAAA", "SRV"');
          return;
        }
        recordType = t;
      },
      'refresh-interval-secs': (c, cp) => { refreshIntervalMs = readSecsAsMs(ctx, c, cp) ?? refreshIntervalMs; },
      'min-ttl-secs': (c, cp) => { minNode = c; minTtlMs = readSecsAsMs(ctx, c, cp) ?? minTtlMs; },
      'max-ttl-secs': (c, cp) => { maxTtlMs = readSecsAsMs(ctx, c, cp) ?? maxTtlMs; },
      'timeout-secs': (c, cp) => { timeoutMs = readSecsAsMs(ctx, c, cp) ?? timeoutMs; },
      resolver: (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined) return;
        const r = parseHostPort(s, 1);
        if (typeof r === 'string' || !(isIPv4(r.host) || isIPv6(r.host))) {
          error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-address', `invalid resolver ${q(s)}: ${typeof r === 'string' ? r : 'expected an IP address'}`, cp,
            'e.g. resolver "127.0.0.1:53" or "[::1]:53"');
          return;
        }
        resolver = { host: r.host, port: r.port };
      },
    },
  });
  if (hostname === undefined && !hasErrorsUnder(ctx, `${p}/hostname`)) {
    error(ctx, n, n.pos, 'missing-key', `${label} has no "hostname"`, p, 'e.g. hostname "api.service.internal"');
  }
  if (recordType === 'SRV' && portNode !== undefined) {
    error(ctx, portNode, portNode.pos, 'conflict', `${label}: "port" does not apply to SRV records (they carry their ports)`, `${p}/port`, 'remove port, or use record-type "A"');
  } else if (recordType !== 'SRV' && port === null && !hasErrorsUnder(ctx, `${p}/port`)) {
    error(ctx, n, n.pos, 'missing-key', `${label} has no "port" (needed for ${recordType} records)`, p, 'e.g. port 8080');
  }
  if (minTtlMs > maxTtlMs) {
    const at = minNode ?? n;
    error(ctx, at, at.pos, 'conflict', `${label}: min-ttl-secs is larger than max-ttl-secs`, p);
  }
  if (hostname === undefined || hasErrorsUnder(ctx, p)) return undefined;
  return { kind: 'dns', hostname, port: recordType === 'SRV' ? null : port, recordType, refreshIntervalMs, minTtlMs, maxTtlMs, resolver, timeoutMs };
}

function readFile(ctx: Ctx, n: LNode, p: string, label: string): DiscoveryConfig | undefined {
  let path: string | undefined;
  let watchIntervalMs = 5_000;
  walkBlock(ctx, n, p, {
    label,
    keys: {
      path: (c, cp) => {
        const s = readString(ctx, c, cp);
        if (s === undefined) return;
        if (s === '' || s.includes('\u0000')) {
          error(ctx, c, c.args[0]?.pos ?? c.pos, 'invalid-value', `invalid path ${q(s)}`, cp);
          return;
        }
        // Relative to the file that names it, like include.
        path = isAbsolute(s) ? s : join(dirname(c.file), s);
      },
      'watch-interval-secs': (c, cp) => { watchIntervalMs = readSecsAsMs(ctx, c, cp) ?? watchIntervalMs; },
    },
  });
  if (path === undefined && !hasErrorsUnder(ctx, `${p}/path`)) {
    error(ctx, n, n.pos, 'missing-key', `${label} has no "path"`, p, 'e.g. path "targets.json" (a JSON list or KDL target lines)');
  }
  if (path === undefined || hasErrorsUnder(ctx, p)) return undefined;
  return { kind: 'file', path, watchIntervalMs };
}

/** `discovery "<kind>" { … }`. Returns undefined after reporting any problem. */
export function readDiscovery(ctx: Ctx, n: LNode, p: string, upstreamLabel: string): DiscoveryConfig | undefined {
  rejectProps(ctx, n, p);
  const first = n.args[0];
  if (first === undefined) {
    error(ctx, n, n.pos, 'missing-argument', '"discovery" needs a kind', p, 'e.g. discovery "dns" { hostname "api.internal"; port 8080 }');
    return undefined;
  }
  const extra = n.args[1];
  if (extra !== undefined) error(ctx, n, extra.pos, 'extra-argument', `"discovery" takes one kind, got ${n.args.length}`, p);
  const kind = expectString(ctx, n, first, p);
  if (kind === undefined) return undefined;
  if (NOT_YET.includes(kind)) {
    error(ctx, n, first.pos, 'not-implemented', `discovery ${q(kind)} is not yet supported`, p, `supported: ${KINDS.map(q).join(', ')}; ${NOT_IMPLEMENTED_HINT}`);
    return undefined;
  }
  const label = `discovery ${q(kind)} of ${upstreamLabel}`;
  switch (kind) {
    case 'static':
      if (n.hasBlock) walkBlock(ctx, n, p, { label, keys: {} });
      return hasErrorsUnder(ctx, p) ? undefined : { kind: 'static' };
    case 'dns':
      return readDns(ctx, n, p, label);
    case 'file':
      return readFile(ctx, n, p, label);
    default:
      error(ctx, n, first.pos, 'invalid-value', `unknown discovery kind ${q(kind)}`, p, `valid kinds: ${KINDS.map(q).join(', ')}`);
      return undefined;
  }
}
