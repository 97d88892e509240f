import type { Bucket, BucketServiceServer, StoredObject } from '../../proto/gen/stratus/v1/buckets';
import { unary, type HandlerContext } from '../grpc-handler';
import type { BucketInfo, BucketStore, StoredObjectInfo } from './bucket-store';

function bucketToPb(b: BucketInfo): Bucket {
  return { name: b.name, stream: b.stream, bytes: b.bytes, description: b.description };
}

function objectToPb(o: StoredObjectInfo): StoredObject {
  return { bucket: o.bucket, name: o.name, size: o.size, digest: o.digest, mtimeMs: o.mtimeMs };
}

/** BucketService: create, list and delete buckets; put, get, delete and list objects. */
export function createBucketService(ctx: HandlerContext, buckets: BucketStore): BucketServiceServer {
  return {
    createBucket: unary(ctx, 'stratus.BucketService/CreateBucket', async (req) => bucketToPb(await buckets.create(req.name, req.description))),
    listBuckets: unary(ctx, 'stratus.BucketService/ListBuckets', async () => ({ buckets: (await buckets.list()).map(bucketToPb) })),
    deleteBucket: unary(ctx, 'stratus.BucketService/DeleteBucket', async (req) => {
      await buckets.delete(req.name);
      return {};
    }),
    putObject: unary(ctx, 'stratus.BucketService/PutObject', async (req) => objectToPb(await buckets.put(req.bucket, req.name, req.data))),
    getObject: unary(ctx, 'stratus.BucketService/GetObject', async (req) => {
      const { info, data } = await buckets.get(req.bucket, req.name);
      return { object: objectToPb(info), data: Buffer.from(data) };
    }),
    deleteObject: unary(ctx, 'stratus.BucketService/DeleteObject', async (req) => {
      await buckets.deleteObject(req.bucket, req.name);
      return {};
    }),
    listObjects: unary(ctx, 'stratus.BucketService/ListObjects', async (req) => ({ objects: (await buckets.listObjects(req.bucket)).map(objectToPb) })),
  };
}
