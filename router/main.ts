#!/usr/bin/env node
/** The router's composition root: reads the environment, connects, wires the API, handles signals. */
import * as os from 'node:os';
import * as path from 'node:path';
import { ConsoleApi } from './console/console-api';
import { ConsoleServer } from './console/console-server';
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
import { bindGrpcServer, createGrpcServer, shutdownGrpcServer } from '../sdk/platform/grpc-server';
import { HealthServer } from '../sdk/platform/health-server';
import { createLogger } from '../sdk/platform/logger';
import { LIMITS } from '../sdk/core/limits';
import { connectNats, openCodeStore, requireMaxPayload } from '../sdk/platform/nats-connect';
import { BUCKETS } from '../sdk/platform/nats-layout';
import { chooseReplicas, describeReplicaChoice, mismatchedStreams } from '../sdk/platform/replicas';
import { installTelemetry } from '../sdk/platform/telemetry';
import { installMetrics } from '../sdk/platform/metrics';
import { InvocationServiceService, LogServiceService } from '../proto/gen/stratus/v1/observability';
import { InvocationMetrics } from './observability/invocation-metrics';
import { RecordingObserver } from './observability/invocation-observer';
import { InvocationRecords } from './observability/invocation-records';
import { createInvocationService } from './observability/invocation-service';
import { createLogService } from './observability/log-service';
import { LogStreams } from './observability/log-streams';
import { TLS_FILE_VARIABLES, grpcServerCredentials, isLoopbackHost, loadCaBundle, loadTlsIdentity } from '../sdk/platform/tls';
import { AuthServiceService, PolicyServiceService } from '../proto/gen/stratus/v1/auth';
import { tenantOf } from '../sdk/core/identity';
import { AccessControl } from './auth/access-control';
import { AuthStore } from './auth/auth-store';
import { createAuthService } from './identity/auth-service';
import { Authenticator } from './auth/authenticator';
import { createPolicyService } from './identity/policy-service';
import { SessionTokens } from './auth/session-tokens';
import { TokenStore } from './auth/tokens';
import { UsageServiceService } from '../proto/gen/stratus/v1/usage';
import { UsageRecorder } from './metering/usage-recorder';
import { createUsageService } from './metering/usage-service';
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
import { InvokeTargets } from './functions/invoke-target';
import { VersionStore } from './functions/version-store';
import { FunctionRegistry } from './functions/function-registry';
import { RegistryWatch } from './functions/registry-watch';
import { createFunctionService } from './functions/function-service';
import { createInvokeService } from './invoke/invoke-service';
import { Invoker } from './invoke/invoker';
import { LayerRegistry } from './functions/layer-registry';
import { createLayerService } from './functions/layer-service';
import { HttpGateway } from './http/http-gateway';
import { LiveRoutes } from './http/live-routes';
import { RouteRegistry } from './http/route-registry';
import { createRouteService, httpBaseUrl } from './http/route-service';
import { advertisedAddress, routerOptionsFromEnv } from './router-options';
import { RouterHeartbeats } from './cluster/router-heartbeats';
import { RouterView } from './cluster/router-view';
import { resolveMappingOptions } from './mappings/mapping-options';
import { createMappings } from './mappings/mappings-module';
import { createSchedules } from './schedules/schedules-module';
import { createTables } from './tables/tables-module';
import { createTriggers } from './triggers/triggers-module';

async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const options = routerOptionsFromEnv(env);
  const logger = createLogger({ component: 'router', routerId: options.routerId }, { level: options.logLevel });
  const telemetry = installTelemetry('stratus-router', env);
  const tracer = trace.getTracer('stratus-router');
  const telemetryMetrics = installMetrics('stratus-router', env);
  // Read before anything connects: a bad certificate file fails start-up by its variable's name.
  const tlsIdentity = loadTlsIdentity(options.tlsCertFile, options.tlsKeyFile, TLS_FILE_VARIABLES);
  const agentCa = loadCaBundle(options.agentTlsCaFile, 'STRATUS_AGENT_TLS_CA_FILE');
  if (!tlsIdentity && !isLoopbackHost(options.host)) logger.warn('the gRPC API and HTTP port serve plain text: tokens and payloads cross the network unencrypted; set STRATUS_TLS_CERT_FILE and STRATUS_TLS_KEY_FILE');

  const nc = await connectNats(
    {
      servers: options.natsServers,
      name: `stratus-router-${options.routerId}`,
      token: options.natsToken,
      user: options.natsUser,
      pass: options.natsPassword,
      tls: options.natsTls,
      connectTimeoutMs: options.natsConnectTimeoutMs,
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
  const versions = new VersionStore(kv);
  const targets = new InvokeTargets(cache, versions);
  const registryWatch = new RegistryWatch({ registry, cache, logger }, { retryDelayMs: options.registryWatchRetryMs });
  registryWatch.start();

  // Identity: tokens, roles, policies and owners, mirrored in memory; the signing key of function credentials.
  const authStore = new AuthStore(await new Kvm(nc).create(BUCKETS.auth, { history: 5, replicas, description: 'Stratus tokens (hashed), roles, resource policies and owners' }), logger);
  authStore.start();
  const sessions = await SessionTokens.open(authStore);
  const tokens = new TokenStore(authStore, options.apiTokens);
  const access = new AccessControl(authStore);
  const authenticator = new Authenticator(tokens, sessions);

  const view = new ClusterView({ missedHeartbeats: options.missedHeartbeats });
  const stopCluster = subscribeCluster(nc, view, logger);
  const clients = new AgentClients(options.clusterToken, options.agentClientEntries, agentCa ? { ca: agentCa, serverName: options.agentTlsServerName } : undefined);
  const jsmForUsage = await jetstreamManager(nc);
  const usage = new UsageRecorder(jetstream(nc), jsmForUsage, logger, { replicas, maxAgeMs: options.usageMaxAgeMs, waitMs: 2000, routerId: options.routerId });
  await usage.ensureStream();
  // Observability: per-function log streams, invocation records, metrics.
  const logStreams = new LogStreams(jsmForUsage, logger, { replicas, retentionDays: options.logRetentionDays, maxMb: options.logMaxMb });
  const invocationRecords = new InvocationRecords(jetstream(nc), jsmForUsage, logger, { replicas, retentionDays: options.invocationRetentionDays, maxMb: options.invocationMaxMb, routerId: options.routerId });
  await invocationRecords.ensureStream();
  const invocationMetrics = new InvocationMetrics(telemetryMetrics.meter, () => invoker.concurrency());
  const invoker: Invoker = new Invoker(view, clients, tracer, {
    observer: new RecordingObserver(invocationMetrics, invocationRecords),
    logStreams,
    logger,
    placementWaitMs: options.placementWaitMs,
    agentConnectTimeoutMs: options.agentConnectTimeoutMs,
    throttleRetryAfterMs: options.throttleRetryAfterMs,
    clusterConcurrencyLimit: options.clusterConcurrencyLimit,
    recursionLimit: options.recursionLimit,
    apiEndpoint: options.functionApiEndpoint ?? advertisedAddress(options, options.grpcPort),
    credentials: {
      // Valid for the invocation and a minute more: what it started may still be answering.
      mint: (record, depth, requestId, deadlineMs) => sessions.mint({ tenant: tenantOf(record), role: record.config.role, functionName: record.config.name, depth, requestId, expiresMs: deadlineMs + 60_000 }),
    },
  }, usage);

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
  const metrics = new AsyncMetrics(options.asyncMetricsFunctions);
  metrics.observe(telemetryMetrics.meter);
  const dispatcher = new AsyncDispatcher(
    { js, jsm, queue, cache, targets, invoker, metrics, access, tracer, logger },
    {
      discoverIntervalMs: options.asyncDiscoverIntervalMs,
      fetchExpiresMs: options.asyncFetchExpiresMs,
      workerIdleMs: options.asyncWorkerIdleMs,
      maxWorkers: options.asyncMaxWorkers,
      maxConcurrencyPerFunction: options.asyncMaxConcurrencyPerFunction,
      maxConcurrency: options.asyncMaxConcurrency,
      ackWaitMs: options.asyncAckWaitMs,
      retryBaseMs: options.asyncRetryBaseMs,
      throttleBaseMs: options.asyncThrottleBaseMs,
      throttleCapMs: options.asyncThrottleCapMs,
      invokeSlackMs: options.invokeSlackMs,
      region: options.region,
      accountId: options.accountId,
    },
  );
  dispatcher.start();
  const watchAsync = (fn: string): void => dispatcher.watch(fn);
  const triggers = await createTriggers({ nc, js, jsm, queue, cache, targets, watchAsync, metrics, access, tracer, logger }, { ...options, replicas });
  const schedules = await createSchedules({ nc, queue, cache, targets, watchAsync, metrics, access, tracer, logger }, { ...options, replicas });
  // Tables refuse to delete a table a mapping reads; mappings refuse a source table that does not exist.
  const tables = createTables({ nc, jsm, usersOf: (kind, name) => mappings.usersOf(kind, name) }, { replicas });
  const mappings = await createMappings(
    { nc, js, jsm, queue, cache, invoker, watchAsync, requireTable: (name) => tables.requireTable(name), requireBucket: (name) => tables.requireBucket(name),
      refusal: (mapping, record) => {
        // Its owner is written just after the mapping: until this router holds it, the check made at creation stands.
        const owner = access.ownerIfKnown('mapping', mapping.id);
        if (owner === undefined) return undefined;
        const source = { kind: 'source' as const, source: 'mapping' as const, name: `${mapping.source.kind}:${mapping.source.name}`, tenant: owner, depth: 0 };
        const d = access.checkNow(source, 'function:invoke', { kind: 'function', name: record.config.name, tenant: tenantOf(record) });
        return d.allowed ? undefined : `${d.reason}: ${d.fix}`;
      },
      tracer,
      logger },
    resolveMappingOptions({
      ...options.mappings,
      routerId: options.routerId,
      region: options.region,
      accountId: options.accountId,
      replicas,
      invokeSlackMs: options.invokeSlackMs,
    }),
  );

  const ctx = { auth: authenticator, access, tracer, logger };
  const server = createGrpcServer();
  const functionService = createFunctionService(ctx, { registry, cache, codeStore, layers, versions, targets, onDeleted: (name) => logStreams.remove(name) });
  server.addService(FunctionServiceService, functionService);
  const logDeps = { js, jsm, functions: cache, streams: logStreams };
  const logService = createLogService(ctx, logDeps);
  const invocationService = createInvocationService(ctx, invocationRecords, logDeps);
  server.addService(LogServiceService, logService);
  server.addService(InvocationServiceService, invocationService);
  const invokeService = createInvokeService(ctx, {
    cache,
    targets,
    invoker,
    region: options.region,
    accountId: options.accountId,
    defaultDeadlineSlackMs: options.invokeSlackMs,
    countRecursionStopped: (fn) => metrics.count(fn, 'recursionStopped'),
    asyncIntake: createAsyncIntake(ctx, { cache, targets, queue, watchAsync, metrics }),
  });
  server.addService(InvokeServiceService, invokeService);
  const deadLetterService = createDeadLetterService(ctx, new DeadLetters(jsm, queue), watchAsync, cache);
  server.addService(DeadLetterServiceService, deadLetterService);
  const authService = createAuthService(ctx, tokens);
  server.addService(AuthServiceService, authService);
  server.addService(PolicyServiceService, createPolicyService(ctx, registry));
  server.addService(UsageServiceService, createUsageService(ctx, jsmForUsage, options.prices));
  server.addService(LayerServiceService, createLayerService(ctx, layers, codeStore));
  const routerView = new RouterView({ missedHeartbeats: options.missedHeartbeats, maxRouters: options.maxRouters });
  const clusterService = createClusterService(ctx, {
    view,
    routers: routerView,
    routerId: options.routerId,
    replicas,
    functionVisible: async (caller, name) => {
      const record = await cache.get(name);
      return record !== undefined && access.checkNow(caller, 'function:read', { kind: 'function', name, tenant: tenantOf(record) }).allowed;
    },
  });
  server.addService(ClusterServiceService, clusterService);
  const triggerService = triggers.triggerService(ctx);
  server.addService(TriggerServiceService, triggerService);
  server.addService(EventServiceService, triggers.eventService(ctx));
  const scheduleService = schedules.scheduleService(ctx);
  server.addService(ScheduleServiceService, scheduleService);
  triggers.start();
  schedules.start();
  const mappingService = mappings.mappingService(ctx);
  server.addService(MappingServiceService, mappingService);
  server.addService(TableServiceService, tables.tableService(ctx));
  server.addService(BucketServiceService, tables.bucketService(ctx));
  mappings.start();
  const routeRegistry = new RouteRegistry(await new Kvm(nc).create(BUCKETS.routes, { history: 1, replicas, description: 'Stratus HTTP routes and function URLs' }));
  const liveRoutes = new LiveRoutes(routeRegistry, logger);
  await liveRoutes.start();
  let httpUrl: string | undefined;
  const routeService = createRouteService(ctx, { registry: routeRegistry, live: liveRoutes, functions: cache, targets, httpBaseUrl: () => httpUrl });
  server.addService(RouteServiceService, routeService);
  const grpcPort = await bindGrpcServer(server, options.host, options.grpcPort, grpcServerCredentials(tlsIdentity));

  // Readiness fails as soon as the router starts stopping, so load balancers take it out first.
  let stopRequested = false;
  const health = new HealthServer(
    () => (stopRequested ? 'stopping' : nc.isClosed() ? 'NATS connection closed' : !authStore.healthy ? 'identity store watch not running' : (registryWatch.problem() ?? triggers.problem() ?? schedules.problem() ?? mappings.problem())),
    () => ({ routerId: options.routerId, grpcPort, agents: view.agents().length }),
    async () => (await telemetryMetrics.prometheus()) + mappings.prometheus() + usage.prometheus() + invocationRecords.prometheus(),
    tlsIdentity,
  );
  const gateway = new HttpGateway({ routes: liveRoutes, functions: cache, targets, invoker, auth: authenticator, access, tracer, logger }, {
    region: options.region,
    accountId: options.accountId,
    deadlineSlackMs: options.invokeSlackMs,
    maxPayloadBytes: LIMITS.maxSyncPayloadBytes,
  });
  // The web console on the same port; its API calls the handlers above as the logged-in principal.
  const webConsole = new ConsoleServer(
    new ConsoleApi({ auth: authService, functions: functionService, invoke: invokeService, deadLetters: deadLetterService, cluster: clusterService, logs: logService, invocations: invocationService, routes: routeService, triggers: triggerService, schedules: scheduleService, mappings: mappingService }),
    logger,
    { staticDir: path.join(__dirname, 'console', 'static'), secureCookie: Boolean(tlsIdentity), sessionMaxAgeSeconds: 12 * 3600 },
  );
  await webConsole.load();
  health.serveOtherPaths((req, res) => (webConsole.owns(req.url ?? '') ? webConsole.handle(req, res) : gateway.handle(req, res)));
  const httpPort = options.httpPort >= 0 ? await health.listen(options.host, options.httpPort) : undefined;
  if (httpPort !== undefined) httpUrl = httpBaseUrl(options.host, httpPort, os.hostname(), Boolean(tlsIdentity));
  const address = advertisedAddress(options, grpcPort);
  const announcer = new RouterHeartbeats({ nc, view: routerView, logger }, {
    intervalMs: options.heartbeatMs,
    snapshot: () => ({ routerId: options.routerId, address, httpPort: httpPort ?? -1, agents: view.agents().length }),
  });
  announcer.start();
  logger.info('router ready', { grpcPort, httpPort, address, tls: tlsIdentity ? tlsIdentity.subject : false, agentTls: Boolean(agentCa) });

  let stopping: Promise<void> | undefined;
  const stop = (signal: string): Promise<void> =>
    (stopping ??= (async () => {
      logger.info('router stopping', { signal });
      stopRequested = true;
      announcer.stop();
      await shutdownGrpcServer(server, options.shutdownGraceMs);
      // Running async events finish (or are redelivered to another router after the ack wait).
      await dispatcher.stop(options.shutdownGraceMs);
      await Promise.all([triggers.stop(options.eventSourceStopGraceMs), schedules.stop(options.eventSourceStopGraceMs)]);
      // Mapping batches finish (or run again on the router that takes the lease over).
      await mappings.stop(options.shutdownGraceMs);
      await usage.stop(options.shutdownGraceMs);
      await invocationRecords.stop(options.shutdownGraceMs);
      await registryWatch.stop();
      await liveRoutes.stop();
      await authStore.stop();
      stopCluster();
      clients.close();
      await health.close();
      await nc.drain().catch(() => undefined);
      await Promise.all([telemetry.shutdown(), telemetryMetrics.shutdown()]);
      logger.info('router stopped');
    })());
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stop(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error('router did not stop cleanly', { signal, err });
          process.exit(1);
        },
      );
    });
  }
}

main(process.env).catch((err: unknown) => {
  process.stderr.write(`stratus router failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
