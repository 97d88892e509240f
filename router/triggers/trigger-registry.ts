import { randomBytes } from 'node:crypto';
import type { KV, KvEntry } from '@nats-io/kv';
import { StratusError } from '../../sdk/core/errors';
import { viaNats } from '../../sdk/platform/nats-errors';
import { decodeRecord, listRecords } from '../../sdk/platform/kv-records';
import type { Logger } from '../../sdk/platform/logger';
import { KvMirror } from '../../sdk/platform/kv-mirror';
import type { EventFilter } from './event-filter';

/** A function's subscription to a subject pattern. Immutable: change one by deleting and adding. */
export interface TriggerRecord {
  id: string;
  /** The tenant that created the trigger: its events invoke on that tenant's behalf. Absent: the default tenant. */
  tenant?: string;
  functionName: string;
  /** The version or alias its events run; absent or empty: $LATEST. */
  qualifier?: string;
  /** NATS subject pattern (`orders.*`, `audit.>`). */
  subject: string;
  /** Empty: every event. */
  filter: EventFilter;
  createdMs: number;
  /** First events-stream sequence this trigger receives; what was captured before it existed is not its. */
  startSequence: number;
}

const ID_PATTERN = /^[0-9a-f]{12}$/;

function key(id: string): string {
  return `trg.${id}`;
}

function decode(entry: KvEntry | null): TriggerRecord | undefined {
  return decodeRecord<TriggerRecord>(entry);
}

/** A fresh trigger id: 12 hex digits, short enough for consumer names and request ids. */
export function newTriggerId(): string {
  return randomBytes(6).toString('hex');
}

/** Validates a trigger id from a caller. */
export function validateTriggerId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new StratusError('InvalidRequest', `'${id}' is not a trigger id: use the ID column of stratus triggers ls`);
  return id;
}

/** Trigger records in a JetStream KV bucket, one key per trigger. */
export class TriggerRegistry {
  constructor(private readonly kv: KV) {}

  /** Stores a new trigger. */
  async create(record: TriggerRecord): Promise<void> {
    await viaNats(`storing trigger ${record.id}`, () => this.kv.create(key(record.id), JSON.stringify(record)));
  }

  /** One trigger, or undefined. */
  async get(id: string): Promise<TriggerRecord | undefined> {
    return decode(await viaNats(`reading trigger ${id}`, () => this.kv.get(key(validateTriggerId(id)))));
  }

  /** Every trigger (of one function when `functionName` is given), oldest first. */
  async list(functionName?: string): Promise<TriggerRecord[]> {
    const all = await viaNats('listing triggers', () => listRecords(this.kv, 'trg.*', decode));
    const out = all.filter((record) => !functionName || record.functionName === functionName);
    return out.sort((a, b) => a.createdMs - b.createdMs || a.id.localeCompare(b.id));
  }

  /** Deletes a trigger's record. */
  async delete(id: string): Promise<void> {
    await viaNats(`deleting trigger ${id}`, () => this.kv.delete(key(id)));
  }

  /** Every trigger mirrored in memory (started by the caller). */
  mirror(logger: Logger, onChange?: (id: string, record: TriggerRecord | undefined) => void): KvMirror<TriggerRecord> {
    return new KvMirror<TriggerRecord>(this.kv, logger, {
      keys: 'trg.*',
      what: 'trigger registry',
      idOf: (k) => k.slice('trg.'.length),
      decode: (e) => decode(e),
      onChange,
    });
  }
}
