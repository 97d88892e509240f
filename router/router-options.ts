import * as os from 'node:os';
import { StratusError } from '../sdk/core/errors';
import type { LogLevel } from '../sdk/platform/logger';

/** Everything a router is configured with. main.ts builds it from the environment. */
export interface RouterOptions {
  /** Unique id of this router. Default: hostname plus a random suffix. */
  routerId: string;
  /** NATS servers. Default nats://127.0.0.1:4222. */
  natsServers: string;
  /** Interface the gRPC API and HTTP endpoints bind. Default 0.0.0.0. */
  host: string;
  /** host:port clients dial for this router's gRPC API, as `stratus cluster` lists it. Default: the bound host (the hostname when that is a wildcard) and gRPC port. */
  advertiseAddress: string | undefined;
  /** How often this router announces itself to the other routers (NATS stratus.routers.heartbeat). Default 2000. */
  heartbeatMs: number;
  /** gRPC API port. Default 50051. */
  grpcPort: number;
  /** HTTP port: the HTTP gateway (routes, function URLs) plus health, readiness and metrics; -1 disables. Default 8080. */
  httpPort: number;
  /** API tokens callers must present. Required. */
  apiTokens: string[];
  /** Token used to reach agents. Required. */
  clusterToken: string;
  /** Agents are dropped after this many missed heartbeat intervals. Default 3. */
  missedHeartbeats: number;
  /** Longest an invocation waits for capacity before a throttle. Default 2000. */
  placementWaitMs: number;
  /** Longest the router waits to connect to an agent before trying another. Default 1000. */
  agentConnectTimeoutMs: number;
  /** Retry hint returned with throttles. Default 500. */
  throttleRetryAfterMs: number;
  /** Most invocations running at once across the cluster. Default 1000 (Lambda's account default). */
  clusterConcurrencyLimit: number;
  /** Function records cached for the invoke path. Default 10000. */
  functionCacheEntries: number;
  /** Replicas for streams and buckets the router creates. Default: detected at start from the NATS cluster (3 from three servers up, else 1). */
  replicas: number | undefined;
  /** Delay before the first retry of a failed async event; doubles after. Default 60000 (Lambda: ~1 min, then ~2 min). */
  asyncRetryBaseMs: number;
  /** First delay after a throttle or platform error; doubles to 5 min. Default 1000. */
  asyncThrottleBaseMs: number;
  /** Ack wait of async consumers; running events signal progress, so it need not cover the function timeout. Default 30000. */
  asyncAckWaitMs: number;
  /** Async events one router runs at once. Default 256. */
  asyncMaxConcurrency: number;
  /** Async events of one function one router runs at once. Default 64. */
  asyncMaxConcurrencyPerFunction: number;
  /** Window in which a caller-given request id makes enqueueing idempotent. Default 600000 (10 min). */
  asyncDuplicateWindowMs: number;
  /** How long dead letters are kept. Default 14 days. */
  deadLetterMaxAgeMs: number;
  /** How long a captured subject event waits for a router before it is dropped (EventBridge retries for 24 h). Default 24 h. */
  eventMaxAgeMs: number;
  /** Shortest period a schedule may have; below 60000 only for tests and demos (rate(2 seconds)). Default 60000. */
  scheduleMinPeriodMs: number;
  /** A schedule tick claimed by a router that did not finish it is taken over after this long. Default 5000. */
  scheduleTakeoverMs: number;
  region: string;
  accountId: string;
  logLevel: LogLevel;
}

/** Applies defaults and validates; the one place router options are resolved. */
export function resolveRouterOptions(input: Partial<RouterOptions>): RouterOptions {
  const apiTokens = (input.apiTokens ?? []).filter(Boolean);
  if (apiTokens.length === 0) throw new StratusError('InvalidRequest', 'no API tokens: set STRATUS_API_TOKENS (comma-separated) so callers can authenticate');
  if (!input.clusterToken) throw new StratusError('InvalidRequest', 'no cluster token: set STRATUS_CLUSTER_TOKEN to the secret agents accept');
  return {
    routerId: input.routerId || `${os.hostname()}-${Math.random().toString(36).slice(2, 8)}`,
    natsServers: input.natsServers || 'nats://127.0.0.1:4222',
    host: input.host || '0.0.0.0',
    advertiseAddress: input.advertiseAddress || undefined,
    heartbeatMs: input.heartbeatMs ?? 2000,
    grpcPort: input.grpcPort ?? 50051,
    httpPort: input.httpPort ?? 8080,
    apiTokens,
    clusterToken: input.clusterToken,
    missedHeartbeats: input.missedHeartbeats ?? 3,
    placementWaitMs: input.placementWaitMs ?? 2000,
    agentConnectTimeoutMs: input.agentConnectTimeoutMs ?? 1000,
    throttleRetryAfterMs: input.throttleRetryAfterMs ?? 500,
    clusterConcurrencyLimit: input.clusterConcurrencyLimit ?? 1000,
    functionCacheEntries: input.functionCacheEntries ?? 10_000,
    replicas: input.replicas,
    asyncRetryBaseMs: input.asyncRetryBaseMs ?? 60_000,
    asyncThrottleBaseMs: input.asyncThrottleBaseMs ?? 1000,
    asyncAckWaitMs: input.asyncAckWaitMs ?? 30_000,
    asyncMaxConcurrency: input.asyncMaxConcurrency ?? 256,
    asyncMaxConcurrencyPerFunction: input.asyncMaxConcurrencyPerFunction ?? 64,
    asyncDuplicateWindowMs: input.asyncDuplicateWindowMs ?? 600_000,
    deadLetterMaxAgeMs: input.deadLetterMaxAgeMs ?? 14 * 24 * 3600 * 1000,
    eventMaxAgeMs: input.eventMaxAgeMs ?? 24 * 3600 * 1000,
    scheduleMinPeriodMs: Math.max(1000, input.scheduleMinPeriodMs ?? 60_000),
    scheduleTakeoverMs: input.scheduleTakeoverMs ?? 5000,
    region: input.region || 'local',
    accountId: input.accountId || '000000000000',
    logLevel: input.logLevel ?? 'info',
  };
}

/** The gRPC address this router announces: STRATUS_ADVERTISE_ADDRESS, else the bound host (the hostname for a wildcard) and port. */
export function advertisedAddress(options: Pick<RouterOptions, 'advertiseAddress' | 'host'>, grpcPort: number): string {
  if (options.advertiseAddress) return options.advertiseAddress;
  const wildcard = options.host === '0.0.0.0' || options.host === '::' || options.host === '';
  return `${wildcard ? os.hostname() : options.host}:${grpcPort}`;
}
