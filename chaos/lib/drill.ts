// The drill kit scenarios are written with: a Toxiproxy (the built-in one from chaos/toxiproxy, or the
// real one at TOXIPROXY_URL) driven by toxiproxy-node-client, real loopback upstreams, the real
// Sentinel CLI, /metrics deltas, and check helpers that phrase the expectation and the observation
// the same way in the results table. Everything a drill starts is released when the scenario ends.
import { Toxiproxy } from 'toxiproxy-node-client';
import type { Proxy } from 'toxiproxy-node-client';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { startAgent, startRedis } from '../../spec/helpers/containers.ts';
import type { AgentHandle, AgentOptions, RedisHandle } from '../../spec/helpers/containers.ts';
import { startSentinel } from '../../spec/helpers/sentinel-process.ts';
import type { SentinelProcess } from '../../spec/helpers/sentinel-process.ts';
import { startUpstream } from '../../spec/helpers/upstream.ts';
import type { Upstream } from '../../spec/helpers/upstream.ts';
import { startToxiproxy } from '../toxiproxy/server.ts';
import { tally } from './http.ts';
import type { Outcome } from './http.ts';
import { scrape, seriesName, sumOf } from './metrics.ts';
import type { Sample } from './metrics.ts';
import type { ScenarioContext } from './scenario.ts';

/** Slack added to every latency bound derived from a configured timeout (loaded CI machines). */
export const MARGIN_MS = 1500;

export interface DrillEnvironment {
  readonly toxiproxyUrl: string;
  /** True when TOXIPROXY_URL pointed at a real Toxiproxy. */
  readonly external: boolean;
  readonly toxiproxy: Toxiproxy;
  close(): Promise<void>;
}

/** One Toxiproxy for the whole run: TOXIPROXY_URL when set, else the built-in server on a free port. */
export async function createDrillEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): Promise<DrillEnvironment> {
  const tp = await startToxiproxy(env);
  const toxiproxy = new Toxiproxy(tp.url);
  try {
    await toxiproxy.getVersion();
  } catch (error) {
    await tp.close();
    throw new Error(`Toxiproxy at ${tp.url} does not answer: ${(error as Error).message}`, { cause: error });
  }
  return { toxiproxyUrl: tp.url, external: tp.external, toxiproxy, close: () => tp.close() };
}

export interface DrillSentinel extends SentinelProcess {
  /** Port of the listener "main". */
  readonly port: number;
  readonly metricsPort: number;
  metrics(): Promise<Sample[]>;
  /** Rewrites the config file, sends SIGHUP, and resolves with the reload's log message ("config reloaded", …). */
  reload(kdl: string): Promise<string>;
}

export interface Drill extends ScenarioContext {
  readonly toxiproxy: Toxiproxy;
  readonly toxiproxyExternal: boolean;
  /** A loopback HTTP upstream, closed when the scenario ends. */
  upstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream>;
  /** A Toxiproxy proxy in front of `upstreamAddress` (removed at the end); point Sentinel at its `listen`. */
  faultProxy(upstreamAddress: string): Promise<Proxy>;
  /** The real Sentinel CLI with this config (listener "main", metrics on), stopped at the end. */
  sentinel(kdl: string): Promise<DrillSentinel>;
  /**
   * A real agent process (spec/helpers/containers.ts startAgent: a container where Docker answers,
   * else a local process) with pause/kill/restart for faults; disposed at the end.
   */
  agent(options: AgentOptions): Promise<AgentHandle>;
  /** A real redis-server (startRedis: container or local process, ephemeral port); disposed at the end. */
  redis(): Promise<RedisHandle>;

  /** Every outcome satisfies `ok`; observed: the tally of outcomes (by `key`, default status and error code). */
  expectOutcomes(what: string, expected: string, outcomes: readonly Outcome[], ok: (o: Outcome) => boolean, key?: (o: Outcome) => string): void;
  /** observedMs ≤ boundMs. */
  expectAtMost(what: string, observedMs: number, boundMs: number): void;
  /** observedMs ≥ boundMs (a timeout that really waited, a throttle that really throttled). */
  expectAtLeast(what: string, observedMs: number, boundMs: number): void;
  /** The metric's change between two scrapes equals `delta` (or is at least `{ atLeast }`). */
  expectDelta(before: readonly Sample[], after: readonly Sample[], name: string, labels: Readonly<Record<string, string>>, delta: number | { atLeast: number }): void;
  /** Recovered (a 200) within `withinMs` after the fault was removed; `ms` null means never. */
  expectRecovery(ms: number | null, withinMs: number, what?: string): void;
  /** The metric (summed over the series matching `labels`) equals `value` in one scrape, e.g. a gauge. */
  expectValue(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>>, value: number, meaning?: string): void;
}

export function fmtMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

let proxyCounter = 0;

/** Builds the drill kit on top of the runner's context for one scenario. */
export function createDrill(base: ScenarioContext, env: DrillEnvironment, scenarioName: string): Drill {
  return {
    ...base,
    toxiproxy: env.toxiproxy,
    toxiproxyExternal: env.external,
    async upstream(handler) {
      const up = await startUpstream(handler);
      base.defer(() => up.close());
      return up;
    },
    async faultProxy(upstreamAddress) {
      proxyCounter++;
      const proxy = await env.toxiproxy.createProxy({ name: `sentinel-chaos-${scenarioName}-${process.pid}-${proxyCounter}`, listen: '127.0.0.1:0', upstream: upstreamAddress });
      base.defer(() => proxy.remove().catch(() => undefined));
      return proxy;
    },
    async sentinel(kdl) {
      base.progress('starting sentinel');
      const p = await startSentinel(kdl, { listeners: ['main'], metrics: true });
      base.defer(() => p.stop('SIGKILL'));
      const port = p.ports.get('main');
      if (port === undefined || p.metricsPort === null) throw new Error('sentinel did not report its listener and metrics ports');
      const metricsPort = p.metricsPort;
      const reload = async (kdl: string): Promise<string> => {
        const offset = p.stderr().length;
        writeFileSync(join(p.dir, 'sentinel.kdl'), kdl);
        p.child.kill('SIGHUP');
        const until = Date.now() + 20_000;
        while (Date.now() < until && !base.signal.aborted) {
          for (const line of p.stderr().slice(offset).split('\n')) {
            const msg = /"msg":"(config reload[^"]*)"/.exec(line)?.[1];
            if (msg !== undefined && !msg.includes('requested') && !msg.includes('with warnings')) return msg;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
        throw new Error('no reload outcome in the log within 20 s of SIGHUP');
      };
      return Object.assign(p, { port, metricsPort, metrics: () => scrape(metricsPort), reload });
    },
    async agent(options) {
      base.progress(`starting agent ${typeof options.kind === 'string' ? options.kind : 'custom'} (${options.transport})`);
      const a = await startAgent(options);
      base.defer(() => a.dispose());
      base.progress(`agent up (${a.backend === 'container' ? 'container' : 'local process'})`);
      return a;
    },
    async redis() {
      base.progress('starting redis-server');
      const r = await startRedis();
      base.defer(() => r.dispose());
      base.progress(`redis-server up at ${r.address} (${r.backend === 'container' ? 'container' : 'local process'})`);
      return r;
    },
    expectOutcomes(what, expected, outcomes, ok, key) {
      base.check(what, expected, tally(outcomes, key), outcomes.length > 0 && outcomes.every(ok));
    },
    expectAtMost(what, observedMs, boundMs) {
      base.check(what, `≤ ${fmtMs(boundMs)}`, fmtMs(observedMs), observedMs <= boundMs);
    },
    expectAtLeast(what, observedMs, boundMs) {
      base.check(what, `≥ ${fmtMs(boundMs)}`, fmtMs(observedMs), observedMs >= boundMs);
    },
    expectDelta(before, after, name, labels, delta) {
      const d = sumOf(after, name, labels) - sumOf(before, name, labels);
      const series = seriesName(name, labels);
      if (typeof delta === 'number') base.check(series, `+${delta}`, `+${d}`, d === delta);
      else base.check(series, `≥ +${delta.atLeast}`, `+${d}`, d >= delta.atLeast);
    },
    expectRecovery(ms, withinMs, what = '200') {
      base.check('recovery', `${what} within ${fmtMs(withinMs)}`, ms === null ? `no ${what} within ${fmtMs(withinMs)}` : `${what} after ${fmtMs(ms)}`, ms !== null && ms <= withinMs);
    },
    expectValue(samples, name, labels, value, meaning) {
      const v = sumOf(samples, name, labels);
      const text = (n: number): string => (meaning !== undefined && n === value ? `${n} (${meaning})` : String(n));
      base.check(seriesName(name, labels), text(value), text(v), v === value);
    },
  };
}

export interface DrillTimeouts {
  readonly connectSecs: number;
  readonly headersSecs: number;
  readonly readSecs: number;
  readonly requestSecs: number;
}

export const DRILL_TIMEOUTS: DrillTimeouts = { connectSecs: 1, headersSecs: 1, readSecs: 1, requestSecs: 4 };

export interface ConfigOptions {
  /** Targets of the upstream "app" (host:port). */
  readonly targets: readonly string[];
  readonly timeouts?: Partial<DrillTimeouts>;
  /** Extra properties inside listener "main" { … }, e.g. `headers-timeout-secs 2`. */
  readonly listener?: string;
  /** Properties of the `system { … }` block. */
  readonly system?: string;
  /** Extra routes (KDL) before the catch-all route "app". */
  readonly routes?: string;
  /** Extra upstreams (KDL). */
  readonly upstreams?: string;
  /** Extra children of upstream "app", e.g. `retry-policy { max-attempts 3 }`. */
  readonly app?: string;
  /** Filter ids on the catch-all route "app", e.g. an agent filter. */
  readonly filters?: readonly string[];
  /** Extra top-level blocks (KDL), e.g. `agents { … }` and `filters { … }`. */
  readonly blocks?: string;
}

/** A Sentinel config for drills: listener "main" on 127.0.0.1:0, route "app" → upstream "app", metrics on. */
export function drillConfig(o: ConfigOptions): string {
  const t = { ...DRILL_TIMEOUTS, ...o.timeouts };
  return `
${o.system !== undefined ? `system { ${o.system} }` : ''}
listeners { listener "main" { address "127.0.0.1:0"; ${o.listener ?? ''} } }
routes {
  ${o.routes ?? ''}
  route "app" { matches { path-prefix "/" }; upstream "app"${o.filters !== undefined && o.filters.length > 0 ? `; filters ${o.filters.map((f) => `"${f}"`).join(' ')}` : ''} }
}
upstreams {
  upstream "app" {
    ${o.targets.map((t) => `target "${t}"`).join('\n    ')}
    ${o.app ?? ''}
    timeouts { connect-secs ${t.connectSecs}; headers-secs ${t.headersSecs}; read-secs ${t.readSecs}; request-secs ${t.requestSecs} }
  }
  ${o.upstreams ?? ''}
}
${o.blocks ?? ''}
observability { metrics { enabled #true; address "127.0.0.1:0" }; logging { level "info"; access-log { enabled #false } } }
`;
}
