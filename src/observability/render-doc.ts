// Renders docs/metrics.md from the catalogue (scripts/render-metrics-doc.ts writes it; a test
// checks the committed file is current).
import { CATALOGUE_LIST } from './catalogue.ts';

export function renderMetricsDoc(): string {
  const rows = CATALOGUE_LIST.map((m) => {
    const labels = m.labels.length === 0 ? '–' : m.labels.map((l) => `\`${l}\``).join(', ');
    const scope = m.scope === 'primary' ? ' (primary)' : '';
    return `| \`${m.name}\`${scope} | ${m.type} | ${labels} | ${m.unit} | ${m.help} |`;
  });
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

In multi-worker mode (\`system { worker-threads N }\`) the primary serves the metrics listener: it
sums the workers' series (build info, generation and reload counts take the maximum instead) and
adds the metrics marked "(primary)".

Process metrics: prom-client's default collectors, named \`sentinel_process_*\` (CPU seconds,
resident memory, open and maximum file descriptors, start time) and \`sentinel_nodejs_*\` (heap,
event-loop lag percentiles, active handles and resources, GC durations, version).
`;
}
