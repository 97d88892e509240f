import { LRUCache } from 'lru-cache';
import type { FunctionRecord } from '../sdk/core/function-config';
import type { FunctionRegistry, RegistryChange } from './function-registry';

interface Entry {
  record: FunctionRecord;
  revision: number;
}

/**
 * Function records cached for the invoke path. Filled on demand (concurrent misses share one
 * KV read) and kept fresh by the registry watch, ordered by KV revision (not by clocks, which
 * differ between hosts). Misses are not cached, so a function created on another router is
 * visible at once; this router's own writes drop the entry so the next read sees them.
 */
export class FunctionCache {
  private readonly lru: LRUCache<string, Entry>;

  constructor(registry: FunctionRegistry, maxEntries: number) {
    this.lru = new LRUCache<string, Entry>({
      max: maxEntries,
      fetchMethod: async (name) => registry.getEntry(name),
    });
  }

  /** The function's $LATEST record, or undefined when it does not exist. */
  async get(name: string): Promise<FunctionRecord | undefined> {
    return (await this.lru.fetch(name))?.record;
  }

  /** Applies a change seen through the registry watch, unless it is older than what we hold. */
  apply(change: RegistryChange): void {
    const held = this.lru.peek(change.name);
    if (held && held.revision >= change.revision) return;
    if (!change.record) this.lru.delete(change.name);
    else this.lru.set(change.name, { record: change.record, revision: change.revision });
  }

  /** This router changed the function: forget it, so the next read fetches the stored record. */
  put(record: FunctionRecord): void {
    this.lru.delete(record.config.name);
  }

  /** Forgets everything: after the watch was down, changes may have been missed. */
  clear(): void {
    this.lru.clear();
  }

  /** Forgets a deleted function. */
  forget(name: string): void {
    this.lru.delete(name);
  }

  /** Entries held now. */
  get size(): number {
    return this.lru.size;
  }
}
