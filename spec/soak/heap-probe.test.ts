// The soak runner's heap probe against a real process: a server that retains 1 MB per request
// must show that growth in its live heap after GC, and one that retains nothing must not.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { HeapProbe, parseInspectorUrl } from '../../soak/lib/heap-probe.ts';

const SERVER = `
const kept = [];
require('node:http').createServer((req, res) => {
  if (req.url === '/keep') kept.push(Buffer.alloc(1e6, 1).toString('latin1'));
  else void Buffer.alloc(1e6, 1).toString('latin1');
  res.end('ok');
}).listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n'); });
`;

let child: ChildProcess | null = null;
afterEach(() => { child?.kill('SIGKILL'); child = null; });

async function start(): Promise<{ port: number; probe: HeapProbe }> {
  const c = spawn(process.execPath, ['--inspect=127.0.0.1:0', '-e', SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = c;
  let err = '';
  c.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const port = await new Promise<number>((resolve, reject) => {
    c.stdout?.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
    c.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  const url = parseInspectorUrl(err);
  if (url === null) throw new Error(`no inspector URL in: ${err}`);
  return { port, probe: await HeapProbe.connect(url) };
}

describe('heap probe', () => {
  it('parses the inspector URL and refuses anything but loopback', async () => {
    expect(parseInspectorUrl('Debugger listening on ws://127.0.0.1:9229/0f1e2d3c-aaaa-bbbb-cccc-000000000000\nFor help…')).toBe('ws://127.0.0.1:9229/0f1e2d3c-aaaa-bbbb-cccc-000000000000');
    expect(parseInspectorUrl('nothing here')).toBeNull();
    await expect(HeapProbe.connect('ws://10.0.0.1:9229/x')).rejects.toThrow(/loopback/);
  });

  it('sees 1 MB retained per request, and no growth when nothing is retained', async () => {
    const { port, probe } = await start();
    try {
      const hit = async (path: string, n: number) => {
        for (let i = 0; i < n; i++) await (await fetch(`http://127.0.0.1:${port}${path}`)).text();
      };
      await hit('/drop', 5);
      const base = await probe.heapAfterGcMb();
      await hit('/drop', 20);
      const afterDrop = await probe.heapAfterGcMb();
      await hit('/keep', 20);
      const afterKeep = await probe.heapAfterGcMb();
      expect(afterDrop - base).toBeLessThan(2);
      expect(afterKeep - afterDrop).toBeGreaterThan(18);
    } finally {
      probe.close();
    }
  }, 60_000);
});
