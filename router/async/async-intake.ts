import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import type {
  InvokeAsyncBatchRequest,
  InvokeAsyncBatchResponse,
  InvokeAsyncBatchResult,
  InvokeAsyncRequest,
  InvokeAsyncResponse,
  InvokeServiceServer,
} from '../../proto/gen/stratus/v1/invoke';
import { StratusError, toStratusError } from '../../sdk/core/errors';
import { validateFunctionName } from '../../sdk/core/function-config';
import { requireJsonPayload } from '../../sdk/core/json-payload';
import { LIMITS } from '../../sdk/core/limits';
import { depthAfter, tenantOf, type Principal } from '../../sdk/core/identity';
import type { FunctionCache } from '../functions/function-cache';
import type { InvokeTargets } from '../functions/invoke-target';
import { unary, type HandlerContext } from '../grpc-handler';
import type { AsyncMetrics } from './async-metrics';
import type { AsyncQueue } from './async-queue';

/** What accepting async events needs. */
export interface AsyncIntakeDeps {
  cache: FunctionCache;
  /** Resolves the qualifier ($LATEST, a version, an alias) an event names. */
  targets: Pick<InvokeTargets, 'resolve'>;
  queue: AsyncQueue;
  /** Starts pulling a function's async events on this router. */
  watchAsync: (functionName: string) => void;
  metrics: AsyncMetrics;
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Accepts one async event once JetStream has stored it, or throws why not (unknown function,
 * oversize event, malformed request id, NATS trouble).
 */
async function acceptAsync(deps: AsyncIntakeDeps, req: InvokeAsyncRequest, caller: Principal, { access, tracer }: HandlerContext): Promise<InvokeAsyncResponse> {
  const name = validateFunctionName(req.functionName);
  if (req.payload.length > LIMITS.maxAsyncPayloadBytes) {
    throw new StratusError('PayloadTooLarge', `the event is ${req.payload.length} bytes, over the ${LIMITS.maxAsyncPayloadBytes}-byte limit for asynchronous invocations: send a reference to the data instead`);
  }
  requireJsonPayload(req.payload, 'event');
  if (req.requestId && !REQUEST_ID_PATTERN.test(req.requestId)) {
    throw new StratusError('InvalidRequest', `request id '${req.requestId}': use 1-128 letters, digits, '-', '_', '.' or ':'`);
  }
  const record = await deps.targets.resolve(name, req.qualifier);
  await access.authorize(caller, 'function:invoke', { kind: 'function', name, tenant: tenantOf(record) });
  const requestId = req.requestId || randomUUID();
  // The producer span's context travels in the event's headers: the dispatch span links to it.
  const { duplicate } = await tracer.startActiveSpan('stratus.async.enqueue', { kind: SpanKind.PRODUCER, attributes: { 'faas.invoked_name': name, 'faas.invocation_id': requestId } }, (span) =>
    deps.queue
      .enqueue({ functionName: name, qualifier: req.qualifier, payload: req.payload, requestId, enqueuedAtMs: Date.now(), attempt: 0, depth: depthAfter(caller) })
      .finally(() => span.end()),
  );
  deps.metrics.count(name, duplicate ? 'duplicates' : 'accepted');
  deps.watchAsync(name);
  return { requestId, duplicate };
}

/** InvokeService's asynchronous half: InvokeAsync and InvokeAsyncBatch, accepted once stored. */
export function createAsyncIntake(ctx: HandlerContext, deps: AsyncIntakeDeps): Pick<InvokeServiceServer, 'invokeAsync' | 'invokeAsyncBatch'> {
  return {
    invokeAsync: unary<InvokeAsyncRequest, InvokeAsyncResponse>(ctx, 'stratus.InvokeService/InvokeAsync', async (req, span, caller) => {
      span.setAttribute('faas.invoked_name', req.functionName);
      const accepted = await acceptAsync(deps, req, caller, ctx);
      span.setAttribute('faas.invocation_id', accepted.requestId);
      return accepted;
    }),
    invokeAsyncBatch: unary<InvokeAsyncBatchRequest, InvokeAsyncBatchResponse>(ctx, 'stratus.InvokeService/InvokeAsyncBatch', async (req, span, caller) => {
      if (req.entries.length > LIMITS.maxAsyncBatchEntries) {
        throw new StratusError('InvalidRequest', `the batch has ${req.entries.length} events, over the limit of ${LIMITS.maxAsyncBatchEntries}: split it into smaller batches`);
      }
      span.setAttribute('stratus.batch.size', req.entries.length);
      // Every entry on its own: the publishes are pipelined, and one refused entry refuses nothing else.
      const results = await Promise.all(
        req.entries.map((entry) =>
          acceptAsync(deps, entry, caller, ctx).then(
            (accepted): InvokeAsyncBatchResult => ({ result: { $case: 'accepted', value: accepted } }),
            (err: unknown): InvokeAsyncBatchResult => {
              const e = toStratusError(err);
              return { result: { $case: 'error', value: { code: e.code, message: e.message } } };
            },
          ),
        ),
      );
      const failedCount = results.filter((r) => r.result?.$case === 'error').length;
      span.setAttribute('stratus.batch.failed', failedCount);
      return { results, failedCount };
    }),
  };
}
