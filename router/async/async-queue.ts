import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { INVOCATION_TRIGGERS, type InvocationTrigger } from '../../sdk/core/invocation-record';
import { injectIntoNatsHeaders } from '../../sdk/platform/nats-trace-context';
import { viaNats } from '../../sdk/platform/nats-errors';
import { asyncConsumerName, asyncSubject, deadLetterSubject, HEADERS, STREAMS } from '../../sdk/platform/nats-layout';

/** Options for {@link AsyncQueue}. */
export interface AsyncQueueOptions {
  replicas: number;
  /** A caller's request id is deduplicated within this window. */
  duplicateWindowMs: number;
  /** How long a delivered event may go without an ack or progress signal before redelivery. */
  ackWaitMs: number;
  /** How long dead letters are kept. */
  deadLetterMaxAgeMs: number;
}

/** One event to enqueue. */
export interface AsyncEvent {
  functionName: string;
  qualifier: string;
  payload: Uint8Array;
  requestId: string;
  /** First acceptance time; kept across retries so the event's age is true. */
  enqueuedAtMs: number;
  /** Function-error attempts made so far. */
  attempt: number;
  notBeforeMs?: number;
  redrivenFrom?: number;
  /** Functions in the call chain the event's invocation will be, itself included. Default 1. */
  depth?: number;
  /** The entry point that accepted it (its trigger, schedule...); default a plain async invoke. */
  origin?: { trigger: InvocationTrigger; source: string };
}

/** The message headers of an async event, parsed. */
export interface AsyncEventHeaders {
  requestId: string;
  qualifier: string;
  enqueuedAtMs: number;
  attempt: number;
  notBeforeMs: number;
  depth: number;
  origin: { trigger: InvocationTrigger; source: string };
}

/** An event's origin header read back; anything unknown is a plain async invoke. */
function readOrigin(value: string | undefined): { trigger: InvocationTrigger; source: string } {
  if (!value) return { trigger: 'async', source: '' };
  const colon = value.indexOf(':');
  const trigger = colon < 0 ? value : value.slice(0, colon);
  const known = (INVOCATION_TRIGGERS as readonly string[]).includes(trigger);
  return known ? { trigger: trigger as InvocationTrigger, source: colon < 0 ? '' : value.slice(colon + 1) } : { trigger: 'async', source: '' };
}


/** Reads an async event's headers; missing values get safe defaults (a plain NATS publisher may omit them). */
export function readEventHeaders(h: MsgHdrs | undefined, fallbackRequestId: string, nowMs: number): AsyncEventHeaders {
  const num = (name: string, dflt: number): number => {
    const v = Number(h?.get(name));
    return Number.isFinite(v) && h?.has(name) ? v : dflt;
  };
  return {
    requestId: h?.get(HEADERS.requestId) || fallbackRequestId,
    qualifier: h?.get(HEADERS.qualifier) ?? '',
    enqueuedAtMs: num(HEADERS.enqueuedAt, nowMs),
    attempt: num(HEADERS.attempt, 0),
    notBeforeMs: num(HEADERS.notBefore, 0),
    depth: Math.max(1, num(HEADERS.chainDepth, 1)),
    origin: readOrigin(h?.get(HEADERS.origin) || undefined),
  };
}

/**
 * The durable queue of asynchronous invocations: a work-queue stream with one subject and one
 * durable consumer per function, so one function's backlog never delays another's.
 */
export class AsyncQueue {
  private readonly consumers = new Set<string>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: AsyncQueueOptions,
  ) {}

  /** Creates the async and dead-letter streams when missing. */
  async ensureStreams(): Promise<void> {
    await this.ensureStream(STREAMS.async, {
      subjects: ['stratus.async.>'],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: this.options.replicas,
      duplicate_window: this.options.duplicateWindowMs * 1_000_000,
      description: 'Stratus asynchronous invocations',
    });
    await this.ensureStream(STREAMS.deadLetters, {
      subjects: ['stratus.dlq.>'],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: this.options.replicas,
      max_age: this.options.deadLetterMaxAgeMs * 1_000_000,
      // Direct get lets any router page through one function's dead letters by subject.
      allow_direct: true,
      description: 'Stratus dead letters',
    });
  }

  /** Makes sure the function's durable consumer exists (idempotent; remembered once made). */
  async ensureConsumer(functionName: string): Promise<void> {
    const name = asyncConsumerName(functionName);
    if (this.consumers.has(name)) return;
    await viaNats(`creating the async consumer of '${functionName}'`, () =>
      this.jsm.consumers.add(STREAMS.async, {
        durable_name: name,
        filter_subject: asyncSubject(functionName),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: this.options.ackWaitMs * 1_000_000,
        max_deliver: -1,
        // Events waiting out a retry backoff count as pending: allow a large backlog of them.
        max_ack_pending: 100_000,
      }),
    );
    this.consumers.add(name);
  }

  /**
   * Publishes an event and waits for JetStream's acknowledgement: only then is it accepted.
   * The message id (function, request id and attempt) makes a repeated publish a no-op. The
   * duplicate window spans the whole stream, so the function is part of it: one request id
   * given to two functions must enqueue both.
   */
  async enqueue(event: AsyncEvent): Promise<{ duplicate: boolean; sequence: number }> {
    await this.ensureConsumer(event.functionName);
    const h = natsHeaders();
    h.set(HEADERS.requestId, event.requestId);
    h.set(HEADERS.functionName, event.functionName);
    if (event.qualifier) h.set(HEADERS.qualifier, event.qualifier);
    h.set(HEADERS.enqueuedAt, String(event.enqueuedAtMs));
    h.set(HEADERS.attempt, String(event.attempt));
    if (event.notBeforeMs) h.set(HEADERS.notBefore, String(event.notBeforeMs));
    if (event.depth !== undefined && event.depth > 1) h.set(HEADERS.chainDepth, String(event.depth));
    if (event.redrivenFrom !== undefined) h.set(HEADERS.redrivenFrom, String(event.redrivenFrom));
    if (event.origin && event.origin.trigger !== 'async') h.set(HEADERS.origin, event.origin.source ? `${event.origin.trigger}:${event.origin.source}` : event.origin.trigger);
    injectIntoNatsHeaders(h);
    const ack = await viaNats(`enqueueing an event for '${event.functionName}'`, () =>
      this.js.publish(asyncSubject(event.functionName), event.payload, { headers: h, msgID: `${event.functionName}:${event.requestId}#${event.attempt}` }),
    );
    return { duplicate: ack.duplicate, sequence: ack.seq };
  }

  /**
   * Stores a dead letter (an invocation record) and waits for JetStream's acknowledgement.
   * `payloadFormat` (from payloadFormat()) lets a redrive rebuild the event's exact bytes.
   */
  async deadLetter(functionName: string, record: Uint8Array, requestId: string, condition: string, payloadFormat?: 'json' | 'text'): Promise<void> {
    const h = natsHeaders();
    h.set(HEADERS.requestId, requestId);
    h.set(HEADERS.functionName, functionName);
    h.set(HEADERS.condition, condition);
    if (payloadFormat) h.set(HEADERS.payloadFormat, payloadFormat);
    await viaNats(`storing a dead letter for '${functionName}'`, () => this.js.publish(deadLetterSubject(functionName), record, { headers: h }));
  }

  private async ensureStream(name: string, config: Omit<Parameters<JetStreamManager['streams']['add']>[0], 'name'>): Promise<void> {
    try {
      await this.jsm.streams.info(name);
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    }
    await this.jsm.streams.add({ ...config, name } as Parameters<JetStreamManager['streams']['add']>[0]);
  }
}
