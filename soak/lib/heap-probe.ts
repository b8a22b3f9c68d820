// The proxy's live heap after a full garbage collection, read through the V8 inspector protocol.
//
// RSS is a poor leak signal over short runs: V8 grows its heap (and the allocator keeps pages) for
// minutes before it settles, so a 60 s window sees the growth, not a leak. The heap that survives a
// full GC is steady as soon as caches are warm: if it grows between two points of a steady load,
// something is retained per request. The probe needs the proxy started with
// `--inspect=127.0.0.1:0` (the soak runner does this for the proxy it starts itself); nothing in
// the proxy changes. Loopback only.

/** The inspector's WebSocket URL from the process's stderr ("Debugger listening on ws://…"). */
export function parseInspectorUrl(stderr: string): string | null {
  const m = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+)/.exec(stderr);
  return m === null ? null : (m[1] as string);
}

interface Reply { id?: number; result?: Record<string, unknown>; error?: { message: string } }

export class HeapProbe {
  private readonly ws: WebSocket;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener('message', (ev: MessageEvent) => {
      let msg: Reply;
      try { msg = JSON.parse(String(ev.data)) as Reply; } catch { return; }
      if (msg.id === undefined) return;
      const w = this.waiting.get(msg.id);
      if (w === undefined) return;
      this.waiting.delete(msg.id);
      if (msg.error !== undefined) w.reject(new Error(msg.error.message));
      else w.resolve(msg.result ?? {});
    });
    ws.addEventListener('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error('inspector connection closed'));
      this.waiting.clear();
    });
  }

  static connect(url: string, timeoutMs = 5000): Promise<HeapProbe> {
    if (!url.startsWith('ws://127.0.0.1:')) return Promise.reject(new Error(`inspector must be on loopback, got ${url}`));
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => { ws.close(); reject(new Error('inspector connect timed out')); }, timeoutMs);
      ws.addEventListener('open', () => { clearTimeout(timer); resolve(new HeapProbe(ws)); }, { once: true });
      ws.addEventListener('error', () => { clearTimeout(timer); reject(new Error(`cannot connect to the inspector at ${url}`)); }, { once: true });
    });
  }

  private call(method: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new Error(`${method} timed out`)); }, timeoutMs);
      this.waiting.set(id, {
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.ws.send(JSON.stringify({ id, method }));
    });
  }

  /** Two full collections (the second catches what finalizers of the first released), then the used heap in MB. */
  async heapAfterGcMb(): Promise<number> {
    await this.call('HeapProfiler.collectGarbage');
    await this.call('HeapProfiler.collectGarbage');
    const usage = await this.call('Runtime.getHeapUsage');
    const used = usage['usedSize'];
    if (typeof used !== 'number') throw new Error('Runtime.getHeapUsage returned no usedSize');
    return used / 1e6;
  }

  close(): void {
    this.ws.close();
  }
}
