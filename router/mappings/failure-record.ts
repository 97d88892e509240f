/**
 * The record sent to a mapping's on-failure destination (or the function's dead letters) when
 * records are given up on: Lambda's stream failure record (reference: async-and-event-sources.md
 * §4.2) with a `JetStreamBatchInfo` block instead of `KinesisBatchInfo`:
 *
 *   {
 *     "version": "1.0",
 *     "timestamp": "2025-01-01T12:00:00.000Z",
 *     "requestContext": {"requestId": "…", "functionArn": "…", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
 *     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
 *     "responsePayload": {"errorType": "Error", "errorMessage": "…"},    the last error, when the function failed
 *     "JetStreamBatchInfo": {
 *       "mappingId": "…", "stream": "ORDERS", "subjectFilter": "orders.>", "streamArn": "…",
 *       "startSequence": "40", "endSequence": "57",
 *       "sequences": ["40", "44", "57"],     every record given up on: a batch holds only some keys, so the
 *                                            range alone would also name records that succeeded
 *       "approximateArrivalOfFirstRecord": "…", "approximateArrivalOfLastRecord": "…",
 *       "batchSize": 3
 *     },
 *     "requestPayload": {"Records": […]}     only with includeRecordsInFailures (or for dead letters), when it fits
 *   }
 *
 * `condition` is RetryAttemptsExhausted or MaximumRecordAgeExceeded.
 */

/** Why records were given up on. */
export type FailureCondition = 'RetryAttemptsExhausted' | 'MaximumRecordAgeExceeded';

/** The last thing known of the records' invocations. */
export interface LastInvocation {
  requestId: string;
  /** How many invocations these records were part of. */
  invocations: number;
  /** The function's error object when its last invocation failed. */
  functionError?: Uint8Array;
  /** The function's response when it returned but reported failed items (or an invalid batch response). */
  response?: Uint8Array;
  /** A platform error (throttle, agent lost) when that is what the last attempt met. */
  platformError?: { errorType: string; errorMessage: string };
}

/** What a failure record is built from. */
export interface FailureInput {
  condition: FailureCondition;
  functionArn: string;
  last: LastInvocation;
  mappingId: string;
  stream: string;
  subjectFilter: string;
  eventSourceArn: string;
  records: ReadonlyArray<{ seq: number; timestampMs: number }>;
  /** The batch event of the records; included when it fits in `maxBytes`. */
  event?: string;
  /** Largest record the destination takes (the NATS maximum payload, less headroom). */
  maxBytes: number;
  now?: Date;
}

function parseOr(bytes: Uint8Array | undefined): unknown {
  if (!bytes || bytes.length === 0) return null;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Builds the failure record (see the file comment) as JSON text. */
export function failureRecord(input: FailureInput): string {
  const sorted = [...input.records].sort((a, b) => a.seq - b.seq);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  const responseContext: Record<string, unknown> = { statusCode: input.last.platformError ? 500 : 200, executedVersion: '$LATEST' };
  if (input.last.functionError) responseContext.functionError = 'Unhandled';
  const rec: Record<string, unknown> = {
    version: '1.0',
    timestamp: (input.now ?? new Date()).toISOString(),
    requestContext: { requestId: input.last.requestId, functionArn: input.functionArn, condition: input.condition, approximateInvokeCount: input.last.invocations },
    responseContext,
  };
  if (input.last.functionError) rec.responsePayload = parseOr(input.last.functionError);
  else if (input.last.response) rec.responsePayload = parseOr(input.last.response);
  else if (input.last.platformError) rec.responsePayload = input.last.platformError;
  rec.JetStreamBatchInfo = {
    mappingId: input.mappingId,
    stream: input.stream,
    subjectFilter: input.subjectFilter,
    streamArn: input.eventSourceArn,
    startSequence: first ? String(first.seq) : '',
    endSequence: last ? String(last.seq) : '',
    sequences: sorted.map((r) => String(r.seq)),
    approximateArrivalOfFirstRecord: first ? new Date(first.timestampMs).toISOString() : '',
    approximateArrivalOfLastRecord: last ? new Date(last.timestampMs).toISOString() : '',
    batchSize: sorted.length,
  };
  const withoutRecords = JSON.stringify(rec);
  if (input.event === undefined) return withoutRecords;
  const budget = input.maxBytes - Buffer.byteLength(withoutRecords) - 64;
  if (Buffer.byteLength(input.event) <= budget) return `${withoutRecords.slice(0, -1)},"requestPayload":${input.event}}`;
  rec.requestPayloadOmitted = `the records are over the ${input.maxBytes}-byte record limit: read them from stream ${input.stream} by sequence`;
  return JSON.stringify(rec);
}
