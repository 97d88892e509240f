import type { MsgHdrs } from '@nats-io/nats-core';
import { context, propagation, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';

// Trace context carried in NATS message headers (events, async invocations, stream records);
// the gRPC metadata counterpart is sdk/core/trace-context.ts.

/** Reads W3C trace headers from NATS message headers; a message without headers has none. */
const headerGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (h) => (h ? h.keys() : []),
  get: (h, key) => h?.get(key) || undefined,
};

/** Writes W3C trace headers into NATS message headers. */
const headerSetter: TextMapSetter<MsgHdrs> = {
  set: (h, key, value) => h.set(key, value),
};

/** Puts the active (or given) trace context into outgoing NATS headers. */
export function injectIntoNatsHeaders(headers: MsgHdrs, ctx: Context = context.active()): MsgHdrs {
  propagation.inject(ctx, headers, headerSetter);
  return headers;
}

/** The trace context a publisher sent in NATS headers, on top of `base` (default: the active context). */
export function extractFromNatsHeaders(headers: MsgHdrs | undefined, base: Context = context.active()): Context {
  return propagation.extract(base, headers, headerGetter);
}
