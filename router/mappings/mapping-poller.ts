import type { Consumer, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/nats-core';
import { sleep } from '../../sdk/core/deadline';
import { toStratusError } from '../../sdk/core/errors';
import type { Logger } from '../../sdk/platform/logger';
import type { MappingRecord } from '../../sdk/core/mapping-config';
import { backoffDelayMs } from './batch-policy';
import type { BatchRunner, GroupMeta, HeldGroup, HeldRecord } from './batch-runner';
import type { Checkpoints } from './checkpoint';
import { KeyScheduler } from './key-scheduler';
import { isDone, mergeHints, snapshotProgress, type ProgressHint } from './progress-hint';
import type { RecordDecoder } from './record-source';
import { BATCH_ENVELOPE_BYTES, type RawRecord } from './stream-records';

/** What a poller needs; the supervisor builds it per mapping. */
export interface PollerDeps {
  js: JetStreamClient;
  checkpoints: Checkpoints;
  /** Runs one batch of this mapping. */
  runner: BatchRunner;
  decode: RecordDecoder;
  logger: Logger;
  /** False once this router can no longer trust its lease: nothing new may start. */
  leaseValid: () => boolean;
  /** Whether the mapping is still stored (read before a missing checkpoint is created again). */
  mappingExists: () => Promise<boolean>;
  /** The last progress hint written for the mapping (by any poller). */
  readProgress: () => Promise<ProgressHint | undefined>;
}

/** Options of one poller (resolved by the supervisor). */
export interface PollerOptions {
  stream: string;
  subjectFilter: string;
  fetchExpiresMs: number;
  maxBufferedRecords: number;
  maxBufferedBytes: number;
}

/** A poller's lifecycle: taking over the checkpoint, polling, stopping, stopped. */
type PollerState = 'starting' | 'running' | 'stopping' | 'stopped';

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
  private maxDoneSeq = 0;
  /** What earlier pollers finished past the checkpoint; those records are acknowledged without running again. */
  private hint: ProgressHint | undefined;
  /** Records acknowledged because the hint said they were done. */
  skipped = 0;
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

  /** What this poller finished past the checkpoint (also once stopped), to write with the lease; undefined before it received anything. */
  progress(): ProgressHint | undefined {
    if (this.maxSeq === 0) return undefined;
    const own = snapshotProgress(this.held.keys(), this.maxSeq, this.maxDoneSeq);
    return own && mergeHints(own, this.hint);
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
        this.hint = await this.deps.readProgress().catch(() => undefined);
        this.state = 'running';
        this.status = t.recreated ? `PROBLEM: the checkpoint was missing (deleted outside Stratus?); reading again from the oldest record kept` : 'OK';
        this.deps.logger.info('mapping polling', { mapping: m.id, consumer: t.consumer, from: t.startSeq, doneBeyondCheckpoint: this.hint ? this.hint.upTo : undefined });
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
    this.maxDoneSeq = 0;
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
    if (this.hint) {
      if (isDone(this.hint, seq)) {
        // Finished by an earlier poller after the checkpoint: acknowledge it without running it again.
        msg.ack();
        this.maxDoneSeq = Math.max(this.maxDoneSeq, seq);
        this.skipped += 1;
        return;
      }
      if (seq > this.hint.upTo) this.hint = undefined;
    }
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
      this.maxDoneSeq = Math.max(this.maxDoneSeq, seq);
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

  private async runGroup(group: HeldGroup): Promise<void> {
    if (!this.deps.leaseValid()) {
      // The lease could not be renewed in time: another router may take over at any moment.
      this.kill();
      return;
    }
    const done = new Set<number>();
    try {
      const result = await this.deps.runner.run(group, (records) => {
        for (const r of records) {
          r.msg.ack();
          done.add(r.seq);
          this.held.delete(r.seq);
          this.maxDoneSeq = Math.max(this.maxDoneSeq, r.seq);
        }
      });
      if (result.status !== undefined) this.status = result.status;
      this.scheduler.settle(group, result.retry);
    } catch (err) {
      // A bug, not an outcome: keep the records rather than lose them, and try again later.
      this.deps.logger.error('mapping batch failed unexpectedly; retrying it', { mapping: this.mapping.id, err: toStratusError(err) });
      const left = group.records.filter((r) => !done.has(r.seq));
      this.scheduler.settle(group, [{ records: left, attempts: group.attempts, throttles: group.throttles + 1, notBeforeMs: Date.now() + backoffDelayMs(group.throttles, 1000, 60_000), meta: group.meta }]);
    }
  }
}
