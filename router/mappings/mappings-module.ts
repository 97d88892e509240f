import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Tracer } from '@opentelemetry/api';
import type { MappingServiceServer } from '../../proto/gen/stratus/v1/mappings';
import { functionArn } from '../../sdk/core/function-config';
import { LIMITS } from '../../sdk/core/limits';
import type { Logger } from '../../sdk/platform/logger';
import { eventSourceArn, sourceStream } from '../../sdk/core/mapping-config';
import { BUCKETS } from '../../sdk/platform/nats-layout';
import type { AsyncQueue } from '../async/async-queue';
import type { FunctionCache } from '../functions/function-cache';
import type { HandlerContext } from '../grpc-handler';
import { BatchInvoker, type MappingRefusal, type SyncInvoke } from './batch-invoker';
import { BatchRunner } from './batch-runner';
import { Checkpoints } from './checkpoint';
import { FailureSink } from './failure-sink';
import { LeaseStore } from './lease-store';
import { MappingManager } from './mapping-manager';
import { MappingMetrics } from './mapping-metrics';
import type { MappingOptions } from './mapping-options';
import { MappingPoller } from './mapping-poller';
import { MappingRegistry } from './mapping-registry';
import { createMappingService } from './mapping-service';
import { MappingSupervisor } from './mapping-supervisor';
import { recordDecoder } from './record-source';

/** What event source mappings need from the router. */
export interface MappingDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  queue: AsyncQueue;
  cache: FunctionCache;
  invoker: SyncInvoke;
  watchAsync: (functionName: string) => void;
  /** Throws NotFound unless the table a mapping reads exists. */
  requireTable: (name: string) => Promise<void>;
  /** Throws NotFound unless the bucket a mapping reads exists. */
  requireBucket: (name: string) => Promise<void>;
  /** Why a mapping's tenant may not (or no longer) invoke its function, decided per batch from memory; undefined: it may. */
  refusal?: MappingRefusal;
  tracer: Tracer;
  logger: Logger;
}

/** Event source mappings, wired; main.ts adds the services and starts and stops them. */
export interface Mappings {
  mappingService(ctx: HandlerContext): MappingServiceServer;
  /** Ids of the mappings that read a table's or bucket's changes. */
  usersOf(kind: 'table' | 'bucket', name: string): Promise<string[]>;
  start(): void;
  /** Stops polling (waits up to `graceMs` for running batches) and hands the leases back. */
  stop(graceMs: number): Promise<void>;
  /** Why mappings are not ready, or undefined. */
  problem(): string | undefined;
  /** Prometheus text of the mapping counters. */
  prometheus(): string;
}

/** Consumers may have this many unacknowledged records; each poller holds far fewer. */
const MAX_ACK_PENDING = 100_000;

/** Opens the mapping and lease buckets and builds the mapping components. */
export async function createMappings(deps: MappingDeps, options: MappingOptions): Promise<Mappings> {
  const { nc, js, jsm, logger } = deps;
  const kvm = new Kvm(nc);
  const mappingsKv = await kvm.create(BUCKETS.mappings, { history: 1, replicas: options.replicas, description: 'Stratus event source mappings' });
  const leaseKv = await kvm.create(BUCKETS.mappingLeases, { history: 1, replicas: options.replicas, ttl: options.leaseTtlMs, description: 'Stratus mapping leases and live routers' });
  // The bucket's max age is the lease TTL; a bucket made by a router configured otherwise wins.
  const ttlMs = (await leaseKv.status()).ttl || options.leaseTtlMs;
  if (ttlMs !== options.leaseTtlMs) logger.warn('mapping lease TTL differs from STRATUS_MAPPING_LEASE_TTL_MS; using the leases bucket\'s', { bucketTtlMs: ttlMs, configuredMs: options.leaseTtlMs });
  const registry = new MappingRegistry(mappingsKv);
  const leases = new LeaseStore(leaseKv, ttlMs);
  const checkpoints = new Checkpoints(jsm, { ackWaitMs: options.ackWaitMs, maxAckPending: MAX_ACK_PENDING });
  const manager: MappingManager = new MappingManager({
    registry,
    checkpoints,
    leases,
    jsm,
    cache: deps.cache,
    requireTable: deps.requireTable,
    requireBucket: deps.requireBucket,
    changed: () => supervisor.poke(),
    region: options.region,
    accountId: options.accountId,
  });
  const metrics = new MappingMetrics(10_000);
  const invoker = new BatchInvoker(deps.cache, deps.invoker, { region: options.region, accountId: options.accountId, invokeSlackMs: options.invokeSlackMs }, deps.refusal);
  const failures = new FailureSink({ js, queue: deps.queue, cache: deps.cache, watchAsync: deps.watchAsync, logger });
  // Failure records may become asynchronous events (a function destination, a dead letter redriven): keep them within that limit.
  const maxFailureRecordBytes = Math.min((nc.info?.max_payload ?? 1024 * 1024) - 8192, LIMITS.maxAsyncPayloadBytes);
  const backoff = { retryBaseMs: options.retryBaseMs, retryCapMs: options.retryCapMs, throttleBaseMs: options.throttleBaseMs, throttleCapMs: options.throttleCapMs };
  const mirror = registry.mirror(logger, () => supervisor.poke());
  const tickMs = Math.max(250, Math.floor(ttlMs / 3));
  const supervisor = new MappingSupervisor(
    {
      mappings: mirror,
      readMapping: (id) => registry.get(id),
      leases,
      logger,
      saveProgress: (id, hint) => registry.writeProgress(id, hint),
      cleanUp: async (m) => {
        await checkpoints.remove(m.id, sourceStream(m.source).stream);
        await registry.deleteProgress(m.id);
      },
      createPoller: (mapping, leaseValid) => {
        const { stream, subjectFilter } = sourceStream(mapping.source);
        const arn = eventSourceArn(options.region, options.accountId, mapping.source);
        const runner = new BatchRunner(mapping, { invoker, failures, metrics, tracer: deps.tracer, logger }, {
          stream,
          subjectFilter,
          functionArn: functionArn(options.region, options.accountId, mapping.functionName),
          eventSourceArn: arn,
          maxFailureRecordBytes,
          backoff,
        });
        return new MappingPoller(
          mapping,
          {
            js,
            checkpoints,
            runner,
            decode: recordDecoder(mapping, arn, jsm),
            logger,
            leaseValid,
            mappingExists: async () => (await registry.get(mapping.id)) !== undefined,
            readProgress: () => registry.readProgress(mapping.id),
          },
          { stream, subjectFilter, fetchExpiresMs: options.fetchExpiresMs, maxBufferedRecords: options.maxBufferedRecords, maxBufferedBytes: options.maxBufferedBytes },
        );
      },
    },
    { routerId: options.routerId, tickMs, takeoverGraceMs: 2 * tickMs, rebalance: options.rebalance, minHoldMs: 30_000, stopGraceMs: 10_000 },
  );
  return {
    mappingService: (ctx) => createMappingService(ctx, manager, deps.cache),
    usersOf: (kind, name) => manager.usersOf(kind, name),
    start: () => {
      mirror.start();
      supervisor.start();
    },
    stop: async (graceMs) => {
      await supervisor.stop(graceMs);
      await mirror.stop();
    },
    problem: () => (mirror.healthy ? undefined : 'mapping watch not running'),
    prometheus: () => metrics.prometheus(),
  };
}
