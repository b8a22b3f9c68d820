// Tracing: one server span per request and one client span per upstream attempt, exported over
// OTLP/HTTP. This file holds only the interface the pipeline uses; the OpenTelemetry SDK behind
// it (otel.ts) is imported dynamically when `observability { tracing { … } }` is configured, so a
// proxy without tracing never loads it and pays one null check per request.
import type { IncomingMessage } from 'node:http';
import type { TracingConfig } from '../config/types.ts';
import type { TraceContext } from '../core/ids.ts';

/** What the request span records when the exchange ends. */
export interface RequestSpanEnd {
  readonly route: string;
  readonly status: number;
  readonly errorCode: string | undefined;
  readonly upstream: string | undefined;
  readonly target: string | undefined;
  readonly attempts: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** The client span of one upstream attempt. */
export interface AttemptSpan {
  /** `traceparent` for this attempt's upstream request: this span is the upstream's parent. */
  readonly traceparent: string;
  /** Ends the span once (later calls are ignored). `status` 0 = no response. */
  end(status: number, errorCode: string | undefined): void;
}

/** The server span of one request. */
export interface RequestSpan {
  readonly traceId: string;
  /** W3C traceparent naming this span as the parent (for agents; upstream attempts have their own). */
  readonly traceparent: string;
  readonly sampled: boolean;
  startAttempt(method: string, upstream: string, target: string, attempt: number): AttemptSpan;
  /** Ends the span once (later calls are ignored). */
  end(info: RequestSpanEnd): void;
}

export interface Tracer {
  /**
   * Starts the server span of a request. `parent` is the caller's validated traceparent (its
   * sampled flag decides, parent-based), or null to start a trace (sampled at the configured rate).
   */
  startRequest(req: IncomingMessage, parent: TraceContext | null, tracestate: string | null, listener: string, requestId: string): RequestSpan;
  /** Reloadable: the share of new traces sampled. */
  setSamplingRate(rate: number): void;
  /** Exports what is queued (bounded by `timeoutMs`) and stops. */
  shutdown(timeoutMs: number): Promise<void>;
}

export interface TracerHooks {
  /** Counts sampled spans: `recorded` when they end, `exported` or `failed` after the export. */
  spans(result: 'recorded' | 'exported' | 'failed', n: number): void;
  /** An export failed (rate-limited by the caller). */
  exportError(message: string): void;
}

/** Loads the OpenTelemetry SDK (only now) and builds the tracer. */
export async function createTracer(config: TracingConfig, version: string, hooks: TracerHooks): Promise<Tracer> {
  const { createOtelTracer } = await import('./otel.ts');
  return createOtelTracer(config, version, hooks);
}
