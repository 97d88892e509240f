import type { Meter } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader, type IMetricReader, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** Installed metrics: the meter instruments are made on, Prometheus text for /metrics, and a once-only shutdown. */
export interface Metrics {
  meter: Meter;
  /** The current values in Prometheus' text format. */
  prometheus(): Promise<string>;
  shutdown(): Promise<void>;
}

/** Most attribute sets one instrument keeps (further ones fold into one overflow series, as OpenTelemetry does). */
const CARDINALITY_LIMIT = 2000;

/** Histogram bounds for durations in seconds: 1 ms to 15 min, dense where functions usually are. */
export const DURATION_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/**
 * Installs the OpenTelemetry metrics SDK for one program (called only from a main.ts). /metrics
 * always serves Prometheus text; OTEL_METRICS_EXPORTER=otlp (or console, comma-separated) also
 * pushes every OTEL_METRIC_EXPORT_INTERVAL ms (default 60000) with the standard
 * OTEL_EXPORTER_OTLP_* variables.
 */
export function installMetrics(serviceName: string, env: NodeJS.ProcessEnv): Metrics {
  const prometheus = new PrometheusExporter({ preventServerStart: true, withoutTargetInfo: true, withoutScopeInfo: true });
  const readers: IMetricReader[] = [prometheus];
  const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL) > 0 ? Number(env.OTEL_METRIC_EXPORT_INTERVAL) : 60_000;
  for (const name of (env.OTEL_METRICS_EXPORTER ?? 'none').split(',').map((s) => s.trim())) {
    const exporter = name === 'otlp' ? new OTLPMetricExporter() : name === 'console' ? new ConsoleMetricExporter() : undefined;
    if (exporter) readers.push(new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: interval, exportTimeoutMillis: Math.min(30_000, interval) }));
  }
  const views: ViewOptions[] = [{ instrumentName: '*', aggregationCardinalityLimit: CARDINALITY_LIMIT }];
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || serviceName }),
    readers,
    views,
  });
  // The same choices as the exporter's: no target_info series, no otel_scope_* labels (one scope per program).
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
  let done: Promise<void> | undefined;
  return {
    meter: provider.getMeter(serviceName),
    prometheus: async () => serializer.serialize((await prometheus.collect()).resourceMetrics),
    shutdown: () => (done ??= provider.shutdown().catch(() => undefined)),
  };
}
