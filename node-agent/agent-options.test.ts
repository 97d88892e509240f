import { agentOptionsFromEnv, resolveAgentOptions } from './agent-options';

const base = { clusterTokens: ['t'] };

describe('pre-started runtime options', () => {
  test('resolveAgentOptions keeps two pre-started runtimes per runtime when none are configured', () => {
    expect(resolveAgentOptions(base).prestart).toEqual({ nodejs: 2, python: 2 });
  });

  test('resolveAgentOptions turns one runtime\'s pool off when its count is 0', () => {
    expect(resolveAgentOptions({ ...base, prestart: { nodejs: 0, python: 3 } }).prestart).toEqual({ nodejs: 0, python: 3 });
  });

  test.each([-1, 1.5, 65, Number.NaN])('resolveAgentOptions refuses %p pre-started runtimes with a message naming the variable', (n) => {
    expect(() => resolveAgentOptions({ ...base, prestart: { nodejs: n } })).toThrow(/STRATUS_PRESTART_NODEJS=.* whole number from 0 \(off\) to 64/);
  });
});

describe('agentOptionsFromEnv', () => {
  const required = { STRATUS_CLUSTER_TOKEN: 't1, t2' };

  test('agentOptionsFromEnv applies the defaults when only the cluster token is set', () => {
    const o = agentOptionsFromEnv(required);
    expect(o).toMatchObject({
      natsServers: 'nats://127.0.0.1:4222',
      natsToken: undefined,
      natsUser: undefined,
      natsPassword: undefined,
      grpcHost: '0.0.0.0',
      grpcPort: 0,
      httpPort: -1,
      clusterTokens: ['t1', 't2'],
      maxInstances: 256,
      idleTimeoutMs: 600_000,
      heartbeatMs: 1000,
      initTimeoutMs: 10_000,
      billingGranularityMs: 1,
      replicas: undefined,
      region: 'local',
      sandbox: 'bwrap',
      bwrapPath: 'bwrap',
      sandboxHostUid: 65534,
      sandboxHostGid: 65534,
      prestart: { nodejs: 2, python: 2 },
      echoFunctionLogs: true,
      logLevel: 'info',
    });
    expect(o.dataDir).toContain(`stratus-agent-${o.agentId}`);
  });

  test('agentOptionsFromEnv takes the variables it is given, NATS credentials included', () => {
    const o = agentOptionsFromEnv({
      ...required,
      STRATUS_AGENT_ID: 'a1',
      STRATUS_NATS_URL: 'nats://n:4222',
      STRATUS_NATS_TOKEN: 'tok',
      STRATUS_NATS_USER: 'u',
      STRATUS_NATS_PASSWORD: 'p',
      STRATUS_GRPC_HOST: '127.0.0.1',
      STRATUS_GRPC_PORT: '7001',
      STRATUS_ADVERTISE_ADDRESS: 'agent:7001',
      STRATUS_HTTP_PORT: '0',
      STRATUS_DATA_DIR: '/tmp/a1',
      STRATUS_AGENT_MEMORY_MB: '512',
      STRATUS_AGENT_MAX_INSTANCES: '8',
      STRATUS_IDLE_TIMEOUT_MS: '2000',
      STRATUS_ECHO_FUNCTION_LOGS: 'false',
      STRATUS_SANDBOX: 'process',
      STRATUS_PRESTART_NODEJS: '0',
      STRATUS_PRESTART_PYTHON: '1',
      STRATUS_LOG_LEVEL: 'warn',
    });
    expect(o).toMatchObject({
      agentId: 'a1',
      natsServers: 'nats://n:4222',
      natsToken: 'tok',
      natsUser: 'u',
      natsPassword: 'p',
      grpcHost: '127.0.0.1',
      grpcPort: 7001,
      advertiseAddress: 'agent:7001',
      httpPort: 0,
      dataDir: '/tmp/a1',
      memoryMb: 512,
      maxInstances: 8,
      idleTimeoutMs: 2000,
      echoFunctionLogs: false,
      sandbox: 'process',
      prestart: { nodejs: 0, python: 1 },
      logLevel: 'warn',
    });
  });

  test('agentOptionsFromEnv fails naming the variable when a number is malformed', () => {
    expect(() => agentOptionsFromEnv({ ...required, STRATUS_AGENT_MEMORY_MB: '2G' })).toThrow(/STRATUS_AGENT_MEMORY_MB=2G is not a number/);
  });

  test('agentOptionsFromEnv refuses an unknown sandbox and a missing cluster token', () => {
    expect(() => agentOptionsFromEnv({ ...required, STRATUS_SANDBOX: 'docker' })).toThrow(/STRATUS_SANDBOX=docker/);
    expect(() => agentOptionsFromEnv({})).toThrow(/STRATUS_CLUSTER_TOKEN/);
  });
});
