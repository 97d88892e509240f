import { JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { recordMatches, type InvocationQuery, type InvocationRecord } from '../../sdk/core/invocation-record';
import { GroupCommit } from '../../sdk/platform/group-commit';
import type { Logger } from '../../sdk/platform/logger';
import { invocationSubject, STREAMS } from '../../sdk/platform/nats-layout';
import { readStream } from './stream-reader';

/** Options for {@link InvocationRecords}. */
export interface InvocationRecordsOptions {
  replicas: number;
  /** How long records are kept (STRATUS_INVOCATION_RETENTION_DAYS). Default 7 days. */
  retentionDays: number;
  /** Most MB the records take (STRATUS_INVOCATION_MAX_MB), oldest dropped first. Default 1024. */
  maxMb: number;
  routerId: string;
}

/** Most records waiting to be stored; past it, new ones are dropped and counted (an invocation never waits for its record). */
const MAX_QUEUED = 100_000;

/** Most records one query reads before it stops (and says it was cut short). */
const MAX_SCANNED = 500_000;

/** The records of one stored message. */
export function decodeInvocationMessage(data: Uint8Array): InvocationRecord[] {
  try {
    const rows = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as unknown;
    return Array.isArray(rows) ? (rows as InvocationRecord[]) : [];
  } catch {
    return [];
  }
}

/**
 * Invocation records in the STRATUS_INVOCATIONS stream, one subject per function: written in group
 * commits without making the invocation wait, kept for a bounded time and size, read back by time
 * range from any router.
 */
export class InvocationRecords {
  private readonly commits: GroupCommit<InvocationRecord>;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    logger: Logger,
    private readonly options: InvocationRecordsOptions,
  ) {
    this.commits = new GroupCommit<InvocationRecord>(
      async (subject, body, msgId) => {
        await js.publish(subject, body, { msgID: msgId, timeout: 5000 });
      },
      logger,
      { subjectOf: (r) => invocationSubject(r.functionName), encode: (rs) => Buffer.from(JSON.stringify(rs)), writer: options.routerId, maxQueued: MAX_QUEUED, what: 'invocation records' },
    );
  }

  /** Creates the stream when missing, and applies changed limits to it. */
  async ensureStream(): Promise<void> {
    const limits = { max_age: this.options.retentionDays * 86_400 * 1_000_000_000, max_bytes: this.options.maxMb * 1024 * 1024 };
    try {
      const info = await this.jsm.streams.info(STREAMS.invocations);
      if (info.config.max_age !== limits.max_age || info.config.max_bytes !== limits.max_bytes) await this.jsm.streams.update(STREAMS.invocations, limits);
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    }
    await this.jsm.streams.add({
      name: STREAMS.invocations,
      subjects: ['stratus.invocations.>'],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: this.options.replicas,
      ...limits,
      duplicate_window: 120_000 * 1_000_000,
      description: 'Stratus invocation records',
    });
  }

  /** Queues a record; never waits and never throws. */
  record(r: InvocationRecord): void {
    // add() never rejects: a record that cannot be stored is retried, or dropped and counted.
    this.commits.add(r).catch(() => undefined);
  }

  /** Records queued and not yet stored. */
  pending(): number {
    return this.commits.pending();
  }

  /** Prometheus lines for the writer's own health. */
  prometheus(): string {
    return [
      '# TYPE stratus_invocation_records_pending gauge',
      `stratus_invocation_records_pending ${this.commits.pending()}`,
      '# TYPE stratus_invocation_records_dropped_total counter',
      `stratus_invocation_records_dropped_total ${this.commits.dropped}`,
      '',
    ].join('\n');
  }

  stop(graceMs: number): Promise<void> {
    return this.commits.stop(graceMs);
  }

  /**
   * The newest `limit` records a query selects, newest first, among those `visible` lets the
   * caller see; `fn` empty reads every function's. `truncated` says more matched.
   */
  async list(fn: string, q: InvocationQuery, limit: number, visible: (r: InvocationRecord) => boolean, signal: AbortSignal): Promise<{ records: InvocationRecord[]; truncated: boolean }> {
    const kept: InvocationRecord[] = [];
    let matched = 0;
    let scanned = 0;
    for await (const m of readStream(this.js, this.jsm, { stream: STREAMS.invocations, subject: fn ? invocationSubject(fn) : 'stratus.invocations.>', sinceMs: q.sinceMs, follow: false, signal })) {
      if (q.untilMs > 0 && m.storedMs > q.untilMs + 60_000) break;
      for (const r of decodeInvocationMessage(m.data)) {
        scanned += 1;
        if (!recordMatches(r, q) || !visible(r)) continue;
        matched += 1;
        kept.push(r);
        // Keep the newest: drop from the front once over the limit.
        if (kept.length > limit) kept.shift();
      }
      if (scanned >= MAX_SCANNED) return { records: kept.sort((a, b) => b.startMs - a.startMs), truncated: true };
    }
    return { records: kept.sort((a, b) => b.startMs - a.startMs), truncated: matched > kept.length };
  }

  /** The record of one request id, or undefined. */
  async find(requestId: string, fn: string, sinceMs: number, visible: (r: InvocationRecord) => boolean, signal: AbortSignal): Promise<InvocationRecord | undefined> {
    let found: InvocationRecord | undefined;
    for await (const m of readStream(this.js, this.jsm, { stream: STREAMS.invocations, subject: fn ? invocationSubject(fn) : 'stratus.invocations.>', sinceMs, follow: false, signal })) {
      // A request id can have several records (async retries): the last one is the outcome.
      for (const r of decodeInvocationMessage(m.data)) if (r.requestId === requestId && visible(r)) found = r;
    }
    return found;
  }
}
