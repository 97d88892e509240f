import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import type { JetStreamClient } from '@nats-io/jetstream';
import { injectIntoNatsHeaders } from '../../sdk/platform/nats-trace-context';
import { StratusError } from '../../sdk/core/errors';
import { viaNats } from '../../sdk/platform/nats-errors';
import { LIMITS } from '../../sdk/core/limits';
import { STREAMS } from '../../sdk/platform/nats-layout';
import { isLiteralSubject, subjectMatches, validateTriggerPattern } from './subject-patterns';

/** One event to publish. */
export interface PublishInput {
  subject: string;
  payload: Uint8Array;
  /** Sets Nats-Msg-Id, so the events stream captures a repeat within its window once. */
  msgId: string;
  headers: Record<string, string>;
}

/** What happened to a published event. */
export interface PublishOutcome {
  captured: boolean;
  sequence: number;
  duplicate: boolean;
}

const MSG_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
const HEADER_NAME = /^[!-9;-~]{1,128}$/;
const MAX_HEADERS = 32;

/** Validates a publish request; the subject rules are the trigger pattern rules, without wildcards. */
export function validatePublish(input: PublishInput): void {
  if (!isLiteralSubject(input.subject)) {
    throw new StratusError('InvalidRequest', `'${input.subject}' is not a subject to publish to: use dot-separated tokens without wildcards (e.g. orders.created)`);
  }
  validateTriggerPattern(input.subject);
  if (input.payload.length > LIMITS.maxAsyncPayloadBytes) {
    throw new StratusError('PayloadTooLarge', `the event is ${input.payload.length} bytes, over the ${LIMITS.maxAsyncPayloadBytes}-byte limit: publish a reference to the data instead`);
  }
  if (input.msgId && !MSG_ID_PATTERN.test(input.msgId)) throw new StratusError('InvalidRequest', `msg id '${input.msgId}': use 1-128 letters, digits, '-', '_', '.' or ':'`);
  const names = Object.keys(input.headers);
  if (names.length > MAX_HEADERS) throw new StratusError('InvalidRequest', `${names.length} headers: send at most ${MAX_HEADERS}`);
  for (const [k, v] of Object.entries(input.headers)) {
    if (!HEADER_NAME.test(k)) throw new StratusError('InvalidRequest', `header name '${k}': use printable ASCII without spaces or ':'`);
    if (/[\r\n]/.test(v)) throw new StratusError('InvalidRequest', `header '${k}': values cannot contain line breaks`);
  }
}

/**
 * Publishes events on behalf of API callers. A subject some trigger subscribes to goes through
 * JetStream, so the caller learns the event was captured (and its Nats-Msg-Id deduplicated);
 * any other subject gets a plain NATS publish, as from any NATS client (which a stream the user
 * made still captures).
 */
export class EventPublisher {
  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    /** Patterns of the triggers this router knows (its mirror). */
    private readonly triggerPatterns: () => string[],
  ) {}

  /** Publishes one event. */
  async publish(input: PublishInput): Promise<PublishOutcome> {
    validatePublish(input);
    const h = natsHeaders();
    for (const [k, v] of Object.entries(input.headers)) h.set(k, v);
    injectIntoNatsHeaders(h);
    if (this.triggerPatterns().some((p) => subjectMatches(p, input.subject))) {
      const ack = await viaNats(`publishing to ${input.subject}`, () => this.js.publish(input.subject, input.payload, { headers: h, msgID: input.msgId || undefined }));
      const captured = ack.stream === STREAMS.events;
      return { captured, sequence: captured ? ack.seq : 0, duplicate: ack.duplicate };
    }
    if (input.msgId) h.set('Nats-Msg-Id', input.msgId);
    this.nc.publish(input.subject, input.payload, { headers: h });
    await viaNats(`publishing to ${input.subject}`, () => this.nc.flush());
    return { captured: false, sequence: 0, duplicate: false };
  }
}
