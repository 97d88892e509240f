import { randomBytes } from 'node:crypto';
import type { KV, KvEntry } from '@nats-io/kv';
import { StratusError } from '../../sdk/core/errors';
import { viaNats } from '../../sdk/platform/nats-errors';
import { casWrite, decodeRecord, listRecords } from '../../sdk/platform/kv-records';
import type { Logger } from '../../sdk/platform/logger';
import { KvMirror } from '../../sdk/platform/kv-mirror';
import type { ScheduleDefinition } from '../../sdk/core/schedule-config';
import type { ScheduleState } from './tick-plan';

/** A schedule and its firing state. Only the state changes after creation. */
export interface ScheduleRecord extends ScheduleDefinition {
  /** The tenant that created the schedule: its ticks invoke on that tenant's behalf. Absent: the default tenant. */
  tenant?: string;
  /** Also the anchor of rate ticks. */
  createdMs: number;
  state: ScheduleState;
}

const ID_PATTERN = /^[0-9a-f]{12}$/;

function key(id: string): string {
  return `sched.${id}`;
}

function decode(entry: KvEntry | null): ScheduleRecord | undefined {
  return decodeRecord<ScheduleRecord>(entry);
}

/** A fresh schedule id. */
export function newScheduleId(): string {
  return randomBytes(6).toString('hex');
}

/** Validates a schedule id from a caller. */
export function validateScheduleId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new StratusError('InvalidRequest', `'${id}' is not a schedule id: use the ID column of stratus schedules ls`);
  return id;
}

/** Schedules in a JetStream KV bucket, one key each; state changes are compare-and-set. */
export class ScheduleRegistry {
  constructor(private readonly kv: KV) {}

  /** Stores a new schedule. */
  async create(record: ScheduleRecord): Promise<void> {
    await viaNats(`storing schedule ${record.id}`, () => this.kv.create(key(record.id), JSON.stringify(record)));
  }

  /** A schedule with its KV revision, or undefined. */
  async getEntry(id: string): Promise<{ record: ScheduleRecord; revision: number } | undefined> {
    const entry = await viaNats(`reading schedule ${id}`, () => this.kv.get(key(validateScheduleId(id))));
    const record = decode(entry);
    return entry && record ? { record, revision: entry.revision } : undefined;
  }

  /**
   * Stores `record` if the entry is still at `revision`; false when another router changed it
   * first (or it was deleted), so the caller reads again.
   */
  async update(record: ScheduleRecord, revision: number): Promise<boolean> {
    const stored = await casWrite(`storing schedule ${record.id}`, () => this.kv.update(key(record.id), JSON.stringify(record), revision));
    return stored !== undefined;
  }

  /** Every schedule (of one function when given), oldest first. */
  async list(functionName?: string): Promise<ScheduleRecord[]> {
    const all = await viaNats('listing schedules', () => listRecords(this.kv, 'sched.*', decode));
    const out = all.filter((record) => !functionName || record.functionName === functionName);
    return out.sort((a, b) => a.createdMs - b.createdMs || a.id.localeCompare(b.id));
  }

  /** Deletes a schedule; a router's pending state update then fails its compare-and-set. */
  async delete(id: string): Promise<void> {
    await viaNats(`deleting schedule ${id}`, () => this.kv.delete(key(id)));
  }

  /** Every schedule mirrored in memory (started by the caller). */
  mirror(logger: Logger, onChange?: (id: string, record: ScheduleRecord | undefined) => void): KvMirror<ScheduleRecord> {
    return new KvMirror<ScheduleRecord>(this.kv, logger, {
      keys: 'sched.*',
      what: 'schedule registry',
      idOf: (k) => k.slice('sched.'.length),
      decode: (e) => decode(e),
      onChange,
    });
  }
}
