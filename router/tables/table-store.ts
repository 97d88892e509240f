import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { StratusError } from '../../sdk/core/errors';
import { natsFailure, viaNats } from '../../sdk/platform/nats-errors';
import { isRevisionConflict } from '../../sdk/platform/kv-records';
import { validateItemKey, validateStoreName } from '../../sdk/core/mapping-config';
import type { TableInfo } from '../../sdk/core/table-config';

export type { TableInfo };

/** One item read from a table. */
export interface TableItem {
  table: string;
  key: string;
  value: Uint8Array;
  revision: number;
  timeMs: number;
}

/** Names the mappings reading a source, so it is not deleted under them. */
export type SourceUsers = (kind: 'table' | 'bucket', name: string) => Promise<string[]>;

/** KV buckets Stratus created carry this description prefix; others are left alone. */
const MARKER = 'Stratus table';
const DEFAULT_HISTORY = 5;

/** Says the table does not exist and what to do. */
function tableNotFound(name: string): StratusError {
  return new StratusError('ResourceNotFound', `table '${name}' does not exist: create it with stratus tables create ${name}`);
}

/**
 * Tables: JetStream KV buckets created through Stratus (marked by their description, so a
 * bucket made by something else is never touched), keeping at least two revisions per key so a
 * change record can carry the previous value.
 */
export class TableStore {
  private readonly kvm: Kvm;

  constructor(
    nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly replicas: number,
    private readonly usersOf: SourceUsers,
  ) {
    this.kvm = new Kvm(nc);
  }

  /** Creates a table; creating an existing table with the same history returns it. */
  async create(name: string, history: number, description: string): Promise<TableInfo> {
    validateStoreName('table', name);
    const h = history || DEFAULT_HISTORY;
    if (!Number.isInteger(h) || h < 2 || h > 64) throw new StratusError('InvalidRequest', `invalid history ${history}: keep 2 to 64 revisions per key (the previous value of a change is read from them)`);
    const existing = await this.info(name).catch((err: unknown) => {
      if (err instanceof StratusError && err.code === 'ResourceNotFound') return undefined;
      throw err;
    });
    if (existing) {
      if (existing.history !== h) throw new StratusError('ResourceConflict', `table '${name}' exists with history ${existing.history}: delete it first, or create it with --history ${existing.history}`);
      return existing;
    }
    await viaNats(`creating table '${name}'`, () => this.kvm.create(name, { history: h, replicas: this.replicas, description: description ? `${MARKER}: ${description}` : MARKER, allow_direct: true }));
    return this.info(name);
  }

  /** Every Stratus table. */
  async list(): Promise<TableInfo[]> {
    const out: TableInfo[] = [];
    await viaNats('listing tables', async () => {
      for await (const s of this.kvm.list()) {
        const info = this.toInfo(s.streamInfo);
        if (info) out.push(info);
      }
    });
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One table; ResourceNotFound when it does not exist or is not a Stratus table. */
  async info(name: string): Promise<TableInfo> {
    validateStoreName('table', name);
    const si = await this.jsm.streams.info(`KV_${name}`).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
      throw natsFailure(`reading table '${name}'`, err);
    });
    const info = si && this.toInfo(si);
    if (!info) throw tableNotFound(name);
    return info;
  }

  /** Deletes a table with its items; refused while mappings read it. */
  async delete(name: string): Promise<void> {
    await this.info(name);
    const users = await this.usersOf('table', name);
    if (users.length > 0) throw new StratusError('ResourceConflict', `table '${name}' feeds mapping(s) ${users.join(', ')}: delete them first (stratus mappings rm <id>)`);
    await viaNats(`deleting table '${name}'`, () => this.jsm.streams.delete(`KV_${name}`));
  }

  /** Writes a value; with `expectedRevision`, only if the key is at that revision (0: only if it has no value). */
  async put(table: string, key: string, value: Uint8Array, expectedRevision?: number): Promise<number> {
    const kv = await this.open(table);
    validateItemKey(key);
    try {
      if (expectedRevision === undefined) return await kv.put(key, value);
      if (expectedRevision === 0) return await kv.create(key, value);
      return await kv.update(key, value, expectedRevision);
    } catch (err) {
      if (isRevisionConflict(err)) throw new StratusError('RevisionConflict', `item '${key}' of table '${table}' is not at revision ${expectedRevision}: read it again and retry`, { cause: err });
      throw natsFailure(`writing item '${key}' of table '${table}'`, err);
    }
  }

  /** Reads a value; ResourceNotFound when the key has none. */
  async get(table: string, key: string): Promise<TableItem> {
    const kv = await this.open(table);
    validateItemKey(key);
    const e = await viaNats(`reading item '${key}' of table '${table}'`, () => kv.get(key));
    if (!e || e.operation !== 'PUT') throw new StratusError('ResourceNotFound', `table '${table}' has no item '${key}'`);
    return { table, key, value: e.value, revision: e.revision, timeMs: e.created.getTime() };
  }

  /** Deletes a key (a DEL change), or purges it with its history (a PURGE change). */
  async deleteItem(table: string, key: string, purge: boolean): Promise<void> {
    const kv = await this.open(table);
    validateItemKey(key);
    await viaNats(`deleting item '${key}' of table '${table}'`, () => (purge ? kv.purge(key) : kv.delete(key)));
  }

  private async open(name: string): Promise<KV> {
    await this.info(name);
    return viaNats(`opening table '${name}'`, () => this.kvm.open(name));
  }

  private toInfo(si: Awaited<ReturnType<JetStreamManager['streams']['info']>>): TableInfo | undefined {
    const description = si.config.description ?? '';
    if (!si.config.name.startsWith('KV_') || !description.startsWith(MARKER)) return undefined;
    return {
      name: si.config.name.slice(3),
      history: si.config.max_msgs_per_subject,
      stream: si.config.name,
      items: si.state.num_subjects ?? 0,
      bytes: si.state.bytes,
      description: description.slice(MARKER.length).replace(/^: /, ''),
    };
  }
}
