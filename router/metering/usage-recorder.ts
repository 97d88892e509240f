import { randomBytes } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { backoffMs, sleep } from '../../sdk/core/deadline';
import { toStratusError } from '../../sdk/core/errors';
import type { Logger } from '../../sdk/platform/logger';
import { STREAMS, usageSubject } from '../../sdk/platform/nats-layout';
import { monthOf, type UsageRecord } from '../../sdk/core/usage';

/** Options for {@link UsageRecorder}. */
export interface UsageRecorderOptions {
  replicas: number;
  /** How long usage records are kept. */
  maxAgeMs: number;
  /** Longest a caller waits for its record to be stored before it is answered anyway (the record stays queued). */
  waitMs: number;
  /** Names this router in message ids. */
  routerId: string;
}

/** One message on its way: a month and tenant's records, published under one message id until stored. */
interface Batch {
  subject: string;
  msgId: string;
  records: UsageRecord[];
  done: Array<() => void>;
}

/**
 * Records every invocation in the STRATUS_USAGE stream before its caller is answered, so usage
 * survives any router or agent dying ("group commit": records arriving while a publish is in
 * flight go out together in the next one, one message per month and tenant). A publish that fails
 * is retried with the same message id while the router lives — JetStream drops the duplicate if
 * the first one did land — and a caller waits at most `waitMs` for it; what is still queued is
 * counted for /metrics and logged, never dropped silently.
 */
export class UsageRecorder {
  private queued: Batch[] = [];
  private incoming: Array<{ record: UsageRecord; done: () => void }> = [];
  private flushing: Promise<void> | undefined;
  private sequence = 0;
  private readonly instance = randomBytes(4).toString('hex');
  private publishFailures = 0;
  private stopped = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly logger: Logger,
    private readonly options: UsageRecorderOptions,
  ) {}

  async ensureStream(): Promise<void> {
    try {
      await this.jsm.streams.info(STREAMS.usage);
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    }
    await this.jsm.streams.add({
      name: STREAMS.usage,
      subjects: ['stratus.usage.>'],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: this.options.replicas,
      max_age: this.options.maxAgeMs * 1_000_000,
      duplicate_window: 120_000 * 1_000_000,
      // Direct get lets any router read a month's records by subject.
      allow_direct: true,
      description: 'Stratus metered invocations',
    });
  }

  /** Resolves once `record` is stored, or after waitMs with it still queued for retry. */
  record(record: UsageRecord): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn('usage record not stored yet; answering the caller, retrying in the background', { requestId: record.requestId, fn: record.functionName });
        resolve();
      }, this.options.waitMs);
      timer.unref();
      this.incoming.push({ record, done: () => (clearTimeout(timer), resolve()) });
      this.flushing ??= this.flushLoop();
    });
  }

  /** Records queued and not yet stored (for /metrics). */
  pending(): number {
    return this.incoming.length + this.queued.reduce((n, b) => n + b.records.length, 0);
  }

  /** Prometheus lines. */
  prometheus(): string {
    return [
      '# TYPE stratus_usage_pending_records gauge',
      `stratus_usage_pending_records ${this.pending()}`,
      '# TYPE stratus_usage_publish_failures_total counter',
      `stratus_usage_publish_failures_total ${this.publishFailures}`,
      '',
    ].join('\n');
  }

  /** Waits (up to `graceMs`) for queued records to be stored; on shutdown. */
  async stop(graceMs: number): Promise<void> {
    const until = Date.now() + graceMs;
    while (this.pending() > 0 && Date.now() < until) await sleep(20);
    this.stopped = true;
    if (this.pending() > 0) this.logger.error('usage records could not be stored before shutdown', { records: this.pending() });
  }

  private async flushLoop(): Promise<void> {
    try {
      for (let attempt = 0; !this.stopped; ) {
        this.batchIncoming();
        if (this.queued.length === 0) return;
        const results = await Promise.all(this.queued.map((b) => this.publish(b)));
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

  /** Turns records that arrived since the last publish into batches, one per month and tenant. */
  private batchIncoming(): void {
    if (this.incoming.length === 0) return;
    const bySubject = new Map<string, Batch>();
    for (const { record, done } of this.incoming) {
      const subject = usageSubject(monthOf(record.atMs), record.tenant);
      let batch = bySubject.get(subject);
      if (!batch) {
        this.sequence += 1;
        bySubject.set(subject, (batch = { subject, msgId: `${this.options.routerId}-${this.instance}-${this.sequence}`, records: [], done: [] }));
      }
      batch.records.push(record);
      batch.done.push(done);
    }
    this.incoming = [];
    this.queued.push(...bySubject.values());
  }

  private async publish(batch: Batch): Promise<boolean> {
    try {
      const body = batch.records.map((r) => [r.functionName, r.requestId, r.billedMs, r.memoryMb, r.atMs]);
      await this.js.publish(batch.subject, JSON.stringify(body), { msgID: batch.msgId, timeout: 5000 });
      for (const done of batch.done) done();
      return true;
    } catch (err) {
      this.publishFailures += 1;
      this.logger.warn('usage records not stored; retrying', { subject: batch.subject, records: batch.records.length, err: toStratusError(err) });
      return false;
    }
  }
}

/** Decodes a stored usage message back into records (tenant from its subject). */
export function decodeUsageMessage(subject: string, data: Uint8Array): UsageRecord[] {
  const tenant = subject.split('.')[3] ?? '';
  const rows = JSON.parse(Buffer.from(data).toString('utf8')) as Array<[string, string, number, number, number]>;
  return rows.map(([functionName, requestId, billedMs, memoryMb, atMs]) => ({ tenant, functionName, requestId, billedMs, memoryMb, atMs }));
}
