import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Tracer } from '@opentelemetry/api';
import type { EventServiceServer, TriggerServiceServer } from '../../proto/gen/stratus/v1/triggers';
import type { Logger } from '../../sdk/platform/logger';
import { BUCKETS } from '../../sdk/platform/nats-layout';
import type { AsyncIntakeDeps } from '../async/async-intake';
import type { HandlerContext } from '../grpc-handler';
import type { AccessControl } from '../auth/access-control';
import type { RouterOptions } from '../router-options';
import { EventPublisher } from './event-publisher';
import { EventStream } from './event-stream';
import { TriggerDispatcher } from './trigger-dispatcher';
import { TriggerManager } from './trigger-manager';
import { TriggerRegistry } from './trigger-registry';
import { createEventService, createTriggerService } from './trigger-service';

/** What subject triggers need from the router: what accepting async events needs, plus these. */
export interface TriggersDeps extends AsyncIntakeDeps {
  access: AccessControl;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  tracer: Tracer;
  logger: Logger;
}

/** Subject triggers and event publishing, wired; main.ts adds the services and starts and stops them. */
export interface Triggers {
  triggerService(ctx: HandlerContext): TriggerServiceServer;
  eventService(ctx: HandlerContext): EventServiceServer;
  start(): void;
  /** Stops pulling events (waits up to `graceMs` for events in progress). */
  stop(graceMs: number): Promise<void>;
  /** Why triggers are not ready, or undefined. */
  problem(): string | undefined;
}

/** Opens the triggers bucket and the events stream and builds the trigger components. */
export async function createTriggers(deps: TriggersDeps, options: RouterOptions & { replicas: number }): Promise<Triggers> {
  const { logger } = deps;
  const registry = new TriggerRegistry(await new Kvm(deps.nc).create(BUCKETS.triggers, { history: 1, replicas: options.replicas, description: 'Stratus subject triggers' }));
  const stream = new EventStream(deps.jsm, { replicas: options.replicas, maxAgeMs: options.eventMaxAgeMs, duplicateWindowMs: 120_000, ackWaitMs: 30_000 });
  const manager = new TriggerManager(registry, stream, deps.cache, logger);
  await manager.ensureStream();
  // The mirror calls into the dispatcher only once started, after both exist.
  const triggers = registry.mirror(logger, (id) => dispatcher.changed(id));
  const dispatcher = new TriggerDispatcher(
    { js: deps.js, stream, manager, triggers, queue: deps.queue, cache: deps.cache, watchAsync: deps.watchAsync, metrics: deps.metrics, access: deps.access, tracer: deps.tracer, logger },
    { fetchBatch: 64, fetchExpiresMs: 5000, reconcileIntervalMs: 30_000, retryBaseMs: 500, retryCapMs: 30_000, region: options.region, accountId: options.accountId },
  );
  const publisher = new EventPublisher(deps.nc, deps.js, () => triggers.values().map((t) => t.subject));
  return {
    triggerService: (ctx) => createTriggerService(ctx, manager, deps.cache, deps.targets),
    eventService: (ctx) => createEventService(ctx, publisher),
    start: () => {
      dispatcher.start();
      triggers.start();
    },
    stop: async (graceMs) => {
      await dispatcher.stop(graceMs);
      await triggers.stop();
    },
    problem: () => (triggers.healthy ? undefined : 'trigger watch not running'),
  };
}
