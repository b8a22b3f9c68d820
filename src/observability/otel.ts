// The OpenTelemetry side of tracing.ts, loaded only when tracing is configured.
//
// - Sampling is parent-based: a caller's traceparent decides (sampled flag set → recorded, clear →
//   not), a request without one starts a trace sampled at `sampling-rate`. The rate is reloadable.
// - The decision is taken here, before any OpenTelemetry object exists: an unsampled request (99%
//   of them at the default 1%) gets plain span ids from the id pool of core/ids.ts and never touches
//   the SDK. Its traceparent upstream still names this proxy's span as the parent, with the
//   sampled flag clear, so the trace stays connected downstream.
// - Spans are batched (every second, at most 512 per export, at most 2048 queued; past that they
//   are dropped by the SDK) and exported as OTLP/HTTP protobuf with a 10 s timeout per export.
import type { IncomingMessage } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, createTraceState, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span, SpanContext } from '@opentelemetry/api';
import { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { TracingConfig } from '../config/types.ts';
import { newSpanId, newTraceId } from '../core/ids.ts';
import type { TraceContext } from '../core/ids.ts';
import type { AttemptSpan, RequestSpan, RequestSpanEnd, Tracer, TracerHooks } from './tracing.ts';

export const EXPORT_TIMEOUT_MS = 10_000;
export const EXPORT_INTERVAL_MS = 1_000;
export const MAX_QUEUED_SPANS = 2048;
export const MAX_EXPORT_BATCH = 512;

/** A request that is not sampled: ids only, no SDK objects. */
class UnsampledAttemptSpan implements AttemptSpan {
  readonly traceparent: string;
  constructor(traceId: string) { this.traceparent = `00-${traceId}-${newSpanId()}-00`; }
  end(): void { /* nothing recorded */ }
}

class UnsampledRequestSpan implements RequestSpan {
  readonly traceId: string;
  readonly traceparent: string;
  readonly sampled = false;
  constructor(traceId: string) {
    this.traceId = traceId;
    this.traceparent = `00-${traceId}-${newSpanId()}-00`;
  }
  startAttempt(): AttemptSpan { return new UnsampledAttemptSpan(this.traceId); }
  end(): void { /* nothing recorded */ }
}

type ExportCallback = Parameters<SpanExporter['export']>[1];

/** Counts what the exporter did with each batch. */
class CountingExporter implements SpanExporter {
  private readonly inner: SpanExporter;
  private readonly hooks: TracerHooks;
  constructor(inner: SpanExporter, hooks: TracerHooks) { this.inner = inner; this.hooks = hooks; }
  export(spans: ReadableSpan[], done: ExportCallback): void {
    this.inner.export(spans, (result) => {
      if (result.code === 0) this.hooks.spans('exported', spans.length);
      else {
        this.hooks.spans('failed', spans.length);
        this.hooks.exportError(result.error?.message ?? 'export failed');
      }
      done(result);
    });
  }
  shutdown(): Promise<void> { return this.inner.shutdown(); }
  forceFlush(): Promise<void> { return this.inner.forceFlush?.() ?? Promise.resolve(); }
}

/** Counts sampled spans as they end, then hands them to the batch processor. */
class CountingProcessor implements SpanProcessor {
  private readonly inner: SpanProcessor;
  private readonly hooks: TracerHooks;
  constructor(inner: SpanProcessor, hooks: TracerHooks) { this.inner = inner; this.hooks = hooks; }
  onStart(span: Span & ReadableSpan, parent: Context): void { this.inner.onStart(span as never, parent); }
  onEnd(span: ReadableSpan): void {
    this.hooks.spans('recorded', 1);
    this.inner.onEnd(span);
  }
  forceFlush(): Promise<void> { return this.inner.forceFlush(); }
  shutdown(): Promise<void> { return this.inner.shutdown(); }
}

function traceparentOf(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & TraceFlags.SAMPLED) !== 0 ? '01' : '00'}`;
}

type OtelTracer = ReturnType<TracerProvider['getTracer']>;

class OtelAttemptSpan implements AttemptSpan {
  readonly traceparent: string;
  private readonly span: Span;
  private ended = false;
  constructor(span: Span) {
    this.span = span;
    this.traceparent = traceparentOf(span.spanContext());
  }
  end(status: number, errorCode: string | undefined): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (span.isRecording()) {
      if (status > 0) span.setAttribute('http.response.status_code', status);
      if (errorCode !== undefined) {
        span.setAttribute('error.type', errorCode);
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode });
      } else if (status >= 400) {
        // Client spans: 4xx and 5xx are errors (semantic conventions).
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    span.end();
  }
}

class OtelRequestSpan implements RequestSpan {
  readonly traceId: string;
  readonly traceparent: string;
  readonly sampled: boolean;
  private readonly tracer: OtelTracer;
  private readonly span: Span;
  private readonly method: string;
  /** The context attempts are started in (this span as parent); built on first use. */
  private context: Context | null = null;
  private ended = false;

  constructor(tracer: OtelTracer, span: Span, method: string) {
    this.tracer = tracer;
    this.span = span;
    this.method = method;
    const sc = span.spanContext();
    this.traceId = sc.traceId;
    this.traceparent = traceparentOf(sc);
    this.sampled = (sc.traceFlags & TraceFlags.SAMPLED) !== 0;
  }

  startAttempt(method: string, upstream: string, target: string, attempt: number): AttemptSpan {
    this.context ??= trace.setSpan(ROOT_CONTEXT, this.span);
    const attributes: Attributes = this.sampled ? {
      'http.request.method': method,
      'server.address': hostOf(target),
      'server.port': portOf(target),
      'sentinel.upstream': upstream,
      'sentinel.target': target,
      ...(attempt > 1 ? { 'http.request.resend_count': attempt - 1 } : {}),
    } : {};
    return new OtelAttemptSpan(this.tracer.startSpan(method, { kind: SpanKind.CLIENT, attributes }, this.context));
  }

  end(info: RequestSpanEnd): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (span.isRecording()) {
      span.updateName(`${this.method} ${info.route}`);
      span.setAttribute('http.route', info.route);
      if (info.status > 0) span.setAttribute('http.response.status_code', info.status);
      if (info.upstream !== undefined) span.setAttribute('sentinel.upstream', info.upstream);
      if (info.target !== undefined) span.setAttribute('sentinel.target', info.target);
      span.setAttribute('sentinel.attempts', info.attempts);
      span.setAttribute('http.request.body.size', info.bytesIn);
      span.setAttribute('http.response.body.size', info.bytesOut);
      if (info.errorCode !== undefined) span.setAttribute('error.type', info.errorCode);
      // Server spans: only 5xx are errors (a 4xx is the client's).
      if (info.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, ...(info.errorCode !== undefined ? { message: info.errorCode } : {}) });
    }
    span.end();
  }
}

function hostOf(target: string): string {
  const i = target.lastIndexOf(':');
  const host = i < 0 ? target : target.slice(0, i);
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

function portOf(target: string): number {
  const i = target.lastIndexOf(':');
  return i < 0 ? 0 : Number(target.slice(i + 1));
}

export function createOtelTracer(config: TracingConfig, version: string, hooks: TracerHooks): Tracer {
  let rate = config.samplingRate;
  // Only sampled requests reach the SDK (see startRequest); its sampler records them all and keeps
  // the parent-based rule for any span started under a recorded one.
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const exporter = new CountingExporter(new OTLPTraceExporter({ url: config.endpoint, timeoutMillis: EXPORT_TIMEOUT_MS }), hooks);
  const batch = new BatchSpanProcessor({
    exporter,
    maxQueueSize: MAX_QUEUED_SPANS,
    maxExportBatchSize: MAX_EXPORT_BATCH,
    scheduledDelayMillis: EXPORT_INTERVAL_MS,
    exportTimeoutMillis: EXPORT_TIMEOUT_MS,
  });
  const provider = new TracerProvider({
    sampler,
    resource: resourceFromAttributes({ 'service.name': config.serviceName, 'service.version': version }),
    spanProcessors: [new CountingProcessor(batch, hooks)],
  });
  const tracer = provider.getTracer('sentinel', version);

  return {
    startRequest(req: IncomingMessage, parent: TraceContext | null, tracestate: string | null, listener: string, requestId: string): RequestSpan {
      // Parent-based: the caller's sampled flag decides; a new trace is sampled at `rate`.
      if (parent !== null ? (Number.parseInt(parent.flags, 16) & 1) === 0 : !(rate >= 1 || (rate > 0 && Math.random() < rate))) {
        return new UnsampledRequestSpan(parent !== null ? parent.traceId : newTraceId());
      }
      let ctx = ROOT_CONTEXT;
      if (parent !== null) {
        ctx = trace.setSpanContext(ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.parentId,
          traceFlags: Number.parseInt(parent.flags, 16) & TraceFlags.SAMPLED,
          isRemote: true,
          ...(tracestate !== null ? { traceState: createTraceState(tracestate) } : {}),
        });
      }
      const method = req.method ?? 'GET';
      const span = tracer.startSpan(method, { kind: SpanKind.SERVER }, ctx);
      if (span.isRecording()) {
        const socket = req.socket;
        span.setAttributes({
          'http.request.method': method,
          'url.path': (req.url ?? '/').split('?', 1)[0] as string,
          'network.protocol.version': req.httpVersion,
          'client.address': socket.remoteAddress ?? '',
          'server.address': req.headers.host ?? '',
          'sentinel.listener': listener,
          'sentinel.request_id': requestId,
        });
      }
      return new OtelRequestSpan(tracer, span, method);
    },
    setSamplingRate(r: number): void {
      rate = r;
    },
    async shutdown(timeoutMs: number): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
      await Promise.race([provider.shutdown().catch(() => undefined), timeout]);
      clearTimeout(timer);
    },
  };
}
