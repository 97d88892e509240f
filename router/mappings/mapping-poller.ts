import { randomUUID } from 'node:crypto';
import type { Consumer, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/nats-core';
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Link, type Tracer } from '@opentelemetry/api';
import { sleep } from '../../sdk/core/deadline';
import { toStratusError } from '../../sdk/core/errors';
import type { Logger } from '../../sdk/core/logger';
import type { MappingRecord } from '../../sdk/core/mapping-config';
import type { BatchInvocation, BatchInvoker } from './batch-invoker';
import { backoffDelayMs, decideAfterInvoke, splitExpired, type BackoffSettings } from './batch-policy';
import type { Checkpoints } from './checkpoint';
import { failureRecord, type FailureCondition, type LastInvocation } from './failure-record';
import type { FailureSink } from './failure-sink';
import { KeyScheduler, type BatchGroup, type SchedulableRecord } from './key-scheduler';
import type { MappingMetrics } from './mapping-metrics';
import type { RecordDecoder } from './record-source';
import { BATCH_ENVELOPE_BYTES, batchEvent, type RawRecord } from './stream-records';

/** What a poller needs; the supervisor builds it per mapping. */
export interface PollerDeps {
  js: JetStreamClient;
  checkpoints: Checkpoints;
  invoker: BatchInvoker;
  failures: FailureSink;
  decode: RecordDecoder;
  metrics: MappingMetrics;
  tracer: Tracer;
  logger: Logger;
  /** False once this router can no longer trust its lease: nothing new may start. */
  leaseValid: () => boolean;
  /** Whether the mapping is still stored (read before a missing checkpoint is created again). */
  mappingExists: () => Promise<boolean>;
}

/** Options of one poller (resolved by the supervisor). */
export interface PollerOptions {
  stream: string;
  subjectFilter: string;
  functionArn: string;
  eventSourceArn: string;
  fetchExpiresMs: number;
  maxBufferedRecords: number;
  maxBufferedBytes: number;
  /** Largest failure record a destination takes. */
  maxFailureRecordBytes: number;
  backoff: BackoffSettings;
}

/** A record the poller holds until it is done. */
interface HeldRecord extends SchedulableRecord {
  msg: JsMsg;
  json: string;
  timestampMs: number;
}

/** What a batch carries from one attempt to the next. */
interface GroupMeta {
  invocations: number;
  last?: LastInvocation;
  /** Retries ran out but storing the failure record failed: give up again without invoking. */
  exhausted?: boolean;
}

type Group = BatchGroup<HeldRecord, GroupMeta>;

/** A poller's lifecycle: taking over the checkpoint, polling, stopping, stopped. */
type PollerState = 'starting' | 'running' | 'stopping' | 'stopped';

const headerGetter = {
  keys: (h: MsgHdrs | undefined) => (h ? h.keys() : []),
  get: (h: MsgHdrs | undefined, key: string) => h?.get(key) || undefined,
};

function headersOf(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of h?.keys() ?? []) out[k] = h?.values(k).join(',') ?? '';
  return out;
}

function consumerGone(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.ConsumerNotFound || err.code === JetStreamApiCodes.StreamNotFound);
}

/**
 * Polls one mapping while this router holds its lease: takes the checkpoint over (a new consumer
 * epoch from the ack floor), fetches records as room allows, batches them per key with the
 * KeyScheduler, invokes the function, and acknowledges each record only once its batch succeeded
 * or it went to the on-failure destination. See checkpoint.ts for why a crash skips nothing.
 */
export class MappingPoller {
  /** The last processing result, shown by GetMapping ("OK" or what is wrong and what to do). */
  status = 'Starting';
  private state: PollerState = 'starting';
  private scheduler: KeyScheduler<HeldRecord, GroupMeta>;
  /** Records held by sequence, so that redeliveries of them are ignored. */
  private readonly held = new Map<number, HeldRecord>();
  private maxSeq = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private fetch: { stop(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private roomWaiter: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly slots: number;
  private readonly ordered: boolean;

  constructor(
    readonly mapping: MappingRecord,
    private readonly deps: PollerDeps,
    private readonly options: PollerOptions,
  ) {
    const s = mapping.settings;
    this.slots = Math.min(s.parallelizationFactor, s.maximumConcurrency ?? Infinity);
    this.ordered = mapping.source.kind !== 'stream' || s.orderingKey.kind !== 'none';
    this.scheduler = this.newScheduler();
  }

  /** Starts polling; idempotent. */
  start(): void {
    this.loop ??= this.run().catch((err: unknown) => this.deps.logger.error('mapping poller stopped', { mapping: this.mapping.id, err: toStratusError(err) }));
  }

  /** Stops fetching and starting batches, and waits up to `graceMs` for running ones. Runs once. */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= (async () => {
      this.halt('stopping');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.running]), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      await this.loop;
      this.state = 'stopped';
    })();
    return this.stopping;
  }

  /** Stops at once: the lease was lost, so another router may poll already. Running batches are left to end; their outcome no longer matters. */
  kill(): void {
    this.halt('stopped');
  }

  /** Whether the poller still runs. */
  get active(): boolean {
    return this.state === 'starting' || this.state === 'running';
  }

  private halt(next: PollerState): void {
    this.state = next;
    this.abort.abort();
    this.fetch?.stop();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.roomWaiter?.();
  }

  private newScheduler(): KeyScheduler<HeldRecord, GroupMeta> {
    const s = this.mapping.settings;
    return new KeyScheduler<HeldRecord, GroupMeta>({ batchSize: s.batchSize, maxBatchBytes: s.maximumBatchBytes, windowMs: s.maximumBatchingWindowMs, envelopeBytes: BATCH_ENVELOPE_BYTES });
  }

  private async run(): Promise<void> {
    const m = this.mapping;
    let failures = 0;
    while (this.active) {
      try {
        const t = await this.deps.checkpoints.takeOver(m.id, this.options.stream, this.options.subjectFilter, `Stratus mapping ${m.id} of ${m.functionName}`, this.deps.mappingExists);
        if (!this.active) return;
        this.state = 'running';
        this.status = t.recreated ? `PROBLEM: the checkpoint was missing (deleted outside Stratus?); reading again from the oldest record kept` : 'OK';
        this.deps.logger.info('mapping polling', { mapping: m.id, consumer: t.consumer, from: t.startSeq });
        failures = 0;
        await this.consume(t.consumer);
      } catch (err) {
        if (!this.active) return;
        const e = toStratusError(err);
        this.status = `PROBLEM: ${e.message}`;
        this.deps.logger.warn('mapping poller failed; starting over from the checkpoint', { mapping: m.id, err: e });
        failures += 1;
        await this.quiesce();
        await sleep(backoffDelayMs(failures, 1000, 30_000), this.abort.signal).catch(() => undefined);
      }
    }
  }

  /** After a failure: lets running batches end, then forgets everything held; the next epoch reads it again. */
  private async quiesce(): Promise<void> {
    await Promise.allSettled([...this.running]);
    this.scheduler = this.newScheduler();
    this.held.clear();
    this.maxSeq = 0;
    if (this.state === 'running') this.state = 'starting';
  }

  /** Fetches while running; returns when stopped, throws when the consumer is gone or keeps failing. */
  private async consume(name: string): Promise<void> {
    let consumer: Consumer = await this.deps.js.consumers.get(this.options.stream, name);
    let errors = 0;
    while (this.state === 'running') {
      const room = this.room();
      if (room <= 0) {
        await new Promise<void>((resolve) => (this.roomWaiter = resolve));
        this.roomWaiter = undefined;
        continue;
      }
      try {
        const batch = await consumer.fetch({ max_messages: Math.min(room, 10_000), expires: this.options.fetchExpiresMs });
        this.fetch = batch;
        try {
          for await (const msg of batch) await this.onMessage(msg);
        } finally {
          this.fetch = undefined;
        }
        errors = 0;
      } catch (err) {
        if (this.state !== 'running') return;
        errors += 1;
        if (consumerGone(err) || errors > 10) throw err;
        this.deps.logger.debug('mapping fetch failed; fetching again', { mapping: this.mapping.id, err: toStratusError(err) });
        await sleep(backoffDelayMs(errors, 200, 5000), this.abort.signal).catch(() => undefined);
        consumer = await this.deps.js.consumers.get(this.options.stream, name);
      }
    }
  }

  private room(): number {
    const batch = this.mapping.settings.batchSize;
    const maxRecords = Math.max(this.options.maxBufferedRecords, batch);
    if (this.scheduler.bufferedBytes >= Math.max(this.options.maxBufferedBytes, this.mapping.settings.maximumBatchBytes)) return 0;
    return maxRecords - this.scheduler.buffered;
  }

  private async onMessage(msg: JsMsg): Promise<void> {
    const seq = msg.seq;
    // A redelivery (after the ack wait) of a record still being worked on.
    if (this.held.has(seq)) return;
    // Done before, but its acknowledgement was lost: acknowledge it again.
    if (seq <= this.maxSeq) {
      msg.ack();
      return;
    }
    this.maxSeq = seq;
    const raw: RawRecord = { stream: this.options.stream, subject: msg.subject, seq, data: msg.data, headers: headersOf(msg.headers), timestampMs: Math.floor(msg.info.timestampNanos / 1e6) };
    let decoded: Awaited<ReturnType<RecordDecoder>>;
    for (let attempt = 1; ; attempt += 1) {
      try {
        decoded = await this.deps.decode(raw);
        break;
      } catch (err) {
        // Reading a table's previous value failed: NATS trouble; the record waits, it is never skipped.
        if (!this.active) return;
        this.status = `PROBLEM: reading record ${seq} failed: ${toStratusError(err).message}`;
        await sleep(backoffDelayMs(attempt, 200, 10_000), this.abort.signal).catch(() => undefined);
      }
    }
    if (!decoded) {
      this.deps.logger.warn('mapping: a message that is no record was acknowledged without invoking', { mapping: this.mapping.id, seq, subject: msg.subject });
      msg.ack();
      return;
    }
    const rec: HeldRecord = {
      seq,
      key: this.ordered ? (decoded.key ?? '') : `#${seq}`,
      bytes: Buffer.byteLength(decoded.json),
      arrivedAtMs: Date.now(),
      msg,
      json: decoded.json,
      timestampMs: raw.timestampMs,
    };
    this.held.set(seq, rec);
    this.scheduler.add(rec);
    this.pump();
  }

  /** Starts whatever can start in the free slots; sets a timer for what must wait. */
  private pump(): void {
    while (this.state === 'running' && this.running.size < this.slots) {
      const d = this.scheduler.next(Date.now());
      if (d.kind === 'idle') return;
      if (d.kind === 'wait') {
        this.wakeAt(d.untilMs);
        return;
      }
      const p: Promise<void> = this.runGroup(d.group)
        .catch((err: unknown) => this.deps.logger.error('mapping batch failed unexpectedly', { mapping: this.mapping.id, err: toStratusError(err) }))
        .finally(() => {
          this.running.delete(p);
          this.pump();
          if (this.room() > 0) this.roomWaiter?.();
        });
      this.running.add(p);
    }
  }

  private wakeAt(atMs: number): void {
    if (this.timer && this.timerAt <= atMs) return;
    clearTimeout(this.timer);
    this.timerAt = atMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, atMs - Date.now()));
    this.timer.unref();
  }

  private async runGroup(group: Group): Promise<void> {
    const settings = this.mapping.settings;
    let meta: GroupMeta = group.meta ?? { invocations: 0 };
    const finished = new Set<number>();
    const ack = (records: HeldRecord[]): void => {
      for (const r of records) {
        r.msg.ack();
        this.held.delete(r.seq);
        finished.add(r.seq);
      }
    };
    if (!this.deps.leaseValid()) {
      // The lease could not be renewed in time: another router may take over at any moment.
      this.kill();
      return;
    }
    try {
      const { expired, fresh } = splitExpired(group.records, settings.maximumRecordAgeSeconds, Date.now());
      if (expired.length > 0) ack(await this.giveUp(expired, 'MaximumRecordAgeExceeded', meta));
      if (fresh.length > 0 && meta.exhausted) ack(await this.giveUp(fresh, 'RetryAttemptsExhausted', meta));
      if (fresh.length === 0 || meta.exhausted) {
        this.scheduler.settle(group);
        return;
      }
      const run = await this.invoke(fresh);
      if (run.outcome.kind === 'throttled') this.deps.metrics.count(this.mapping.id, this.mapping.functionName, 'throttles');
      else if (!(run.outcome.kind === 'returned' && run.outcome.items.kind === 'success')) this.deps.metrics.count(this.mapping.id, this.mapping.functionName, 'functionErrors');
      this.status = run.summary;
      meta = {
        invocations: meta.invocations + (run.outcome.kind === 'throttled' ? 0 : 1),
        last: { requestId: run.requestId, invocations: 0, functionError: run.functionError, response: run.response, platformError: run.platformError },
      };
      const decision = decideAfterInvoke({ records: fresh, attempts: group.attempts, throttles: group.throttles, meta }, run.outcome, settings, this.options.backoff, Date.now());
      ack(decision.done);
      this.deps.metrics.count(this.mapping.id, this.mapping.functionName, 'recordsSucceeded', decision.done.length);
      if (decision.exhausted.length > 0) {
        meta.exhausted = true;
        ack(await this.giveUp(decision.exhausted, 'RetryAttemptsExhausted', meta));
      }
      this.scheduler.settle(group, decision.retry);
    } catch (err) {
      // Storing a failure record failed: keep the records and try again later; nothing is acknowledged.
      const e = toStratusError(err);
      this.status = `PROBLEM: ${e.message}`;
      this.deps.logger.warn('mapping could not store a failure record; retrying', { mapping: this.mapping.id, err: e });
      const left = group.records.filter((r) => !finished.has(r.seq));
      const delay = backoffDelayMs(group.throttles, this.options.backoff.throttleBaseMs, this.options.backoff.throttleCapMs);
      this.scheduler.settle(group, [{ records: left, attempts: group.attempts, throttles: group.throttles + 1, notBeforeMs: Date.now() + delay, meta }]);
    }
  }

  private invoke(records: HeldRecord[]): Promise<BatchInvocation> {
    const m = this.mapping;
    const links: Link[] = [];
    for (const r of records.slice(0, 128)) {
      const sc = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, r.msg.headers, headerGetter));
      if (sc) links.push({ context: sc });
    }
    const newest = records.reduce((t, r) => Math.max(t, r.timestampMs), 0);
    this.deps.metrics.count(m.id, m.functionName, 'batches');
    this.deps.metrics.iteratorAge(m.id, m.functionName, Date.now() - newest);
    return this.deps.tracer.startActiveSpan('stratus.mapping.batch', { kind: SpanKind.CONSUMER, links, attributes: { 'faas.name': m.functionName, 'stratus.mapping.id': m.id, 'messaging.batch.message_count': records.length } }, async (span) => {
      try {
        const run = await this.deps.invoker.invoke(m.functionName, Buffer.from(batchEvent(records.map((r) => r.json))), records.map((r) => r.seq), m.settings.reportBatchItemFailures);
        span.setAttribute('faas.invocation_id', run.requestId);
        if (run.summary !== 'OK') span.setStatus({ code: SpanStatusCode.ERROR, message: run.summary });
        return run;
      } finally {
        span.end();
      }
    });
  }

  /** Sends records to the on-failure destination (or dead letters); resolves once stored, with the records to acknowledge. */
  private async giveUp(records: HeldRecord[], condition: FailureCondition, meta: GroupMeta): Promise<HeldRecord[]> {
    const m = this.mapping;
    const last: LastInvocation = { ...(meta.last ?? { requestId: randomUUID() }), invocations: meta.invocations };
    const where = await this.deps.failures.deliver({
      functionName: m.functionName,
      onFailure: m.settings.onFailure,
      includeRecords: m.settings.includeRecordsInFailures,
      requestId: last.requestId,
      condition,
      build: (withRecords) =>
        failureRecord({
          condition,
          functionArn: this.options.functionArn,
          last,
          mappingId: m.id,
          stream: this.options.stream,
          subjectFilter: this.options.subjectFilter,
          eventSourceArn: this.options.eventSourceArn,
          records,
          event: withRecords ? batchEvent(records.map((r) => r.json)) : undefined,
          maxBytes: this.options.maxFailureRecordBytes,
        }),
    });
    this.deps.metrics.count(m.id, m.functionName, 'recordsFailed', records.length);
    if (where === 'deadLetter') this.deps.metrics.count(m.id, m.functionName, 'deadLettered');
    this.deps.logger.info('mapping gave records up', { mapping: m.id, condition, records: records.length, first: records[0]?.seq, to: where });
    return records;
  }
}
