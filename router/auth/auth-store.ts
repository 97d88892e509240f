import type { KV, KvEntry } from '@nats-io/kv';
import { StratusError } from '../../sdk/core/errors';
import { LRUCache } from 'lru-cache';
import { decodeRecord, listRecords, writeIfUnchanged } from '../../sdk/platform/kv-records';
import { KvMirror } from '../../sdk/platform/kv-mirror';
import type { Logger } from '../../sdk/platform/logger';
import { viaNats } from '../../sdk/platform/nats-errors';

/**
 * The identity bucket (tokens, roles, resource policies, resource owners, the session signing
 * key), mirrored in memory through a KV watch so an authorization decision reads no NATS. A key the
 * mirror does not hold yet (a router just started, a write a few ms old) is read from the bucket,
 * and an absent key is remembered for a second so a flood of unknown tokens cannot become a flood
 * of KV reads.
 *
 * Keys: token.<id>, role.<tenant>.<name>, policy.<kind>.<name>, owner.<kind>.<name>, signing-key.
 */
export class AuthStore {
  private readonly mirror: KvMirror<unknown>;
  private readonly absent = new LRUCache<string, true>({ max: 10_000, ttl: 1000 });

  constructor(
    private readonly kv: KV,
    logger: Logger,
  ) {
    this.mirror = new KvMirror<unknown>(kv, logger, {
      keys: '>',
      what: 'identity store',
      decode: (entry: KvEntry) => decodeRecord<unknown>(entry),
      onChange: (key) => this.absent.delete(key),
    });
  }

  start(): void {
    this.mirror.start();
  }

  stop(): Promise<void> {
    return this.mirror.stop();
  }

  /** True while the watch runs (readiness). */
  get healthy(): boolean {
    return this.mirror.healthy;
  }

  /** The value under `key`, from memory when known. */
  async get<T>(key: string): Promise<T | undefined> {
    const held = this.mirror.get(key);
    if (held !== undefined) return held as T;
    if (this.absent.has(key)) return undefined;
    const value = decodeRecord<T>(await viaNats(`reading ${key}`, () => this.kv.get(key)));
    if (value === undefined) this.absent.set(key, true);
    return value;
  }

  /** The value under `key` if the mirror holds it, without waiting (for per-event decisions on hot paths). */
  peek<T>(key: string): T | undefined {
    return this.mirror.get(key) as T | undefined;
  }

  /** Every value whose key starts with `prefix`, read from the bucket (authoritative, for listings). */
  async list<T>(filter: string): Promise<T[]> {
    return viaNats(`listing ${filter}`, () => listRecords<T>(this.kv, filter, (e) => decodeRecord<T>(e)));
  }

  /** Creates `key`; false when it already holds a value. */
  async create(key: string, value: unknown): Promise<boolean> {
    const entry = await viaNats(`reading ${key}`, () => this.kv.get(key));
    if (decodeRecord(entry) !== undefined) return false;
    const ok = (await writeIfUnchanged(this.kv, key, JSON.stringify(value), entry, `storing ${key}`)) !== undefined;
    if (ok) this.absent.delete(key);
    return ok;
  }

  /**
   * Applies `change` to the current value (undefined when absent) and stores the result with a
   * compare-and-set, reading again when another router wrote in between. `change` returning
   * undefined deletes the key.
   */
  async update<T>(key: string, change: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const entry = await viaNats(`reading ${key}`, () => this.kv.get(key));
      const next = change(decodeRecord<T>(entry));
      if (next === undefined) {
        if (decodeRecord(entry) !== undefined) await viaNats(`deleting ${key}`, () => this.kv.delete(key, { previousSeq: entry!.revision }));
        return undefined;
      }
      if ((await writeIfUnchanged(this.kv, key, JSON.stringify(next), entry, `storing ${key}`)) !== undefined) {
        this.absent.delete(key);
        return next;
      }
    }
    throw new StratusError('RevisionConflict', `${key} is being changed concurrently: retry`);
  }

  /** Deletes `key` (absent is fine). */
  async delete(key: string): Promise<void> {
    await viaNats(`deleting ${key}`, () => this.kv.delete(key));
  }
}
