import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StratusError } from '../sdk/core/errors';
import { envBool, envList, envNumber, envString, natsTlsFromEnv } from '../sdk/platform/env';
import { parseLogLevel, type LogLevel } from '../sdk/platform/logger';
import { NO_NATS_TLS, type NatsTlsFiles } from '../sdk/platform/tls';

/** Everything a node agent is configured with. main.ts builds it from the environment with {@link agentOptionsFromEnv}. */
export interface AgentOptions {
  /** Unique id of this agent in the cluster. Default: hostname plus a random suffix. */
  agentId: string;
  /** NATS servers. Default nats://127.0.0.1:4222. */
  natsServers: string;
  /** NATS credentials: a token, or a user and password (STRATUS_NATS_TOKEN, STRATUS_NATS_USER, STRATUS_NATS_PASSWORD). Default none. */
  natsToken: string | undefined;
  natsUser: string | undefined;
  natsPassword: string | undefined;
  /** TLS to NATS (STRATUS_NATS_CA_FILE, STRATUS_NATS_CERT_FILE, STRATUS_NATS_KEY_FILE): any set makes the connection TLS-only. Default none. */
  natsTls: NatsTlsFiles;
  /** Certificate and key the gRPC endpoint serves TLS with (STRATUS_TLS_CERT_FILE, STRATUS_TLS_KEY_FILE); routers then need STRATUS_AGENT_TLS_CA_FILE. Default none: plain text. */
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  /** Interface the gRPC endpoint binds. Default 0.0.0.0. */
  grpcHost: string;
  /** gRPC port; 0 picks a free one. Default 0. */
  grpcPort: number;
  /** host:port routers dial; default 127.0.0.1:<bound port>. */
  advertiseAddress: string | undefined;
  /** Health endpoint port (/healthz, /readyz); 0 picks one; -1 disables. Default -1. */
  httpPort: number;
  /** Where bundles are unpacked. Default $TMPDIR/stratus-agent-<agentId>. */
  dataDir: string;
  /** Tokens routers must present. Required. */
  clusterTokens: string[];
  /** Memory for instances in MB. Default 80% of the host's memory. */
  memoryMb: number;
  /**
   * Where instances' /tmp lives (STRATUS_SANDBOX_TMP): "disk" (each its own ext4 disk of its
   * ephemeral storage, not charged to memory; needs root and loop devices), "tmpfs" (memory, charged
   * to the instance), or "auto" (the default: disk where it can be made, else tmpfs with a warning).
   */
  sandboxTmp: 'auto' | 'disk' | 'tmpfs';
  /** Disk for instances' /tmp in MB (STRATUS_AGENT_EPHEMERAL_MB). Default 80% of the space free under dataDir at start. */
  ephemeralStorageMb: number | undefined;
  /** Most instances at once. Default 256. */
  maxInstances: number;
  /** Keep-alive: idle instances stop after this long. Default 600000 (10 min). */
  idleTimeoutMs: number;
  /** Heartbeat period. Default 1000. */
  heartbeatMs: number;
  /** Longest an instance's init phase may take. Default 10000 (Lambda's). */
  initTimeoutMs: number;
  /** How often busy instances' memory is checked. Default 100. */
  memoryCheckMs: number;
  /** Billing granularity in ms. Default 1. */
  billingGranularityMs: number;
  /**
   * Function log streams: what one function may log on this agent (STRATUS_LOG_BUDGET_KB_PER_SECOND,
   * default 1024 KB/s, bursts to STRATUS_LOG_BURST_KB, default 4096 KB), how long a line waits to be
   * sent (STRATUS_LOG_FLUSH_MS, default 50) and how much may wait (STRATUS_LOG_BUFFER_MB, default 32).
   */
  logShipping: { budgetBytesPerSecond: number; burstBytes: number; flushMs: number; maxBufferedBytes: number };
  /**
   * The router API address functions on this agent use (STRATUS_FUNCTION_API_ENDPOINT, e.g.
   * 127.0.0.1:50051 with that port in STRATUS_SANDBOX_ALLOW_HOST_PORTS when the router shares the
   * host). Default: the address of the router that sent the invocation.
   */
  functionApiEndpoint: string | undefined;
  /** Unpacked code kept on disk, bytes. Default 10 GiB. */
  codeCacheBytes: number;
  /** Replicas for the code object store when this agent creates it. Default: detected at start from the NATS cluster (3 from three servers up, else 1). */
  replicas: number | undefined;
  region: string;
  accountId: string;
  /** Node.js binary for nodejs functions. Default: the agent's own. */
  nodeBinary: string;
  /** How instances are isolated: "bwrap" (namespaces + cgroups; the default) or "process" (none at all, opt-in). */
  sandbox: 'bwrap' | 'process';
  /** bubblewrap binary. Default: bwrap on PATH. */
  bwrapPath: string;
  /** Host uid/gid sandboxes run as when the agent is root. Default 65534 (nobody). */
  sandboxHostUid: number;
  sandboxHostGid: number;
  /**
   * How a sandbox's network is isolated (STRATUS_SANDBOX_NETWORK): "isolated" (the default: its own
   * network namespace connected to the outside by pasta, the host unreachable) or "host" (shares
   * the host's network: functions can reach every port of this host; opt-in).
   */
  sandboxNetwork: 'isolated' | 'host';
  /** Host loopback ports functions may reach at 127.0.0.1:<port> (STRATUS_SANDBOX_ALLOW_HOST_PORTS, comma-separated). */
  sandboxAllowedHostPorts: number[];
  /** Ranges functions may not reach besides the host's own addresses (STRATUS_SANDBOX_DENY_CIDRS, comma-separated). */
  sandboxDeniedCidrs: string[];
  /** pasta binary (Debian's passt). Default /usr/bin/pasta. */
  pastaPath: string;
  /** Most processes and threads per instance. Default 1024 (Lambda's). */
  maxProcessesPerInstance: number;
  /** Python 3 for python functions. Default /usr/bin/python3 when present, else python3 on PATH. */
  pythonBinary: string;
  /**
   * Pre-started generic runtimes kept ready per runtime (STRATUS_PRESTART_NODEJS, STRATUS_PRESTART_PYTHON):
   * processes already started in their sandbox with no function, so a new instance only loads its
   * code. 0 turns a runtime's pool off. Used with the bwrap sandbox only. Default 2 each.
   */
  prestart: { nodejs: number; python: number };
  /** Write function output lines to the agent's stdout. Default true. */
  echoFunctionLogs: boolean;
  logLevel: LogLevel;
}

/**
 * Reads every STRATUS_* variable the agent knows (the README lists them) and resolves the
 * options; a malformed number fails start-up, naming the variable. The agent's only reader of
 * its environment besides telemetry's OTEL_* variables.
 */
export function agentOptionsFromEnv(env: NodeJS.ProcessEnv): AgentOptions {
  return resolveAgentOptions({
    agentId: envString(env, 'STRATUS_AGENT_ID'),
    natsServers: envString(env, 'STRATUS_NATS_URL'),
    natsToken: envString(env, 'STRATUS_NATS_TOKEN'),
    natsUser: envString(env, 'STRATUS_NATS_USER'),
    natsPassword: envString(env, 'STRATUS_NATS_PASSWORD'),
    natsTls: natsTlsFromEnv(env),
    tlsCertFile: envString(env, 'STRATUS_TLS_CERT_FILE'),
    tlsKeyFile: envString(env, 'STRATUS_TLS_KEY_FILE'),
    grpcHost: envString(env, 'STRATUS_GRPC_HOST'),
    grpcPort: envNumber(env, 'STRATUS_GRPC_PORT'),
    advertiseAddress: envString(env, 'STRATUS_ADVERTISE_ADDRESS'),
    httpPort: envNumber(env, 'STRATUS_HTTP_PORT'),
    dataDir: envString(env, 'STRATUS_DATA_DIR'),
    clusterTokens: envList(env, 'STRATUS_CLUSTER_TOKEN'),
    memoryMb: envNumber(env, 'STRATUS_AGENT_MEMORY_MB'),
    sandboxTmp: envString(env, 'STRATUS_SANDBOX_TMP') as AgentOptions['sandboxTmp'] | undefined,
    ephemeralStorageMb: envNumber(env, 'STRATUS_AGENT_EPHEMERAL_MB'),
    maxInstances: envNumber(env, 'STRATUS_AGENT_MAX_INSTANCES'),
    idleTimeoutMs: envNumber(env, 'STRATUS_IDLE_TIMEOUT_MS'),
    heartbeatMs: envNumber(env, 'STRATUS_HEARTBEAT_MS'),
    initTimeoutMs: envNumber(env, 'STRATUS_INIT_TIMEOUT_MS'),
    billingGranularityMs: envNumber(env, 'STRATUS_BILLING_GRANULARITY_MS'),
    logShipping: {
      budgetBytesPerSecond: kib(envNumber(env, 'STRATUS_LOG_BUDGET_KB_PER_SECOND')),
      burstBytes: kib(envNumber(env, 'STRATUS_LOG_BURST_KB')),
      flushMs: envNumber(env, 'STRATUS_LOG_FLUSH_MS'),
      maxBufferedBytes: kib(envNumber(env, 'STRATUS_LOG_BUFFER_MB'), 1024 * 1024),
    },
    functionApiEndpoint: envString(env, 'STRATUS_FUNCTION_API_ENDPOINT'),
    replicas: envNumber(env, 'STRATUS_REPLICAS'),
    region: envString(env, 'STRATUS_REGION'),
    echoFunctionLogs: envBool(env, 'STRATUS_ECHO_FUNCTION_LOGS'),
    // resolveAgentOptions refuses anything but the two names.
    sandbox: envString(env, 'STRATUS_SANDBOX') as AgentOptions['sandbox'] | undefined,
    bwrapPath: envString(env, 'STRATUS_BWRAP'),
    sandboxHostUid: envNumber(env, 'STRATUS_SANDBOX_UID'),
    sandboxHostGid: envNumber(env, 'STRATUS_SANDBOX_GID'),
    sandboxNetwork: envString(env, 'STRATUS_SANDBOX_NETWORK') as AgentOptions['sandboxNetwork'] | undefined,
    sandboxAllowedHostPorts: envList(env, 'STRATUS_SANDBOX_ALLOW_HOST_PORTS')?.map(Number),
    sandboxDeniedCidrs: envList(env, 'STRATUS_SANDBOX_DENY_CIDRS'),
    pastaPath: envString(env, 'STRATUS_PASTA'),
    pythonBinary: envString(env, 'STRATUS_PYTHON'),
    prestart: { nodejs: envNumber(env, 'STRATUS_PRESTART_NODEJS'), python: envNumber(env, 'STRATUS_PRESTART_PYTHON') },
    logLevel: parseLogLevel(envString(env, 'STRATUS_LOG_LEVEL')),
  });
}

function kib(v: number | undefined, unit = 1024): number | undefined {
  return v === undefined ? undefined : v * unit;
}

/** Applies defaults and validates; the one place agent options are resolved. */
export function resolveAgentOptions(
  input: Partial<Omit<AgentOptions, 'prestart' | 'logShipping'>> & { prestart?: Partial<AgentOptions['prestart']>; logShipping?: Partial<Record<keyof AgentOptions['logShipping'], number | undefined>> },
): AgentOptions {
  const agentId = input.agentId || `${os.hostname()}-${Math.random().toString(36).slice(2, 8)}`;
  const clusterTokens = (input.clusterTokens ?? []).filter(Boolean);
  if (input.sandbox !== undefined && input.sandbox !== 'bwrap' && input.sandbox !== 'process') {
    throw new StratusError('InvalidRequest', `STRATUS_SANDBOX=${String(input.sandbox)}: use bwrap (isolated, the default) or process (no isolation)`);
  }
  if (input.sandboxTmp !== undefined && !['auto', 'disk', 'tmpfs'].includes(input.sandboxTmp)) {
    throw new StratusError('InvalidRequest', `STRATUS_SANDBOX_TMP=${String(input.sandboxTmp)}: use auto (the default), disk or tmpfs`);
  }
  if (input.sandboxNetwork !== undefined && input.sandboxNetwork !== 'isolated' && input.sandboxNetwork !== 'host') {
    throw new StratusError('InvalidRequest', `STRATUS_SANDBOX_NETWORK=${String(input.sandboxNetwork)}: use isolated (the default) or host (functions can reach this host)`);
  }
  const allowedPorts = input.sandboxAllowedHostPorts ?? [];
  const badPort = allowedPorts.find((p) => !Number.isInteger(p) || p < 1 || p > 65535 || p === 9001);
  if (badPort !== undefined) throw new StratusError('InvalidRequest', `STRATUS_SANDBOX_ALLOW_HOST_PORTS: ${badPort} is not a port a sandbox may be given (1-65535, not 9001, the Runtime API's)`);
  if (clusterTokens.length === 0) {
    throw new StratusError('InvalidRequest', 'no cluster token: set STRATUS_CLUSTER_TOKEN to the secret routers use to reach agents');
  }
  const positive = (name: string, v: number | undefined, d: number): number => {
    const value = v ?? d;
    if (!Number.isFinite(value) || value <= 0) throw new StratusError('InvalidRequest', `${name} must be a positive number, got ${v}`);
    return value;
  };
  const prestartCount = (name: string, v: number | undefined): number => {
    const value = v ?? 2;
    if (!Number.isInteger(value) || value < 0 || value > 64) {
      throw new StratusError('InvalidRequest', `${name}=${v} is not a number of pre-started runtimes: use a whole number from 0 (off) to 64`);
    }
    return value;
  };
  return {
    agentId,
    natsServers: input.natsServers || 'nats://127.0.0.1:4222',
    natsToken: input.natsToken || undefined,
    natsUser: input.natsUser || undefined,
    natsPassword: input.natsPassword || undefined,
    natsTls: input.natsTls ?? NO_NATS_TLS,
    tlsCertFile: input.tlsCertFile || undefined,
    tlsKeyFile: input.tlsKeyFile || undefined,
    grpcHost: input.grpcHost || '0.0.0.0',
    grpcPort: input.grpcPort ?? 0,
    advertiseAddress: input.advertiseAddress || undefined,
    httpPort: input.httpPort ?? -1,
    dataDir: input.dataDir || path.join(os.tmpdir(), `stratus-agent-${agentId}`),
    clusterTokens,
    memoryMb: positive('memory', input.memoryMb, Math.floor((os.totalmem() / 1024 / 1024) * 0.8)),
    sandboxTmp: input.sandboxTmp ?? 'auto',
    ephemeralStorageMb: input.ephemeralStorageMb === undefined ? undefined : positive('STRATUS_AGENT_EPHEMERAL_MB', input.ephemeralStorageMb, 1),
    maxInstances: positive('max instances', input.maxInstances, 256),
    idleTimeoutMs: positive('idle timeout', input.idleTimeoutMs, 600_000),
    heartbeatMs: positive('heartbeat interval', input.heartbeatMs, 1000),
    initTimeoutMs: positive('init timeout', input.initTimeoutMs, 10_000),
    memoryCheckMs: positive('memory check interval', input.memoryCheckMs, 100),
    billingGranularityMs: positive('billing granularity', input.billingGranularityMs, 1),
    logShipping: {
      budgetBytesPerSecond: positive('STRATUS_LOG_BUDGET_KB_PER_SECOND', input.logShipping?.budgetBytesPerSecond, 1024 * 1024),
      burstBytes: positive('STRATUS_LOG_BURST_KB', input.logShipping?.burstBytes, 4 * 1024 * 1024),
      flushMs: positive('STRATUS_LOG_FLUSH_MS', input.logShipping?.flushMs, 50),
      maxBufferedBytes: positive('STRATUS_LOG_BUFFER_MB', input.logShipping?.maxBufferedBytes, 32 * 1024 * 1024),
    },
    functionApiEndpoint: input.functionApiEndpoint || undefined,
    codeCacheBytes: positive('code cache size', input.codeCacheBytes, 10 * 1024 ** 3),
    replicas: input.replicas === undefined ? undefined : positive('replicas', input.replicas, 1),
    region: input.region || 'local',
    accountId: input.accountId || '000000000000',
    nodeBinary: input.nodeBinary || process.execPath,
    sandbox: input.sandbox ?? 'bwrap',
    bwrapPath: input.bwrapPath || 'bwrap',
    sandboxHostUid: input.sandboxHostUid ?? 65534,
    sandboxHostGid: input.sandboxHostGid ?? 65534,
    sandboxNetwork: input.sandboxNetwork ?? 'isolated',
    sandboxAllowedHostPorts: allowedPorts,
    sandboxDeniedCidrs: input.sandboxDeniedCidrs ?? [],
    pastaPath: input.pastaPath || '/usr/bin/pasta',
    maxProcessesPerInstance: positive('max processes per instance', input.maxProcessesPerInstance, 1024),
    pythonBinary: input.pythonBinary || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'),
    prestart: { nodejs: prestartCount('STRATUS_PRESTART_NODEJS', input.prestart?.nodejs), python: prestartCount('STRATUS_PRESTART_PYTHON', input.prestart?.python) },
    echoFunctionLogs: input.echoFunctionLogs ?? true,
    logLevel: input.logLevel ?? 'info',
  };
}
