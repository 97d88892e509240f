import { randomBytes } from 'node:crypto';
import { backoffMs, sleep } from '../core/deadline';
import { toStratusError } from '../core/errors';
import type { Logger } from './logger';

/** Stores one message under a message id (a retried publish with the same id is dropped by JetStream). */
export type PublishMessage = (subject: string, body: Uint8Array, msgId: string) => Promise<void>;

/** Options for {@link GroupCommit}. */
export interface GroupCommitOptions<T> {
  /** The subject a record is stored under; records of one subject travel together. */
  subjectOf(record: T): string;
  encode(records: readonly T[]): Uint8Array;
  /** Names the writer in message ids (a router id). */
  writer: string;
  /** Most records queued; beyond it new ones are dropped and counted. Default unbounded (nothing may be lost). */
  maxQueued?: number;
  /** What the records are, for log lines ("usage records"). */
  what: string;
}

interface Batch<T> {
  subject: string;
  msgId: string;
  records: T[];
  done: Array<() => void>;
}

/**
 * Group commit onto JetStream: records that arrive while a publish is in flight go out together in
 * the next one, one message per subject. A failed publish is retried with the same message id, with
 * backoff, while the process lives; records wait in memory meanwhile (bounded by maxQueued, past
 * which they are dropped and counted, never silently).
 */
export class GroupCommit<T> {
  private queued: Batch<T>[] = [];
  private incoming: Array<{ record: T; done: () => void }> = [];
  private flushing: Promise<void> | undefined;
  private sequence = 0;
  private readonly instance = randomBytes(4).toString('hex');
  private stopped = false;
  /** Publishes that failed (each is retried). */
  publishFailures = 0;
  /** Records dropped because the queue was full. */
  dropped = 0;

  constructor(
    private readonly publish: PublishMessage,
    private readonly logger: Logger,
    private readonly options: GroupCommitOptions<T>,
  ) {}

  /** Queues a record; resolves once it is stored (never rejects; a dropped record resolves at once). */
  add(record: T): Promise<void> {
    if (this.stopped || this.pending() >= (this.options.maxQueued ?? Infinity)) {
      this.dropped += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.incoming.push({ record, done: resolve });
      this.flushing ??= this.flushLoop();
    });
  }

  /** Records queued and not yet stored. */
  pending(): number {
    return this.incoming.length + this.queued.reduce((n, b) => n + b.records.length, 0);
  }

  /** Waits (up to `graceMs`) for queued records to be stored, then stops; what is left is logged. Once-only. */
  async stop(graceMs: number): Promise<void> {
    const until = Date.now() + graceMs;
    while (this.pending() > 0 && Date.now() < until) await sleep(20);
    this.stopped = true;
    if (this.pending() > 0) this.logger.error(`${this.options.what} could not be stored before shutdown`, { records: this.pending() });
  }

  private async flushLoop(): Promise<void> {
    try {
      for (let attempt = 0; !this.stopped; ) {
        this.batchIncoming();
        if (this.queued.length === 0) return;
        const results = await Promise.all(this.queued.map((b) => this.store(b)));
        this.queued = this.queued.filter((_, i) => !results[i]);
        if (this.queued.length === 0) {
          attempt = 0;
          continue;
        }
        attempt += 1;
        await sleep(backoffMs(attempt, 100, 5000));
      }
    } finally {
      this.flushing = undefined;
      // Records that came in as the loop ended start the next one.
      if (!this.stopped && this.incoming.length > 0) this.flushing = this.flushLoop();
    }
  }

  private batchIncoming(): void {
    if (this.incoming.length === 0) return;
    const bySubject = new Map<string, Batch<T>>();
    for (const { record, done } of this.incoming) {
      const subject = this.options.subjectOf(record);
      let batch = bySubject.get(subject);
      if (!batch) {
        this.sequence += 1;
        bySubject.set(subject, (batch = { subject, msgId: `${this.options.writer}-${this.instance}-${this.sequence}`, records: [], done: [] }));
      }
      batch.records.push(record);
      batch.done.push(done);
    }
    this.incoming = [];
    this.queued.push(...bySubject.values());
  }

  private async store(batch: Batch<T>): Promise<boolean> {
    try {
      await this.publish(batch.subject, this.options.encode(batch.records), batch.msgId);
      // Stored: no longer pending, even before the loop drops the batch.
      batch.records = [];
      for (const done of batch.done) done();
      return true;
    } catch (err) {
      this.publishFailures += 1;
      this.logger.warn(`${this.options.what} not stored; retrying`, { subject: batch.subject, records: batch.records.length, err: toStratusError(err) });
      return false;
    }
  }
}
