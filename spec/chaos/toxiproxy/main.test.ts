// The CLI: starts the API, populates from --config, stops cleanly on SIGTERM.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Toxiproxy } from 'toxiproxy-node-client';
import { connectClient, portOf, startEcho } from './helpers.ts';
import type { TestServer } from './helpers.ts';

const MAIN = fileURLToPath(new URL('../../../chaos/toxiproxy/main.ts', import.meta.url));

let child: ChildProcess | undefined;
let echo: TestServer | undefined;
let dir: string | undefined;

afterEach(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child?.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  child = undefined;
  await echo?.close();
  echo = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

function waitForLine(proc: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = pattern.exec(buf);
      if (m !== null) resolve(m);
    });
    proc.once('exit', (code) => reject(new Error(`exited with ${code} before printing ${pattern}: ${buf}`)));
  });
}

describe('node chaos/toxiproxy/main.ts', () => {
  it('serves the API, populates from --config and exits 0 on SIGTERM', async () => {
    echo = await startEcho();
    dir = await mkdtemp(join(tmpdir(), 'toxiproxy-cli-'));
    const config = join(dir, 'proxies.json');
    await writeFile(config, JSON.stringify([{ name: 'echo', listen: '127.0.0.1:0', upstream: echo.address }]));
    child = spawn(process.execPath, [MAIN, '--host', '127.0.0.1', '--port', '0', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = child;
    const [, url] = await waitForLine(proc, /listening on (http:\/\/\S+)/);
    await waitForLine(proc, /populated proxies/);
    const tp = new Toxiproxy(url as string);
    const proxy = await tp.get('echo');
    const c = await connectClient(portOf(proxy.listen));
    c.socket.write('cli');
    await c.waitForBytes(3);
    expect(c.text()).toBe('cli');
    c.socket.destroy();
    const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('refuses a non-loopback host', async () => {
    child = spawn(process.execPath, [MAIN, '--host', '0.0.0.0', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = child;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/loopback/);
  });
});
