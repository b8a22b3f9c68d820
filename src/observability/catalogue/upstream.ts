// Upstream resilience: health, breakers, outlier ejection, retries, pools, discovery (issue 3).
import type { MetricSpec } from './spec.ts';

export const UPSTREAM_METRICS = {
} as const satisfies Record<string, MetricSpec>;
