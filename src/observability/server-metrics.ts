// Handles of the listener and protocol metrics (catalogue/server.ts): TLS handshakes, connections
// by protocol, HTTP/2 client resets, WebSocket tunnels. Children are cached per label set, so the
// per-connection and per-tunnel paths do one Map lookup.
import type { Counter, Gauge } from 'prom-client';
import { SERVER_METRICS } from './catalogue/server.ts';
import type { Metrics } from './metrics.ts';

type Child<T extends Counter<string> | Gauge<string>> = ReturnType<T['labels']>;

/** A labelled metric with its children cached by joined label values. */
class Cached<T extends Counter<string> | Gauge<string>> {
  private readonly metric: T;
  private readonly children = new Map<string, Child<T>>();
  constructor(metric: T) { this.metric = metric; }
  get(...labels: string[]): Child<T> {
    const key = labels.join('\0');
    let c = this.children.get(key);
    if (c === undefined) {
      c = this.metric.labels(...labels) as Child<T>;
      this.children.set(key, c);
    }
    return c;
  }
}

export class ServerMetrics {
  readonly connections: Cached<Counter<string>>;
  readonly tlsHandshakes: Cached<Counter<string>>;
  readonly tlsHandshakeErrors: Cached<Counter<string>>;
  readonly http2Resets: Cached<Counter<string>>;
  readonly websocketUpgrades: Cached<Counter<string>>;
  readonly websocketActive: Cached<Gauge<string>>;
  readonly websocketBytes: Cached<Counter<string>>;

  constructor(m: Metrics) {
    const s = SERVER_METRICS;
    this.connections = new Cached(m.counter(s.connectionsTotal));
    this.tlsHandshakes = new Cached(m.counter(s.tlsHandshakes));
    this.tlsHandshakeErrors = new Cached(m.counter(s.tlsHandshakeErrors));
    this.http2Resets = new Cached(m.counter(s.http2StreamResets));
    this.websocketUpgrades = new Cached(m.counter(s.websocketConnections));
    this.websocketActive = new Cached(m.gauge(s.websocketActive));
    this.websocketBytes = new Cached(m.counter(s.websocketBytes));
  }
}
