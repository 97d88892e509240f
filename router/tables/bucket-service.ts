import type { Bucket, BucketServiceServer, StoredObject } from '../../proto/gen/stratus/v1/buckets';
import { unary, type HandlerContext } from '../grpc-handler';
import type { Action } from '../../sdk/core/access';
import type { Principal } from '../../sdk/core/identity';
import type { BucketInfo, BucketStore, StoredObjectInfo } from './bucket-store';

function bucketToPb(b: BucketInfo): Bucket {
  return { name: b.name, stream: b.stream, bytes: b.bytes, description: b.description };
}

function objectToPb(o: StoredObjectInfo): StoredObject {
  return { bucket: o.bucket, name: o.name, size: o.size, digest: o.digest, mtimeMs: o.mtimeMs };
}

/** BucketService: create, list and delete buckets; put, get, delete and list objects. A bucket belongs to the tenant that created it. */
export function createBucketService(ctx: HandlerContext, buckets: BucketStore): BucketServiceServer {
  const { access } = ctx;
  const authorized = async (caller: Principal, action: Action, name: string): Promise<void> => {
    await access.authorize(caller, action, { kind: 'bucket', name, tenant: await access.ownerOf('bucket', name) });
  };
  return {
    createBucket: unary(ctx, 'stratus.BucketService/CreateBucket', async (req, _span, caller) => {
      await access.authorize(caller, 'bucket:write', { kind: 'bucket', name: req.name, tenant: caller.tenant });
      await access.claim('bucket', req.name, caller.tenant);
      try {
        return bucketToPb(await buckets.create(req.name, req.description));
      } catch (err) {
        if (!(await buckets.list()).some((b) => b.name === req.name)) await access.release('bucket', req.name).catch(() => undefined);
        throw err;
      }
    }),
    listBuckets: unary(ctx, 'stratus.BucketService/ListBuckets', async (_req, _span, caller) => {
      await access.authorize(caller, 'bucket:read', { kind: 'bucket', name: '*', tenant: caller.tenant });
      return { buckets: (await buckets.list()).filter((b) => access.checkNow(caller, 'bucket:read', { kind: 'bucket', name: b.name, tenant: access.ownerNow('bucket', b.name) }).allowed).map(bucketToPb) };
    }),
    deleteBucket: unary(ctx, 'stratus.BucketService/DeleteBucket', async (req, _span, caller) => {
      await authorized(caller, 'bucket:write', req.name);
      await buckets.delete(req.name);
      await access.release('bucket', req.name);
      return {};
    }),
    putObject: unary(ctx, 'stratus.BucketService/PutObject', async (req, _span, caller) => {
      await authorized(caller, 'bucket:write', req.bucket);
      return objectToPb(await buckets.put(req.bucket, req.name, req.data));
    }),
    getObject: unary(ctx, 'stratus.BucketService/GetObject', async (req, _span, caller) => {
      await authorized(caller, 'bucket:read', req.bucket);
      const { info, data } = await buckets.get(req.bucket, req.name);
      return { object: objectToPb(info), data: Buffer.from(data) };
    }),
    deleteObject: unary(ctx, 'stratus.BucketService/DeleteObject', async (req, _span, caller) => {
      await authorized(caller, 'bucket:write', req.bucket);
      await buckets.deleteObject(req.bucket, req.name);
      return {};
    }),
    listObjects: unary(ctx, 'stratus.BucketService/ListObjects', async (req, _span, caller) => {
      await authorized(caller, 'bucket:read', req.bucket);
      return { objects: (await buckets.listObjects(req.bucket)).map(objectToPb) };
    }),
  };
}
