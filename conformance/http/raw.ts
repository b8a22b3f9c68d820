// Raw-socket client for the black-box HTTP suite: sends exact bytes (so malformed requests can be
// sent) and collects everything the server answers until it closes or goes quiet.
import { connect } from 'node:net';

export interface RawReply {
  /** Everything received. */
  readonly text: string;
  /** Status codes of every response head in `text`, in order. */
  readonly statuses: readonly number[];
  /** True when the server closed the connection. */
  readonly closed: boolean;
}

export function rawExchange(port: number, bytes: string | Buffer, opts: { quietMs?: number } = {}): Promise<RawReply> {
  const quietMs = opts.quietMs ?? 300;
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      s.destroy();
      resolve({ text, statuses, closed });
    };
    // "Quiet" only ends the wait for a server that keeps the connection open; it is not asserted on.
    const arm = () => { clearTimeout(timer); timer = setTimeout(finish, quietMs); };
    s.on('connect', () => { s.write(bytes); arm(); });
    s.on('data', (c: Buffer) => { chunks.push(c); arm(); });
    s.on('end', () => { closed = true; finish(); });
    s.on('close', () => { closed = true; finish(); });
    s.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNRESET') { closed = true; finish(); } else reject(e); });
  });
}
