import { headers as natsHeaders } from '@nats-io/nats-core';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { propagation, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { extractFromNatsHeaders, injectIntoNatsHeaders } from './nats-trace-context';

const parent = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true };

beforeAll(() => propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
afterAll(() => propagation.disable());

describe('NATS trace context', () => {
  test('injectIntoNatsHeaders writes a traceparent that extractFromNatsHeaders reads back', () => {
    const h = injectIntoNatsHeaders(natsHeaders(), trace.setSpanContext(ROOT_CONTEXT, parent));
    expect(h.get('traceparent')).toBe(`00-${parent.traceId}-${parent.spanId}-01`);
    const sc = trace.getSpanContext(extractFromNatsHeaders(h, ROOT_CONTEXT));
    expect(sc).toMatchObject({ traceId: parent.traceId, spanId: parent.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  });

  test('injectIntoNatsHeaders keeps the headers already set', () => {
    const h = natsHeaders();
    h.set('Stratus-Request-Id', 'r1');
    injectIntoNatsHeaders(h, trace.setSpanContext(ROOT_CONTEXT, parent));
    expect(h.get('Stratus-Request-Id')).toBe('r1');
  });

  test('extractFromNatsHeaders returns the base context when the message has no headers or no trace', () => {
    expect(extractFromNatsHeaders(undefined, ROOT_CONTEXT)).toBe(ROOT_CONTEXT);
    expect(trace.getSpanContext(extractFromNatsHeaders(natsHeaders(), ROOT_CONTEXT))).toBeUndefined();
  });
});
