import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Objm, type ObjectInfo, type ObjectStore } from '@nats-io/obj';
import { StratusError } from '../../sdk/core/errors';
import { natsFailure, viaNats } from '../../sdk/platform/nats-errors';
import { LIMITS } from '../../sdk/core/limits';
import { validateStoreName } from '../../sdk/core/mapping-config';
import type { SourceUsers } from './table-store';

/** A bucket as the API shows it. */
export interface BucketInfo {
  name: string;
  stream: string;
  bytes: number;
  description: string;
}

/** An object's metadata. */
export interface StoredObjectInfo {
  bucket: string;
  name: string;
  size: number;
  digest: string;
  mtimeMs: number;
}

/** Object Store buckets Stratus created carry this description prefix; others are left alone. */
const MARKER = 'Stratus bucket';
const MAX_NAME = 1024;

function objectInfo(bucket: string, o: ObjectInfo): StoredObjectInfo {
  return { bucket, name: o.name, size: o.size, digest: o.digest, mtimeMs: Date.parse(o.mtime) || 0 };
}

function validateObjectName(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME) throw new StratusError('InvalidRequest', `invalid object name: use 1 to ${MAX_NAME} characters`);
  return name;
}

/**
 * Buckets of objects: JetStream Object Store buckets created through Stratus (marked by their
 * description). Objects up to the synchronous payload limit go through the API; larger ones can
 * be written with any NATS client and trigger mappings just the same.
 */
export class BucketStore {
  private readonly objm: Objm;

  constructor(
    nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly replicas: number,
    private readonly usersOf: SourceUsers,
  ) {
    this.objm = new Objm(nc);
  }

  /** Creates a bucket; creating an existing one returns it. */
  async create(name: string, description: string): Promise<BucketInfo> {
    validateStoreName('bucket', name);
    const existing = await this.info(name).catch((err: unknown) => {
      if (err instanceof StratusError && err.code === 'ResourceNotFound') return undefined;
      throw err;
    });
    if (existing) return existing;
    await viaNats(`creating bucket '${name}'`, () => this.objm.create(name, { replicas: this.replicas, description: description ? `${MARKER}: ${description}` : MARKER }));
    return this.info(name);
  }

  /** Every Stratus bucket. */
  async list(): Promise<BucketInfo[]> {
    const out: BucketInfo[] = [];
    await viaNats('listing buckets', async () => {
      for await (const s of this.objm.list()) {
        const info = this.toInfo(s.streamInfo);
        if (info) out.push(info);
      }
    });
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One bucket; ResourceNotFound when it does not exist or is not a Stratus bucket. */
  async info(name: string): Promise<BucketInfo> {
    validateStoreName('bucket', name);
    const si = await this.jsm.streams.info(`OBJ_${name}`).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
      throw natsFailure(`reading bucket '${name}'`, err);
    });
    const info = si && this.toInfo(si);
    if (!info) throw new StratusError('ResourceNotFound', `bucket '${name}' does not exist: create it with stratus buckets create ${name}`);
    return info;
  }

  /** Deletes a bucket with its objects; refused while mappings read it. */
  async delete(name: string): Promise<void> {
    await this.info(name);
    const users = await this.usersOf('bucket', name);
    if (users.length > 0) throw new StratusError('ResourceConflict', `bucket '${name}' feeds mapping(s) ${users.join(', ')}: delete them first (stratus mappings rm <id>)`);
    await viaNats(`deleting bucket '${name}'`, () => this.jsm.streams.delete(`OBJ_${name}`));
  }

  /** Stores an object (replacing one of the same name). */
  async put(bucket: string, name: string, data: Uint8Array): Promise<StoredObjectInfo> {
    validateObjectName(name);
    if (data.length > LIMITS.maxSyncPayloadBytes) {
      throw new StratusError('PayloadTooLarge', `the object is ${data.length} bytes, over the ${LIMITS.maxSyncPayloadBytes}-byte API limit: write large objects with a NATS client (Object Store bucket ${bucket})`);
    }
    const os = await this.open(bucket);
    return objectInfo(bucket, await viaNats(`storing object '${name}' in bucket '${bucket}'`, () => os.putBlob({ name }, data)));
  }

  /** Reads an object; ResourceNotFound when absent. */
  async get(bucket: string, name: string): Promise<{ info: StoredObjectInfo; data: Uint8Array }> {
    validateObjectName(name);
    const os = await this.open(bucket);
    const info = await viaNats(`reading object '${name}'`, () => os.info(name));
    if (!info || info.deleted) throw new StratusError('ResourceNotFound', `bucket '${bucket}' has no object '${name}'`);
    if (info.size > LIMITS.maxSyncPayloadBytes) throw new StratusError('PayloadTooLarge', `object '${name}' is ${info.size} bytes, over the ${LIMITS.maxSyncPayloadBytes}-byte API limit: read it with a NATS client`);
    const data = await viaNats(`reading object '${name}'`, () => os.getBlob(name));
    if (!data) throw new StratusError('ResourceNotFound', `bucket '${bucket}' has no object '${name}'`);
    return { info: objectInfo(bucket, info), data };
  }

  /** Deletes an object; ResourceNotFound when absent. */
  async deleteObject(bucket: string, name: string): Promise<void> {
    validateObjectName(name);
    const os = await this.open(bucket);
    const info = await viaNats(`reading object '${name}'`, () => os.info(name));
    if (!info || info.deleted) throw new StratusError('ResourceNotFound', `bucket '${bucket}' has no object '${name}'`);
    await viaNats(`deleting object '${name}'`, () => os.delete(name));
  }

  /** The objects of a bucket. */
  async listObjects(bucket: string): Promise<StoredObjectInfo[]> {
    const os = await this.open(bucket);
    const all = await viaNats(`listing bucket '${bucket}'`, () => os.list());
    return all.filter((o) => !o.deleted).map((o) => objectInfo(bucket, o)).sort((a, b) => a.name.localeCompare(b.name));
  }

  private async open(name: string): Promise<ObjectStore> {
    await this.info(name);
    return viaNats(`opening bucket '${name}'`, () => this.objm.open(name));
  }

  private toInfo(si: Awaited<ReturnType<JetStreamManager['streams']['info']>>): BucketInfo | undefined {
    const description = si.config.description ?? '';
    if (!si.config.name.startsWith('OBJ_') || !description.startsWith(MARKER)) return undefined;
    return { name: si.config.name.slice(4), stream: si.config.name, bytes: si.state.bytes, description: description.slice(MARKER.length).replace(/^: /, '') };
  }
}
