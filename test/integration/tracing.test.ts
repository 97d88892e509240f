import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { InvokeResult } from '../../sdk/client/types';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { startOtlpCollector, type CollectedSpan, type OtlpCollector } from '../helpers/otlp-collector';

// The test process plays the application: it installs an SDK so the client's own span is recorded.
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

let collector: OtlpCollector;
let cluster: TestCluster;
beforeAll(async () => {
  provider.register({ propagator: new W3CTraceContextPropagator() });
  collector = await startOtlpCollector();
  const otel = { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
  cluster = await startCluster({ agents: 1, routers: 1, routerEnv: otel, agentEnv: otel });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await collector?.close();
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const SERVER = 2;
const HANDLER = 'exports.handler = async (event, context) => ({ fromContext: context.traceparent, fromEnv: process.env.TRACEPARENT });';

async function deployTraced(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await cluster.client().deploy({ name, source: functionDir({ 'index.js': HANDLER }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
  return name;
}

/** Invokes under the test's own SDK and returns the result with the client span's ids. */
async function invokeTraced(name: string): Promise<{ result: InvokeResult; traceId: string; clientSpanId: string }> {
  exporter.reset();
  const result = await cluster.client().invoke(name, '{}');
  const clientSpans = exporter.getFinishedSpans().filter((s) => s.name === 'stratus.client.Invoke');
  expect(clientSpans).toHaveLength(1);
  const sc = (clientSpans[0] as (typeof clientSpans)[number]).spanContext();
  return { result, traceId: sc.traceId, clientSpanId: sc.spanId };
}

/** Waits until the collector holds every named span of the trace, and returns them by name (each exactly once). */
async function traceSpans(traceId: string, names: string[]): Promise<Record<string, CollectedSpan>> {
  const spans = await collector.waitForSpans(`spans ${names.join(', ')} of trace ${traceId}`, (all) =>
    names.every((n) => all.some((s) => s.traceId === traceId && s.name === n)),
  );
  const byName: Record<string, CollectedSpan> = {};
  for (const n of names) {
    const found = spans.filter((s) => s.traceId === traceId && s.name === n);
    expect(found).toHaveLength(1);
    byName[n] = found[0] as CollectedSpan;
  }
  return byName;
}

test('one trace joins the client, router, agent and function when a cold function is invoked', async () => {
  const name = await deployTraced('traced');
  const { result, traceId, clientSpanId } = await invokeTraced(name);
  expect(result.report?.coldStart).toBe(true);

  const spans = await traceSpans(traceId, ['stratus.InvokeService/Invoke', 'stratus.placement', 'stratus.agent.invoke', 'stratus.instance.start', 'stratus.function.invoke']);
  const routerSpan = spans['stratus.InvokeService/Invoke'] as CollectedSpan;
  const agentSpan = spans['stratus.agent.invoke'] as CollectedSpan;
  const fnSpan = spans['stratus.function.invoke'] as CollectedSpan;
  const routerSpanIds = collector.spans.filter((s) => s.traceId === traceId && s.serviceName === 'stratus-router').map((s) => s.spanId);

  expect(routerSpan).toMatchObject({ serviceName: 'stratus-router', kind: SERVER, parentSpanId: clientSpanId });
  expect(spans['stratus.placement']).toMatchObject({ serviceName: 'stratus-router', parentSpanId: routerSpan.spanId });
  expect(agentSpan).toMatchObject({ serviceName: 'stratus-agent', kind: SERVER });
  expect(routerSpanIds).toContain(agentSpan.parentSpanId);
  expect(spans['stratus.instance.start']).toMatchObject({ serviceName: 'stratus-agent', parentSpanId: agentSpan.spanId });
  expect(fnSpan).toMatchObject({ serviceName: 'stratus-agent', parentSpanId: agentSpan.spanId });
  expect(collector.rejected).toBe(0);

  const expected = `00-${traceId}-${fnSpan.spanId}-01`;
  expect(JSON.parse(result.payload.toString())).toEqual({ fromContext: expected, fromEnv: expected });
});

test('a warm invocation hands the function its own trace context when the instance served an earlier trace', async () => {
  const name = await deployTraced('warm-traced');
  const first = await invokeTraced(name);
  const second = await invokeTraced(name);
  expect(second.result.report?.coldStart).toBe(false);
  expect(second.traceId).not.toBe(first.traceId);

  const spans = await traceSpans(second.traceId, ['stratus.InvokeService/Invoke', 'stratus.agent.invoke', 'stratus.function.invoke']);
  expect(collector.spans.filter((s) => s.traceId === second.traceId && s.name === 'stratus.instance.start')).toEqual([]);
  const fnSpan = spans['stratus.function.invoke'] as CollectedSpan;
  expect(fnSpan.parentSpanId).toBe((spans['stratus.agent.invoke'] as CollectedSpan).spanId);
  const expected = `00-${second.traceId}-${fnSpan.spanId}-01`;
  expect(JSON.parse(second.result.payload.toString())).toEqual({ fromContext: expected, fromEnv: expected });
});

test('an async invocation is one trace: client, intake, enqueue, dispatch (linked to its enqueue), agent and function', async () => {
  const name = await deployTraced('async-traced');
  exporter.reset();
  const { requestId } = await cluster.client().invokeAsync(name, '{}');
  const clientSpan = exporter.getFinishedSpans().find((s) => s.name.startsWith('stratus.client.InvokeAsync'));
  expect(clientSpan).toBeDefined();
  const traceId = clientSpan!.spanContext().traceId;

  const spans = await traceSpans(traceId, ['stratus.InvokeService/InvokeAsyncBatch', 'stratus.async.enqueue', 'stratus.async.dispatch', 'stratus.agent.invoke', 'stratus.function.invoke']);
  const intake = spans['stratus.InvokeService/InvokeAsyncBatch'] as CollectedSpan;
  const enqueue = spans['stratus.async.enqueue'] as CollectedSpan;
  const dispatch = spans['stratus.async.dispatch'] as CollectedSpan;
  const agentSpan = spans['stratus.agent.invoke'] as CollectedSpan;
  const PRODUCER = 4;
  const CONSUMER = 5;
  expect(intake).toMatchObject({ serviceName: 'stratus-router', kind: SERVER, parentSpanId: clientSpan!.spanContext().spanId });
  expect(enqueue).toMatchObject({ serviceName: 'stratus-router', kind: PRODUCER, parentSpanId: intake.spanId, attributes: expect.objectContaining({ 'faas.invocation_id': requestId }) });
  expect(dispatch).toMatchObject({ serviceName: 'stratus-router', kind: CONSUMER, parentSpanId: enqueue.spanId, links: [{ traceId, spanId: enqueue.spanId }] });
  const routerSpanIds = collector.spans.filter((s) => s.traceId === traceId && s.serviceName === 'stratus-router').map((s) => s.spanId);
  expect(routerSpanIds).toContain(agentSpan.parentSpanId);
  expect(spans['stratus.function.invoke']).toMatchObject({ serviceName: 'stratus-agent', parentSpanId: agentSpan.spanId });
  expect(collector.rejected).toBe(0);
});
