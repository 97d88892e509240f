import { resolveMappingOptions } from './mappings/mapping-options';
import { routerOptionsFromEnv } from './router-options';

const required = { STRATUS_API_TOKENS: 'a,b', STRATUS_CLUSTER_TOKEN: 'c' };

describe('routerOptionsFromEnv', () => {
  test('routerOptionsFromEnv applies every default when only the tokens are set', () => {
    const o = routerOptionsFromEnv(required);
    expect(o).toMatchObject({
      natsServers: 'nats://127.0.0.1:4222',
      natsToken: undefined,
      natsUser: undefined,
      natsPassword: undefined,
      natsConnectTimeoutMs: 5000,
      host: '0.0.0.0',
      grpcPort: 50051,
      httpPort: 8080,
      apiTokens: ['a', 'b'],
      clusterToken: 'c',
      invokeSlackMs: 15_000,
      registryWatchRetryMs: 500,
      agentClientEntries: 1024,
      maxRouters: 256,
      asyncThrottleCapMs: 300_000,
      asyncDiscoverIntervalMs: 1000,
      asyncFetchExpiresMs: 5000,
      asyncWorkerIdleMs: 300_000,
      asyncMaxWorkers: 10_000,
      asyncMetricsFunctions: 10_000,
      shutdownGraceMs: 10_000,
      eventSourceStopGraceMs: 5000,
      region: 'local',
      logLevel: 'info',
      replicas: undefined,
    });
    // Unset mapping settings stay unset: resolveMappingOptions applies their defaults.
    expect(o.mappings).toEqual({ leaseTtlMs: undefined, retryBaseMs: undefined, throttleBaseMs: undefined, maxBufferedRecords: undefined });
  });

  test('routerOptionsFromEnv takes the variables it is given, mapping and NATS credentials included', () => {
    const o = routerOptionsFromEnv({
      ...required,
      STRATUS_ROUTER_ID: 'r1',
      STRATUS_NATS_URL: 'nats://n:4222',
      STRATUS_NATS_USER: 'u',
      STRATUS_NATS_PASSWORD: 'p',
      STRATUS_NATS_TOKEN: 't',
      STRATUS_GRPC_PORT: '0',
      STRATUS_HTTP_PORT: '-1',
      STRATUS_INVOKE_SLACK_MS: '2500',
      STRATUS_ASYNC_ACK_WAIT_MS: '4000',
      STRATUS_SCHEDULE_MIN_PERIOD_MS: '2000',
      STRATUS_REGION: 'eu-1',
      STRATUS_LOG_LEVEL: 'debug',
      STRATUS_MAPPING_LEASE_TTL_MS: '3000',
      STRATUS_MAPPING_MAX_BUFFERED_RECORDS: '50',
      STRATUS_MAPPING_RETRY_BASE_MS: '10',
      STRATUS_MAPPING_THROTTLE_BASE_MS: '20',
    });
    expect(o).toMatchObject({ routerId: 'r1', natsServers: 'nats://n:4222', natsUser: 'u', natsPassword: 'p', natsToken: 't', grpcPort: 0, httpPort: -1, invokeSlackMs: 2500, asyncAckWaitMs: 4000, scheduleMinPeriodMs: 2000, region: 'eu-1', logLevel: 'debug' });
    expect(o.mappings).toEqual({ leaseTtlMs: 3000, maxBufferedRecords: 50, retryBaseMs: 10, throttleBaseMs: 20 });
  });

  test('routerOptionsFromEnv treats an empty variable as unset', () => {
    expect(routerOptionsFromEnv({ ...required, STRATUS_GRPC_PORT: '', STRATUS_NATS_TOKEN: '' })).toMatchObject({ grpcPort: 50051, natsToken: undefined });
  });

  test('routerOptionsFromEnv fails naming the variable when a number is malformed', () => {
    expect(() => routerOptionsFromEnv({ ...required, STRATUS_ASYNC_RETRY_BASE_MS: '1m' })).toThrow(/STRATUS_ASYNC_RETRY_BASE_MS=1m is not a number/);
    expect(() => routerOptionsFromEnv({ ...required, STRATUS_INVOKE_SLACK_MS: 'soon' })).toThrow(/STRATUS_INVOKE_SLACK_MS=soon is not a number/);
  });

  test('routerOptionsFromEnv refuses a negative invoke slack', () => {
    expect(() => routerOptionsFromEnv({ ...required, STRATUS_INVOKE_SLACK_MS: '-1' })).toThrow(/STRATUS_INVOKE_SLACK_MS=-1/);
  });

  test('routerOptionsFromEnv reads the TLS files and refuses an agent server name without the agent CA', () => {
    const tls = routerOptionsFromEnv({ ...required, STRATUS_TLS_CERT_FILE: '/c.pem', STRATUS_TLS_KEY_FILE: '/k.pem', STRATUS_AGENT_TLS_CA_FILE: '/ca.pem', STRATUS_AGENT_TLS_SERVER_NAME: 'stratus-agent', STRATUS_NATS_CA_FILE: '/nca.pem' });
    expect(tls).toMatchObject({ tlsCertFile: '/c.pem', tlsKeyFile: '/k.pem', agentTlsCaFile: '/ca.pem', agentTlsServerName: 'stratus-agent', natsTls: { caFile: '/nca.pem', certFile: undefined, keyFile: undefined } });
    expect(() => routerOptionsFromEnv({ ...required, STRATUS_AGENT_TLS_SERVER_NAME: 'stratus-agent' })).toThrow(/STRATUS_AGENT_TLS_SERVER_NAME is set without STRATUS_AGENT_TLS_CA_FILE/);
  });

  test('routerOptionsFromEnv refuses to start without API tokens or a cluster token', () => {
    expect(() => routerOptionsFromEnv({ STRATUS_CLUSTER_TOKEN: 'c' })).toThrow(/STRATUS_API_TOKENS/);
    expect(() => routerOptionsFromEnv({ STRATUS_API_TOKENS: 'a' })).toThrow(/STRATUS_CLUSTER_TOKEN/);
  });

  test('the mapping settings read from the environment resolve with the defaults of the rest and fail loudly when out of range', () => {
    const o = routerOptionsFromEnv({ ...required, STRATUS_MAPPING_RETRY_BASE_MS: '10' });
    const resolved = resolveMappingOptions({ ...o.mappings, routerId: o.routerId, region: o.region, accountId: o.accountId, invokeSlackMs: o.invokeSlackMs });
    expect(resolved).toMatchObject({ retryBaseMs: 10, leaseTtlMs: 10_000, maxBufferedRecords: 20_000, throttleBaseMs: 1000, invokeSlackMs: 15_000 });
    const bad = routerOptionsFromEnv({ ...required, STRATUS_MAPPING_LEASE_TTL_MS: '10' });
    expect(() => resolveMappingOptions({ ...bad.mappings, routerId: 'r', region: 'l', accountId: 'a' })).toThrow(/STRATUS_MAPPING_LEASE_TTL_MS=10/);
  });
});
