// The cost of observability, measured against the plain `sentinel` scenario in the same run
// (the "÷ sentinel" table): the same proxy and config, with one feature turned on.
//
// - `sentinel-accesslog`: the JSON access log, every request, to a file.
// - `sentinel-trace-1pct` / `sentinel-trace-100pct`: OpenTelemetry tracing with sampling-rate 0.01
//   and 1, exporting OTLP/HTTP protobuf to a local sink (backends/otlp-sink.ts, pinned with the
//   backend so its CPU is not counted as the proxy's). At 1% the cost is mostly the span objects
//   of unsampled requests; at 100% it includes encoding and exporting every span.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, nodeBin } from '../lib/env.ts';
import { startListeningProcess } from './common.ts';
import { OBSERVABILITY_OFF, SENTINEL_CLI as CLI, startSentinelProcess } from './sentinel.ts';
import type { Scenario } from './types.ts';

export const sentinelAccessLogScenario: Scenario = {
  name: 'sentinel-accesslog',
  description: 'Sentinel with the JSON access log on (every request, to a file)',
  unavailableReason: () => (existsSync(CLI) ? null : `${CLI} not found`),
  start: (ctx) => startSentinelProcess('sentinel-accesslog', ctx, {
    observability: `metrics { enabled #false }; logging { access-log { enabled #true; file "${path.join(ctx.tmpDir, 'access.log')}" } }`,
  }),
};

function tracingScenario(name: string, rate: number): Scenario {
  return {
    name,
    description: `Sentinel with tracing at sampling-rate ${rate}, OTLP/HTTP to a local sink`,
    unavailableReason: () => (existsSync(CLI) ? null : `${CLI} not found`),
    start: async (ctx) => {
      const sink = await startListeningProcess(`${name}-sink`, (port) => [...ctx.pinning.load, nodeBin(), path.join(BENCH_DIR, 'backends', 'otlp-sink.ts'), String(port)]);
      try {
        const endpoint = `${sink.url}/v1/traces`;
        const proxy = await startSentinelProcess(name, ctx, { observability: `${OBSERVABILITY_OFF}; tracing { backend "otlp" { endpoint "${endpoint}" }; sampling-rate ${rate}; service-name "bench" }` });
        return { url: proxy.url, pids: proxy.pids, stop: async () => { await proxy.stop(); await sink.stop(); } };
      } catch (e) {
        await sink.stop();
        throw e;
      }
    },
  };
}

export const sentinelTrace1Scenario = tracingScenario('sentinel-trace-1pct', 0.01);
export const sentinelTrace100Scenario = tracingScenario('sentinel-trace-100pct', 1);
