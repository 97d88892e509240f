import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import { natsFailure } from './nats-errors';

// What the KV registries (functions, layers, routes, triggers, schedules, mappings, leases,
// tables) share: the one test for a lost compare-and-set, reading JSON records, listing a key
// range, and a create-or-update on what was read.

/**
 * True when a compare-and-set write (KV create, update, or delete with `previousSeq`) lost to
 * another writer: the key's last sequence was not the one expected. JetStream answers with
 * either code, depending on the server version and whether the key has a value.
 */
export function isRevisionConflict(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/** True when an entry holds a value (a PUT with content), not a delete, a purge or nothing. */
export function isLive(entry: KvEntry | null | undefined): entry is KvEntry {
  return entry !== null && entry !== undefined && entry.operation === 'PUT' && entry.length > 0;
}

/** The JSON record an entry holds, or undefined for a deleted, purged or absent key. Throws on invalid JSON. */
export function decodeRecord<T>(entry: KvEntry | null | undefined): T | undefined {
  return isLive(entry) ? entry.json<T>() : undefined;
}

/** Every key matching `filter` (a subject filter over the bucket's keys, e.g. `trg.*`), in no particular order. */
export async function listKeys(kv: KV, filter: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of await kv.keys(filter)) keys.push(k);
  return keys;
}

/**
 * The decoded values of every key matching `filter`, in key order of the listing; keys that
 * `decode` turns into undefined (deleted meanwhile, unreadable) are left out. Reads one key at
 * a time, so a large range does not flood the server. NATS failures are thrown as they are:
 * callers wrap this in viaNats with what they were doing.
 */
export async function listRecords<T>(kv: KV, filter: string, decode: (entry: KvEntry | null) => T | undefined): Promise<T[]> {
  const out: T[] = [];
  for (const k of await listKeys(kv, filter)) {
    const value = decode(await kv.get(k));
    if (value !== undefined) out.push(value);
  }
  return out;
}

/**
 * Writes `value` under `key` only if the key is still as `read` saw it: an update on the read
 * entry's revision when it was live, otherwise a create (which KV also allows over a deleted
 * key). Returns the new revision, or undefined when another writer got there first, so the
 * caller reads again. Other failures are thrown as {@link natsFailure} naming `what`.
 */
export async function writeIfUnchanged(kv: KV, key: string, value: string | Uint8Array, read: KvEntry | null | undefined, what: string): Promise<number | undefined> {
  try {
    return isLive(read) ? await kv.update(key, value, read.revision) : await kv.create(key, value);
  } catch (err) {
    if (isRevisionConflict(err)) return undefined;
    throw natsFailure(what, err);
  }
}

/** Runs a compare-and-set write; undefined when it lost the race, other failures thrown as {@link natsFailure} naming `what`. */
export async function casWrite<T>(what: string, write: () => Promise<T>): Promise<T | undefined> {
  try {
    return await write();
  } catch (err) {
    if (isRevisionConflict(err)) return undefined;
    throw natsFailure(what, err);
  }
}
