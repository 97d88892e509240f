import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Tracer } from '@opentelemetry/api';
import type { ScheduleServiceServer } from '../proto/gen/stratus/v1/schedules';
import type { EventServiceServer, TriggerServiceServer } from '../proto/gen/stratus/v1/triggers';
import type { Logger } from '../sdk/core/logger';
import { BUCKETS } from '../sdk/core/nats-layout';
import type { AsyncMetrics } from './async/async-metrics';
import type { AsyncQueue } from './async/async-queue';
import type { FunctionCache } from './function-cache';
import type { HandlerContext } from './grpc-handler';
import type { RouterOptions } from './router-options';
import { ScheduleManager } from './schedules/schedule-manager';
import { ScheduleRegistry } from './schedules/schedule-registry';
import { createScheduleService } from './schedules/schedule-service';
import { Scheduler } from './schedules/scheduler';
import { EventPublisher } from './triggers/event-publisher';
import { EventStream } from './triggers/event-stream';
import { TriggerDispatcher } from './triggers/trigger-dispatcher';
import { TriggerManager } from './triggers/trigger-manager';
import { TriggerRegistry } from './triggers/trigger-registry';
import { createEventService, createTriggerService } from './triggers/trigger-service';

/** What the event sources need from the router. */
export interface EventSourceDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  queue: AsyncQueue;
  cache: FunctionCache;
  watchAsync: (functionName: string) => void;
  metrics: AsyncMetrics;
  tracer: Tracer;
  logger: Logger;
}

/** Subject triggers and schedules, wired; main.ts adds the services and starts and stops them. */
export interface EventSources {
  triggerService(ctx: HandlerContext): TriggerServiceServer;
  eventService(ctx: HandlerContext): EventServiceServer;
  scheduleService(ctx: HandlerContext): ScheduleServiceServer;
  start(): void;
  /** Stops pulling events and firing ticks (waits up to `graceMs` for work in progress). */
  stop(graceMs: number): Promise<void>;
  /** Why the event sources are not ready, or undefined. */
  problem(): string | undefined;
}

/** Opens the buckets and the events stream and builds the trigger and schedule components. */
export async function createEventSources(deps: EventSourceDeps, options: RouterOptions & { replicas: number }): Promise<EventSources> {
  const { logger } = deps;
  const kvm = new Kvm(deps.nc);
  const triggerRegistry = new TriggerRegistry(await kvm.create(BUCKETS.triggers, { history: 1, replicas: options.replicas, description: 'Stratus subject triggers' }));
  const scheduleRegistry = new ScheduleRegistry(await kvm.create(BUCKETS.schedules, { history: 1, replicas: options.replicas, description: 'Stratus schedules and their firing state' }));
  const stream = new EventStream(deps.jsm, { replicas: options.replicas, maxAgeMs: options.eventMaxAgeMs, duplicateWindowMs: 120_000, ackWaitMs: 30_000 });
  const triggerManager = new TriggerManager(triggerRegistry, stream, deps.cache, logger);
  await triggerManager.ensureStream();

  // The mirrors call into the dispatcher and scheduler only once started, after both exist.
  const triggers = triggerRegistry.mirror(logger, (id) => dispatcher.changed(id));
  const schedules = scheduleRegistry.mirror(logger, (id, record) => scheduler.changed(id, record));
  const dispatcher = new TriggerDispatcher(
    { js: deps.js, stream, manager: triggerManager, triggers, queue: deps.queue, cache: deps.cache, watchAsync: deps.watchAsync, metrics: deps.metrics, tracer: deps.tracer, logger },
    { fetchBatch: 64, fetchExpiresMs: 5000, reconcileIntervalMs: 30_000, retryBaseMs: 500, retryCapMs: 30_000, region: options.region, accountId: options.accountId },
  );
  const scheduler = new Scheduler(
    { registry: scheduleRegistry, schedules, queue: deps.queue, cache: deps.cache, watchAsync: deps.watchAsync, metrics: deps.metrics, tracer: deps.tracer, logger },
    {
      routerId: options.routerId,
      lateToleranceMs: 5000,
      takeoverAfterMs: options.scheduleTakeoverMs,
      // Half the async queue's deduplication window: a takeover before then is deduplicated for sure.
      abandonAfterMs: options.asyncDuplicateWindowMs / 2,
      maxSleepMs: 1000,
      minRecheckMs: 250,
      maxConcurrent: 32,
      maxFirePerEvaluation: 10,
      region: options.region,
      accountId: options.accountId,
    },
  );
  const publisher = new EventPublisher(deps.nc, deps.js, () => triggers.values().map((t) => t.subject));
  const scheduleManager = new ScheduleManager(scheduleRegistry, deps.cache, { minPeriodMs: options.scheduleMinPeriodMs });
  return {
    triggerService: (ctx) => createTriggerService(ctx, triggerManager),
    eventService: (ctx) => createEventService(ctx, publisher),
    scheduleService: (ctx) => createScheduleService(ctx, scheduleManager),
    start: () => {
      dispatcher.start();
      scheduler.start();
      triggers.start();
      schedules.start();
    },
    stop: async (graceMs) => {
      await Promise.all([dispatcher.stop(graceMs), scheduler.stop(graceMs)]);
      await Promise.all([triggers.stop(), schedules.stop()]);
    },
    problem: () => (!triggers.healthy ? 'trigger watch not running' : !schedules.healthy ? 'schedule watch not running' : undefined),
  };
}
