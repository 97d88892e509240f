import { randomUUID } from 'node:crypto';
import { LogType, type InvokeAsyncBatchResponse, type InvokeResponse } from '../../proto/gen/stratus/v1/invoke';
import { StratusError } from '../core/errors';
import { LIMITS } from '../core/limits';
import type { AsyncBatcher, SendBatch } from './async-batcher';
import type { RouterTransport } from './router-transport';
import type { InvokeOptions, InvokeResult } from './types';

/** Options of an asynchronous invocation; see StratusClient.invokeAsync. */
export interface InvokeAsyncOptions {
  qualifier?: string;
  requestId?: string;
  timeoutMs?: number;
}

function toBody(payload: Buffer | string | undefined): Buffer {
  return payload === undefined ? Buffer.alloc(0) : Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
}

/** Invokes synchronously; a function error is a normal result (see functionError), not a throw. */
export async function invoke(t: RouterTransport, name: string, payload: Buffer | string | undefined, options: InvokeOptions): Promise<InvokeResult> {
  const body = toBody(payload);
  if (body.length > LIMITS.maxSyncPayloadBytes) {
    throw new StratusError('PayloadTooLarge', `the payload is ${body.length} bytes, over the ${LIMITS.maxSyncPayloadBytes}-byte limit for synchronous invocations: send a reference to the data instead`);
  }
  // Without a deadline the router allows the function's timeout plus start-up slack.
  const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : Infinity;
  const request = {
    functionName: name,
    qualifier: options.qualifier ?? '',
    payload: body,
    logType: options.logType === 'Tail' ? LogType.LOG_TYPE_TAIL : LogType.LOG_TYPE_NONE,
    clientContext: options.clientContext === undefined ? '' : JSON.stringify(options.clientContext),
    dryRun: options.dryRun ?? false,
  };
  const res = await t.call<InvokeResponse>('invoke', 'Invoke', deadline, options.signal, (s, md, opts, cb) => s.invoke.invoke(request, md, opts, cb));
  return {
    statusCode: res.statusCode || 200,
    requestId: res.requestId,
    executedVersion: res.executedVersion,
    payload: res.payload,
    functionError: res.functionError
      ? { kind: res.functionError.kind, errorType: res.functionError.errorType, errorMessage: res.functionError.errorMessage, stackTrace: res.functionError.stackTrace }
      : undefined,
    logTail: res.logTail,
    report: res.report
      ? {
          durationMs: res.report.durationMs,
          billedDurationMs: res.report.billedDurationMs,
          initDurationMs: res.report.initDurationMs,
          memorySizeMb: res.report.memorySizeMb,
          maxMemoryUsedMb: res.report.maxMemoryUsedMb,
          coldStart: res.report.coldStart,
          agentId: res.report.agentId,
        }
      : undefined,
  };
}

/** How an AsyncBatcher sends its batches through the transport. */
export function asyncBatchSender(t: RouterTransport): SendBatch {
  // 'read': every event carries a request id, so a resent batch never enqueues twice.
  return (entries, deadlineMs) => t.call<InvokeAsyncBatchResponse>('read', 'InvokeAsyncBatch', deadlineMs, undefined, (s, md, opts, cb) => s.invoke.invokeAsyncBatch({ entries }, md, opts, cb));
}

/** Queues an asynchronous invocation on `batcher`; resolves once the event is durably stored. */
export async function invokeAsync(t: RouterTransport, batcher: AsyncBatcher, name: string, payload: Buffer | string | undefined, options: InvokeAsyncOptions): Promise<{ requestId: string; duplicate: boolean }> {
  const body = toBody(payload);
  if (body.length > LIMITS.maxAsyncPayloadBytes) {
    throw new StratusError('PayloadTooLarge', `the event is ${body.length} bytes, over the ${LIMITS.maxAsyncPayloadBytes}-byte limit for asynchronous invocations: send a reference to the data instead`);
  }
  return batcher.add({
    request: { functionName: name, qualifier: options.qualifier ?? '', payload: body, requestId: options.requestId || randomUUID() },
    generatedId: !options.requestId,
    deadlineMs: Date.now() + (options.timeoutMs ?? t.defaultTimeoutMs),
  });
}
