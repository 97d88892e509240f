/**
 * Change records of tables (KV buckets) and buckets of objects (Object Store), as plain
 * functions over plain data. A batch event is `{"Records":[record, …]}` as for streams.
 *
 * A table change:
 *
 *   {
 *     "eventSource": "stratus:table",
 *     "eventSourceArn": "arn:stratus:table:local:000000000000:table/users",
 *     "eventName": "PUT",                 PUT, DEL or PURGE (as operation)
 *     "eventVersion": "1.0",
 *     "eventID": "users:12",
 *     "table": "users",
 *     "key": "user.7",
 *     "operation": "PUT",
 *     "revision": 12,                     the KV revision (the stream sequence)
 *     "sequence": "12",                   the same as a string: the itemIdentifier of batchItemFailures
 *     "timestamp": "2025-01-01T12:00:00.123Z",
 *     "newValue": {"data": "<base64>", "json": {...}},   null for DEL and PURGE; json only when it parses
 *     "previousValue": {"revision": 9, "data": "<base64>", "json": {...}}   or null
 *   }
 *
 * previousValue is the key's value before this change: null when the key had none (new, or
 * deleted before), and also when that revision is no longer kept — a table keeps `history`
 * revisions per key, and a PURGE removes all earlier ones.
 *
 * An object change:
 *
 *   {
 *     "eventSource": "stratus:bucket",
 *     "eventSourceArn": "arn:stratus:bucket:local:000000000000:bucket/files",
 *     "eventName": "PUT",                 PUT or DEL
 *     "eventVersion": "1.0",
 *     "eventID": "files:31",
 *     "bucket": "files",
 *     "name": "reports/2025.pdf",
 *     "operation": "PUT",
 *     "size": 48213,                      0 for DEL
 *     "digest": "SHA-256=<base64url>",    null for DEL
 *     "chunks": 1,
 *     "description": "…",                 when the object has one
 *     "mtime": "2025-01-01T12:00:00.120Z",
 *     "sequence": "31",
 *     "timestamp": "2025-01-01T12:00:00.123Z"
 *   }
 *
 * The Object Store keeps only an object's latest state, so changes made in quick succession
 * before the mapping read them may arrive as one.
 */
import { decodeData, type RawRecord } from './stream-records';

/** What a KV message says happened to a key. */
export type KvOperation = 'PUT' | 'DEL' | 'PURGE';

/** One change of a table, from its stream message. */
export interface KvChange {
  table: string;
  key: string;
  operation: KvOperation;
  value: Uint8Array;
  revision: number;
  timestampMs: number;
}

/** A kept earlier revision of a key. */
export interface KvRevision {
  revision: number;
  operation: KvOperation;
  value: Uint8Array;
}

/** The operation a KV message's headers name (no header: a put). */
export function kvOperation(headers: Record<string, string>): KvOperation {
  const op = headers['KV-Operation'];
  return op === 'DEL' || op === 'PURGE' ? op : 'PUT';
}

/** Reads a change from a message of stream KV_<table> (subject $KV.<table>.<key>). */
export function kvChange(raw: RawRecord, table: string): KvChange {
  const prefix = `$KV.${table}.`;
  const key = raw.subject.startsWith(prefix) ? raw.subject.slice(prefix.length) : raw.subject;
  return { table, key, operation: kvOperation(raw.headers), value: raw.data, revision: raw.seq, timestampMs: raw.timestampMs };
}

function value(bytes: Uint8Array): Record<string, unknown> {
  const d = decodeData(bytes);
  return d.isJson ? { data: d.base64, json: d.json } : { data: d.base64 };
}

/** The record of a table change; `previous` is the revision before it when one is kept (see the file comment). */
export function tableRecord(change: KvChange, previous: KvRevision | undefined, eventSourceArn: string): Record<string, unknown> {
  return {
    eventSource: 'stratus:table',
    eventSourceArn,
    eventName: change.operation,
    eventVersion: '1.0',
    eventID: `${change.table}:${change.revision}`,
    table: change.table,
    key: change.key,
    operation: change.operation,
    revision: change.revision,
    sequence: String(change.revision),
    timestamp: new Date(change.timestampMs).toISOString(),
    newValue: change.operation === 'PUT' ? value(change.value) : null,
    previousValue: previous && previous.operation === 'PUT' ? { revision: previous.revision, ...value(previous.value) } : null,
  };
}

/** What the Object Store writes on a meta subject (the fields records use). */
export interface ObjectMeta {
  name: string;
  size: number;
  chunks: number;
  digest: string;
  deleted: boolean;
  mtimeMs: number;
  description: string;
}

/** Reads the object info a message of stream OBJ_<bucket> carries on $O.<bucket>.M.>; undefined when it is not one. */
export function objectMeta(raw: RawRecord): ObjectMeta | undefined {
  const d = decodeData(raw.data);
  if (!d.isJson || d.json === null || typeof d.json !== 'object') return undefined;
  const info = d.json as { name?: unknown; size?: unknown; chunks?: unknown; digest?: unknown; deleted?: unknown; mtime?: unknown; description?: unknown };
  if (typeof info.name !== 'string') return undefined;
  const mtime = typeof info.mtime === 'string' ? Date.parse(info.mtime) : NaN;
  return {
    name: info.name,
    size: typeof info.size === 'number' ? info.size : 0,
    chunks: typeof info.chunks === 'number' ? info.chunks : 0,
    digest: typeof info.digest === 'string' ? info.digest : '',
    deleted: info.deleted === true,
    mtimeMs: Number.isFinite(mtime) ? mtime : raw.timestampMs,
    description: typeof info.description === 'string' ? info.description : '',
  };
}

/** The record of an object change (see the file comment). */
export function bucketRecord(raw: RawRecord, bucket: string, meta: ObjectMeta, eventSourceArn: string): Record<string, unknown> {
  const operation = meta.deleted ? 'DEL' : 'PUT';
  const rec: Record<string, unknown> = {
    eventSource: 'stratus:bucket',
    eventSourceArn,
    eventName: operation,
    eventVersion: '1.0',
    eventID: `${bucket}:${raw.seq}`,
    bucket,
    name: meta.name,
    operation,
    size: meta.deleted ? 0 : meta.size,
    digest: meta.deleted || !meta.digest ? null : meta.digest,
    chunks: meta.deleted ? 0 : meta.chunks,
  };
  if (meta.description) rec.description = meta.description;
  rec.mtime = new Date(meta.mtimeMs).toISOString();
  rec.sequence = String(raw.seq);
  rec.timestamp = new Date(raw.timestampMs).toISOString();
  return rec;
}
