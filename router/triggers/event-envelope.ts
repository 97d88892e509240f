/**
 * The event a subject trigger hands its function: a plain JSON object, so handlers written for
 * Lambda read it without Stratus libraries.
 *
 *   {
 *     "subject": "orders.created",        the subject the event was published on
 *     "data": {"id": 7},                  the payload: JSON when it parses as JSON (UTF-8),
 *                                         null when empty, else a base64 string and ...
 *     "dataEncoding": "base64",           ... this field (absent for JSON and empty payloads)
 *     "headers": {"Nats-Msg-Id": "a1"},   NATS headers; several values of one name joined by ","
 *     "publishedAt": "2025-01-01T12:00:00.123Z",  when the events stream captured it
 *     "sequence": 42,                     its sequence in the events stream
 *     "trigger": "5f0c2a9d31e4"           the id of the trigger that matched
 *   }
 */

/** The envelope, as serialised to the function. */
export interface EventEnvelope {
  subject: string;
  data: unknown;
  dataEncoding?: 'base64';
  headers: Record<string, string>;
  publishedAt: string;
  sequence: number;
  trigger: string;
}

/** What is known of one captured event. */
export interface CapturedEvent {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  publishedAtMs: number;
  sequence: number;
}

/** The envelope plus what filters need: the decoded data and whether it was JSON. */
export interface BuiltEnvelope {
  envelope: EventEnvelope;
  isJson: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(bytes: Uint8Array): { value: unknown; isJson: boolean } {
  if (bytes.length === 0) return { value: null, isJson: false };
  try {
    return { value: JSON.parse(utf8.decode(bytes)), isJson: true };
  } catch {
    return { value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), isJson: false };
  }
}

/** Builds the envelope of `event` for trigger `triggerId`. */
export function buildEnvelope(event: CapturedEvent, triggerId: string): BuiltEnvelope {
  const { value, isJson } = decode(event.data);
  const envelope: EventEnvelope = {
    subject: event.subject,
    data: value,
    headers: event.headers,
    publishedAt: new Date(event.publishedAtMs).toISOString(),
    sequence: event.sequence,
    trigger: triggerId,
  };
  if (!isJson && event.data.length > 0) envelope.dataEncoding = 'base64';
  return { envelope, isJson };
}

/**
 * The request id of the invocation an event becomes. Deterministic, so a router that crashed
 * after enqueueing but before acknowledging is followed by an enqueue JetStream deduplicates.
 */
export function eventRequestId(triggerId: string, sequence: number): string {
  return `evt-${triggerId}-${sequence}`;
}
