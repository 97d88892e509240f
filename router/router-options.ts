import * as os from 'node:os';
import { StratusError } from '../sdk/core/errors';
import { envList, envNumber, envString, natsTlsFromEnv } from '../sdk/platform/env';
import { parseLogLevel, type LogLevel } from '../sdk/platform/logger';
import { NO_NATS_TLS, type NatsTlsFiles } from '../sdk/platform/tls';
import { DEFAULT_PRICES, type PriceTable } from '../sdk/core/usage';

/** Everything a router is configured with. main.ts builds it from the environment with {@link routerOptionsFromEnv}. */
export interface RouterOptions {
  /** Unique id of this router. Default: hostname plus a random suffix. */
  routerId: string;
  /** NATS servers. Default nats://127.0.0.1:4222. */
  natsServers: string;
  /** NATS credentials: a token, or a user and password (STRATUS_NATS_TOKEN, STRATUS_NATS_USER, STRATUS_NATS_PASSWORD). Default none. */
  natsToken: string | undefined;
  natsUser: string | undefined;
  natsPassword: string | undefined;
  /** Longest the first NATS connection may take. Default 5000. */
  natsConnectTimeoutMs: number;
  /** TLS to NATS (STRATUS_NATS_CA_FILE, STRATUS_NATS_CERT_FILE, STRATUS_NATS_KEY_FILE): any set makes the connection TLS-only. Default none. */
  natsTls: NatsTlsFiles;
  /** Certificate and key the gRPC API and the HTTP port serve TLS with (STRATUS_TLS_CERT_FILE, STRATUS_TLS_KEY_FILE). Default none: plain text. */
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  /** CA agents' certificates are verified against (STRATUS_AGENT_TLS_CA_FILE); set, agents are dialed with TLS only. Default none. */
  agentTlsCaFile: string | undefined;
  /** Name checked in every agent's certificate instead of its address (STRATUS_AGENT_TLS_SERVER_NAME), when agents share one certificate. */
  agentTlsServerName: string | undefined;
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
  /** Bootstrap administrator tokens (STRATUS_API_TOKENS), never stored; every other token lives hashed in the identity bucket. Required. */
  apiTokens: string[];
  /** How long usage records are kept (STRATUS_USAGE_MAX_AGE_DAYS). Default 400 days: a year and the month before. */
  /** Function log streams: days and MB kept per function unless its logging config says otherwise (STRATUS_LOG_RETENTION_DAYS, default 7; STRATUS_LOG_MAX_MB, default 256). */
  logRetentionDays: number;
  logMaxMb: number;
  /** Invocation records: days and MB kept for the whole cluster (STRATUS_INVOCATION_RETENTION_DAYS, default 7; STRATUS_INVOCATION_MAX_MB, default 1024). */
  invocationRetentionDays: number;
  invocationMaxMb: number;
  usageMaxAgeMs: number;
  /** The price table `stratus usage` prices with (STRATUS_PRICE_PER_MILLION_REQUESTS, STRATUS_PRICE_PER_GB_SECOND, STRATUS_FREE_REQUESTS, STRATUS_FREE_GB_SECONDS). Default Lambda's x86 prices and free tier. */
  prices: PriceTable;
  /** Longest chain of functions invoking each other before it is stopped (STRATUS_RECURSION_LIMIT). Default 16 (Lambda's). */
  recursionLimit: number;
  /**
   * The router address functions' SDK calls are given (STRATUS_FUNCTION_API_ENDPOINT): where sandboxes
   * reach this router's gRPC API. Default: the advertised address. Agents may override it with their own.
   */
  functionApiEndpoint: string | undefined;
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
  /** Pause before a failed registry watch is opened again (the function cache is cleared and refilled then). Default 500. */
  registryWatchRetryMs: number;
  /** Agents this router keeps a gRPC connection to (least recently used ones are closed). Default 1024. */
  agentClientEntries: number;
  /** Other routers this router keeps track of for `stratus cluster`. Default 256. */
  maxRouters: number;
  /**
   * Time allowed beyond a function's timeout for placement and cold start, for synchronous calls
   * (gRPC and HTTP), async events and mapping batches alike (STRATUS_INVOKE_SLACK_MS). Default 15000.
   */
  invokeSlackMs: number;
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
  /** Longest delay after repeated throttles or platform errors of an async event. Default 300000 (Lambda's 5 min). */
  asyncThrottleCapMs: number;
  /** How often the router lists async consumers to find functions with events waiting. Default 1000. */
  asyncDiscoverIntervalMs: number;
  /** Long-poll length of one async fetch. Default 5000. */
  asyncFetchExpiresMs: number;
  /** A function's async worker stops after its consumer yielded nothing for this long; enqueueing or discovery starts it again. Default 300000 (5 min). */
  asyncWorkerIdleMs: number;
  /** Most functions with an async worker on this router at once; more are refused (and counted) until some go idle. Default 10000. */
  asyncMaxWorkers: number;
  /** Functions whose async counters are kept for /metrics (least recently active ones are dropped). Default 10000. */
  asyncMetricsFunctions: number;
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
  /** On shutdown: how long running gRPC calls, async events and mapping batches each get to finish. Default 10000. */
  shutdownGraceMs: number;
  /** On shutdown: how long subject triggers and schedules each get to finish what they run. Default 5000. */
  eventSourceStopGraceMs: number;
  /**
   * Event source mapping settings from STRATUS_MAPPING_*; unset ones take MappingOptions' defaults
   * when main.ts resolves the mapping options (with the detected replicas and {@link invokeSlackMs}).
   * Kept as plain values here so this file, which the event source folders read, imports none of them.
   */
  mappings: MappingTunables;
  region: string;
  accountId: string;
  logLevel: LogLevel;
}

/** The mapping settings a router's environment may give; see MappingOptions for what each does and its default. */
export interface MappingTunables {
  /** STRATUS_MAPPING_LEASE_TTL_MS. */
  leaseTtlMs?: number;
  /** STRATUS_MAPPING_RETRY_BASE_MS. */
  retryBaseMs?: number;
  /** STRATUS_MAPPING_THROTTLE_BASE_MS. */
  throttleBaseMs?: number;
  /** STRATUS_MAPPING_MAX_BUFFERED_RECORDS. */
  maxBufferedRecords?: number;
}

/**
 * Reads every STRATUS_* variable the router knows (the README lists them) and resolves the
 * options; a malformed number fails start-up, naming the variable. The router's only reader of
 * its environment besides telemetry's OTEL_* variables.
 */
export function routerOptionsFromEnv(env: NodeJS.ProcessEnv): RouterOptions {
  return resolveRouterOptions({
    routerId: envString(env, 'STRATUS_ROUTER_ID'),
    natsServers: envString(env, 'STRATUS_NATS_URL'),
    natsToken: envString(env, 'STRATUS_NATS_TOKEN'),
    natsUser: envString(env, 'STRATUS_NATS_USER'),
    natsPassword: envString(env, 'STRATUS_NATS_PASSWORD'),
    natsTls: natsTlsFromEnv(env),
    tlsCertFile: envString(env, 'STRATUS_TLS_CERT_FILE'),
    tlsKeyFile: envString(env, 'STRATUS_TLS_KEY_FILE'),
    agentTlsCaFile: envString(env, 'STRATUS_AGENT_TLS_CA_FILE'),
    agentTlsServerName: envString(env, 'STRATUS_AGENT_TLS_SERVER_NAME'),
    host: envString(env, 'STRATUS_HOST'),
    advertiseAddress: envString(env, 'STRATUS_ADVERTISE_ADDRESS'),
    heartbeatMs: envNumber(env, 'STRATUS_HEARTBEAT_MS'),
    grpcPort: envNumber(env, 'STRATUS_GRPC_PORT'),
    httpPort: envNumber(env, 'STRATUS_HTTP_PORT'),
    apiTokens: envList(env, 'STRATUS_API_TOKENS'),
    recursionLimit: envNumber(env, 'STRATUS_RECURSION_LIMIT'),
    usageMaxAgeMs: daysToMs(envNumber(env, 'STRATUS_USAGE_MAX_AGE_DAYS')),
    logRetentionDays: envNumber(env, 'STRATUS_LOG_RETENTION_DAYS'),
    logMaxMb: envNumber(env, 'STRATUS_LOG_MAX_MB'),
    invocationRetentionDays: envNumber(env, 'STRATUS_INVOCATION_RETENTION_DAYS'),
    invocationMaxMb: envNumber(env, 'STRATUS_INVOCATION_MAX_MB'),
    prices: {
      perMillionRequests: envNumber(env, 'STRATUS_PRICE_PER_MILLION_REQUESTS') ?? DEFAULT_PRICES.perMillionRequests,
      perGbSecond: envNumber(env, 'STRATUS_PRICE_PER_GB_SECOND') ?? DEFAULT_PRICES.perGbSecond,
      freeRequests: envNumber(env, 'STRATUS_FREE_REQUESTS') ?? DEFAULT_PRICES.freeRequests,
      freeGbSeconds: envNumber(env, 'STRATUS_FREE_GB_SECONDS') ?? DEFAULT_PRICES.freeGbSeconds,
      currency: envString(env, 'STRATUS_PRICE_CURRENCY') ?? DEFAULT_PRICES.currency,
    },
    functionApiEndpoint: envString(env, 'STRATUS_FUNCTION_API_ENDPOINT'),
    clusterToken: envString(env, 'STRATUS_CLUSTER_TOKEN'),
    placementWaitMs: envNumber(env, 'STRATUS_PLACEMENT_WAIT_MS'),
    clusterConcurrencyLimit: envNumber(env, 'STRATUS_CLUSTER_CONCURRENCY'),
    replicas: envNumber(env, 'STRATUS_REPLICAS'),
    invokeSlackMs: envNumber(env, 'STRATUS_INVOKE_SLACK_MS'),
    asyncRetryBaseMs: envNumber(env, 'STRATUS_ASYNC_RETRY_BASE_MS'),
    asyncThrottleBaseMs: envNumber(env, 'STRATUS_ASYNC_THROTTLE_BASE_MS'),
    asyncAckWaitMs: envNumber(env, 'STRATUS_ASYNC_ACK_WAIT_MS'),
    asyncMaxConcurrency: envNumber(env, 'STRATUS_ASYNC_MAX_CONCURRENCY'),
    asyncMaxConcurrencyPerFunction: envNumber(env, 'STRATUS_ASYNC_MAX_CONCURRENCY_PER_FUNCTION'),
    scheduleMinPeriodMs: envNumber(env, 'STRATUS_SCHEDULE_MIN_PERIOD_MS'),
    scheduleTakeoverMs: envNumber(env, 'STRATUS_SCHEDULE_TAKEOVER_MS'),
    region: envString(env, 'STRATUS_REGION'),
    logLevel: parseLogLevel(envString(env, 'STRATUS_LOG_LEVEL')),
    mappings: {
      leaseTtlMs: envNumber(env, 'STRATUS_MAPPING_LEASE_TTL_MS'),
      retryBaseMs: envNumber(env, 'STRATUS_MAPPING_RETRY_BASE_MS'),
      throttleBaseMs: envNumber(env, 'STRATUS_MAPPING_THROTTLE_BASE_MS'),
      maxBufferedRecords: envNumber(env, 'STRATUS_MAPPING_MAX_BUFFERED_RECORDS'),
    },
  });
}

/** Applies defaults and validates; the one place router options are resolved. */
export function resolveRouterOptions(input: Partial<RouterOptions>): RouterOptions {
  const apiTokens = (input.apiTokens ?? []).filter(Boolean);
  if (apiTokens.length === 0) throw new StratusError('InvalidRequest', 'no API tokens: set STRATUS_API_TOKENS (comma-separated) so callers can authenticate');
  if (!input.clusterToken) throw new StratusError('InvalidRequest', 'no cluster token: set STRATUS_CLUSTER_TOKEN to the secret agents accept');
  // A name to check means TLS to agents was meant: without the CA the router would dial plain text.
  if (input.agentTlsServerName && !input.agentTlsCaFile) throw new StratusError('InvalidRequest', 'STRATUS_AGENT_TLS_SERVER_NAME is set without STRATUS_AGENT_TLS_CA_FILE: set the CA agents\' certificates are verified against, or unset the name');
  return {
    routerId: input.routerId || `${os.hostname()}-${Math.random().toString(36).slice(2, 8)}`,
    natsServers: input.natsServers || 'nats://127.0.0.1:4222',
    natsToken: input.natsToken || undefined,
    natsUser: input.natsUser || undefined,
    natsPassword: input.natsPassword || undefined,
    natsConnectTimeoutMs: input.natsConnectTimeoutMs ?? 5000,
    natsTls: input.natsTls ?? NO_NATS_TLS,
    tlsCertFile: input.tlsCertFile || undefined,
    tlsKeyFile: input.tlsKeyFile || undefined,
    agentTlsCaFile: input.agentTlsCaFile || undefined,
    agentTlsServerName: input.agentTlsServerName || undefined,
    host: input.host || '0.0.0.0',
    advertiseAddress: input.advertiseAddress || undefined,
    heartbeatMs: input.heartbeatMs ?? 2000,
    grpcPort: input.grpcPort ?? 50051,
    httpPort: input.httpPort ?? 8080,
    apiTokens,
    recursionLimit: positiveInteger('STRATUS_RECURSION_LIMIT', input.recursionLimit ?? 16),
    usageMaxAgeMs: input.usageMaxAgeMs ?? 400 * 24 * 3600 * 1000,
    logRetentionDays: wholeAtLeastOne('STRATUS_LOG_RETENTION_DAYS', input.logRetentionDays, 7),
    logMaxMb: wholeAtLeastOne('STRATUS_LOG_MAX_MB', input.logMaxMb, 256),
    invocationRetentionDays: wholeAtLeastOne('STRATUS_INVOCATION_RETENTION_DAYS', input.invocationRetentionDays, 7),
    invocationMaxMb: wholeAtLeastOne('STRATUS_INVOCATION_MAX_MB', input.invocationMaxMb, 1024),
    prices: checkPrices(input.prices ?? DEFAULT_PRICES),
    functionApiEndpoint: input.functionApiEndpoint || undefined,
    clusterToken: input.clusterToken,
    missedHeartbeats: input.missedHeartbeats ?? 3,
    placementWaitMs: input.placementWaitMs ?? 2000,
    agentConnectTimeoutMs: input.agentConnectTimeoutMs ?? 1000,
    throttleRetryAfterMs: input.throttleRetryAfterMs ?? 500,
    clusterConcurrencyLimit: input.clusterConcurrencyLimit ?? 1000,
    functionCacheEntries: input.functionCacheEntries ?? 10_000,
    registryWatchRetryMs: input.registryWatchRetryMs ?? 500,
    agentClientEntries: input.agentClientEntries ?? 1024,
    maxRouters: input.maxRouters ?? 256,
    invokeSlackMs: nonNegative('STRATUS_INVOKE_SLACK_MS', input.invokeSlackMs ?? 15_000),
    replicas: input.replicas,
    asyncRetryBaseMs: input.asyncRetryBaseMs ?? 60_000,
    asyncThrottleBaseMs: input.asyncThrottleBaseMs ?? 1000,
    asyncAckWaitMs: input.asyncAckWaitMs ?? 30_000,
    asyncMaxConcurrency: input.asyncMaxConcurrency ?? 256,
    asyncMaxConcurrencyPerFunction: input.asyncMaxConcurrencyPerFunction ?? 64,
    asyncThrottleCapMs: input.asyncThrottleCapMs ?? 300_000,
    asyncDiscoverIntervalMs: input.asyncDiscoverIntervalMs ?? 1000,
    asyncFetchExpiresMs: input.asyncFetchExpiresMs ?? 5000,
    asyncWorkerIdleMs: input.asyncWorkerIdleMs ?? 300_000,
    asyncMaxWorkers: input.asyncMaxWorkers ?? 10_000,
    asyncMetricsFunctions: input.asyncMetricsFunctions ?? 10_000,
    asyncDuplicateWindowMs: input.asyncDuplicateWindowMs ?? 600_000,
    deadLetterMaxAgeMs: input.deadLetterMaxAgeMs ?? 14 * 24 * 3600 * 1000,
    eventMaxAgeMs: input.eventMaxAgeMs ?? 24 * 3600 * 1000,
    scheduleMinPeriodMs: Math.max(1000, input.scheduleMinPeriodMs ?? 60_000),
    scheduleTakeoverMs: input.scheduleTakeoverMs ?? 5000,
    shutdownGraceMs: input.shutdownGraceMs ?? 10_000,
    eventSourceStopGraceMs: input.eventSourceStopGraceMs ?? 5000,
    mappings: { ...input.mappings },
    region: input.region || 'local',
    accountId: input.accountId || '000000000000',
    logLevel: input.logLevel ?? 'info',
  };
}

function daysToMs(days: number | undefined): number | undefined {
  return days === undefined ? undefined : nonNegative('STRATUS_USAGE_MAX_AGE_DAYS', days) * 24 * 3600 * 1000;
}

function checkPrices(p: PriceTable): PriceTable {
  for (const [name, value] of [['STRATUS_PRICE_PER_MILLION_REQUESTS', p.perMillionRequests], ['STRATUS_PRICE_PER_GB_SECOND', p.perGbSecond], ['STRATUS_FREE_REQUESTS', p.freeRequests], ['STRATUS_FREE_GB_SECONDS', p.freeGbSeconds]] as const) {
    if (!Number.isFinite(value) || value < 0) throw new StratusError('InvalidRequest', `${name}=${value}: use a number, 0 or more`);
  }
  return p;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new StratusError('InvalidRequest', `${name}=${value}: use a whole number, 1 or more`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new StratusError('InvalidRequest', `${name}=${value}: use a number of milliseconds, 0 or more`);
  return value;
}

/** The gRPC address this router announces: STRATUS_ADVERTISE_ADDRESS, else the bound host (the hostname for a wildcard) and port. */
export function advertisedAddress(options: Pick<RouterOptions, 'advertiseAddress' | 'host'>, grpcPort: number): string {
  if (options.advertiseAddress) return options.advertiseAddress;
  const wildcard = options.host === '0.0.0.0' || options.host === '::' || options.host === '';
  return `${wildcard ? os.hostname() : options.host}:${grpcPort}`;
}

function wholeAtLeastOne(name: string, value: number | undefined, dflt: number): number {
  const v = value ?? dflt;
  if (!Number.isInteger(v) || v < 1) throw new StratusError('InvalidRequest', `${name}=${value} must be a whole number of at least 1`);
  return v;
}
