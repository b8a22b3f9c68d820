// Test certificates, generated at test time with the real `openssl` CLI into a temp directory:
// a CA, a default server certificate, a wildcard and an exact SNI certificate, a client
// certificate signed by the CA, and a client certificate from an unrelated CA (must be refused).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  readonly dir: string;
  /** The CA that signed every certificate below except `untrustedClient`. */
  readonly ca: string;
  /** CN default.test, SAN localhost, 127.0.0.1, ::1, default.test. */
  readonly server: CertPair;
  /** SAN *.example.com. */
  readonly wildcard: CertPair;
  /** SAN api.example.com. */
  readonly exact: CertPair;
  /** Client certificate: CN client-1, SAN URI spiffe://sentinel.test/client-1. */
  readonly client: CertPair;
  /** A client certificate signed by another CA. */
  readonly untrustedClient: CertPair;
  /** A second server certificate for default.test (to check a reload swapped it). */
  readonly serverRenewed: CertPair;
  /** sha256 fingerprint (colon-separated hex, as Node prints it) of a PEM certificate. */
  fingerprint(certPath: string): string;
  /** The PEM text of a file. */
  read(path: string): string;
  cleanup(): void;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

function issue(dir: string, name: string, subject: string, san: string, caName: string, ext: 'server' | 'client', days: number): CertPair {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, [
    `subjectAltName=${san}`,
    'basicConstraints=critical,CA:FALSE',
    `extendedKeyUsage=${ext === 'server' ? 'serverAuth' : 'clientAuth'}`,
    'keyUsage=critical,digitalSignature',
  ].join('\n') + '\n');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
  openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-days', String(days), '-sha256', '-extfile', extFile, '-out', cert], dir);
  return { cert, key };
}

function makeCa(dir: string, name: string, cn: string, days: number): string {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-days', String(days), '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', `${name}.pem`], dir);
  return join(dir, `${name}.pem`);
}

/** Generates the whole set (about half a second with EC keys). `days` for fixtures kept in the repo. */
export function generateTestPki(options: { dir?: string; days?: number } = {}): TestPki {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sentinel-pki-'));
  const days = options.days ?? 2;
  const ca = makeCa(dir, 'ca', 'Sentinel Test CA', days);
  makeCa(dir, 'other-ca', 'Untrusted Test CA', days);
  const pki: TestPki = {
    dir,
    ca,
    server: issue(dir, 'server', '/CN=default.test', 'DNS:localhost,DNS:default.test,IP:127.0.0.1,IP:::1', 'ca', 'server', days),
    wildcard: issue(dir, 'wildcard', '/CN=*.example.com', 'DNS:*.example.com', 'ca', 'server', days),
    exact: issue(dir, 'exact', '/CN=api.example.com', 'DNS:api.example.com', 'ca', 'server', days),
    client: issue(dir, 'client', '/CN=client-1/O=Sentinel Tests', 'URI:spiffe://sentinel.test/client-1', 'ca', 'client', days),
    untrustedClient: issue(dir, 'untrusted-client', '/CN=intruder', 'URI:spiffe://elsewhere/intruder', 'other-ca', 'client', days),
    serverRenewed: issue(dir, 'server-renewed', '/CN=default.test', 'DNS:localhost,DNS:default.test,IP:127.0.0.1,IP:::1', 'ca', 'server', days),
    fingerprint(certPath: string): string {
      const out = execFileSync('openssl', ['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
      return out.trim().replace(/^.*=/, '');
    },
    read: (p: string) => readFileSync(p, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return pki;
}
