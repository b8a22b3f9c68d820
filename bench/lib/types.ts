// Shared plain-data types of the benchmark harness.

/** Response body sizes the backend serves: `small` = `/` (13 B), `large` = `/big` (64 KiB). */
export type BodyKind = 'small' | 'large';

export const BODY_PATHS: Readonly<Record<BodyKind, string>> = { small: '/', large: '/big' };
export const BODY_BYTES: Readonly<Record<BodyKind, number>> = { small: 13, large: 65536 };
export const BODY_LABELS: Readonly<Record<BodyKind, string>> = { small: '13 B', large: '64 KiB' };

export interface SocketErrors {
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly timeout: number;
}

/** What one load-generator run reports (wrk or the Node generator), latencies in ms. */
export interface LoadResult {
  readonly tool: 'wrk' | 'node';
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p75Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  /** Responses that were not 2xx or 3xx (wrk's "Non-2xx or 3xx responses"). */
  readonly non2xx: number;
  readonly socketErrors: SocketErrors;
}

/** One measured cell of one pass. */
export interface RunRecord {
  readonly pass: number;
  readonly scenario: string;
  readonly body: BodyKind;
  readonly connections: number;
  readonly paced: boolean;
  readonly load: LoadResult;
  /** Proxy process-tree CPU time per completed request; null when there is no proxy process. */
  readonly proxyCpuUsPerReq: number | null;
  /** Proxy process-tree CPU use over the run, % of one core. */
  readonly proxyCpuPct: number | null;
  /** VmRSS sum of the proxy's process tree after the run. */
  readonly rssMb: number | null;
  /** VmRSS sum after start-up, before any load. */
  readonly idleRssMb: number | null;
  /** CPU used on the machine by processes that are not ours during the run, % of one core (noise estimate). */
  readonly foreignCpuPct: number | null;
}

export interface ScenarioError {
  readonly scenario: string;
  readonly pass: number;
  readonly message: string;
}
