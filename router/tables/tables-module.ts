import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { BucketServiceServer } from '../../proto/gen/stratus/v1/buckets';
import type { TableServiceServer } from '../../proto/gen/stratus/v1/tables';
import type { HandlerContext } from '../grpc-handler';
import { createBucketService } from './bucket-service';
import { BucketStore } from './bucket-store';
import { createTableService } from './table-service';
import { TableStore, type SourceUsers } from './table-store';

/** What tables and buckets need from the router. */
export interface TablesDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Who reads a table's or bucket's changes (event source mappings), so one in use is not deleted. */
  usersOf: SourceUsers;
}

/** Tables (KV buckets) and object buckets, wired; main.ts adds the services. */
export interface Tables {
  tableService(ctx: HandlerContext): TableServiceServer;
  bucketService(ctx: HandlerContext): BucketServiceServer;
  /** Resolves when the table exists; throws NotFound otherwise (mappings check their sources). */
  requireTable(name: string): Promise<void>;
  /** Resolves when the bucket exists; throws NotFound otherwise. */
  requireBucket(name: string): Promise<void>;
}

/** Builds the table and bucket stores and their services. */
export function createTables(deps: TablesDeps, options: { replicas: number }): Tables {
  const tables = new TableStore(deps.nc, deps.jsm, options.replicas, deps.usersOf);
  const buckets = new BucketStore(deps.nc, deps.jsm, options.replicas, deps.usersOf);
  return {
    tableService: (ctx) => createTableService(ctx, tables),
    bucketService: (ctx) => createBucketService(ctx, buckets),
    requireTable: async (name) => {
      await tables.info(name);
    },
    requireBucket: async (name) => {
      await buckets.info(name);
    },
  };
}
