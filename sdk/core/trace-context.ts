import type { Metadata } from '@grpc/grpc-js';
import { context, propagation, trace, type Context, type SpanContext, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';

/** Reads W3C trace headers from gRPC metadata. */
const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key);
    return values.length === 0 ? undefined : values.map(String);
  },
};

/** Writes W3C trace headers into gRPC metadata. */
const metadataSetter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** Puts the active (or given) trace context into outgoing gRPC metadata. */
export function injectIntoMetadata(metadata: Metadata, ctx: Context = context.active()): Metadata {
  propagation.inject(ctx, metadata, metadataSetter);
  return metadata;
}

/** The trace context a caller sent in gRPC metadata, as a parent for server spans. */
export function extractFromMetadata(metadata: Metadata): Context {
  return propagation.extract(context.active(), metadata, metadataGetter);
}

/** W3C `traceparent` for a span context, handed to functions so their spans join the trace. */
export function toTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 1).toString(16).padStart(2, '0')}`;
}

/** X-Ray's trace header for a span context: what Lambda runtimes put in _X_AMZN_TRACE_ID. */
export function toXrayTraceHeader(sc: SpanContext): string {
  return `Root=1-${sc.traceId.slice(0, 8)}-${sc.traceId.slice(8)};Parent=${sc.spanId};Sampled=${sc.traceFlags & 1}`;
}

/** The traceparent of the active span, if one is recording or was propagated. */
export function activeTraceparent(ctx: Context = context.active()): string | undefined {
  const sc = trace.getSpanContext(ctx);
  return sc && trace.isSpanContextValid(sc) ? toTraceparent(sc) : undefined;
}
