import type { MsgHdrs } from '@nats-io/nats-core';
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { context, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { extractFromNatsHeaders } from '../../sdk/platform/nats-trace-context';
import { backoffMs } from '../../sdk/core/deadline';
import { toStratusError } from '../../sdk/core/errors';
import { functionArn } from '../../sdk/core/function-config';
import { LIMITS } from '../../sdk/core/limits';
import type { Logger } from '../../sdk/platform/logger';
import { HEADERS, STREAMS, triggerConsumerName } from '../../sdk/platform/nats-layout';
import { tenantOf, type SourcePrincipal } from '../../sdk/core/identity';
import type { AccessControl } from '../auth/access-control';
import type { AsyncMetrics } from '../async/async-metrics';
import type { AsyncQueue } from '../async/async-queue';
import { deadLetterUnrun } from '../async/unrun-event';
import type { FunctionCache } from '../functions/function-cache';
import type { KvMirror } from '../../sdk/platform/kv-mirror';
import { buildEnvelope, eventRequestId } from './event-envelope';
import { matchesFilter } from './event-filter';
import type { EventStream } from './event-stream';
import type { TriggerManager } from './trigger-manager';
import type { TriggerRecord } from './trigger-registry';

/** Options for {@link TriggerDispatcher}. */
export interface TriggerDispatcherOptions {
  /** Most events one fetch takes for one trigger; they are enqueued concurrently. */
  fetchBatch: number;
  /** Long-poll length of one fetch. */
  fetchExpiresMs: number;
  /** How often this router repairs the stream's subjects and the consumers. */
  reconcileIntervalMs: number;
  /** First delay after a failed enqueue or fetch; doubles up to retryCapMs (full jitter). */
  retryBaseMs: number;
  retryCapMs: number;
  region: string;
  accountId: string;
}

/** Dependencies; main.ts wires them. */
export interface TriggerDispatcherDeps {
  js: JetStreamClient;
  stream: EventStream;
  manager: TriggerManager;
  triggers: KvMirror<TriggerRecord>;
  queue: AsyncQueue;
  cache: FunctionCache;
  /** Starts pulling a function's async events on this router. */
  watchAsync: (functionName: string) => void;
  metrics: AsyncMetrics;
  /** Whether a trigger's tenant may still invoke its function (decided per event from memory). */
  access: Pick<AccessControl, 'checkNow'>;
  tracer: Tracer;
  logger: Logger;
}

/** Events this router handled, by outcome (for logs and tests of the counters). */
export interface TriggerCounters {
  enqueued: number;
  duplicates: number;
  /** Events a trigger's filter did not pass. */
  filtered: number;
  /** Events for a function that no longer exists; dropped. */
  noFunction: number;
  /** Events whose envelope was over the async event limit; dead-lettered. */
  tooLarge: number;
  /** Events the function's policy did not let the trigger's tenant deliver; dead-lettered as AccessDenied. */
  denied: number;
  /** Enqueue failures; the event is redelivered later. */
  failed: number;
}

function headerRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of h?.keys() ?? []) out[k] = h?.values(k).join(',') ?? '';
  return out;
}

/**
 * Turns captured events into asynchronous invocations: one pull loop per trigger on every
 * router (competing consumers, so any router can die). Each event is enqueued with a request id
 * derived from the trigger and the stream sequence, then acknowledged; a redelivery after a
 * crash in between enqueues the same id, which JetStream deduplicates.
 */
export class TriggerDispatcher {
  private readonly loops = new Map<string, Promise<void>>();
  private readonly fetches = new Set<{ stop(): void }>();
  private readonly abort = new AbortController();
  private readonly warnedMissing = new Set<string>();
  private reconcileTimer: NodeJS.Timeout | undefined;
  private running = false;
  readonly counters: TriggerCounters = { enqueued: 0, duplicates: 0, filtered: 0, noFunction: 0, tooLarge: 0, denied: 0, failed: 0 };

  constructor(
    private readonly deps: TriggerDispatcherDeps,
    private readonly options: TriggerDispatcherOptions,
  ) {}

  /** Starts pulling for every known trigger and repairing stream and consumers periodically. */
  start(): void {
    this.running = true;
    const reconcile = (): void =>
      void this.deps.manager.reconcile().catch((err: unknown) => this.deps.logger.warn('trigger reconcile failed; retrying later', { err: toStratusError(err) }));
    reconcile();
    this.reconcileTimer = setInterval(reconcile, this.options.reconcileIntervalMs);
    this.reconcileTimer.unref();
    for (const t of this.deps.triggers.values()) this.changed(t.id);
  }

  /** Called by the trigger mirror on every change: starts a loop for a new trigger (a deleted one's loop ends by itself). */
  changed(id: string): void {
    if (!this.running || this.loops.has(id) || !this.deps.triggers.get(id)) return;
    const loop = this.pull(id).catch((err: unknown) => this.deps.logger.error('trigger loop stopped', { trigger: id, err: toStratusError(err) }));
    this.loops.set(
      id,
      loop.finally(() => {
        this.loops.delete(id);
        // It may have ended during a watch restart while the trigger still exists: look again
        // shortly (not at once, so a loop that keeps failing cannot spin).
        if (this.running) setTimeout(() => this.changed(id), this.options.retryBaseMs).unref();
      }),
    );
  }

  /** Stops pulling and waits (up to `graceMs`) for events being enqueued; unacknowledged ones are redelivered. */
  async stop(graceMs: number): Promise<void> {
    this.running = false;
    clearInterval(this.reconcileTimer);
    this.abort.abort();
    for (const f of this.fetches) f.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.loops.values()]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  private active(id: string): TriggerRecord | undefined {
    return this.running ? this.deps.triggers.get(id) : undefined;
  }

  private async pull(id: string): Promise<void> {
    let failures = 0;
    while (this.active(id)) {
      try {
        const consumer = await this.deps.js.consumers.get(STREAMS.events, triggerConsumerName(id));
        while (this.active(id)) {
          const batch = await consumer.fetch({ max_messages: this.options.fetchBatch, expires: this.options.fetchExpiresMs });
          this.fetches.add(batch);
          try {
            const handling: Array<Promise<void>> = [];
            for await (const msg of batch) handling.push(this.handle(id, msg));
            await Promise.all(handling);
          } finally {
            this.fetches.delete(batch);
          }
          failures = 0;
        }
      } catch (err) {
        const record = this.active(id);
        if (!record) return;
        failures += 1;
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) {
          // Its router died between storing the trigger and making the consumer: make it here.
          await this.deps.stream.ensureConsumer(record).catch(() => undefined);
        } else {
          this.deps.logger.warn('trigger fetch failed; retrying', { trigger: id, err: toStratusError(err) });
        }
        await this.pause(this.options.retryBaseMs + backoffMs(failures, this.options.retryBaseMs, this.options.retryCapMs));
      }
    }
  }

  private pause(ms: number): Promise<void> {
    const { signal } = this.abort;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async handle(id: string, msg: JsMsg): Promise<void> {
    const trigger = this.deps.triggers.get(id);
    if (!trigger) return; // deleted meanwhile: its consumer goes with it
    const parent = extractFromNatsHeaders(msg.headers);
    await context.with(parent, () =>
      this.deps.tracer.startActiveSpan('stratus.trigger.dispatch', { kind: SpanKind.CONSUMER }, async (span) => {
        span.setAttribute('messaging.destination.name', msg.subject);
        span.setAttribute('faas.name', trigger.functionName);
        try {
          await this.enqueue(trigger, msg);
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          this.counters.failed += 1;
          this.deps.logger.warn('trigger event not enqueued; it will be redelivered', { trigger: id, seq: msg.seq, err: toStratusError(err) });
          msg.nak(this.options.retryBaseMs + backoffMs(msg.info.deliveryCount, this.options.retryBaseMs, this.options.retryCapMs));
        } finally {
          span.end();
        }
      }),
    );
  }

  private async enqueue(trigger: TriggerRecord, msg: JsMsg): Promise<void> {
    const { envelope, isJson } = buildEnvelope(
      { subject: msg.subject, data: msg.data, headers: headerRecord(msg.headers), publishedAtMs: Number(msg.timestampNanos / 1_000_000n), sequence: msg.seq },
      trigger.id,
    );
    if (!matchesFilter(trigger.filter, envelope.data, isJson)) {
      this.counters.filtered += 1;
      msg.ack();
      return;
    }
    const fn = trigger.functionName;
    const target = await this.deps.cache.get(fn);
    if (!target) {
      this.counters.noFunction += 1;
      if (!this.warnedMissing.has(trigger.id) && this.warnedMissing.size < 10_000) {
        this.warnedMissing.add(trigger.id);
        this.deps.logger.warn('trigger function does not exist; dropping its events until it is deployed again or the trigger is deleted', { trigger: trigger.id, fn });
      }
      msg.ack();
      return;
    }
    const requestId = eventRequestId(trigger.id, msg.seq);
    const payload = Buffer.from(JSON.stringify(envelope));
    if (payload.length > LIMITS.maxAsyncPayloadBytes) {
      // It can never be enqueued: keep a record of it where the function's failures go.
      this.counters.tooLarge += 1;
      await deadLetterUnrun(this.deps, {
        functionName: fn,
        functionArn: functionArn(this.options.region, this.options.accountId, fn),
        requestId,
        condition: 'PayloadTooLarge',
        requestPayload: Buffer.from(JSON.stringify({ ...envelope, data: null, dataEncoding: undefined })),
        errorMessage: `the event's envelope is ${payload.length} bytes, over the ${LIMITS.maxAsyncPayloadBytes}-byte limit of asynchronous events: publish a reference to the data instead`,
      });
      await msg.ackAck();
      return;
    }
    // The publisher's own depth when a function published the event through the API; none from plain NATS clients.
    const depth = Math.max(0, Number(msg.headers?.get(HEADERS.chainDepth)) || 0) + 1;
    const source: SourcePrincipal = { kind: 'source', source: 'subject', name: msg.subject, tenant: tenantOf(trigger), depth };
    const decision = this.deps.access.checkNow(source, 'function:invoke', { kind: 'function', name: fn, tenant: tenantOf(target) });
    if (!decision.allowed) {
      // The function's owner does not (or no longer) let this trigger invoke it: the event is kept where the function's failures go.
      this.counters.denied += 1;
      await deadLetterUnrun(this.deps, {
        functionName: fn,
        functionArn: functionArn(this.options.region, this.options.accountId, fn),
        requestId,
        condition: 'AccessDenied',
        requestPayload: payload,
        errorMessage: `${decision.reason}: ${decision.fix}`,
      });
      await msg.ackAck();
      return;
    }
    const { duplicate } = await this.deps.queue.enqueue({ functionName: fn, qualifier: trigger.qualifier ?? '', payload, requestId, enqueuedAtMs: Date.now(), attempt: 0, depth, origin: { trigger: 'trigger', source: trigger.id } });
    this.counters[duplicate ? 'duplicates' : 'enqueued'] += 1;
    this.deps.metrics.count(fn, duplicate ? 'duplicates' : 'accepted');
    this.deps.watchAsync(fn);
    msg.ack();
  }
}
