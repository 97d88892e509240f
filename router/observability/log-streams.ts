import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { LATEST, type FunctionRecord } from '../../sdk/core/function-config';
import type { Logger } from '../../sdk/platform/logger';
import { viaNats } from '../../sdk/platform/nats-errors';
import { logStreamName, logSubject } from '../../sdk/platform/nats-layout';

/** Cluster defaults for log streams (STRATUS_LOG_RETENTION_DAYS, STRATUS_LOG_MAX_MB); a function's logging config overrides them. */
export interface LogStreamOptions {
  replicas: number;
  /** Default 7 days. */
  retentionDays: number;
  /** Default 256 MB per function. */
  maxMb: number;
}

const DAY_NS = 86_400 * 1_000_000_000;
/** JetStream's "stream name already in use with a different configuration". */
const STREAM_NAME_IN_USE = 10058;
/** How long a function whose stream could not be made waits before the next try. */
const RETRY_AFTER_FAILURE_MS = 30_000;

/**
 * Creates and sizes each function's log stream: one per function, so a function's retention (time
 * and size, from its logging config or the cluster's defaults) applies to its lines alone. A
 * router makes sure the stream is there before it places an invocation (remembered per size, so
 * the hot path pays nothing after the first), and agents publish into it.
 */
export class LogStreams {
  private readonly ready = new Map<string, string>();
  private readonly pending = new Map<string, Promise<void>>();
  /** Functions whose stream could not be made, until when the next try waits: a failing NATS must not cost every invocation a round trip. */
  private readonly failedUntil = new Map<string, number>();

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly logger: Logger,
    private readonly options: LogStreamOptions,
  ) {}

  /** The retention a function's stream has: its own, else the cluster's. */
  limits(record: FunctionRecord): { days: number; mb: number } {
    const l = record.config.logging;
    return { days: l?.retentionDays || this.options.retentionDays, mb: l?.maxMb || this.options.maxMb };
  }

  /** Whether the function's stream is known to be there with its current limits (then ensure() costs nothing). */
  isReady(record: FunctionRecord): boolean {
    const { days, mb } = this.limits(record);
    if ((this.failedUntil.get(record.config.name) ?? 0) > Date.now()) return true;
    // The stream's size follows $LATEST's logging config: a published version (with the config it
    // had then) uses the stream as it is, or versions and $LATEST would resize it back and forth.
    if (record.version !== LATEST && this.ready.has(record.config.name)) return true;
    return this.ready.get(record.config.name) === `${days}:${mb}`;
  }

  /** Creates or resizes the function's log stream; once per function and size on this router. */
  ensure(record: FunctionRecord): Promise<void> {
    if (this.isReady(record)) return Promise.resolve();
    const fn = record.config.name;
    const { days, mb } = this.limits(record);
    const key = `${days}:${mb}`;
    const inFlight = this.pending.get(`${fn}@${key}`);
    if (inFlight) return inFlight;
    const config: Partial<StreamConfig> & { name: string } = {
      name: logStreamName(fn),
      subjects: [logSubject(fn)],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: this.options.replicas,
      max_age: days * DAY_NS,
      max_bytes: mb * 1024 * 1024,
      discard: DiscardPolicy.Old,
      description: `Stratus log stream of function ${fn}`,
    };
    const work = viaNats(`preparing the log stream of '${fn}'`, async () => {
      try {
        const info = await this.jsm.streams.info(config.name);
        if (info.config.max_age !== config.max_age || info.config.max_bytes !== config.max_bytes) await this.jsm.streams.update(config.name, { max_age: config.max_age, max_bytes: config.max_bytes });
      } catch (err) {
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
        await this.jsm.streams.add(config).catch(async (e: unknown) => {
          // Another router made it meanwhile.
          if (!(e instanceof JetStreamApiError && e.code === STREAM_NAME_IN_USE)) throw e;
        });
      }
      this.ready.set(fn, key);
      this.failedUntil.delete(fn);
    })
      .catch((err: unknown) => {
        this.failedUntil.set(fn, Date.now() + RETRY_AFTER_FAILURE_MS);
        throw err;
      })
      .finally(() => this.pending.delete(`${fn}@${key}`));
    this.pending.set(`${fn}@${key}`, work);
    return work;
  }

  /** Deletes a deleted function's log stream (its lines go with it). */
  async remove(fn: string): Promise<void> {
    this.ready.delete(fn);
    try {
      await this.jsm.streams.delete(logStreamName(fn));
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return;
      this.logger.warn('could not delete a deleted function\'s log stream', { function: fn, error: (err as Error).message });
    }
  }
}
