// What server and clients both say about a dead letter (router/async/dead-letters.ts, sdk/client/types.ts).

/** The fields of a dead letter that read the same on both sides; each side adds its time and record forms. */
export interface DeadLetterFields {
  /** Its id in the dead-letter stream. */
  sequence: number;
  functionName: string;
  requestId: string;
  /** "RetriesExhausted", "EventAgeExceeded", "FunctionNotFound", "ConcurrencyZero". */
  condition: string;
  approximateInvokeCount: number;
  errorType: string;
  errorMessage: string;
}
