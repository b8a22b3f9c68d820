// `tls { }` blocks: on a listener (certificates, SNI, versions, ciphers, client certificates) and on
// an upstream (verification, SNI, CA bundle, client certificate). Pure: file paths are resolved
// here, and the files themselves are read and checked by the loader (src/config/tls-files.ts).
import { getCiphers } from 'node:tls';
import { dirname, isAbsolute, join } from 'node:path';
import type { CertKeyPair, ClientAuth, ListenerTlsConfig, PemFileRef, SniCertConfig, TlsVersion, UpstreamTlsConfig } from '../types.ts';
import type { LNode } from '../kdl.ts';
import { closest, suggestionHint } from '../diagnostics.ts';
import { HOSTNAME_RE, checkBlockNode, error, locOf, q, readBool, readEnum, readManyStrings, readSecsAsMs, readString, single, typeName, walkBlock, warning } from './reader.ts';
import type { Ctx } from './reader.ts';

const VERSIONS: Readonly<Record<string, TlsVersion>> = { '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };
const VERSION_NAMES = Object.keys(VERSIONS);
const VERSION_RANK: Readonly<Record<TlsVersion, number>> = { 'TLSv1.2': 2, 'TLSv1.3': 3 };

let knownCiphers: Set<string> | null = null;

/** Cipher names this Node/OpenSSL build knows (lower case, as `tls.getCiphers()` lists them). */
function ciphers(): Set<string> {
  knownCiphers ??= new Set(getCiphers());
  return knownCiphers;
}

/** A path relative to the file that names it (like `include`); absolute paths stay. */
function resolvePath(node: LNode, p: string): string {
  return isAbsolute(p) ? p : join(dirname(node.file), p);
}

/** `cert-file "path"`: a PEM file reference; its sha256 is filled in by the loader. */
export function readPemFile(ctx: Ctx, n: LNode, p: string): PemFileRef | undefined {
  const s = readString(ctx, n, p);
  if (s === undefined) return undefined;
  if (s === '') {
    error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `${q(n.name)} must not be empty`, p);
    return undefined;
  }
  return { path: resolvePath(n, s), sha256: '', loc: locOf(n) };
}

function readVersion(ctx: Ctx, n: LNode, p: string): TlsVersion | undefined {
  const v = single(ctx, n, p);
  if (v === undefined) return undefined;
  // `1.2` (a number) and "1.2" (a string) both read as TLS 1.2.
  const text = typeof v.value === 'number' ? v.value.toFixed(1) : typeof v.value === 'string' ? v.value : undefined;
  if (text === undefined) {
    error(ctx, n, v.pos, 'invalid-type', `expected a TLS version such as "1.2", got ${typeName(v.value)}`, p);
    return undefined;
  }
  const version = VERSIONS[text.replace(/^(TLSv?|tls)/i, '')];
  if (version !== undefined) return version;
  const old = /^(TLSv?)?1(\.[01])?$/i.test(text) || text === '1.0' || text === '1.1';
  error(ctx, n, v.pos, 'invalid-value', `unsupported TLS version ${q(text)}`, p,
    old ? 'TLS 1.0 and 1.1 are not supported (RFC 8996); use "1.2" or "1.3"' : suggestionHint(text, VERSION_NAMES, 'supported versions'));
  return undefined;
}

function readCipherSuites(ctx: Ctx, n: LNode, p: string): string[] | undefined {
  const vals = readManyStrings(ctx, n, p);
  if (vals === undefined) return undefined;
  const out: string[] = [];
  const known = ciphers();
  let ok = true;
  for (const { value, pos } of vals) {
    if (!known.has(value.toLowerCase())) {
      ok = false;
      const near = closest(value.toLowerCase(), [...known]);
      error(ctx, n, pos, 'invalid-value', `unknown cipher suite ${q(value)}`, p,
        near !== undefined ? `did you mean ${q(near.toUpperCase())}?` : 'use OpenSSL names for TLS 1.2 (ECDHE-ECDSA-AES128-GCM-SHA256) and IANA names for TLS 1.3 (TLS_AES_128_GCM_SHA256); node -p "tls.getCiphers()" lists them');
    } else if (!out.includes(value)) {
      out.push(value);
    }
  }
  return ok ? out : undefined;
}

/** `*.example.com` or an exact host name; lower case. */
function sniHostnameError(h: string): string | undefined {
  const rest = h.startsWith('*.') ? h.slice(2) : h;
  if (rest.includes('*')) return 'only a leading "*." wildcard (one label) is supported';
  if (!HOSTNAME_RE.test(rest) || rest.endsWith('.')) return 'not a valid host name';
  return undefined;
}

/** A certificate and key read from two keys of one block; `…Seen` says the key was present (valid or not). */
interface PairAcc {
  cert?: PemFileRef | undefined;
  key?: PemFileRef | undefined;
  certSeen: boolean;
  keySeen: boolean;
}

function newPair(): PairAcc {
  return { certSeen: false, keySeen: false };
}

function pairKeys(ctx: Ctx, acc: PairAcc, certKey: string, keyKey: string): Record<string, (n: LNode, p: string) => void> {
  return {
    [certKey]: (n, p) => { acc.certSeen = true; acc.cert = readPemFile(ctx, n, p); },
    [keyKey]: (n, p) => { acc.keySeen = true; acc.key = readPemFile(ctx, n, p); },
  };
}

/**
 * The pair, null when neither key was given, or undefined after an error (one key without the
 * other, or a value that did not read).
 */
function completePair(ctx: Ctx, block: LNode, path: string, label: string, acc: PairAcc, names: readonly [string, string]): CertKeyPair | null | undefined {
  const [certKey, keyKey] = names;
  if (!acc.certSeen && !acc.keySeen) return null;
  if (acc.certSeen !== acc.keySeen) {
    const [has, lacks] = acc.certSeen ? [certKey, keyKey] : [keyKey, certKey];
    error(ctx, block, block.pos, 'missing-key', `${label} has ${q(has)} but no ${q(lacks)}`, path, 'a certificate and its private key go together');
    return undefined;
  }
  if (acc.cert === undefined || acc.key === undefined) return undefined;
  return { cert: acc.cert, key: acc.key };
}

const SERVER_PAIR = ['cert-file', 'key-file'] as const;
const CLIENT_PAIR = ['client-cert', 'client-key'] as const;

function requirePair(ctx: Ctx, block: LNode, path: string, label: string, acc: PairAcc): CertKeyPair | undefined {
  const pair = completePair(ctx, block, path, label, acc, SERVER_PAIR);
  if (pair === null) {
    error(ctx, block, block.pos, 'missing-key', `${label} has no "cert-file"`, path, 'e.g. cert-file "/etc/sentinel/tls/server.pem"; key-file "/etc/sentinel/tls/server.key"');
    return undefined;
  }
  return pair;
}

function readSni(ctx: Ctx, n: LNode, p: string, seen: Map<string, LNode>): SniCertConfig | undefined {
  checkBlockNode(ctx, n, p);
  const acc = newPair();
  let hostnames: string[] | undefined;
  walkBlock(ctx, n, p, {
    label: 'sni',
    keys: {
      ...pairKeys(ctx, acc, ...SERVER_PAIR),
      hostnames: (c, cp) => {
        const vals = readManyStrings(ctx, c, cp);
        if (vals === undefined) return;
        const out: string[] = [];
        for (const { value, pos } of vals) {
          const h = value.toLowerCase();
          const problem = sniHostnameError(h);
          if (problem !== undefined) { error(ctx, c, pos, 'invalid-value', `invalid SNI host name ${q(value)}: ${problem}`, cp); continue; }
          const first = seen.get(h);
          if (first !== undefined) {
            error(ctx, c, pos, 'conflict', `SNI host name ${q(h)} is already served by the sni block at ${first.file}:${first.pos.line}`, cp, 'each host name selects exactly one certificate');
            continue;
          }
          seen.set(h, c);
          out.push(h);
        }
        hostnames = out;
      },
    },
    notImplemented: ['priority-hostnames', 'acme'],
  });
  if (hostnames === undefined) {
    error(ctx, n, n.pos, 'missing-key', 'sni block has no "hostnames"', p, 'e.g. hostnames "api.example.com" "*.example.com"');
  }
  const pair = requirePair(ctx, n, p, 'sni block', acc);
  if (pair === undefined || hostnames === undefined || hostnames.length === 0) return undefined;
  return { ...pair, hostnames, loc: locOf(n) };
}

/** A listener's `tls { }` block. */
export function readListenerTls(ctx: Ctx, block: LNode, path: string, listenerLabel: string): ListenerTlsConfig | undefined {
  checkBlockNode(ctx, block, path);
  const acc = newPair();
  const sni: SniCertConfig[] = [];
  const sniNames = new Map<string, LNode>();
  let clientAuth: ClientAuth = 'none';
  let clientAuthNode: LNode | undefined;
  let clientCa: PemFileRef | null = null;
  let minVersion: TlsVersion = 'TLSv1.2';
  let maxVersion: TlsVersion = 'TLSv1.3';
  let minNode: LNode | undefined;
  let cipherSuites: string[] | null = null;
  let handshakeTimeoutMs = 10_000;
  let http2 = true;
  let sniOk = true;
  walkBlock(ctx, block, path, {
    label: `${listenerLabel} tls`,
    repeatable: ['sni'],
    keys: {
      ...pairKeys(ctx, acc, ...SERVER_PAIR),
      'ca-file': (n, p) => { clientCa = readPemFile(ctx, n, p) ?? null; },
      'client-auth': (n, p) => {
        clientAuthNode = n;
        const v = n.args[0]?.value;
        // Zentinel's boolean form: #true = require, #false = none.
        if (typeof v === 'boolean' && n.args.length === 1) { clientAuth = v ? 'require' : 'none'; return; }
        clientAuth = readEnum<ClientAuth>(ctx, n, p, ['none', 'optional', 'require']) ?? clientAuth;
      },
      'min-version': (n, p) => { minNode = n; minVersion = readVersion(ctx, n, p) ?? minVersion; },
      'max-version': (n, p) => { maxVersion = readVersion(ctx, n, p) ?? maxVersion; },
      'cipher-suites': (n, p) => { cipherSuites = readCipherSuites(ctx, n, p) ?? cipherSuites; },
      'handshake-timeout-secs': (n, p) => { handshakeTimeoutMs = readSecsAsMs(ctx, n, p) ?? handshakeTimeoutMs; },
      http2: (n, p) => { http2 = readBool(ctx, n, p) ?? http2; },
      sni: (n, p) => {
        const s = readSni(ctx, n, p, sniNames);
        if (s === undefined) sniOk = false;
        else sni.push(s);
      },
    },
    notImplemented: ['ocsp-stapling', 'session-resumption', 'acme', 'sni-certs', 'allow-sni-overlaps', 'cipher-suite'],
  });
  if (VERSION_RANK[minVersion] > VERSION_RANK[maxVersion]) {
    const n = minNode ?? block;
    error(ctx, n, n.pos, 'conflict', `min-version ${minVersion} is above max-version ${maxVersion}`, `${path}/min-version`);
  }
  if (clientAuth !== 'none' && clientCa === null && !ctx.diags.some((d) => d.path === `${path}/ca-file`)) {
    const n = clientAuthNode ?? block;
    error(ctx, n, n.pos, 'missing-key', `client-auth "${clientAuth}" needs "ca-file": the CA bundle client certificates must chain to`, `${path}/client-auth`, 'e.g. ca-file "/etc/sentinel/tls/clients-ca.pem"');
  }
  const pair = requirePair(ctx, block, path, `${listenerLabel} tls`, acc);
  if (pair === undefined || !sniOk) return undefined;
  return { default: pair, sni, clientAuth, clientCa, minVersion, maxVersion, cipherSuites, handshakeTimeoutMs, http2 };
}

/** An upstream's `tls { }` block. */
export function readUpstreamTls(ctx: Ctx, block: LNode, path: string, upstreamLabel: string): UpstreamTlsConfig | undefined {
  checkBlockNode(ctx, block, path);
  let sni: string | null = null;
  let ca: PemFileRef | null = null;
  const client = newPair();
  let insecure = false;
  let insecureNode: LNode | undefined;
  walkBlock(ctx, block, path, {
    label: `${upstreamLabel} tls`,
    keys: {
      sni: (n, p) => {
        const s = readString(ctx, n, p);
        if (s === undefined) return;
        if (!HOSTNAME_RE.test(s) || s.endsWith('.')) { error(ctx, n, n.args[0]?.pos ?? n.pos, 'invalid-value', `invalid sni ${q(s)}: not a host name`, p); return; }
        sni = s.toLowerCase();
      },
      'ca-file': (n, p) => { ca = readPemFile(ctx, n, p) ?? null; },
      ...pairKeys(ctx, client, ...CLIENT_PAIR),
      'insecure-skip-verify': (n, p) => { insecureNode = n; insecure = readBool(ctx, n, p) ?? insecure; },
    },
    misplaced: { 'ca-cert': 'the CA bundle is "ca-file" (Zentinel calls it ca-cert)', 'cert-file': 'an upstream client certificate is "client-cert"', 'key-file': 'an upstream client key is "client-key"' },
  });
  const clientPair = completePair(ctx, block, path, `${upstreamLabel} tls`, client, CLIENT_PAIR);
  if (insecure && insecureNode !== undefined) {
    warning(ctx, insecureNode, insecureNode.pos, 'insecure-tls', `${upstreamLabel} does not verify its targets' certificates (insecure-skip-verify #true)`, `${path}/insecure-skip-verify`,
      'anyone on the path can impersonate the upstream; give it ca-file instead');
  }
  if (clientPair === undefined || ctx.diags.some((d) => d.severity === 'error' && d.path.startsWith(path))) return undefined;
  return { sni, ca, client: clientPair, insecureSkipVerify: insecure };
}
