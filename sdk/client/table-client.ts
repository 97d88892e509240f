import type { BucketServiceClient, Bucket as BucketPb, GetObjectResponse, ListBucketsResponse, ListObjectsResponse, StoredObject as StoredObjectPb } from '../../proto/gen/stratus/v1/buckets';
import type { Item as ItemPb, ListTablesResponse, PutItemResponse, Table as TablePb, TableServiceClient } from '../../proto/gen/stratus/v1/tables';
import type { TableInfo } from '../core/table-config';
import type { UnaryCaller } from './router-transport';

export type { TableInfo };

/** An item read from a table. */
export interface TableItem {
  table: string;
  key: string;
  value: Buffer;
  revision: number;
  time: Date;
}

/** A bucket of objects: a JetStream Object Store bucket whose object changes can trigger functions. */
export interface BucketInfo {
  name: string;
  /** The stream underneath (OBJ_<name>). */
  stream: string;
  bytes: number;
  description: string;
}

/** An object's metadata. */
export interface ObjectInfo {
  bucket: string;
  name: string;
  size: number;
  /** "SHA-256=<base64url>". */
  digest: string;
  modified: Date;
}

function bytes(value: Buffer | string): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value);
}

function tableFromPb(t: TablePb): TableInfo {
  return { name: t.name, history: t.history, stream: t.stream, items: t.items, bytes: t.bytes, description: t.description };
}

function bucketFromPb(b: BucketPb): BucketInfo {
  return { name: b.name, stream: b.stream, bytes: b.bytes, description: b.description };
}

function objectFromPb(o: StoredObjectPb | undefined): ObjectInfo {
  return { bucket: o?.bucket ?? '', name: o?.name ?? '', size: o?.size ?? 0, digest: o?.digest ?? '', modified: new Date(o?.mtimeMs ?? 0) };
}

/** Tables and their items (client.tables). */
export class TableClient {
  constructor(private readonly call: UnaryCaller<{ tables: TableServiceClient }>) {}

  /** Creates a table (history 2-64, default 5); creating an existing one with the same history returns it. */
  async create(name: string, options: { history?: number; description?: string } = {}): Promise<TableInfo> {
    return tableFromPb(await this.call<TablePb>('write', 'CreateTable', (s, md, opts, cb) => s.tables.createTable({ name, history: options.history ?? 0, description: options.description ?? '' }, md, opts, cb)));
  }

  /** Every table. */
  async list(): Promise<TableInfo[]> {
    return (await this.call<ListTablesResponse>('read', 'ListTables', (s, md, opts, cb) => s.tables.listTables({}, md, opts, cb))).tables.map(tableFromPb);
  }

  /** Deletes a table and its items; refused while mappings read it. */
  async delete(name: string): Promise<void> {
    await this.call('write', 'DeleteTable', (s, md, opts, cb) => s.tables.deleteTable({ name }, md, opts, cb));
  }

  /** Writes an item; returns its revision. `expectedRevision` makes it a compare-and-set (0: only when the key has no value). */
  async put(table: string, key: string, value: Buffer | string, options: { expectedRevision?: number } = {}): Promise<number> {
    const res = await this.call<PutItemResponse>('write', 'PutItem', (s, md, opts, cb) => s.tables.putItem({ table, key, value: bytes(value), expectedRevision: options.expectedRevision }, md, opts, cb));
    return res.revision;
  }

  /** Reads an item; ResourceNotFound when the key has no value. */
  async get(table: string, key: string): Promise<TableItem> {
    const item = await this.call<ItemPb>('read', 'GetItem', (s, md, opts, cb) => s.tables.getItem({ table, key }, md, opts, cb));
    return { table: item.table, key: item.key, value: item.value, revision: item.revision, time: new Date(item.timeMs) };
  }

  /** Deletes an item (a DEL change), or with `purge` also its history (a PURGE change). */
  async deleteItem(table: string, key: string, options: { purge?: boolean } = {}): Promise<void> {
    await this.call('write', 'DeleteItem', (s, md, opts, cb) => s.tables.deleteItem({ table, key, purge: options.purge ?? false }, md, opts, cb));
  }
}

/** Buckets of objects (client.buckets). */
export class BucketClient {
  constructor(private readonly call: UnaryCaller<{ buckets: BucketServiceClient }>) {}

  /** Creates a bucket; creating an existing one returns it. */
  async create(name: string, options: { description?: string } = {}): Promise<BucketInfo> {
    return bucketFromPb(await this.call<BucketPb>('write', 'CreateBucket', (s, md, opts, cb) => s.buckets.createBucket({ name, description: options.description ?? '' }, md, opts, cb)));
  }

  /** Every bucket. */
  async list(): Promise<BucketInfo[]> {
    return (await this.call<ListBucketsResponse>('read', 'ListBuckets', (s, md, opts, cb) => s.buckets.listBuckets({}, md, opts, cb))).buckets.map(bucketFromPb);
  }

  /** Deletes a bucket and its objects; refused while mappings read it. */
  async delete(name: string): Promise<void> {
    await this.call('write', 'DeleteBucket', (s, md, opts, cb) => s.buckets.deleteBucket({ name }, md, opts, cb));
  }

  /** Stores an object (up to 6 MB through the API). */
  async put(bucket: string, name: string, data: Buffer | string): Promise<ObjectInfo> {
    return objectFromPb(await this.call<StoredObjectPb>('write', 'PutObject', (s, md, opts, cb) => s.buckets.putObject({ bucket, name, data: bytes(data) }, md, opts, cb)));
  }

  /** Reads an object. */
  async get(bucket: string, name: string): Promise<{ info: ObjectInfo; data: Buffer }> {
    const res = await this.call<GetObjectResponse>('read', 'GetObject', (s, md, opts, cb) => s.buckets.getObject({ bucket, name }, md, opts, cb));
    return { info: objectFromPb(res.object), data: res.data };
  }

  /** Deletes an object. */
  async deleteObject(bucket: string, name: string): Promise<void> {
    await this.call('write', 'DeleteObject', (s, md, opts, cb) => s.buckets.deleteObject({ bucket, name }, md, opts, cb));
  }

  /** The objects of a bucket. */
  async listObjects(bucket: string): Promise<ObjectInfo[]> {
    return (await this.call<ListObjectsResponse>('read', 'ListObjects', (s, md, opts, cb) => s.buckets.listObjects({ bucket }, md, opts, cb))).objects.map(objectFromPb);
  }
}
