/** Why an asynchronous invocation ended. */
export type RecordCondition = 'Success' | 'RetriesExhausted' | 'EventAgeExceeded' | 'FunctionNotFound' | 'ConcurrencyZero' | 'PayloadTooLarge' | 'RecursiveInvocation' | 'AccessDenied';

/** What is known of one async invocation's last attempt. */
export interface RecordInput {
  requestId: string;
  functionArn: string;
  condition: RecordCondition;
  approximateInvokeCount: number;
  requestPayload: Buffer;
  executedVersion?: string;
  /** The function's response bytes, or its error object. */
  responsePayload?: Buffer;
  /** "Unhandled" when the function failed. */
  functionError?: string;
  /** A platform error, when the function never ran (throttles past the event age, function gone). */
  platformError?: { errorType: string; errorMessage: string };
  now?: Date;
}

function jsonOrText(bytes: Buffer | undefined): unknown {
  if (bytes === undefined || bytes.length === 0) return null;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return bytes.toString('utf8');
  }
}

/**
 * How a record holds `bytes` as requestPayload: "json" when parsed as JSON, "text" when kept as the
 * text itself. A redrive needs it: the string "x" may have been the JSON `"x"` or the text `x`.
 */
export function payloadFormat(bytes: Buffer): 'json' | 'text' {
  if (bytes.length === 0) return 'text';
  try {
    JSON.parse(bytes.toString('utf8'));
    return 'json';
  } catch {
    return 'text';
  }
}

/** Lambda's invocation record (reference: async-and-event-sources.md §2), sent to destinations and dead letters. */
export function invocationRecord(r: RecordInput): Record<string, unknown> {
  const responseContext: Record<string, unknown> = { statusCode: r.platformError ? 500 : 200, executedVersion: r.executedVersion ?? '$LATEST' };
  if (r.functionError) responseContext.functionError = r.functionError;
  return {
    version: '1.0',
    timestamp: (r.now ?? new Date()).toISOString(),
    requestContext: {
      requestId: r.requestId,
      functionArn: r.functionArn,
      condition: r.condition,
      approximateInvokeCount: r.approximateInvokeCount,
    },
    requestPayload: jsonOrText(r.requestPayload),
    responseContext,
    responsePayload: r.platformError ? r.platformError : jsonOrText(r.responsePayload),
  };
}
