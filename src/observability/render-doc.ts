// Renders docs/metrics.md from the catalogue (scripts/render-metrics-doc.ts writes it; a test
// checks the committed file is current).
import { CATALOGUE_LIST, PROCESS_METRICS } from './catalogue.ts';
import type { MetricSpec } from './catalogue.ts';
import { LIMITS } from './catalogue/server.ts';

export function renderMetricsDoc(): string {
  const row = (m: MetricSpec) => {
    const labels = m.labels.length === 0 ? '–' : m.labels.map((l) => `\`${l}\``).join(', ');
    const scope = m.scope === 'primary' ? ' (primary)' : '';
    return `| \`${m.name}\`${scope} | ${m.type} | ${labels} | ${m.unit} | ${m.help} |`;
  };
  const rows = CATALOGUE_LIST.map(row);
  const processRows = PROCESS_METRICS.map(row);
  const limits = Object.entries(LIMITS).map(([name, what]) => `| \`${name}\` | ${what} |`);
  return `# Metrics

<!-- Generated from src/observability/catalogue.ts by \`node scripts/render-metrics-doc.ts\`. Do not edit by hand. -->

Prometheus text format on the metrics listener (\`observability { metrics { address; path } }\`,
default \`127.0.0.1:9090/metrics\`), and on any route with \`builtin-handler "metrics"\`.

Label values are bounded: route, upstream and listener ids come from the config, targets from the
configured target list, methods outside the standard nine are reported as \`OTHER\`, and error codes
come from the fixed table in docs/errors.md. Raw paths and client addresses are never labels.

| name | type | labels | unit | meaning |
|---|---|---|---|---|
${rows.join('\n')}

## Limit names

The \`limit\` label of \`sentinel_limits_triggered_total\` takes exactly these values
(\`src/observability/catalogue/server.ts\`); every listener exposes a 0 series for each from the start.

| limit | counts |
|---|---|
${limits.join('\n')}

In multi-worker mode (\`system { worker-threads N }\`) the primary serves the metrics listener: it
sums the workers' series (build info, generation and reload counts take the maximum instead) and
adds the metrics marked "(primary)".

## Process metrics

prom-client's default collectors, registered with the \`sentinel_\` prefix: memory, CPU,
event-loop lag, handles, heap and GC of each process (each worker in multi-worker mode, summed by
the primary). Their labels are bounded by Node itself (heap space names, libuv handle and request
types, GC kinds, the Node version). A test checks the running registry exposes exactly these.

| name | type | labels | unit | meaning |
|---|---|---|---|---|
${processRows.join('\n')}

## Label cardinality rules

- A label value comes from the config (route, upstream, listener, filter and agent ids; targets
  from the configured target lists), from a fixed table in the code (error codes, outcomes,
  reload results, audit components and actions, log names), or from Node (process metrics).
- Never from the request: no paths, hosts, client addresses, header values or user agents.
  Methods are the standard nine, anything else is \`OTHER\`; statuses are the three-digit code.
- Per-request detail (paths, request and trace ids) belongs in the access log and traces.
`;
}
