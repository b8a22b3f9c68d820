// TLS for listeners: secure contexts built from the config's PEM files, SNI selection
// (exact name > one-label wildcard > default certificate), client-certificate identity, and the
// handshake error classes counted in metrics.
//
// Reload: `buildTlsContexts` runs in the reload preflight, so a file that is missing or does not
// parse rejects the reload and the running contexts keep serving. On commit the listener swaps
// one reference (`TlsSwitch.contexts`, read by the SNI callback on every handshake) and gives
// the default certificate to `server.setSecureContext`. Connections already established keep
// the certificate they were handshaken with; nothing is dropped.
import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DEFAULT_CIPHERS, createSecureContext } from 'node:tls';
import type { SecureContext, SecureContextOptions, TLSSocket } from 'node:tls';
import type { CertKeyPair, ListenerTlsConfig, PemFileRef } from '../config/types.ts';
import type { ClientIdentity, TlsInfo } from '../pipeline/context.ts';

/** The contexts of one listener config: swapped as a whole on reload. */
export interface TlsContexts {
  /** Options of the default certificate, for `server.setSecureContext`. */
  readonly defaultOptions: SecureContextOptions;
  readonly default: SecureContext;
  /** Exact host name (lower case) → context. */
  readonly exact: ReadonlyMap<string, SecureContext>;
  /** `example.com` for a `*.example.com` certificate → context. */
  readonly wildcard: ReadonlyMap<string, SecureContext>;
  /** Ask for a client certificate. */
  readonly requestCert: boolean;
  /** Fail the handshake without a valid client certificate. */
  readonly rejectUnauthorized: boolean;
  readonly handshakeTimeoutMs: number;
}

function readPem(ref: PemFileRef, what: string): Buffer {
  try {
    return readFileSync(ref.path);
  } catch (err) {
    throw new Error(`cannot read ${what} ${JSON.stringify(ref.path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

function contextOptions(t: ListenerTlsConfig, pair: CertKeyPair, ca: Buffer | undefined): SecureContextOptions {
  const o: SecureContextOptions = {
    cert: readPem(pair.cert, 'certificate'),
    key: readPem(pair.key, 'private key'),
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
    // Server cipher preference: the operator's order wins over the client's.
    honorCipherOrder: true,
  };
  if (t.cipherSuites !== null) o.ciphers = cipherList(t.cipherSuites);
  if (ca !== undefined) o.ca = ca;
  return o;
}

/**
 * The OpenSSL cipher string for `cipher-suites`. Node splits it: `TLS_…` names are the TLS 1.3
 * suites, the rest the TLS 1.2 list. A config that names suites of one version only keeps Node's
 * defaults for the other (an empty list would silently disable that version).
 */
export function cipherList(suites: readonly string[]): string {
  const upper = suites.map((c) => c.toUpperCase());
  const isV13 = (c: string): boolean => c.startsWith('TLS_');
  const defaults = DEFAULT_CIPHERS.split(':');
  const v13 = upper.some(isV13) ? upper.filter(isV13) : defaults.filter(isV13);
  const v12 = upper.some((c) => !isV13(c)) ? upper.filter((c) => !isV13(c)) : defaults.filter((c) => !isV13(c));
  return [...v13, ...v12].join(':');
}

function makeContext(o: SecureContextOptions, what: string): SecureContext {
  try {
    return createSecureContext(o);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads the files of a listener's `tls` block and builds its contexts. Throws an Error naming the
 * file or block at fault; the caller rejects the start or the reload with it.
 */
export function buildTlsContexts(listenerId: string, t: ListenerTlsConfig): TlsContexts {
  const ca = t.clientCa === null ? undefined : readPem(t.clientCa, 'client CA bundle');
  const where = `listener "${listenerId}" tls`;
  const defaultOptions = contextOptions(t, t.default, ca);
  const def = makeContext(defaultOptions, `${where} (${t.default.cert.path})`);
  const exact = new Map<string, SecureContext>();
  const wildcard = new Map<string, SecureContext>();
  for (const s of t.sni) {
    const ctx = makeContext(contextOptions(t, s, ca), `${where} sni ${s.hostnames.join(' ')} (${s.cert.path})`);
    for (const h of s.hostnames) {
      if (h.startsWith('*.')) wildcard.set(h.slice(2), ctx);
      else exact.set(h, ctx);
    }
  }
  return {
    defaultOptions,
    default: def,
    exact,
    wildcard,
    requestCert: t.clientAuth !== 'none',
    rejectUnauthorized: t.clientAuth === 'require',
    handshakeTimeoutMs: t.handshakeTimeoutMs,
  };
}

/** SNI selection: exact name, then a wildcard one label deep, then the default certificate. */
export function selectContext(c: TlsContexts, servername: string): SecureContext {
  const name = servername.toLowerCase().replace(/\.$/, '');
  const exact = c.exact.get(name);
  if (exact !== undefined) return exact;
  const dot = name.indexOf('.');
  if (dot > 0) {
    const wild = c.wildcard.get(name.slice(dot + 1));
    if (wild !== undefined) return wild;
  }
  return c.default;
}

/** The one mutable reference a listener's SNI callback reads: replaced as a whole on reload. */
export interface TlsSwitch {
  contexts: TlsContexts;
}

/** `SNICallback` for `tls.createServer`; `this` is unused, the switch is bound once per listener. */
export function sniCallback(sw: TlsSwitch): (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void {
  return (servername, cb) => { cb(null, selectContext(sw.contexts, servername)); };
}

// ---------- identity ----------

/** Reads the negotiated parameters and the client identity once per connection. */
export function tlsInfoOf(socket: TLSSocket, requestCert: boolean): TlsInfo {
  let client: ClientIdentity | null = null;
  let clientError: string | null = null;
  if (requestCert) {
    const cert: X509Certificate | undefined = socket.getPeerX509Certificate();
    if (cert !== undefined) {
      if (socket.authorized) {
        client = {
          subject: cert.subject,
          san: cert.subjectAltName ?? '',
          issuer: cert.issuer,
          fingerprint256: cert.fingerprint256,
          serialNumber: cert.serialNumber,
          validTo: cert.validTo,
        };
      } else {
        clientError = String(socket.authorizationError ?? 'unverified');
      }
    }
  }
  return {
    version: socket.getProtocol() ?? '',
    cipher: socket.getCipher()?.name ?? '',
    alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : '',
    sni: typeof (socket as TLSSocket & { servername?: unknown }).servername === 'string' ? (socket as TLSSocket & { servername: string }).servername : '',
    client,
    clientError,
  };
}

/** Bounded reason label for a failed handshake (`sentinel_tls_handshake_errors_total{reason}`). */
export function handshakeErrorReason(err: NodeJS.ErrnoException): string {
  const code = `${err.code ?? ''} ${err.message ?? ''}`.toUpperCase();
  if (code.includes('HANDSHAKE_TIMEOUT')) return 'timeout';
  if (code.includes('HTTP_REQUEST') || code.includes('WRONG_VERSION_NUMBER')) return 'not_tls';
  if (code.includes('UNSUPPORTED_PROTOCOL') || code.includes('VERSION_TOO_LOW') || code.includes('TLSV1_ALERT_PROTOCOL_VERSION')) return 'protocol_version';
  if (code.includes('NO_SHARED_CIPHER') || code.includes('NO_CIPHERS')) return 'no_shared_cipher';
  if (code.includes('CERTIFICATE') || code.includes('UNKNOWN_CA') || code.includes('BAD_CERTIFICATE')) return 'client_certificate';
  if (code.includes('ECONNRESET') || code.includes('EPIPE') || code.includes('SOCKET')) return 'reset';
  return 'other';
}

export const HANDSHAKE_ERROR_REASONS = ['timeout', 'not_tls', 'protocol_version', 'no_shared_cipher', 'client_certificate', 'reset', 'other'] as const;

/** Identity headers set on requests of an mTLS listener (client-sent copies are always removed). */
export const CLIENT_CERT_HEADERS = ['x-client-cert-subject', 'x-client-cert-san', 'x-client-cert-fingerprint'] as const;
