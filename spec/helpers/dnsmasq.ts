// A real DNS server for discovery tests: Debian's dnsmasq (package dnsmasq-base) on 127.0.0.1 and
// an ephemeral high port, answering only from a hosts file in a temp dir (`--addn-hosts`, reread
// on SIGHUP) and from SRV records given on the command line (changed by `restart`). Records carry
// a TTL of 1 s. Nothing is forwarded anywhere (`--no-resolv`). A suite must call stop() in afterAll.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis.ts';

export const DNSMASQ_BIN = process.env.DNSMASQ_BIN ?? '/usr/sbin/dnsmasq';

export interface DnsmasqOptions {
  /** Lines of the hosts file, e.g. `127.0.0.1 api.test`. */
  readonly hosts: readonly string[];
  /** `--srv-host` values, e.g. `_http._tcp.api.test,a.api.test,8080,0,10`. */
  readonly srv?: readonly string[];
}

export interface Dnsmasq {
  readonly port: number;
  /** Rewrites the hosts file and makes dnsmasq reread it (waits until it has). */
  setHosts(lines: readonly string[]): Promise<void>;
  /** Stops it; it answers nothing until `start` (same port). */
  stop(): Promise<void>;
  /** Starts it again on the same port, optionally with other SRV records. */
  start(srv?: readonly string[]): Promise<void>;
  /** Stops it and removes its files; idempotent. */
  close(): Promise<void>;
  log(): string;
}

export async function startDnsmasq(options: DnsmasqOptions): Promise<Dnsmasq> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-dnsmasq-'));
  chmodSync(dir, 0o755);
  const hostsFile = join(dir, 'hosts');
  const writeHosts = (lines: readonly string[]): void => {
    writeFileSync(hostsFile, `${lines.join('\n')}\n`);
    chmodSync(hostsFile, 0o644);
  };
  writeHosts(options.hosts);
  let srv = options.srv ?? [];
  let child: ChildProcess | null = null;
  let out = '';
  let port = 0;

  const spawnOn = (p: number): Promise<void> => new Promise((resolve, reject) => {
    const args = [
      '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--listen-address=127.0.0.1', '--bind-interfaces',
      `--port=${p}`, `--addn-hosts=${hostsFile}`, '--local-ttl=1', '--pid-file=', ...srv.map((s) => `--srv-host=${s}`),
    ];
    const c = spawn(DNSMASQ_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('started, version')) resolve();
    };
    c.stdout?.on('data', onData);
    c.stderr?.on('data', onData);
    c.once('error', reject);
    c.once('exit', (code) => reject(new Error(`dnsmasq exited (${code}): ${out}`)));
  });

  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  };

  // A port free for TCP a moment ago may be taken for UDP, or taken in between: try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    out = '';
    try {
      await spawnOn(port);
      break;
    } catch (err) {
      await stop();
      if (attempt >= 4) { rmSync(dir, { recursive: true, force: true }); throw err; }
    }
  }

  return {
    get port() { return port; },
    async setHosts(lines) {
      writeHosts(lines);
      const reads = (out.match(/read .*hosts - /g) ?? []).length;
      child?.kill('SIGHUP');
      const deadline = Date.now() + 10_000;
      while ((out.match(/read .*hosts - /g) ?? []).length <= reads) {
        if (Date.now() > deadline) throw new Error(`dnsmasq did not reread its hosts file: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop,
    async start(next) {
      if (next !== undefined) srv = next;
      await spawnOn(port);
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => out,
  };
}
