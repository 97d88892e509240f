import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Tracer } from '@opentelemetry/api';
import type { ScheduleServiceServer } from '../../proto/gen/stratus/v1/schedules';
import type { Logger } from '../../sdk/platform/logger';
import { BUCKETS } from '../../sdk/platform/nats-layout';
import type { AsyncIntakeDeps } from '../async/async-intake';
import type { HandlerContext } from '../grpc-handler';
import type { AccessControl } from '../auth/access-control';
import type { RouterOptions } from '../router-options';
import { ScheduleManager } from './schedule-manager';
import { ScheduleRegistry } from './schedule-registry';
import { createScheduleService } from './schedule-service';
import { Scheduler } from './scheduler';

/** What schedules need from the router: what accepting async events needs, plus these. */
export interface SchedulesDeps extends AsyncIntakeDeps {
  access: AccessControl;
  nc: NatsConnection;
  tracer: Tracer;
  logger: Logger;
}

/** Schedules, wired; main.ts adds the service and starts and stops them. */
export interface Schedules {
  scheduleService(ctx: HandlerContext): ScheduleServiceServer;
  start(): void;
  /** Stops firing ticks (waits up to `graceMs` for ticks in progress). */
  stop(graceMs: number): Promise<void>;
  /** Why schedules are not ready, or undefined. */
  problem(): string | undefined;
}

/** Opens the schedules bucket and builds the scheduler. */
export async function createSchedules(deps: SchedulesDeps, options: RouterOptions & { replicas: number }): Promise<Schedules> {
  const { logger } = deps;
  const registry = new ScheduleRegistry(await new Kvm(deps.nc).create(BUCKETS.schedules, { history: 1, replicas: options.replicas, description: 'Stratus schedules and their firing state' }));
  // The mirror calls into the scheduler only once started, after both exist.
  const schedules = registry.mirror(logger, (id, record) => scheduler.changed(id, record));
  const scheduler = new Scheduler(
    { registry, schedules, queue: deps.queue, cache: deps.cache, watchAsync: deps.watchAsync, metrics: deps.metrics, access: deps.access, tracer: deps.tracer, logger },
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
  const manager = new ScheduleManager(registry, deps.cache, { minPeriodMs: options.scheduleMinPeriodMs });
  return {
    scheduleService: (ctx) => createScheduleService(ctx, manager, deps.cache, deps.targets),
    start: () => {
      scheduler.start();
      schedules.start();
    },
    stop: async (graceMs) => {
      await scheduler.stop(graceMs);
      await schedules.stop();
    },
    problem: () => (schedules.healthy ? undefined : 'schedule watch not running'),
  };
}
