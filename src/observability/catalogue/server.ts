// Listeners and protocols: limits triggered, TLS handshakes, HTTP/2, WebSocket (issue 4).
import type { MetricSpec } from './spec.ts';

export const SERVER_METRICS = {
  limitsTriggered: {
    name: 'sentinel_limits_triggered_total',
    type: 'counter',
    help: 'Requests or connections refused because a configured limit was reached, by limit name (docs/config.md lists them).',
    labels: ['limit'],
    unit: 'events',
  },
} as const satisfies Record<string, MetricSpec>;
