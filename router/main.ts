#!/usr/bin/env node
/** The router's composition root: reads the environment, connects, wires the API, handles signals. */
import * as os from 'node:os';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { trace } from '@opentelemetry/api';
import { ClusterServiceService } from '../proto/gen/stratus/v1/cluster';
import { DeadLetterServiceService } from '../proto/gen/stratus/v1/dead_letters';
import { LayerServiceService } from '../proto/gen/stratus/v1/layers';
import { FunctionServiceService } from '../proto/gen/stratus/v1/functions';
import { InvokeServiceService } from '../proto/gen/stratus/v1/invoke';
import { BucketServiceService } from '../proto/gen/stratus/v1/buckets';
import { MappingServiceService } from '../proto/gen/stratus/v1/mappings';
import { TableServiceService } from '../proto/gen/stratus/v1/tables';
import { RouteServiceService } from '../proto/gen/stratus/v1/routes';
import { ScheduleServiceService } from '../proto/gen/stratus/v1/schedules';
import { EventServiceService, TriggerServiceService } from '../proto/gen/stratus/v1/triggers';
import { envList, envNumber, envString } from '../sdk/platform/env';
import { bindGrpcServer, createGrpcServer, shutdownGrpcServer } from '../sdk/platform/grpc-server';
import { HealthServer } from '../sdk/platform/health-server';
import { createLogger, parseLogLevel } from '../sdk/platform/logger';
import { LIMITS } from '../sdk/core/limits';
import { connectNats, openCodeStore, requireMaxPayload } from '../sdk/platform/nats-connect';
import { BUCKETS } from '../sdk/platform/nats-layout';
import { chooseReplicas, describeReplicaChoice, mismatchedStreams } from '../sdk/platform/replicas';
import { installTelemetry } from '../sdk/platform/telemetry';
import { AgentClients } from './invoke/agent-clients';
import { AsyncDispatcher } from './async/async-dispatcher';
import { createAsyncIntake } from './async/async-intake';
import { AsyncMetrics } from './async/async-metrics';
import { AsyncQueue } from './async/async-queue';
import { createDeadLetterService } from './async/dead-letter-service';
import { DeadLetters } from './async/dead-letters';
import { createClusterService } from './cluster/cluster-service';
import { subscribeCluster } from './cluster/cluster-subscriber';
import { ClusterView } from './cluster/cluster-view';
import { FunctionCache } from './functions/function-cache';
import { FunctionRegistry } from './functions/function-registry';
import { createFunctionService } from './functions/function-service';
import { createInvokeService } from './invoke/invoke-service';
import { Invoker } from './invoke/invoker';
import { LayerRegistry } from './functions/layer-registry';
import { createLayerService } from './functions/layer-service';
import { HttpGateway } from './http/http-gateway';
import { LiveRoutes } from './http/live-routes';
import { RouteRegistry } from './http/route-registry';
import { createRouteService, httpBaseUrl } from './http/route-service';
import { advertisedAddress, resolveRouterOptions } from './router-options';
import { RouterHeartbeats } from './cluster/router-heartbeats';
import { RouterView } from './cluster/router-view';
import { resolveMappingOptions } from './mappings/mapping-options';
import { createMappings } from './mappings/mappings-module';
import { createSchedules } from './schedules/schedules-module';
import { createTables } from './tables/tables-module';
import { createTriggers } from './triggers/triggers-module';

async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const options = resolveRouterOptions({
    routerId: envString(env, 'STRATUS_ROUTER_ID'),
    natsServers: envString(env, 'STRATUS_NATS_URL'),
    host: envString(env, 'STRATUS_HOST'),
    advertiseAddress: envString(env, 'STRATUS_ADVERTISE_ADDRESS'),
    heartbeatMs: envNumber(env, 'STRATUS_HEARTBEAT_MS'),
    grpcPort: envNumber(env, 'STRATUS_GRPC_PORT'),
    httpPort: envNumber(env, 'STRATUS_HTTP_PORT'),
    apiTokens: envList(env, 'STRATUS_API_TOKENS'),
    clusterToken: envString(env, 'STRATUS_CLUSTER_TOKEN'),
    placementWaitMs: envNumber(env, 'STRATUS_PLACEMENT_WAIT_MS'),
    clusterConcurrencyLimit: envNumber(env, 'STRATUS_CLUSTER_CONCURRENCY'),
    replicas: envNumber(env, 'STRATUS_REPLICAS'),
    asyncRetryBaseMs: envNumber(env, 'STRATUS_ASYNC_RETRY_BASE_MS'),
    asyncThrottleBaseMs: envNumber(env, 'STRATUS_ASYNC_THROTTLE_BASE_MS'),
    asyncAckWaitMs: envNumber(env, 'STRATUS_ASYNC_ACK_WAIT_MS'),
    asyncMaxConcurrency: envNumber(env, 'STRATUS_ASYNC_MAX_CONCURRENCY'),
    asyncMaxConcurrencyPerFunction: envNumber(env, 'STRATUS_ASYNC_MAX_CONCURRENCY_PER_FUNCTION'),
    scheduleMinPeriodMs: envNumber(env, 'STRATUS_SCHEDULE_MIN_PERIOD_MS'),
    scheduleTakeoverMs: envNumber(env, 'STRATUS_SCHEDULE_TAKEOVER_MS'),
    region: envString(env, 'STRATUS_REGION'),
    logLevel: parseLogLevel(envString(env, 'STRATUS_LOG_LEVEL')),
  });
  const logger = createLogger({ component: 'router', routerId: options.routerId }, { level: options.logLevel });
  const telemetry = installTelemetry('stratus-router', env);
  const tracer = trace.getTracer('stratus-router');

  const nc = await connectNats(
    {
      servers: options.natsServers,
      name: `stratus-router-${options.routerId}`,
      token: envString(env, 'STRATUS_NATS_TOKEN'),
      user: envString(env, 'STRATUS_NATS_USER'),
      pass: envString(env, 'STRATUS_NATS_PASSWORD'),
      connectTimeoutMs: 5000,
    },
    logger,
  );
  requireMaxPayload(nc, LIMITS.minNatsMaxPayloadBytes);
  const replicaChoice = await chooseReplicas(nc, { configured: options.replicas });
  const replicas = replicaChoice.replicas;
  logger.info(describeReplicaChoice(replicaChoice), { replicas, cluster: replicaChoice.cluster, servers: replicaChoice.servers });
  const kv = await new Kvm(nc).create(BUCKETS.functions, { history: 5, replicas, description: 'Stratus function configurations' });
  const codeStore = await openCodeStore(nc, replicas);
  const registry = new FunctionRegistry(kv);
  const layers = new LayerRegistry(await new Kvm(nc).create(BUCKETS.layers, { history: 1, replicas, description: 'Stratus layer versions' }));
  const cache = new FunctionCache(registry, options.functionCacheEntries);
  const watchAbort = new AbortController();
  let watching = false;
  void (async () => {
    // The watch restarts after a failure; until it runs again, the cache may be briefly stale.
    while (!watchAbort.signal.aborted) {
      try {
        watching = true;
        // Whatever changed while no watch ran is unknown: start from the store again.
        cache.clear();
        await registry.watch((change) => cache.apply(change), watchAbort.signal);
      } catch (err) {
        logger.warn('registry watch failed; restarting', { err });
      } finally {
        watching = false;
      }
      if (!watchAbort.signal.aborted) await new Promise((r) => setTimeout(r, 500).unref());
    }
  })();

  const view = new ClusterView({ missedHeartbeats: options.missedHeartbeats });
  const stopCluster = subscribeCluster(nc, view, logger);
  const clients = new AgentClients(options.clusterToken, 1024);
  const invoker = new Invoker(view, clients, tracer, {
    placementWaitMs: options.placementWaitMs,
    agentConnectTimeoutMs: options.agentConnectTimeoutMs,
    throttleRetryAfterMs: options.throttleRetryAfterMs,
    clusterConcurrencyLimit: options.clusterConcurrencyLimit,
  });

  const jsm = await jetstreamManager(nc);
  for (const m of await mismatchedStreams(jsm, replicas).catch(() => [])) {
    logger.warn(`stream ${m.stream} has ${m.replicas} replica(s), not ${replicas}: it was made for a different cluster; change it with: nats stream edit ${m.stream} --replicas ${replicas}`);
  }
  const js = jetstream(nc);
  const queue = new AsyncQueue(js, jsm, {
    replicas,
    duplicateWindowMs: options.asyncDuplicateWindowMs,
    ackWaitMs: options.asyncAckWaitMs,
    deadLetterMaxAgeMs: options.deadLetterMaxAgeMs,
  });
  await queue.ensureStreams();
  const metrics = new AsyncMetrics(10_000);
  const dispatcher = new AsyncDispatcher(
    { js, jsm, queue, cache, invoker, metrics, tracer, logger },
    {
      discoverIntervalMs: 1000,
      fetchExpiresMs: 5000,
      maxConcurrencyPerFunction: options.asyncMaxConcurrencyPerFunction,
      maxConcurrency: options.asyncMaxConcurrency,
      ackWaitMs: options.asyncAckWaitMs,
      retryBaseMs: options.asyncRetryBaseMs,
      throttleBaseMs: options.asyncThrottleBaseMs,
      throttleCapMs: 300_000,
      invokeSlackMs: 15_000,
      region: options.region,
      accountId: options.accountId,
    },
  );
  dispatcher.start();
  const watchAsync = (fn: string): void => dispatcher.watch(fn);
  const triggers = await createTriggers({ nc, js, jsm, queue, cache, watchAsync, metrics, tracer, logger }, { ...options, replicas });
  const schedules = await createSchedules({ nc, queue, cache, watchAsync, metrics, tracer, logger }, { ...options, replicas });
  // Tables refuse to delete a table a mapping reads; mappings refuse a source table that does not exist.
  const tables = createTables({ nc, jsm, usersOf: (kind, name) => mappings.usersOf(kind, name) }, { replicas });
  const mappings = await createMappings(
    { nc, js, jsm, queue, cache, invoker, watchAsync, requireTable: (name) => tables.requireTable(name), requireBucket: (name) => tables.requireBucket(name), tracer, logger },
    resolveMappingOptions({
      routerId: options.routerId,
      region: options.region,
      accountId: options.accountId,
      replicas,
      leaseTtlMs: envNumber(env, 'STRATUS_MAPPING_LEASE_TTL_MS'),
      retryBaseMs: envNumber(env, 'STRATUS_MAPPING_RETRY_BASE_MS'),
      throttleBaseMs: envNumber(env, 'STRATUS_MAPPING_THROTTLE_BASE_MS'),
      maxBufferedRecords: envNumber(env, 'STRATUS_MAPPING_MAX_BUFFERED_RECORDS'),
    }),
  );

  const ctx = { tokens: options.apiTokens, tracer, logger };
  const server = createGrpcServer();
  server.addService(FunctionServiceService, createFunctionService(ctx, { registry, cache, codeStore, layers }));
  server.addService(InvokeServiceService, createInvokeService(ctx, {
    cache,
    invoker,
    region: options.region,
    accountId: options.accountId,
    defaultDeadlineSlackMs: 15_000,
    asyncIntake: createAsyncIntake(ctx, { cache, queue, watchAsync, metrics }),
  }));
  server.addService(DeadLetterServiceService, createDeadLetterService(ctx, new DeadLetters(jsm, queue), watchAsync));
  server.addService(LayerServiceService, createLayerService(ctx, layers, codeStore));
  const routerView = new RouterView({ missedHeartbeats: options.missedHeartbeats, maxRouters: 256 });
  server.addService(ClusterServiceService, createClusterService(ctx, { view, routers: routerView, routerId: options.routerId, replicas }));
  server.addService(TriggerServiceService, triggers.triggerService(ctx));
  server.addService(EventServiceService, triggers.eventService(ctx));
  server.addService(ScheduleServiceService, schedules.scheduleService(ctx));
  triggers.start();
  schedules.start();
  server.addService(MappingServiceService, mappings.mappingService(ctx));
  server.addService(TableServiceService, tables.tableService(ctx));
  server.addService(BucketServiceService, tables.bucketService(ctx));
  mappings.start();
  const routeRegistry = new RouteRegistry(await new Kvm(nc).create(BUCKETS.routes, { history: 1, replicas, description: 'Stratus HTTP routes and function URLs' }));
  const liveRoutes = new LiveRoutes(routeRegistry, logger);
  await liveRoutes.start();
  let httpUrl: string | undefined;
  server.addService(RouteServiceService, createRouteService(ctx, { registry: routeRegistry, live: liveRoutes, functions: cache, httpBaseUrl: () => httpUrl }));
  const grpcPort = await bindGrpcServer(server, options.host, options.grpcPort);

  // Readiness fails as soon as the router starts stopping, so load balancers take it out first.
  let stopRequested = false;
  const health = new HealthServer(
    () => (stopRequested ? 'stopping' : nc.isClosed() ? 'NATS connection closed' : !watching ? 'registry watch not running' : (triggers.problem() ?? schedules.problem() ?? mappings.problem())),
    () => ({ routerId: options.routerId, grpcPort, agents: view.agents().length }),
    () => metrics.prometheus() + mappings.prometheus(),
  );
  const gateway = new HttpGateway({ routes: liveRoutes, functions: cache, invoker, tracer, logger }, {
    tokens: options.apiTokens,
    region: options.region,
    accountId: options.accountId,
    deadlineSlackMs: 15_000,
    maxPayloadBytes: LIMITS.maxSyncPayloadBytes,
  });
  health.serveOtherPaths(gateway.handle);
  const httpPort = options.httpPort >= 0 ? await health.listen(options.host, options.httpPort) : undefined;
  if (httpPort !== undefined) httpUrl = httpBaseUrl(options.host, httpPort, os.hostname());
  const address = advertisedAddress(options, grpcPort);
  const announcer = new RouterHeartbeats({ nc, view: routerView, logger }, {
    intervalMs: options.heartbeatMs,
    snapshot: () => ({ routerId: options.routerId, address, httpPort: httpPort ?? -1, agents: view.agents().length }),
  });
  announcer.start();
  logger.info('router ready', { grpcPort, httpPort, address });

  let stopping: Promise<void> | undefined;
  const stop = (signal: string): Promise<void> =>
    (stopping ??= (async () => {
      logger.info('router stopping', { signal });
      stopRequested = true;
      announcer.stop();
      await shutdownGrpcServer(server, 10_000);
      // Running async events finish (or are redelivered to another router after the ack wait).
      await dispatcher.stop(10_000);
      await Promise.all([triggers.stop(5000), schedules.stop(5000)]);
      // Mapping batches finish (or run again on the router that takes the lease over).
      await mappings.stop(10_000);
      watchAbort.abort();
      await liveRoutes.stop();
      stopCluster();
      clients.close();
      await health.close();
      await nc.drain().catch(() => undefined);
      await telemetry.shutdown();
      logger.info('router stopped');
    })());
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void stop(signal).then(() => process.exit(0)));
  }
}

main(process.env).catch((err: unknown) => {
  process.stderr.write(`stratus router failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
