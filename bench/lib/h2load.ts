// h2load (nghttp2-client) as the load generator of the protocol benchmarks: HTTP/1.1 over TLS
// (`--h1`, keep-alive, no pipelining) and HTTP/2 (ALPN h2, several streams per connection). Pure
// argv building and output parsing; runner code lives in protocols.ts.

export interface H2loadSpec {
  readonly url: string;
  readonly protocol: 'h1' | 'h2';
  readonly connections: number;
  /** Streams in flight per connection (HTTP/2); HTTP/1.1 always uses 1. */
  readonly streams: number;
  readonly durationS: number;
  readonly warmupS: number;
}

export interface H2loadResult {
  readonly rps: number;
  readonly done: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  readonly status2xx: number;
  /** Mean of "time for request", ms. */
  readonly meanMs: number;
  /** Max of "time for request", ms. */
  readonly maxMs: number;
  /** What the TLS handshake negotiated, as h2load printed it (`TLSv1.3`), or null. */
  readonly tlsProtocol: string | null;
  /** ALPN result (`h2`, `http/1.1`), or null. */
  readonly alpn: string | null;
}

export function h2loadArgv(bin: string, spec: H2loadSpec): string[] {
  const argv = [bin, '-c', String(spec.connections), '-D', String(spec.durationS)];
  if (spec.warmupS > 0) argv.push('--warm-up-time', String(spec.warmupS));
  if (spec.protocol === 'h1') argv.push('--h1', '-m', '1');
  else argv.push('-m', String(spec.streams));
  argv.push(spec.url);
  return argv;
}

/** `141us`, `27.76ms`, `1.2s` → milliseconds. */
export function parseDurationMs(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s.trim());
  if (m === null) throw new Error(`h2load: unreadable duration ${JSON.stringify(s)}`);
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : v * 1000;
}

export function parseH2load(out: string): H2loadResult {
  const finished = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  const req = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const status = /status codes: (\d+) 2xx/.exec(out);
  const time = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  if (finished === null || req === null || status === null || time === null) {
    throw new Error(`h2load: unreadable output:\n${out.slice(-2000)}`);
  }
  return {
    rps: Number(finished[1]),
    done: Number(req[1]),
    succeeded: Number(req[2]),
    failed: Number(req[3]),
    errored: Number(req[4]),
    timeout: Number(req[5]),
    status2xx: Number(status[1]),
    meanMs: parseDurationMs(time[3] as string),
    maxMs: parseDurationMs(time[2] as string),
    tlsProtocol: /TLS Protocol: (\S+)/.exec(out)?.[1] ?? null,
    alpn: /Application protocol: (\S+)/.exec(out)?.[1] ?? null,
  };
}
