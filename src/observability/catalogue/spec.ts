// The shape of a catalogue entry. Kept apart from the catalogue so that each area's file can
// import it without an import cycle.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly unit: string;
  readonly buckets?: readonly number[];
  /** `primary`: exposed only by the primary process in multi-worker mode (src/server/cluster.ts). */
  readonly scope?: 'primary';
  /** How the primary combines the workers' series in multi-worker mode (prom-client aggregators). */
  readonly aggregator?: 'sum' | 'max' | 'min' | 'first';
}

/** Latency buckets in seconds: 0.5 ms to 60 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;
