import type { KV, KvEntry } from '@nats-io/kv';
import { toStratusError } from '../core/errors';
import { isLive } from './kv-records';
import type { Logger } from './logger';

/** Options for {@link KvMirror}. */
export interface KvMirrorOptions<T> {
  /** Keys to mirror, as a NATS subject filter over the bucket's keys (e.g. `trg.*`). */
  keys: string;
  /** Turns a stored entry into a value; undefined drops the key (deleted or unreadable). */
  decode: (entry: KvEntry) => T | undefined;
  /** The id values are held under, from the key (e.g. `trg.ab12` → `ab12`). Default: the key. */
  idOf?: (key: string) => string;
  /** Called after every change (also for the initial values), with the id. */
  onChange?: (id: string, value: T | undefined) => void;
  /** Delay before the watch is started again after a failure. Default 500. */
  restartDelayMs?: number;
  /** Names the mirror in logs. */
  what: string;
}

/**
 * A KV key range mirrored in memory through a watch: every router sees every trigger and
 * schedule within milliseconds of a change, without reading the bucket on every decision.
 * The watch restarts after a failure, starting over from the stored values.
 */
export class KvMirror<T> {
  private readonly entries = new Map<string, T>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private watching = false;

  constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
    private readonly options: KvMirrorOptions<T>,
  ) {}

  /** Starts watching; idempotent. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops watching and waits for the watch to end. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** The value held under `id`, if any. */
  get(id: string): T | undefined {
    return this.entries.get(id);
  }

  /** Every value held now. */
  values(): T[] {
    return [...this.entries.values()];
  }

  /** True while the watch runs (for readiness). */
  get healthy(): boolean {
    return this.watching;
  }

  private set(id: string, value: T | undefined): void {
    if (value === undefined) this.entries.delete(id);
    else this.entries.set(id, value);
    try {
      this.options.onChange?.(id, value);
    } catch (err) {
      this.logger.error(`${this.options.what} change handler failed`, { err: toStratusError(err) });
    }
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      try {
        const iter = await this.kv.watch({ key: this.options.keys });
        const stop = (): void => iter.stop();
        signal.addEventListener('abort', stop, { once: true });
        // Changes missed while no watch ran are unknown: forget everything, the watch replays the stored values.
        for (const id of [...this.entries.keys()]) this.set(id, undefined);
        this.watching = true;
        try {
          for await (const entry of iter) {
            const value = isLive(entry) ? this.decodeSafely(entry) : undefined;
            this.set(this.options.idOf?.(entry.key) ?? entry.key, value);
          }
        } finally {
          signal.removeEventListener('abort', stop);
        }
      } catch (err) {
        if (!signal.aborted) this.logger.warn(`${this.options.what} watch failed; restarting`, { err: toStratusError(err) });
      } finally {
        this.watching = false;
      }
      if (!signal.aborted) await new Promise((r) => setTimeout(r, this.options.restartDelayMs ?? 500).unref());
    }
  }

  private decodeSafely(entry: KvEntry): T | undefined {
    try {
      return this.options.decode(entry);
    } catch (err) {
      this.logger.warn(`${this.options.what}: unreadable entry ignored`, { key: entry.key, err: toStratusError(err) });
      return undefined;
    }
  }
}
