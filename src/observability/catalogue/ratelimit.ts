// Rate limiting: decisions, Redis latency and errors, fallbacks, local keys (issue 6).
import type { MetricSpec } from './spec.ts';

export const RATELIMIT_METRICS = {
} as const satisfies Record<string, MetricSpec>;
