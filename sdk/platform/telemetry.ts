import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** Installed tracing; shutdown flushes pending spans once and returns the same promise after. */
export interface Telemetry {
  shutdown(): Promise<void>;
}

/**
 * Installs the OpenTelemetry SDK for one program. Called only from a main.ts. Exporters are chosen
 * the standard way: OTEL_TRACES_EXPORTER=otlp|console|none (default none, so nothing is sent
 * anywhere unasked), OTLP over HTTP configured by OTEL_EXPORTER_OTLP_ENDPOINT and friends.
 * The W3C propagator is installed either way so trace context still flows through this process.
 */
export function installTelemetry(serviceName: string, env: NodeJS.ProcessEnv): Telemetry {
  const processors: SpanProcessor[] = [];
  for (const name of (env.OTEL_TRACES_EXPORTER ?? 'none').split(',').map((s) => s.trim())) {
    let exporter: SpanExporter | undefined;
    if (name === 'otlp') exporter = new OTLPTraceExporter();
    else if (name === 'console') exporter = new ConsoleSpanExporter();
    if (exporter) processors.push(new BatchSpanProcessor(exporter));
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || serviceName }),
    spanProcessors: processors,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  let done: Promise<void> | undefined;
  return {
    shutdown: () => (done ??= provider.shutdown().catch(() => undefined)),
  };
}
