// The loader's check of every PEM file a config names (listener and upstream `tls` blocks): the
// file must be readable, hold what it claims (a certificate chain, an unencrypted private key, a CA
// bundle), and a key must match its certificate. Each problem is a diagnostic at the key that named
// the file. The sha256 of each file's content goes into the config, so a renewed certificate
// changes the config hash and SIGHUP applies it.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { CertKeyPair, Config, Diagnostic, ListenerConfig, ListenerTlsConfig, PemFileRef, SourceLoc, UpstreamConfig, UpstreamTlsConfig } from './types.ts';
import { makeDiagnostic } from './diagnostics.ts';

/** PEM files larger than this are refused (a CA bundle is a few hundred KiB). */
export const MAX_PEM_FILE_BYTES = 4 * 1024 * 1024;

const CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM text, parsed; throws on a block that does not parse. */
export function parseCertificates(pem: string): X509Certificate[] {
  return [...pem.matchAll(CERT_RE)].map((m) => new X509Certificate(m[0]));
}

interface Checker {
  readonly diags: Diagnostic[];
  readonly readFile: (path: string) => string | null;
  readonly now: number;
}

function diag(c: Checker, severity: 'error' | 'warning', code: string, message: string, loc: SourceLoc, path: string, hint?: string): void {
  c.diags.push(makeDiagnostic(severity, code, message, loc.file, { line: loc.line, column: loc.column }, path, hint));
}

/** Reads a referenced file; returns its text and the ref with its digest, or null after a diagnostic. */
function read(c: Checker, ref: PemFileRef, path: string): { text: string; ref: PemFileRef } | null {
  const text = c.readFile(ref.path);
  if (text === null) {
    diag(c, 'error', 'file-not-readable', `${JSON.stringify(ref.path)} does not exist or cannot be read`, ref.loc, path,
      'relative paths are resolved from the directory of the config file that names them');
    return null;
  }
  if (text.length > MAX_PEM_FILE_BYTES) {
    diag(c, 'error', 'file-too-large', `${JSON.stringify(ref.path)} is larger than ${MAX_PEM_FILE_BYTES} bytes`, ref.loc, path);
    return null;
  }
  return { text, ref: { ...ref, sha256: createHash('sha256').update(text).digest('hex') } };
}

function readCerts(c: Checker, ref: PemFileRef, path: string, what: string): { certs: X509Certificate[]; ref: PemFileRef } | null {
  const f = read(c, ref, path);
  if (f === null) return null;
  let certs: X509Certificate[];
  try {
    certs = parseCertificates(f.text);
  } catch (err) {
    diag(c, 'error', 'invalid-pem', `${JSON.stringify(ref.path)}: a certificate does not parse (${(err as Error).message})`, ref.loc, path);
    return null;
  }
  if (certs.length === 0) {
    diag(c, 'error', 'invalid-pem', `${JSON.stringify(ref.path)} holds no PEM certificate (${what})`, ref.loc, path,
      f.text.includes('PRIVATE KEY') ? 'this looks like a private key: it belongs in key-file' : 'expected -----BEGIN CERTIFICATE----- blocks');
    return null;
  }
  return { certs, ref: f.ref };
}

function readKey(c: Checker, ref: PemFileRef, path: string): { key: KeyObject; ref: PemFileRef } | null {
  const f = read(c, ref, path);
  if (f === null) return null;
  if (f.text.includes('ENCRYPTED')) {
    diag(c, 'error', 'invalid-pem', `${JSON.stringify(ref.path)} is an encrypted private key`, ref.loc, path, 'decrypt it (openssl pkey -in key.pem -out plain.pem): Sentinel takes no passphrase');
    return null;
  }
  try {
    return { key: createPrivateKey(f.text), ref: f.ref };
  } catch (err) {
    diag(c, 'error', 'invalid-pem', `${JSON.stringify(ref.path)} holds no usable private key (${(err as Error).message})`, ref.loc, path,
      f.text.includes('BEGIN CERTIFICATE') ? 'this looks like a certificate: it belongs in cert-file' : undefined);
    return null;
  }
}

function checkValidity(c: Checker, cert: X509Certificate, ref: PemFileRef, path: string): void {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (Number.isFinite(to) && to < c.now) {
    diag(c, 'warning', 'certificate-expired', `the certificate in ${JSON.stringify(ref.path)} expired on ${cert.validTo}`, ref.loc, path, 'clients will refuse it; renew it and reload');
  } else if (Number.isFinite(from) && from > c.now) {
    diag(c, 'warning', 'certificate-expired', `the certificate in ${JSON.stringify(ref.path)} is not valid before ${cert.validFrom}`, ref.loc, path, 'check the clock of this host and of the issuer');
  }
}

/** Checks a certificate and key pair; returns it with digests, or null. */
function checkPair(c: Checker, pair: CertKeyPair, path: string, hostnames: readonly string[]): CertKeyPair | null {
  const cert = readCerts(c, pair.cert, `${path}/cert-file`, 'certificate chain');
  const key = readKey(c, pair.key, `${path}/key-file`);
  if (cert === null || key === null) return null;
  const leaf = cert.certs[0] as X509Certificate;
  if (!leaf.checkPrivateKey(key.key)) {
    diag(c, 'error', 'key-mismatch', `the private key in ${JSON.stringify(pair.key.path)} does not belong to the certificate in ${JSON.stringify(pair.cert.path)}`, pair.key.loc, `${path}/key-file`,
      'the first certificate in cert-file must be the one the key was issued for');
    return null;
  }
  checkValidity(c, leaf, pair.cert, `${path}/cert-file`);
  for (const h of hostnames) {
    // A wildcard SNI name is served by a certificate for that wildcard (or any name under it).
    const probe = h.startsWith('*.') ? `sentinel-probe.${h.slice(2)}` : h;
    if (leaf.checkHost(probe) === undefined) {
      diag(c, 'warning', 'certificate-name-mismatch', `the certificate in ${JSON.stringify(pair.cert.path)} is not valid for ${JSON.stringify(h)}`, pair.cert.loc, `${path}/cert-file`,
        `its names: ${leaf.subjectAltName ?? leaf.subject}`);
    }
  }
  return { cert: cert.ref, key: key.ref };
}

function checkCa(c: Checker, ref: PemFileRef, path: string): PemFileRef | null {
  const r = readCerts(c, ref, path, 'CA bundle');
  return r === null ? null : r.ref;
}

function checkListenerTls(c: Checker, l: ListenerConfig, t: ListenerTlsConfig): ListenerTlsConfig | null {
  const base = `listeners/listener ${JSON.stringify(l.id)}/tls`;
  const def = checkPair(c, t.default, base, []);
  const sni = t.sni.map((s) => {
    const p = checkPair(c, s, `${base}/sni`, s.hostnames);
    return p === null ? null : { ...s, ...p };
  });
  const ca = t.clientCa === null ? null : checkCa(c, t.clientCa, `${base}/ca-file`);
  if (def === null || sni.includes(null) || (t.clientCa !== null && ca === null)) return null;
  return { ...t, default: def, sni: sni as NonNullable<(typeof sni)[number]>[], clientCa: ca };
}

function checkUpstreamTls(c: Checker, u: UpstreamConfig, t: UpstreamTlsConfig): UpstreamTlsConfig | null {
  const base = `upstreams/upstream ${JSON.stringify(u.id)}/tls`;
  const ca = t.ca === null ? null : checkCa(c, t.ca, `${base}/ca-file`);
  let client: CertKeyPair | null = null;
  if (t.client !== null) {
    const pair = checkPair(c, t.client, base, []);
    if (pair === null) return null;
    client = pair;
  }
  if (t.ca !== null && ca === null) return null;
  return { ...t, ca, client };
}

/**
 * Reads and checks every PEM file `config` names. Returns the config with each file's sha256 filled
 * in, or null when a file is missing or bad; the diagnostics go to `diags`.
 */
export function checkTlsFiles(config: Config, readFile: (path: string) => string | null, diags: Diagnostic[], now = Date.now()): Config | null {
  if (!config.listeners.some((l) => l.tls !== null) && !config.upstreams.some((u) => u.tls !== undefined)) return config;
  const c: Checker = { diags, readFile, now };
  let ok = true;
  const listeners = config.listeners.map((l) => {
    if (l.tls === null) return l;
    const t = checkListenerTls(c, l, l.tls);
    if (t === null) { ok = false; return l; }
    return { ...l, tls: t };
  });
  const upstreams = config.upstreams.map((u) => {
    if (u.tls === undefined) return u;
    const t = checkUpstreamTls(c, u, u.tls);
    if (t === null) { ok = false; return u; }
    return { ...u, tls: t };
  });
  return ok ? { ...config, listeners, upstreams } : null;
}
