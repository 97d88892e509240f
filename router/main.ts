#!/usr/bin/env node
/** The router's composition root: reads the environment, connects, wires the API, handles signals. */
import { Kvm } from '@nats-io/kv';
import { trace } from '@opentelemetry/api';
import { ClusterServiceService } from '../proto/gen/stratus/v1/cluster';
import { FunctionServiceService } from '../proto/gen/stratus/v1/functions';
import { InvokeServiceService } from '../proto/gen/stratus/v1/invoke';
import { envList, envNumber, envString } from '../sdk/core/env';
import { bindGrpcServer, createGrpcServer, shutdownGrpcServer } from '../sdk/core/grpc-server';
import { HealthServer } from '../sdk/core/health-server';
import { createLogger, parseLogLevel } from '../sdk/core/logger';
import { connectNats, openCodeStore } from '../sdk/core/nats-connect';
import { BUCKETS } from '../sdk/core/nats-layout';
import { installTelemetry } from '../sdk/core/telemetry';
import { AgentClients } from './agent-clients';
import { createClusterService } from './cluster-service';
import { subscribeCluster } from './cluster-subscriber';
import { ClusterView } from './cluster-view';
import { FunctionCache } from './function-cache';
import { FunctionRegistry } from './function-registry';
import { createFunctionService } from './function-service';
import { createInvokeService } from './invoke-service';
import { Invoker } from './invoker';
import { resolveRouterOptions } from './router-options';

async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const options = resolveRouterOptions({
    routerId: envString(env, 'STRATUS_ROUTER_ID'),
    natsServers: envString(env, 'STRATUS_NATS_URL'),
    host: envString(env, 'STRATUS_HOST'),
    grpcPort: envNumber(env, 'STRATUS_GRPC_PORT'),
    httpPort: envNumber(env, 'STRATUS_HTTP_PORT'),
    apiTokens: envList(env, 'STRATUS_API_TOKENS'),
    clusterToken: envString(env, 'STRATUS_CLUSTER_TOKEN'),
    placementWaitMs: envNumber(env, 'STRATUS_PLACEMENT_WAIT_MS'),
    replicas: envNumber(env, 'STRATUS_REPLICAS'),
    region: envString(env, 'STRATUS_REGION'),
    logLevel: parseLogLevel(envString(env, 'STRATUS_LOG_LEVEL')),
  });
  const logger = createLogger({ component: 'router', routerId: options.routerId }, { level: options.logLevel });
  const telemetry = installTelemetry('stratus-router', env);
  const tracer = trace.getTracer('stratus-router');

  const nc = await connectNats(
    { servers: options.natsServers, name: `stratus-router-${options.routerId}`, token: envString(env, 'STRATUS_NATS_TOKEN'), connectTimeoutMs: 5000 },
    logger,
  );
  const kv = await new Kvm(nc).create(BUCKETS.functions, { history: 5, replicas: options.replicas, description: 'Stratus function configurations' });
  const codeStore = await openCodeStore(nc, options.replicas);
  const registry = new FunctionRegistry(kv);
  const cache = new FunctionCache(registry, options.functionCacheEntries);
  const watchAbort = new AbortController();
  let watching = false;
  void (async () => {
    // The watch restarts after a failure; until it runs again, the cache may be briefly stale.
    while (!watchAbort.signal.aborted) {
      try {
        watching = true;
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
  });

  const ctx = { tokens: options.apiTokens, tracer, logger };
  const server = createGrpcServer();
  server.addService(FunctionServiceService, createFunctionService(ctx, { registry, cache, codeStore }));
  server.addService(InvokeServiceService, createInvokeService(ctx, {
    cache,
    invoker,
    region: options.region,
    accountId: options.accountId,
    defaultDeadlineSlackMs: 15_000,
  }));
  server.addService(ClusterServiceService, createClusterService(ctx, view, options.routerId));
  const grpcPort = await bindGrpcServer(server, options.host, options.grpcPort);

  const health = new HealthServer(
    () => (nc.isClosed() ? 'NATS connection closed' : !watching ? 'registry watch not running' : undefined),
    () => ({ routerId: options.routerId, grpcPort, agents: view.agents().length }),
  );
  const httpPort = options.httpPort >= 0 ? await health.listen(options.host, options.httpPort) : undefined;
  logger.info('router ready', { grpcPort, httpPort });

  let stopping: Promise<void> | undefined;
  const stop = (signal: string): Promise<void> =>
    (stopping ??= (async () => {
      logger.info('router stopping', { signal });
      await shutdownGrpcServer(server, 10_000);
      watchAbort.abort();
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
