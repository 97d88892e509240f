import type { AsyncMetrics } from './async-metrics';
import type { AsyncQueue } from './async-queue';
import { invocationRecord, type RecordCondition } from './invocation-record';

/** An event an event source will not run, and why. */
export interface UnrunEvent {
  functionName: string;
  functionArn: string;
  requestId: string;
  condition: RecordCondition;
  requestPayload: Buffer;
  errorMessage: string;
}

/**
 * Keeps an event that will never run (too large, refused by the function's policy) where the
 * function's failures go — its dead letters, with an invocation record naming the condition —
 * and counts it. Nothing an event source accepted is dropped without a trace.
 */
export async function deadLetterUnrun(deps: { queue: AsyncQueue; metrics: AsyncMetrics }, e: UnrunEvent): Promise<void> {
  const record = invocationRecord({
    requestId: e.requestId,
    functionArn: e.functionArn,
    condition: e.condition,
    approximateInvokeCount: 0,
    requestPayload: e.requestPayload,
    platformError: { errorType: e.condition, errorMessage: e.errorMessage },
  });
  await deps.queue.deadLetter(e.functionName, Buffer.from(JSON.stringify(record)), e.requestId, e.condition, e.condition === 'AccessDenied' ? 'json' : undefined);
  if (e.condition === 'AccessDenied') deps.metrics.count(e.functionName, 'accessDenied');
  deps.metrics.count(e.functionName, 'deadLettered');
}
