import { LRUCache } from 'lru-cache';
import type { FunctionRecord } from '../sdk/core/function-config';
import type { FunctionRegistry, RegistryChange } from './function-registry';

/**
 * Function records cached for the invoke path. Filled on demand (concurrent misses share one
 * KV read), updated by the registry watch, and written through by this router's own updates.
 * Misses are not cached, so a function created on another router is visible at once.
 */
export class FunctionCache {
  private readonly lru: LRUCache<string, FunctionRecord>;

  constructor(registry: FunctionRegistry, maxEntries: number) {
    this.lru = new LRUCache<string, FunctionRecord>({
      max: maxEntries,
      fetchMethod: async (name) => registry.get(name),
    });
  }

  /** The function's $LATEST record, or undefined when it does not exist. */
  async get(name: string): Promise<FunctionRecord | undefined> {
    return this.lru.fetch(name);
  }

  /** Applies a change seen through the registry watch, unless it is older than what we hold. */
  apply(change: RegistryChange): void {
    if (!change.record) {
      this.lru.delete(change.name);
      return;
    }
    const held = this.lru.peek(change.name);
    if (!held || held.lastModifiedMs <= change.record.lastModifiedMs) this.lru.set(change.name, change.record);
  }

  /** Records this router's own write. */
  put(record: FunctionRecord): void {
    this.lru.set(record.config.name, record);
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
