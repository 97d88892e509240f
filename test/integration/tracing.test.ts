import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
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

test('one trace joins the client, router, agent and function when a cold function is invoked', async () => {
  const client = cluster.client();
  const name = uniqueName('traced');
  const dir = functionDir({
    'index.js': 'exports.handler = async (event, context) => ({ fromContext: context.traceparent, fromEnv: process.env.TRACEPARENT });',
  });
  await client.deploy({ name, source: dir, settings: { runtime: 'nodejs', handler: 'index.handler' } });
  exporter.reset();

  const result = await client.invoke(name, '{}');
  expect(result.report?.coldStart).toBe(true);

  const clientSpans = exporter.getFinishedSpans().filter((s) => s.name === 'stratus.client.Invoke');
  expect(clientSpans).toHaveLength(1);
  const clientSpan = (clientSpans[0] as (typeof clientSpans)[number]).spanContext();
  const traceId = clientSpan.traceId;

  const wanted = ['stratus.InvokeService/Invoke', 'stratus.placement', 'stratus.agent.invoke', 'stratus.instance.start', 'stratus.function.invoke'];
  const spans = await collector.waitForSpans(`spans of trace ${traceId}`, (all) =>
    wanted.every((n) => all.some((s) => s.traceId === traceId && s.name === n)),
  );
  const inTrace = spans.filter((s) => s.traceId === traceId);
  const one = (spanName: string): CollectedSpan => {
    const found = inTrace.filter((s) => s.name === spanName);
    expect(found).toHaveLength(1);
    return found[0] as CollectedSpan;
  };

  const routerSpan = one('stratus.InvokeService/Invoke');
  const placement = one('stratus.placement');
  const agentSpan = one('stratus.agent.invoke');
  const start = one('stratus.instance.start');
  const fnSpan = one('stratus.function.invoke');

  expect(routerSpan).toMatchObject({ serviceName: 'stratus-router', kind: SERVER, parentSpanId: clientSpan.spanId });
  expect(placement).toMatchObject({ serviceName: 'stratus-router', parentSpanId: routerSpan.spanId });
  expect(agentSpan).toMatchObject({ serviceName: 'stratus-agent', kind: SERVER });
  expect(inTrace.filter((s) => s.serviceName === 'stratus-router').map((s) => s.spanId)).toContain(agentSpan.parentSpanId);
  expect(start).toMatchObject({ serviceName: 'stratus-agent', parentSpanId: agentSpan.spanId });
  expect(fnSpan).toMatchObject({ serviceName: 'stratus-agent', parentSpanId: agentSpan.spanId });
  expect(collector.rejected).toBe(0);

  const seen = JSON.parse(result.payload.toString()) as { fromContext: string; fromEnv: string };
  const expected = `00-${traceId}-${fnSpan.spanId}-01`;
  expect(seen).toEqual({ fromContext: expected, fromEnv: expected });
});
