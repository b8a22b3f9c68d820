// One named proxy: a loopback listener, its live connections and its toxics.
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { bindHost, formatAddress, parseLoopbackAddress } from './address.ts';
import { Connection } from './link.ts';
import type { ToxicSpec } from './toxics.ts';

export interface ProxyJson {
  readonly name: string;
  readonly listen: string;
  readonly upstream: string;
  readonly enabled: boolean;
  readonly toxics: ToxicSpec[];
}

export interface ProxyRuntime {
  readonly random: () => number;
  readonly now: () => number;
}

export class ToxicProxy {
  readonly name: string;
  /** Configured listen address; once started it is the bound "host:port" (as Toxiproxy reports it). */
  listen: string;
  upstream: string;
  enabled = false;
  private readonly runtime: ProxyRuntime;
  private toxics: ToxicSpec[] = [];
  private server: Server | undefined;
  private readonly connections = new Set<Connection>();
  /** Accepted clients whose upstream connection is still being opened. */
  private readonly dialing = new Set<Socket>();

  constructor(name: string, listen: string, upstream: string, runtime: ProxyRuntime) {
    this.name = name;
    this.listen = listen;
    this.upstream = upstream;
    this.runtime = runtime;
  }

  toJSON(): ProxyJson {
    return { name: this.name, listen: this.listen, upstream: this.upstream, enabled: this.enabled, toxics: this.toxicList() };
  }

  /** Upstream toxics first, then downstream, each in insertion order (Toxiproxy's chain order). */
  toxicList(): ToxicSpec[] {
    return [...this.toxics.filter((t) => t.stream === 'upstream'), ...this.toxics.filter((t) => t.stream === 'downstream')];
  }

  getToxic(name: string): ToxicSpec | undefined {
    return this.toxics.find((t) => t.name === name);
  }

  connectionCount(): number {
    return this.connections.size + this.dialing.size;
  }

  /** Starts listening; rejects (and stays disabled) if the address cannot be bound. */
  async start(): Promise<void> {
    if (this.enabled) return;
    const parsed = parseLoopbackAddress(this.listen, 'listen');
    if (!parsed.ok) throw new Error(parsed.message);
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        server.close();
        reject(err);
      };
      server.once('error', onError);
      server.listen({ host: bindHost(parsed.address.host), port: parsed.address.port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', () => {});
    const addr = server.address() as AddressInfo;
    this.listen = formatAddress(addr.address, addr.port);
    this.server = server;
    this.enabled = true;
  }

  /** Closes the listener and every live connection. */
  async stop(): Promise<void> {
    if (!this.enabled) return;
    this.enabled = false;
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => {
      if (server === undefined) resolve();
      else server.close(() => resolve());
    });
    for (const client of [...this.dialing]) client.destroy();
    for (const conn of [...this.connections]) conn.destroy();
    await closed;
  }

  private accept(client: Socket): void {
    client.on('error', () => {});
    const target = parseLoopbackAddress(this.upstream, 'upstream');
    if (!this.enabled || !target.ok) {
      client.destroy();
      return;
    }
    this.dialing.add(client);
    const upstream = connect({ host: target.address.host, port: target.address.port, allowHalfOpen: true });
    upstream.on('error', () => {});
    const abandon = (): void => {
      this.dialing.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', abandon);
    upstream.once('close', abandon);
    upstream.once('connect', () => {
      client.off('close', abandon);
      upstream.off('close', abandon);
      this.dialing.delete(client);
      if (client.destroyed || !this.enabled) {
        client.destroy();
        upstream.destroy();
        return;
      }
      const conn = new Connection(client, upstream, this.toxicList(), {
        random: this.runtime.random,
        now: this.runtime.now,
        onClosed: (c) => this.connections.delete(c),
      });
      this.connections.add(conn);
      conn.start();
    });
  }

  addToxic(spec: ToxicSpec): void {
    this.toxics.push(spec);
    for (const conn of this.connections) conn.addToxic(spec);
  }

  updateToxic(spec: ToxicSpec): void {
    const i = this.toxics.findIndex((t) => t.name === spec.name);
    if (i < 0) return;
    this.toxics[i] = spec;
    for (const conn of [...this.connections]) conn.updateToxic(spec);
  }

  removeToxic(name: string): void {
    const spec = this.getToxic(name);
    if (spec === undefined) return;
    this.toxics = this.toxics.filter((t) => t !== spec);
    for (const conn of [...this.connections]) conn.removeToxic(spec);
  }

  resetToxics(): void {
    for (const spec of this.toxicList()) this.removeToxic(spec.name);
  }
}
