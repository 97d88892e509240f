#!/usr/bin/env node
/** The node agent's composition root: reads the environment, connects, wires, and handles signals. */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { trace } from '@opentelemetry/api';
import { AgentServiceService } from '../proto/gen/stratus/v1/agent';
import { bindGrpcServer, createGrpcServer, shutdownGrpcServer } from '../sdk/platform/grpc-server';
import { HealthServer } from '../sdk/platform/health-server';
import { createLogger, type Logger } from '../sdk/platform/logger';
import { connectNats, openCodeStore } from '../sdk/platform/nats-connect';
import { chooseReplicas, describeReplicaChoice } from '../sdk/platform/replicas';
import { installTelemetry } from '../sdk/platform/telemetry';
import { installMetrics } from '../sdk/platform/metrics';
import { jetstream } from '@nats-io/jetstream';
import { levelOfLine } from '../sdk/core/function-logs';
import { AgentMetrics } from './agent-metrics';
import { LogShipper } from './logs/log-shipper';
import { TLS_FILE_VARIABLES, grpcServerCredentials, isLoopbackHost, loadTlsIdentity } from '../sdk/platform/tls';
import { Agent } from './agent';
import { agentOptionsFromEnv, type AgentOptions } from './agent-options';
import { detectCgroups } from './sandbox/cgroups';
import { assertTraversable, stageRuntimes } from './sandbox/host-paths';
import { networkUnavailable, type SandboxNetworkOptions } from './sandbox/sandbox-network';
import { EphemeralDisks } from './sandbox/ephemeral-disk';
import { BwrapSandboxProvider, ProcessSandboxProvider, type SandboxProvider } from './sandbox/instance-sandbox';
import { AgentService } from './agent-service';
import { CodeCache } from './instances/code-cache';
import { HeartbeatPublisher } from './heartbeat-publisher';
import { InstancePool } from './instances/instance-pool';
import { LayerStack } from './instances/layer-stack';
import { PrestartPool } from './instances/prestart-pool';
import { LIMITS } from '../sdk/core/limits';

/** The sandbox the options ask for; fails start-up, saying what to install, when it cannot be had. */
/** Where sandboxes see the Stratus installation (its dist, node_modules and package.json). */
const SANDBOX_SDK_DIR = '/var/lang/stratus';

/** Makes the Node.js runtime's node_modules/stratus link point at `target`. */
async function pointSdkLink(runtimesDir: string, target: string): Promise<void> {
  const link = path.join(runtimesDir, 'nodejs', 'node_modules', 'stratus');
  await fs.mkdir(path.dirname(link), { recursive: true });
  await fs.rm(link, { force: true });
  await fs.symlink(target, link);
}

/** The disks instances' /tmp lives on, or undefined for tmpfs; fails start-up when disk was asked for and cannot be had. */
async function createEphemeralDisks(options: AgentOptions, logger: Logger): Promise<{ disks: EphemeralDisks; totalMb: number } | undefined> {
  if (options.sandboxTmp === 'tmpfs') return undefined;
  const tools = { mkfsPath: 'mkfs.ext4', losetupPath: 'losetup', mountPath: 'mount', umountPath: 'umount' };
  const why = await EphemeralDisks.unavailable(tools);
  if (why) {
    if (options.sandboxTmp === 'disk') throw new Error(`STRATUS_SANDBOX_TMP=disk, but instances' /tmp cannot be put on disk: ${why}`);
    logger.warn(`instances' /tmp is a tmpfs, charged to their memory (a function cannot use more /tmp than its memory allows): ${why}; set STRATUS_SANDBOX_TMP=tmpfs to say this is intended`);
    return undefined;
  }
  const dir = path.join(options.dataDir, 'ephemeral');
  await fs.mkdir(dir, { recursive: true, mode: 0o711 });
  await fs.chmod(dir, 0o711);
  const disks = new EphemeralDisks({ dir, uid: options.sandboxHostUid, gid: options.sandboxHostGid, ...tools });
  const left = await disks.sweep();
  if (left > 0) logger.info('removed /tmp disks a previous run of this agent left behind', { disks: left });
  const stat = await fs.statfs(dir);
  const totalMb = options.ephemeralStorageMb ?? Math.floor((Number(stat.bavail) * Number(stat.bsize) * 0.8) / 1024 / 1024);
  return { disks, totalMb };
}

async function createSandboxProvider(options: AgentOptions, logger: Logger, ephemeralDisks: EphemeralDisks | undefined): Promise<SandboxProvider> {
  if (options.sandbox === 'process') {
    logger.warn('STRATUS_SANDBOX=process: instances run as plain child processes and are NOT isolated from each other or from this agent; use only where bubblewrap cannot run');
    return new ProcessSandboxProvider();
  }
  const found = spawnSync(options.bwrapPath, ['--version'], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(`bubblewrap (${options.bwrapPath}) is not available: install it (apt-get install bubblewrap), or set STRATUS_SANDBOX=process to run functions without isolation`);
  }
  const cgroups = await detectCgroups();
  if (!cgroups) {
    throw new Error('no writable cgroup hierarchy (v2 with memory and pids, or v1 memory, pids and cpu) under /sys/fs/cgroup: run the agent as root or with a delegated cgroup');
  }
  let network: SandboxNetworkOptions | undefined;
  if (options.sandboxNetwork === 'isolated') {
    network = {
      pastaPath: options.pastaPath,
      uid: options.sandboxHostUid,
      gid: options.sandboxHostGid,
      allowedHostPorts: options.sandboxAllowedHostPorts,
      deniedCidrs: options.sandboxDeniedCidrs,
      readyTimeoutMs: 5000,
      nsenterPath: 'nsenter',
      ipPath: 'ip',
      setprivPath: 'setpriv',
    };
    // Sandboxes run as the agent's own user when it is not root.
    if (process.getuid?.() !== 0) network = { ...network, uid: process.getuid?.() ?? network.uid, gid: process.getgid?.() ?? network.gid };
    const why = await networkUnavailable(network);
    if (why) throw new Error(`sandboxes cannot get their own network: ${why}; or set STRATUS_SANDBOX_NETWORK=host to let functions share this host's network (they can then reach its ports)`);
  } else {
    logger.warn('STRATUS_SANDBOX_NETWORK=host: functions share this host\'s network and can reach every port on it, other instances\' Runtime APIs included');
  }
  logger.info('sandbox ready', { bwrap: found.stdout.trim(), cgroups: cgroups.version, network: options.sandboxNetwork });
  // The Stratus SDK functions may require ('stratus'): the installation's dist, node_modules and
  // package.json, read-only at SANDBOX_SDK_DIR (a fixed path: the installation may sit under /tmp,
  // which is each sandbox's own), when the sandbox user may reach them.
  const sdkRoot = path.resolve(__dirname, '..', '..');
  const reachable = await assertTraversable(sdkRoot, options.sandboxHostUid, options.sandboxHostGid).then(() => true, () => false);
  if (!reachable) logger.warn('the sandbox user cannot reach the Stratus installation: functions cannot require the Stratus SDK; install Stratus under a folder others may pass through (e.g. /opt/stratus)', { sdkRoot });
  const sdkMounts = reachable ? ['dist', 'node_modules', 'package.json'].map((p) => ({ host: path.join(sdkRoot, p), sandbox: path.posix.join(SANDBOX_SDK_DIR, p) })) : [];
  return new BwrapSandboxProvider({
    bwrapPath: options.bwrapPath,
    hostUid: options.sandboxHostUid,
    hostGid: options.sandboxHostGid,
    sandboxUid: 993,
    sandboxGid: 993,
    maxProcesses: options.maxProcessesPerInstance,
    cgroups,
    binaries: [options.nodeBinary, options.pythonBinary],
    readOnlyMounts: sdkMounts,
    nodeBinary: options.nodeBinary,
    socketDir: path.join(options.dataDir, 'sockets'),
    network,
    ephemeralDisks,
  });
}

async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const options = agentOptionsFromEnv(env);
  const logger = createLogger({ component: 'agent', agentId: options.agentId }, { level: options.logLevel });
  const telemetry = installTelemetry('stratus-agent', env);
  const tracer = trace.getTracer('stratus-agent');
  const metrics = installMetrics('stratus-agent', env);
  // Read before anything connects: a bad certificate file fails start-up by its variable's name.
  const tlsIdentity = loadTlsIdentity(options.tlsCertFile, options.tlsKeyFile, TLS_FILE_VARIABLES);
  if (!tlsIdentity && !isLoopbackHost(options.grpcHost)) logger.warn('the gRPC endpoint serves plain text: invocation payloads cross the network unencrypted; set STRATUS_TLS_CERT_FILE and STRATUS_TLS_KEY_FILE');

  const nc = await connectNats(
    {
      servers: options.natsServers,
      name: `stratus-agent-${options.agentId}`,
      token: options.natsToken,
      user: options.natsUser,
      pass: options.natsPassword,
      tls: options.natsTls,
      connectTimeoutMs: 5000,
    },
    logger,
  );
  // Only used when this agent is the first program to open the code store (routers usually are).
  const replicaChoice = await chooseReplicas(nc, { configured: options.replicas });
  logger.info(describeReplicaChoice(replicaChoice), { replicas: replicaChoice.replicas, cluster: replicaChoice.cluster, servers: replicaChoice.servers });
  const codeStore = await openCodeStore(nc, replicaChoice.replicas);
  // Function lines go to their log streams (routers create them); an unacknowledged batch is retried, then counted as dropped.
  const js = jetstream(nc, { timeout: 5000 });
  const logs = new LogShipper(
    async (subject, data) => {
      await js.publish(subject, data);
    },
    { agentId: options.agentId, ...options.logShipping, maxBatchBytes: 256 * 1024, publishAttempts: 3 },
  );
  logs.start();
  const codeDir = path.join(options.dataDir, 'code');
  await fs.mkdir(codeDir, { recursive: true });
  // Sandboxes start as an unprivileged user: it may pass through to the code folders it is given,
  // but not list the data directory or read anything else in it.
  await fs.chmod(options.dataDir, 0o711);
  await fs.chmod(codeDir, 0o711);
  // Disks for /tmp need the bwrap sandbox (the process sandbox has no /tmp of its own).
  const tmpDisks = options.sandbox === 'bwrap' ? await createEphemeralDisks(options, logger) : undefined;
  const sandboxes = await createSandboxProvider(options, logger, tmpDisks?.disks);
  const builtRuntimes = path.join(__dirname, 'runtimes');
  let runtimesDir = builtRuntimes;
  if (sandboxes.kind === 'bwrap') {
    await assertTraversable(codeDir, options.sandboxHostUid, options.sandboxHostGid);
    runtimesDir = await stageRuntimes(builtRuntimes, options.dataDir);
    // Inside sandboxes, require('stratus') resolves to the SDK's fixed mount.
    await pointSdkLink(runtimesDir, SANDBOX_SDK_DIR);
  }

  let heartbeat: HeartbeatPublisher | undefined;
  // Pre-started runtimes need the sandbox's fixed paths (/var/task, /opt): bwrap only.
  const prestart: PrestartPool | undefined =
    sandboxes.createStandby && (options.prestart.nodejs > 0 || options.prestart.python > 0)
      ? new PrestartPool({
          counts: options.prestart,
          createSandbox: (spec) => sandboxes.createStandby!(spec),
          runtimesDir,
          slotRoot: path.join(options.dataDir, 'standby'),
          nodeBinary: options.nodeBinary,
          pythonBinary: options.pythonBinary,
          memoryMb: LIMITS.defaultMemoryMb,
          ephemeralStorageMb: LIMITS.defaultEphemeralStorageMb,
          hasRoom: (mb, disk): boolean => pool.hasRoomForStandby(mb, disk),
          startTimeoutMs: options.initTimeoutMs,
          logger,
        })
      : undefined;
  const pool: InstancePool = new InstancePool({
    standbys: prestart,
    memoryMb: options.memoryMb,
    maxInstances: options.maxInstances,
    diskMb: tmpDisks?.totalMb,
    idleTimeoutMs: options.idleTimeoutMs,
    memoryCheckMs: options.memoryCheckMs,
    logger,
    onChange: () => heartbeat?.poke(),
    logSink: (from, line, requestId, source) => {
      logs.line(from.record.config.name, from.id, requestId, source, line, levelOfLine(line));
      if (options.echoFunctionLogs) process.stdout.write(`${JSON.stringify({ function: from.record.config.name, requestId, line })}\n`);
    },
  });
  const codeCache = new CodeCache(codeStore, { dir: codeDir, maxBytes: options.codeCacheBytes, inUse: (sha) => pool.usesCode(sha), logger });
  const agent = new Agent({
    pool,
    codeCache,
    tracer,
    logger,
    region: options.region,
    accountId: options.accountId,
    nodeBinary: options.nodeBinary,
    pythonBinary: options.pythonBinary,
    sandboxes,
    layerStack: new LayerStack(codeCache, path.join(options.dataDir, 'layers')),
    runtimesDir,
    initTimeoutMs: options.initTimeoutMs,
    billingGranularityMs: options.billingGranularityMs,
    functionApiEndpoint: options.functionApiEndpoint,
    logs,
    onInvocation: (record, outcome) => agentMetrics.invoked(record, outcome),
  });
  const agentMetrics = new AgentMetrics(metrics.meter, { pool, logs, memoryTotalMb: options.memoryMb, slotsTotal: options.maxInstances });

  const server = createGrpcServer();
  const agentService = new AgentService({ agent, agentId: options.agentId, clusterTokens: options.clusterTokens, tracer, logger });
  server.addService(AgentServiceService, agentService.handlers);
  const grpcPort = await bindGrpcServer(server, options.grpcHost, options.grpcPort, grpcServerCredentials(tlsIdentity));
  const address = options.advertiseAddress ?? `127.0.0.1:${grpcPort}`;

  heartbeat = new HeartbeatPublisher(nc, {
    intervalMs: options.heartbeatMs,
    coalesceMs: 5,
    minChangeIntervalMs: 25,
    snapshot: () => ({
      agentId: options.agentId,
      address,
      state: agent.lifecycle === 'running' ? 'ready' : 'draining',
      memoryTotalMb: options.memoryMb,
      slotsTotal: options.maxInstances,
      ...pool.snapshot(),
    }),
  });
  heartbeat.start();
  prestart?.start();
  if (!prestart && (options.prestart.nodejs > 0 || options.prestart.python > 0)) logger.info('pre-started runtimes are off: they need the bwrap sandbox (STRATUS_SANDBOX=bwrap)');

  const health = new HealthServer(
    () => (nc.isClosed() ? 'NATS connection closed' : agent.lifecycle !== 'running' ? 'draining' : undefined),
    () => ({ agentId: options.agentId, grpcPort, busy: pool.busyCount() }),
    () => metrics.prometheus(),
  );
  const httpPort = options.httpPort >= 0 ? await health.listen(options.grpcHost, options.httpPort) : undefined;
  logger.info('agent ready', { grpcPort, httpPort, address, tls: tlsIdentity ? tlsIdentity.subject : false, memoryMb: options.memoryMb, maxInstances: options.maxInstances });

  let stopping: Promise<void> | undefined;
  const stop = (signal: string): Promise<void> =>
    (stopping ??= (async () => {
      logger.info('agent draining', { signal });
      const drainingSince = Date.now();
      heartbeat?.stop('draining');
      await agent.drain();
      // A router that placed a call before it heard "draining" must get a refusal (it then tries
      // another agent), not a closed connection (which it must report as AgentLost): keep
      // refusing for two heartbeat intervals after saying so.
      const refuseForMs = drainingSince + 2 * options.heartbeatMs - Date.now();
      if (refuseForMs > 0) await new Promise((r) => setTimeout(r, refuseForMs));
      logger.info('agent drained', { signal });
      heartbeat?.announceGone(options.agentId);
      await prestart?.close();
      await pool.close();
      // The last lines of the last invocations are stored before the connection goes.
      await logs.close(2000);
      agentService.close();
      await shutdownGrpcServer(server, 2000);
      await health.close();
      await nc.drain().catch(() => undefined);
      await Promise.all([telemetry.shutdown(), metrics.shutdown()]);
      logger.info('agent stopped');
    })());
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stop(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          // A shutdown step failed: say which, and still exit (non-zero, so supervisors notice).
          logger.error('agent stop failed', { signal, error: (err as Error).message });
          process.exit(1);
        },
      );
    });
  }
}

main(process.env).catch((err: unknown) => {
  process.stderr.write(`stratus agent failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
