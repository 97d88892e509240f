import { randomUUID } from 'node:crypto';
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import {
  LogType,
  type InvokeAsyncBatchRequest,
  type InvokeAsyncBatchResponse,
  type InvokeAsyncBatchResult,
  type InvokeAsyncRequest,
  type InvokeAsyncResponse,
  type InvokeRequest,
  type InvokeResponse,
  type InvokeServiceServer,
} from '../../proto/gen/stratus/v1/invoke';
import { StratusError, toStratusError } from '../../sdk/core/errors';
import { functionArn, LATEST, validateFunctionName, type FunctionRecord } from '../../sdk/core/function-config';
import { LIMITS } from '../../sdk/core/limits';
import type { FunctionCache } from '../functions/function-cache';
import { unary, type HandlerContext } from '../grpc-handler';
import type { Invoker } from './invoker';
import type { AsyncMetrics } from '../async/async-metrics';
import type { AsyncQueue } from '../async/async-queue';

/** Dependencies of the invoke API. */
export interface InvokeServiceDeps {
  cache: FunctionCache;
  invoker: Invoker;
  region: string;
  accountId: string;
  /** Time allowed on top of the function timeout when the caller sets no deadline (cold start, transit). */
  defaultDeadlineSlackMs: number;
  queue: AsyncQueue;
  /** Starts pulling a function's async events on this router. */
  watchAsync: (functionName: string) => void;
  metrics: AsyncMetrics;
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Looks up a function for invocation: FunctionNotFound for unknown names and qualifiers other than $LATEST. */
async function resolveTarget(deps: InvokeServiceDeps, rawName: string, rawQualifier: string): Promise<FunctionRecord> {
  const name = validateFunctionName(rawName);
  const qualifier = rawQualifier || LATEST;
  const record = await deps.cache.get(name);
  if (!record) throw new StratusError('FunctionNotFound', `function '${name}' does not exist: deploy it first (stratus deploy ${name} <folder>) or check the name with stratus ls`);
  if (qualifier !== LATEST) throw new StratusError('FunctionNotFound', `function '${name}' has no version or alias '${qualifier}': invoke $LATEST or publish a version`);
  return record;
}

/**
 * Accepts one async event once JetStream has stored it, or throws why not (unknown function,
 * oversize event, malformed request id, NATS trouble).
 */
async function acceptAsync(deps: InvokeServiceDeps, req: InvokeAsyncRequest): Promise<InvokeAsyncResponse> {
  const name = validateFunctionName(req.functionName);
  if (req.payload.length > LIMITS.maxAsyncPayloadBytes) {
    throw new StratusError('PayloadTooLarge', `the event is ${req.payload.length} bytes, over the ${LIMITS.maxAsyncPayloadBytes}-byte limit for asynchronous invocations: send a reference to the data instead`);
  }
  if (req.requestId && !REQUEST_ID_PATTERN.test(req.requestId)) {
    throw new StratusError('InvalidRequest', `request id '${req.requestId}': use 1-128 letters, digits, '-', '_', '.' or ':'`);
  }
  await resolveTarget(deps, name, req.qualifier);
  const requestId = req.requestId || randomUUID();
  const { duplicate } = await deps.queue.enqueue({
    functionName: name,
    qualifier: req.qualifier,
    payload: req.payload,
    requestId,
    enqueuedAtMs: Date.now(),
    attempt: 0,
  });
  deps.metrics.count(name, duplicate ? 'duplicates' : 'accepted');
  deps.watchAsync(name);
  return { requestId, duplicate };
}

/** InvokeService: synchronous invocation through placement, and asynchronous acceptance. */
export function createInvokeService(ctx: HandlerContext, deps: InvokeServiceDeps): InvokeServiceServer {
  return {
    invoke: (call: ServerUnaryCall<InvokeRequest, InvokeResponse>, callback: sendUnaryData<InvokeResponse>) => {
      const callerDeadline = Number(call.getDeadline());
      // A caller that goes away cancels the invocation on the agent too. grpc-js also reports
      // "cancelled" once a finished call's stream closes: the listener goes as soon as we answer.
      const cancelled = new AbortController();
      const onCancelled = (): void => cancelled.abort();
      call.once('cancelled', onCancelled);
      const answer: sendUnaryData<InvokeResponse> = (err, value) => {
        call.off('cancelled', onCancelled);
        callback(err, value);
      };
      unary<InvokeRequest, InvokeResponse>(ctx, 'stratus.InvokeService/Invoke', async (req, span) => {
        const name = validateFunctionName(req.functionName);
        span.setAttribute('faas.invoked_name', name);
        if (req.payload.length > LIMITS.maxSyncPayloadBytes) {
          throw new StratusError('PayloadTooLarge', `the payload is ${req.payload.length} bytes, over the ${LIMITS.maxSyncPayloadBytes}-byte limit for synchronous invocations: send a reference to the data instead`);
        }
        const record = await resolveTarget(deps, name, req.qualifier);
        if (record.config.reservedConcurrency === 0) {
          throw new StratusError('TooManyRequests', `function '${name}' is stopped: its reserved concurrency is 0; raise it to invoke the function`, { retryable: false });
        }
        const requestId = randomUUID();
        span.setAttribute('faas.invocation_id', requestId);
        const fallback = Date.now() + record.config.timeoutSeconds * 1000 + deps.defaultDeadlineSlackMs;
        const deadlineMs = Number.isFinite(callerDeadline) ? callerDeadline : fallback;
        const result = await deps.invoker.invoke({
          requestId,
          record,
          payload: req.payload,
          deadlineMs,
          tailLogs: req.logType === LogType.LOG_TYPE_TAIL,
          clientContext: req.clientContext,
          invokedFunctionArn: functionArn(deps.region, deps.accountId, name, req.qualifier || undefined),
          signal: cancelled.signal,
        });
        span.setAttribute('faas.coldstart', result.coldStart);
        return {
          requestId,
          executedVersion: record.version,
          payload: result.payload,
          functionError: result.functionFailed
            ? { kind: 'Unhandled', errorType: result.errorType, errorMessage: result.errorMessage, stackTrace: result.stackTrace }
            : undefined,
          logTail: req.logType === LogType.LOG_TYPE_TAIL ? result.logTail : '',
          report: {
            durationMs: result.durationMs,
            billedDurationMs: result.billedDurationMs,
            initDurationMs: result.initDurationMs,
            memorySizeMb: record.config.memoryMb,
            maxMemoryUsedMb: result.maxMemoryUsedMb,
            coldStart: result.coldStart,
            agentId: result.agentId,
          },
        };
      })(call, answer);
    },
    invokeAsync: unary<InvokeAsyncRequest, InvokeAsyncResponse>(ctx, 'stratus.InvokeService/InvokeAsync', async (req, span) => {
      span.setAttribute('faas.invoked_name', req.functionName);
      const accepted = await acceptAsync(deps, req);
      span.setAttribute('faas.invocation_id', accepted.requestId);
      return accepted;
    }),
    invokeAsyncBatch: unary<InvokeAsyncBatchRequest, InvokeAsyncBatchResponse>(ctx, 'stratus.InvokeService/InvokeAsyncBatch', async (req, span) => {
      if (req.entries.length > LIMITS.maxAsyncBatchEntries) {
        throw new StratusError('InvalidRequest', `the batch has ${req.entries.length} events, over the limit of ${LIMITS.maxAsyncBatchEntries}: split it into smaller batches`);
      }
      span.setAttribute('stratus.batch.size', req.entries.length);
      // Every entry on its own: the publishes are pipelined, and one refused entry refuses nothing else.
      const results = await Promise.all(
        req.entries.map((entry) =>
          acceptAsync(deps, entry).then(
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
