// Raw-socket client for the black-box HTTP suite: sends exact bytes (so malformed requests can be
// sent) and collects everything the server answers until it closes or goes quiet.
import { get } from 'node:http';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { startSentinel } from '../../spec/helpers/sentinel-process.ts';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';

export interface RawReply {
  /** Everything received. */
  readonly text: string;
  /** Status codes of every response head in `text`, in order. */
  readonly statuses: readonly number[];
  /** True when the server closed the connection. */
  readonly closed: boolean;
}

export function rawExchange(port: number, bytes: string | Buffer, opts: { quietMs?: number } = {}): Promise<RawReply> {
  return rawSteps(port, [bytes], opts);
}

/**
 * Like `rawExchange`, but sends in steps: each string or Buffer is written, each function is awaited
 * before the next write (to send a body in parts, after the upstream has seen the first one).
 */
export function rawSteps(port: number, steps: readonly (string | Buffer | (() => Promise<unknown>))[], opts: { quietMs?: number } = {}): Promise<RawReply> {
  const quietMs = opts.quietMs ?? 300;
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    let writing = true;
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      s.destroy();
      resolve({ text, statuses, closed });
    };
    // "Quiet" only ends the wait for a server that keeps the connection open; it is not asserted on.
    const arm = () => { clearTimeout(timer); if (!writing) timer = setTimeout(finish, quietMs); };
    s.on('connect', () => {
      void (async () => {
        for (const step of steps) {
          if (typeof step === 'function') await step();
          else if (!s.destroyed) s.write(step);
        }
        writing = false;
        arm();
      })().catch(reject);
    });
    s.on('data', (c: Buffer) => { chunks.push(c); arm(); });
    s.on('end', () => { closed = true; finish(); });
    s.on('close', () => { closed = true; finish(); });
    s.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNRESET') { closed = true; finish(); } else reject(e); });
  });
}

/** One request as a raw upstream received it: the exact bytes of the head and of the framed body. */
export interface RawRequest {
  readonly head: string;
  readonly body: Buffer;
}

export interface RawUpstream {
  readonly port: number;
  readonly address: string;
  readonly requests: RawRequest[];
  close(): Promise<void>;
}

/**
 * A TCP upstream that records every request byte for byte and answers with whatever `respond`
 * returns (raw bytes, so interim responses, trailers and odd heads can be sent). It frames
 * requests by Content-Length or chunked, which is all the proxy sends.
 */
export async function startRawUpstream(respond: (req: RawRequest) => string | Buffer): Promise<RawUpstream> {
  const requests: RawRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end + 4).toString('latin1');
        const rest = buf.subarray(end + 4);
        let bodyEnd: number;
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (cl !== null) bodyEnd = Number(cl[1]);
        else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
          const last = rest.indexOf('0\r\n\r\n');
          if (last < 0) return;
          bodyEnd = last + 5;
        } else bodyEnd = 0;
        if (rest.length < bodyEnd) return;
        const req = { head, body: Buffer.from(rest.subarray(0, bodyEnd)) };
        buf = Buffer.from(rest.subarray(bodyEnd));
        requests.push(req);
        s.write(respond(req));
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port, address: `127.0.0.1:${port}`, requests,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Parses the response heads in a raw reply: status and lower-cased fields (repeated names joined with ", "). */
export function parseHeads(text: string): { status: number; headers: Record<string, string>; body: string }[] {
  const out: { status: number; headers: Record<string, string>; body: string }[] = [];
  const re = /HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n/g;
  let m: RegExpExecArray | null;
  const starts: { status: number; headers: Record<string, string>; end: number; start: number }[] = [];
  while ((m = re.exec(text)) !== null) {
    const headers: Record<string, string> = {};
    for (const line of (m[2] as string).split('\r\n')) {
      if (line === '') continue;
      const i = line.indexOf(':');
      const k = line.slice(0, i).toLowerCase();
      const v = line.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    starts.push({ status: Number(m[1]), headers, start: m.index, end: m.index + m[0].length });
  }
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i] as (typeof starts)[number];
    const next = starts[i + 1];
    out.push({ status: s.status, headers: s.headers, body: text.slice(s.end, next === undefined ? text.length : next.start) });
  }
  return out;
}

/** The value of one counter series on a Prometheus text page (0 when absent). */
export async function metricValue(metricsPort: number, series: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    get({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve(body));
    }).on('error', reject);
  });
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

/** Audit records the proxy wrote to its process log (stderr) so far. */
export function auditRecords(stderr: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.includes('"audit":true')) continue;
    try { out.push(JSON.parse(line) as Record<string, unknown>); } catch { /* partial line */ }
  }
  return out;
}

/** The proxy under test: the real CLI with one listener "main" on an ephemeral port. */
export interface ProxyUnderTest {
  readonly proxy: SentinelProcess;
  readonly port: number;
  /** The metrics listener's port when `metrics` was asked for, else null. */
  readonly metricsPort: number | null;
}

/**
 * Starts the CLI with `blocks` (routes, upstreams, …) under one listener "main" on 127.0.0.1:0
 * (`listener` adds keys to it), the access log off, and the metrics listener on an ephemeral port
 * only when `metrics` is set.
 */
export async function startProxy(blocks: string, opts: { listener?: string; metrics?: boolean } = {}): Promise<ProxyUnderTest> {
  const metrics = opts.metrics === true ? 'address "127.0.0.1:0"' : 'enabled #false';
  const proxy = await startSentinel(`
listeners { listener "main" { address "127.0.0.1:0"${opts.listener !== undefined ? `; ${opts.listener}` : ''} } }
${blocks}
observability { metrics { ${metrics} }; logging { access-log { enabled #false } } }
`, { listeners: ['main'], metrics: opts.metrics === true });
  return { proxy, port: proxy.ports.get('main') as number, metricsPort: proxy.metricsPort };
}

/** Stops what a suite started (a proxy, upstreams), whichever of them did start. */
export async function stopAll(...things: ({ stop(): Promise<unknown> } | { close(): Promise<unknown> } | undefined)[]): Promise<void> {
  for (const t of things) {
    if (t === undefined) continue;
    if ('stop' in t) await t.stop();
    else await t.close();
  }
}
