import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { waitFor } from './ports';

/** One span as an OTLP/HTTP JSON exporter sent it, flattened with its resource's service name. */
export interface CollectedSpan {
  serviceName: string;
  name: string;
  /** Hex, as the JSON encoding of @opentelemetry/otlp-transformer writes ids. */
  traceId: string;
  spanId: string;
  /** Hex, or undefined for a root span. */
  parentSpanId: string | undefined;
  /** OTLP SpanKind number: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  /** Spans this one links to (hex ids). */
  links: Array<{ traceId: string; spanId: string }>;
}

/** A real OTLP/HTTP collector for traces, listening on 127.0.0.1. */
export interface OtlpCollector {
  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT (exporters append /v1/traces). */
  endpoint: string;
  /** Every span received so far, in arrival order. */
  spans: CollectedSpan[];
  /** Requests that could not be parsed; a test should expect none. */
  rejected: number;
  /** Polls until `ready(spans)` holds or `timeoutMs` passes; returns the spans then. */
  waitForSpans(what: string, ready: (spans: CollectedSpan[]) => boolean, timeoutMs?: number): Promise<CollectedSpan[]>;
  close(): Promise<void>;
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
}

interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

interface OtlpJsonRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{
      spans?: Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string; kind?: number; attributes?: OtlpKeyValue[]; links?: Array<{ traceId: string; spanId: string }> }>;
    }>;
  }>;
}

function attributeValue(v: OtlpAnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.doubleValue;
}

function attributes(list: OtlpKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, attributeValue(kv.value)]));
}

function flatten(body: OtlpJsonRequest): CollectedSpan[] {
  const out: CollectedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const serviceName = String(attributes(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          serviceName,
          name: s.name,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || undefined,
          kind: s.kind ?? 0,
          attributes: attributes(s.attributes),
          links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
        });
      }
    }
  }
  return out;
}

/** Starts a collector accepting OTLP/HTTP JSON at POST /v1/traces on a free port. */
export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const collector: OtlpCollector = {
    endpoint: '',
    spans,
    rejected: 0,
    waitForSpans: async (what, ready, timeoutMs = 10_000) => {
      await waitFor(what, () => ready(spans), timeoutMs, 50);
      return spans;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        collector.rejected += 1;
        res.writeHead(req.url === '/v1/traces' ? 415 : 404).end();
        return;
      }
      try {
        const raw = Buffer.concat(chunks);
        const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        spans.push(...flatten(JSON.parse(text) as OtlpJsonRequest));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        collector.rejected += 1;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  collector.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return collector;
}
