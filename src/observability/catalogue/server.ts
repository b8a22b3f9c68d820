// Listeners and protocols: limits triggered, TLS handshakes, HTTP/2, WebSocket (issue 4).
import type { MetricSpec } from './spec.ts';

export const SERVER_METRICS = {
} as const satisfies Record<string, MetricSpec>;
