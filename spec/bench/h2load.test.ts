import { describe, expect, it } from 'vitest';
import { h2loadArgv, parseDurationMs, parseH2load } from '../../bench/lib/h2load.ts';
import { parseBenchArgs } from '../../bench/lib/args.ts';

const SAMPLE = `starting benchmark...
spawning thread #0: 2 total client(s). 100 total requests
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
progress: 100% done

finished in 5.00s, 12345.67 req/s, 164.51KB/s
requests: 61728 total, 61740 started, 61728 done, 61720 succeeded, 8 failed, 0 errored, 0 timeout
status codes: 61720 2xx, 0 3xx, 0 4xx, 8 5xx
traffic: 12.40KB (12700) total, 8.50KB (8700) headers (space savings 0.00%), 500B (500) data
                     min         max         mean         sd        +/- sd
time for request:      141us     27.76ms      1.27ms      3.95ms    95.00%
time for connect:     6.67ms     15.06ms     10.86ms      5.93ms   100.00%
`;

describe('h2load', () => {
  it('parses throughput, outcomes, latency and what TLS negotiated', () => {
    expect(parseH2load(SAMPLE)).toEqual({
      rps: 12345.67, done: 61728, succeeded: 61720, failed: 8, errored: 0, timeout: 0, status2xx: 61720,
      meanMs: 1.27, maxMs: 27.76, tlsProtocol: 'TLSv1.3', alpn: 'h2',
    });
  });

  it('refuses output it cannot read', () => {
    expect(() => parseH2load('no server is listening')).toThrow(/unreadable output/);
  });

  it('reads h2load durations', () => {
    expect(parseDurationMs('141us')).toBeCloseTo(0.141);
    expect(parseDurationMs('27.76ms')).toBe(27.76);
    expect(parseDurationMs('1.5s')).toBe(1500);
  });

  it('builds HTTP/1.1 (one request in flight per connection) and HTTP/2 (N streams) command lines', () => {
    expect(h2loadArgv('h2load', { url: 'https://x/', protocol: 'h1', connections: 50, streams: 16, durationS: 10, warmupS: 2 }))
      .toEqual(['h2load', '-c', '50', '-D', '10', '--warm-up-time', '2', '--h1', '-m', '1', 'https://x/']);
    expect(h2loadArgv('h2load', { url: 'https://x/', protocol: 'h2', connections: 8, streams: 16, durationS: 10, warmupS: 0 }))
      .toEqual(['h2load', '-c', '8', '-D', '10', '-m', '16', 'https://x/']);
  });

  it('bench options: protocols on by default with 10,000 idle connections; --no-protocols and --idle-conns', () => {
    expect(parseBenchArgs([])).toMatchObject({ protocols: true, idleConnections: 10_000 });
    expect(parseBenchArgs(['--no-protocols', '--idle-conns', '500'])).toMatchObject({ protocols: false, idleConnections: 500 });
    expect(() => parseBenchArgs(['--idle-conns', '-1'])).toThrow(/--idle-conns/);
  });
});
