import { randomUUID } from 'node:crypto';
import type { KV, KvEntry } from '@nats-io/kv';
import { StratusError } from '../../sdk/core/errors';
import { viaNats } from '../../sdk/platform/nats-errors';
import { casWrite, decodeRecord, isRevisionConflict, listKeys } from '../../sdk/platform/kv-records';
import { LATEST, type CodeRef, type FunctionConfig, type FunctionRecord, type ResolvedLayer } from '../../sdk/core/function-config';
import { functionKey, functionNameFromKey } from '../../sdk/platform/nats-layout';
import type { RuntimeName } from '../../sdk/core/runtimes';
import { DEFAULT_LOGGING } from '../../sdk/core/function-logs';

/** A registry change seen through the KV watch. */
export interface RegistryChange {
  name: string;
  /** The new record, or undefined when the function was deleted. */
  record: FunctionRecord | undefined;
  /** The KV revision of the change: later changes have higher revisions, whatever the clocks say. */
  revision: number;
}

/** A stored function record ($LATEST or a version), with defaults for fields older records lack. */
export function decodeFunctionRecord(entry: KvEntry | null): FunctionRecord | undefined {
  const record = decodeRecord<FunctionRecord>(entry);
  // Records written before functions had a logging config get the default one.
  if (record && !record.config.logging) return { ...record, config: { ...record.config, logging: DEFAULT_LOGGING } };
  return record;
}

function notFound(name: string): StratusError {
  return new StratusError('FunctionNotFound', `function '${name}' does not exist: deploy it first (stratus deploy ${name} <folder>) or check the name with stratus ls`);
}

/**
 * Function configurations in a JetStream KV bucket. Every write is a compare-and-set on the
 * entry's revision, so two routers updating one function never lose an update.
 */
export class FunctionRegistry {
  constructor(private readonly kv: KV) {}

  /** The $LATEST record, or undefined. */
  async get(name: string): Promise<FunctionRecord | undefined> {
    return (await this.getEntry(name))?.record;
  }

  /** The $LATEST record with its KV revision, or undefined. */
  async getEntry(name: string): Promise<{ record: FunctionRecord; revision: number } | undefined> {
    const entry = await viaNats(`reading function '${name}'`, () => this.kv.get(functionKey(name)));
    const record = decodeFunctionRecord(entry);
    return entry && record ? { record, revision: entry.revision } : undefined;
  }

  /** Creates a function; FunctionAlreadyExists when the name is taken. */
  async create(config: FunctionConfig, runtime: RuntimeName, code: CodeRef, layers: ResolvedLayer[], tenant: string): Promise<FunctionRecord> {
    const record: FunctionRecord = { tenant, config, runtime, code, layers, version: LATEST, revisionId: randomUUID(), lastModifiedMs: Date.now() };
    try {
      await viaNats(`storing function '${config.name}'`, () => this.kv.create(functionKey(config.name), JSON.stringify(record)));
    } catch (cause) {
      if (!isRevisionConflict(cause instanceof StratusError ? cause.cause : cause)) throw cause;
      throw new StratusError('FunctionAlreadyExists', `function '${config.name}' already exists: update it (stratus deploy updates code and configuration) or pick another name`, { cause });
    }
    return record;
  }

  /**
   * Applies `change` to the current record and stores it with a new revision id. Retries a few
   * times when another writer got there first; `expectedRevisionId` makes the caller's own
   * read part of the check.
   */
  async update(name: string, change: (current: FunctionRecord) => FunctionRecord | Promise<FunctionRecord>, expectedRevisionId?: string): Promise<FunctionRecord> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const entry = await viaNats(`reading function '${name}'`, () => this.kv.get(functionKey(name)));
      const current = decodeFunctionRecord(entry);
      if (!entry || !current) throw notFound(name);
      if (expectedRevisionId && current.revisionId !== expectedRevisionId) {
        throw new StratusError('RevisionConflict', `function '${name}' changed since revision ${expectedRevisionId}: read it again and retry`);
      }
      const next: FunctionRecord = { ...(await change(current)), version: LATEST, revisionId: randomUUID(), lastModifiedMs: Date.now() };
      // Another router wrote in between (undefined): read again. Anything else is NATS failing.
      const revision = await casWrite(`storing function '${name}'`, () => this.kv.update(functionKey(name), JSON.stringify(next), entry.revision));
      if (revision !== undefined) return next;
    }
    throw new StratusError('RevisionConflict', `function '${name}' is being changed concurrently: retry`);
  }

  /** Deletes a function; FunctionNotFound when absent. */
  async delete(name: string): Promise<void> {
    const entry = await viaNats(`reading function '${name}'`, () => this.kv.get(functionKey(name)));
    if (!decodeFunctionRecord(entry)) throw notFound(name);
    await viaNats(`deleting function '${name}'`, () => this.kv.delete(functionKey(name)));
  }

  /** Every function's $LATEST record, sorted by name, a page at a time. */
  async list(marker: string, maxItems: number): Promise<{ records: FunctionRecord[]; nextMarker: string }> {
    const keys = await viaNats('listing functions', () => listKeys(this.kv, 'fn.*.latest'));
    const names = keys.map(functionNameFromKey).filter((name): name is string => !!name && name > marker);
    names.sort();
    const page = names.slice(0, maxItems);
    const records = (await Promise.all(page.map((n) => this.get(n)))).filter((r): r is FunctionRecord => r !== undefined);
    return { records, nextMarker: names.length > maxItems ? (page[page.length - 1] ?? '') : '' };
  }

  /** Calls `onChange` for every change from now on, until `signal` aborts. */
  async watch(onChange: (change: RegistryChange) => void, signal: AbortSignal): Promise<void> {
    const iter = await this.kv.watch({ key: 'fn.>', include: 'updates' });
    signal.addEventListener('abort', () => iter.stop(), { once: true });
    for await (const entry of iter) {
      const name = functionNameFromKey(entry.key);
      if (name) onChange({ name, record: decodeFunctionRecord(entry), revision: entry.revision });
    }
  }
}
