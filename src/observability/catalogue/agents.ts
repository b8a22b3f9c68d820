// External agents: calls, latency, timeouts, bypasses, breakers, pool connections (issue 5).
import type { MetricSpec } from './spec.ts';

export const AGENT_METRICS = {
} as const satisfies Record<string, MetricSpec>;
