import { LRUCache } from 'lru-cache';
import type { FunctionRecord } from '../../sdk/core/function-config';
import type { FunctionRegistry, RegistryChange } from './function-registry';

interface Entry {
  record: FunctionRecord;
  revision: number;
}

/**
 * Function records cached for the invoke path. Filled on demand (concurrent misses share one
 * KV read) and kept fresh by the registry watch, ordered by KV revision (not by clocks, which
 * differ between hosts). Misses are not cached, so a function created on another router is
 * visible at once; this router's own writes drop the entry so the next read sees them, and the
 * watch's report of such a write fills it again without a read.
 *
 * Only functions this router has read are held: the watch sees every change in the cluster, and
 * caching those would fill the cache (up to its limit) with functions this router never serves.
 */
export class FunctionCache {
  private readonly lru: LRUCache<string, Entry>;
  /** Names with a read in flight: a change seen meanwhile must win over what the read returns. */
  private readonly reading = new Map<string, number>();
  /**
   * Revisions this router wrote, by name, until the watch reports them: that report is taken in,
   * so the first invoke after a deploy or update needs no read of its own.
   */
  private readonly written = new Map<string, string>();

  constructor(registry: Pick<FunctionRegistry, 'getEntry'>, maxEntries: number) {
    this.lru = new LRUCache<string, Entry>({
      max: maxEntries,
      fetchMethod: async (name) => registry.getEntry(name),
      // A change applied during a read replaces the read's entry; the reader still gets its answer
      // (as of when it read) instead of an abort error, and the newer change stays cached.
      ignoreFetchAbort: true,
    });
  }

  /** The function's $LATEST record, or undefined when it does not exist. */
  async get(name: string): Promise<FunctionRecord | undefined> {
    this.reading.set(name, (this.reading.get(name) ?? 0) + 1);
    try {
      return (await this.lru.fetch(name))?.record;
    } finally {
      const n = (this.reading.get(name) ?? 1) - 1;
      if (n === 0) this.reading.delete(name);
      else this.reading.set(name, n);
    }
  }

  /** Applies a change seen through the registry watch to a function held or being read, unless it is older than what we hold. */
  apply(change: RegistryChange): void {
    const held = this.lru.peek(change.name);
    // Only the very revision this router wrote: an older change reported after our write is not it.
    const ours = change.record !== undefined && this.written.get(change.name) === change.record.revisionId;
    if (ours) this.written.delete(change.name);
    if (!held && !this.reading.has(change.name) && !ours) return;
    if (held && held.revision >= change.revision) return;
    if (!change.record) this.lru.delete(change.name);
    else this.lru.set(change.name, { record: change.record, revision: change.revision });
  }

  /**
   * This router changed the function: forget it, so a read before the watch reports the change
   * fetches the stored record; the report itself is then taken in.
   */
  put(record: FunctionRecord): void {
    this.lru.delete(record.config.name);
    // Bounded: a report that never comes (the watch restarting) must not leave names behind forever.
    if (this.written.size >= this.lru.max) this.written.clear();
    this.written.set(record.config.name, record.revisionId);
  }

  /** Forgets everything: after the watch was down, changes may have been missed. */
  clear(): void {
    this.lru.clear();
    this.written.clear();
  }

  /** Forgets a deleted function. */
  forget(name: string): void {
    this.lru.delete(name);
    this.written.delete(name);
  }

  /** Entries held now. */
  get size(): number {
    return this.lru.size;
  }
}
