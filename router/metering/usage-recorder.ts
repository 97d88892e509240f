import { JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { GroupCommit } from '../../sdk/platform/group-commit';
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

/**
 * Records every invocation in the STRATUS_USAGE stream before its caller is answered, so usage
 * survives any router or agent dying: a group commit (sdk/platform/group-commit.ts), one message
 * per month and tenant. A caller waits at most `waitMs` for its record; what is still queued is
 * retried, counted for /metrics and logged, never dropped.
 */
export class UsageRecorder {
  private readonly commits: GroupCommit<UsageRecord>;

  constructor(
    js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly logger: Logger,
    private readonly options: UsageRecorderOptions,
  ) {
    this.commits = new GroupCommit<UsageRecord>(
      async (subject, body, msgId) => {
        await js.publish(subject, body, { msgID: msgId, timeout: 5000 });
      },
      logger,
      {
        subjectOf: (r) => usageSubject(monthOf(r.atMs), r.tenant),
        encode: (records) => Buffer.from(JSON.stringify(records.map((r) => [r.functionName, r.requestId, r.billedMs, r.memoryMb, r.atMs]))),
        writer: options.routerId,
        what: 'usage records',
      },
    );
  }

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
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.logger.warn('usage record not stored yet; answering the caller, retrying in the background', { requestId: record.requestId, fn: record.functionName });
        resolve();
      }, this.options.waitMs);
      timer.unref();
    });
    return Promise.race([this.commits.add(record).finally(() => clearTimeout(timer)), late]);
  }

  /** Records queued and not yet stored (for /metrics). */
  pending(): number {
    return this.commits.pending();
  }

  /** Prometheus lines. */
  prometheus(): string {
    return [
      '# TYPE stratus_usage_pending_records gauge',
      `stratus_usage_pending_records ${this.pending()}`,
      '# TYPE stratus_usage_publish_failures_total counter',
      `stratus_usage_publish_failures_total ${this.commits.publishFailures}`,
      '',
    ].join('\n');
  }

  /** Waits (up to `graceMs`) for queued records to be stored; on shutdown. */
  stop(graceMs: number): Promise<void> {
    return this.commits.stop(graceMs);
  }
}

/** Decodes a stored usage message back into records (tenant from its subject). */
export function decodeUsageMessage(subject: string, data: Uint8Array): UsageRecord[] {
  const tenant = subject.split('.')[3] ?? '';
  const rows = JSON.parse(Buffer.from(data).toString('utf8')) as Array<[string, string, number, number, number]>;
  return rows.map(([functionName, requestId, billedMs, memoryMb, atMs]) => ({ tenant, functionName, requestId, billedMs, memoryMb, atMs }));
}
