import type { KV, KvEntry } from '@nats-io/kv';
import { StratusError } from '../../sdk/core/errors';
import { viaNats } from '../../sdk/platform/nats-errors';
import { casWrite, isLive, listRecords } from '../../sdk/platform/kv-records';
import type { Logger } from '../../sdk/platform/logger';
import type { MappingRecord } from '../../sdk/core/mapping-config';
import { KvMirror } from '../../sdk/platform/kv-mirror';
import { parseProgressHint, type ProgressHint } from './progress-hint';

/** A stored mapping with its KV revision (changes on every update). */
export interface StoredMapping {
  record: MappingRecord;
  revision: number;
}

function key(id: string): string {
  return `mapping.${id}`;
}

function decode(entry: KvEntry | null): StoredMapping | undefined {
  if (!isLive(entry)) return undefined;
  try {
    return { record: entry.json<MappingRecord>(), revision: entry.revision };
  } catch {
    return undefined;
  }
}

/** Says the mapping does not exist and how to find the right id. */
export function mappingNotFound(id: string): StratusError {
  return new StratusError('ResourceNotFound', `mapping '${id}' does not exist: list mappings with stratus mappings ls`);
}

/** Event source mappings in a JetStream KV bucket, keyed mapping.<id>. */
export class MappingRegistry {
  constructor(private readonly kv: KV) {}

  /** Stores a new mapping. */
  async create(record: MappingRecord): Promise<StoredMapping> {
    const revision = await viaNats(`storing mapping ${record.id}`, () => this.kv.create(key(record.id), JSON.stringify(record)));
    return { record, revision };
  }

  /** One mapping, or undefined. */
  async get(id: string): Promise<StoredMapping | undefined> {
    return decode(await viaNats(`reading mapping ${id}`, () => this.kv.get(key(id))));
  }

  /** One mapping; ResourceNotFound when absent. */
  async require(id: string): Promise<StoredMapping> {
    const m = await this.get(id);
    if (!m) throw mappingNotFound(id);
    return m;
  }

  /** Applies `change` with a compare-and-set, reading again when another router wrote in between. */
  async update(id: string, change: (current: MappingRecord) => MappingRecord): Promise<StoredMapping> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const current = await this.require(id);
      const next = { ...change(current.record), lastModifiedMs: Date.now() };
      const revision = await casWrite(`storing mapping ${id}`, () => this.kv.update(key(id), JSON.stringify(next), current.revision));
      if (revision !== undefined) return { record: next, revision };
    }
    throw new StratusError('RevisionConflict', `mapping '${id}' is being changed concurrently: retry`);
  }

  /** Deletes a mapping's record. */
  async delete(id: string): Promise<void> {
    await viaNats(`deleting mapping ${id}`, () => this.kv.delete(key(id)));
  }

  /** The last progress hint a poller of the mapping wrote (progress-hint.ts), or undefined. */
  async readProgress(id: string): Promise<ProgressHint | undefined> {
    const entry = await viaNats(`reading the progress of mapping ${id}`, () => this.kv.get(`progress.${id}`));
    if (!isLive(entry)) return undefined;
    try {
      return parseProgressHint(entry.json());
    } catch {
      return undefined;
    }
  }

  /** Stores a poller's progress hint. */
  async writeProgress(id: string, hint: ProgressHint): Promise<void> {
    await viaNats(`storing the progress of mapping ${id}`, () => this.kv.put(`progress.${id}`, JSON.stringify(hint)));
  }

  /** Forgets a deleted mapping's progress hint. */
  async deleteProgress(id: string): Promise<void> {
    await viaNats(`deleting the progress of mapping ${id}`, () => this.kv.purge(`progress.${id}`));
  }

  /** Every mapping mirrored in memory (started by the caller); `onChange` runs on every change. */
  mirror(logger: Logger, onChange: (id: string) => void): KvMirror<StoredMapping> {
    return new KvMirror<StoredMapping>(this.kv, logger, {
      keys: 'mapping.*',
      decode: (entry) => decode(entry),
      idOf: (k) => k.slice('mapping.'.length),
      onChange: (id) => onChange(id),
      what: 'mapping',
    });
  }

  /** Every mapping, by creation time. */
  async list(): Promise<StoredMapping[]> {
    const found = await viaNats('listing mappings', () => listRecords(this.kv, 'mapping.*', decode));
    return found.sort((a, b) => a.record.createdMs - b.record.createdMs || a.record.id.localeCompare(b.record.id));
  }
}
