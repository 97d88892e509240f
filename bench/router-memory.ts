/**
 * Router memory with many registered functions. Starts real nats-server, router and agent
 * processes; measures an idle router with no functions; writes 100,000 function records into the
 * registry's KV bucket the way the registry does (same key, same JSON codec, a copy of a really
 * deployed record under new names and revision ids), measures the router that watched them
 * arrive; then restarts the router with them stored, invokes a sample, and measures again.
 * RSS comes from /proc (VmRSS, VmHWM for the peak, RssAnon for the heap and malloc part).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { StratusClient } from '../sdk/client/stratus-client';
import { findNatsServer, freePort, httpReady, launch, type Launched } from '../sdk/cli/dev/launch';
import type { FunctionRecord } from '../sdk/core/function-config';
import { LIMITS } from '../sdk/core/limits';
import { BUCKETS, functionKey } from '../sdk/platform/nats-layout';
import { functionFolder } from './bench-cluster';

/** Memory of one process, from /proc/<pid>/status. */
export interface ProcessMemory {
  rssMb: number;
  peakRssMb: number;
  /** Anonymous resident memory (RssAnon): the JS heap and malloc, without mapped code and files. */
  anonMb: number;
}

/** Reads VmRSS and VmHWM of a process. */
export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024, anonMb: kb('RssAnon') / 1024 };
}

/** NATS, a router and an agent as processes this module started, so their pids are known. */
export interface BenchProcesses {
  natsUrl: string;
  client: StratusClient;
  router(): Launched;
  agent: Launched;
  restartRouter(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts nats-server, a router and an agent on free ports, as the dev cluster does. */
export async function startBenchProcesses(agentEnv: Record<string, string> = {}): Promise<BenchProcesses> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-mem-'));
  const { chmodSync } = await import('node:fs');
  chmodSync(dataDir, 0o711);
  const logDir = dataDir;
  const natsPort = await freePort();
  const monitorPort = await freePort();
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  const natsConfig = path.join(dataDir, 'nats-server.conf');
  writeFileSync(natsConfig, `max_payload: ${LIMITS.minNatsMaxPayloadBytes}\n`);
  const apiToken = randomBytes(24).toString('hex');
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, STRATUS_NATS_URL: natsUrl, STRATUS_CLUSTER_TOKEN: randomBytes(24).toString('hex'), STRATUS_LOG_LEVEL: 'warn', STRATUS_ECHO_FUNCTION_LOGS: 'false' };
  const distDir = path.resolve(__dirname, '..');
  const started: Launched[] = [];
  const startRouter = (): Promise<Launched> =>
    launch({
      name: 'router',
      command: process.execPath,
      args: [path.join(distDir, 'router', 'main.js')],
      env: { ...base, STRATUS_ROUTER_ID: 'bench-router', STRATUS_HOST: '127.0.0.1', STRATUS_GRPC_PORT: String(grpcPort), STRATUS_HTTP_PORT: String(httpPort), STRATUS_API_TOKENS: apiToken },
      logFile: path.join(logDir, 'router.log'),
      ready: httpReady(`http://127.0.0.1:${httpPort}/readyz`),
      readyTimeoutMs: 60_000,
    });
  const stopAll = async (): Promise<void> => {
    for (const p of [...started].reverse()) await p.stop(10_000);
  };
  try {
    started.push(
      await launch({
        name: 'nats-server',
        command: findNatsServer(process.env),
        args: ['-c', natsConfig, '-js', '-a', '127.0.0.1', '-p', String(natsPort), '-m', String(monitorPort), '-sd', path.join(dataDir, 'nats')],
        env: { PATH: process.env.PATH },
        logFile: path.join(logDir, 'nats-server.log'),
        ready: httpReady(`http://127.0.0.1:${monitorPort}/healthz`),
        readyTimeoutMs: 15_000,
      }),
    );
    let router = await startRouter();
    started.push(router);
    const agentHttp = await freePort();
    const agent = await launch({
      name: 'agent',
      command: process.execPath,
      args: [path.join(distDir, 'node-agent', 'main.js')],
      env: { ...base, STRATUS_AGENT_ID: 'bench-agent', STRATUS_GRPC_HOST: '127.0.0.1', STRATUS_GRPC_PORT: '0', STRATUS_HTTP_PORT: String(agentHttp), STRATUS_DATA_DIR: path.join(dataDir, 'agent'), ...agentEnv },
      logFile: path.join(logDir, 'agent.log'),
      ready: httpReady(`http://127.0.0.1:${agentHttp}/readyz`),
      readyTimeoutMs: 20_000,
    });
    started.push(agent);
    const client = new StratusClient({ endpoints: `127.0.0.1:${grpcPort}`, token: apiToken });
    return {
      natsUrl,
      client,
      router: () => router,
      agent,
      restartRouter: async () => {
        await router.stop(10_000);
        started.splice(started.indexOf(router), 1);
        router = await startRouter();
        started.splice(1, 0, router);
      },
      stop: async () => {
        client.close();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Router memory figures. */
export interface RouterMemoryFigures {
  functions: number;
  idle: ProcessMemory;
  afterWatchingWrites: ProcessMemory;
  afterRestartAndInvokes: ProcessMemory;
  sampled: number;
  writeSeconds: number;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the router-memory measurement with `functions` records and `sample` sync invocations. */
export async function measureRouterMemory(options: { functions: number; sample: number }): Promise<RouterMemoryFigures> {
  const p = await startBenchProcesses({ STRATUS_IDLE_TIMEOUT_MS: '2000' });
  const nc = await connect({ servers: p.natsUrl });
  try {
    await settle(2000);
    const idle = processMemory(p.router().process.pid as number);
    await p.client.deploy({ name: 'seed', source: functionFolder({ 'index.js': 'exports.handler = async (event) => event;' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    const kv = await new Kvm(nc).open(BUCKETS.functions);
    const seed = (await kv.get(functionKey('seed')))?.json<FunctionRecord>();
    if (!seed) throw new Error('the seed function was not stored');
    const started = performance.now();
    const names = Array.from({ length: options.functions }, (_, i) => `bench-fn-${String(i).padStart(6, '0')}`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        while (next < names.length) {
          const name = names[next++] as string;
          const record: FunctionRecord = { ...seed, config: { ...seed.config, name }, revisionId: randomUUID(), lastModifiedMs: Date.now() };
          await kv.put(functionKey(name), JSON.stringify(record));
        }
      }),
    );
    const writeSeconds = (performance.now() - started) / 1000;
    await settle(3000);
    const afterWatchingWrites = processMemory(p.router().process.pid as number);
    await p.restartRouter();
    // The agent's heartbeat brings it back into the new router's view within a second or two.
    await settle(3000);
    for (let i = 0; i < options.sample; i += 1) {
      const name = names[Math.floor((i * names.length) / options.sample)] as string;
      const r = await p.client.invoke(name, '{}');
      if (r.functionError) throw new Error(`${name}: ${r.functionError.errorMessage}`);
    }
    await settle(1000);
    const afterRestartAndInvokes = processMemory(p.router().process.pid as number);
    return { functions: options.functions, idle, afterWatchingWrites, afterRestartAndInvokes, sampled: options.sample, writeSeconds };
  } finally {
    await nc.close();
    await p.stop();
  }
}

if (require.main === module) {
  measureRouterMemory({ functions: Number(process.argv[2] ?? 100_000), sample: Number(process.argv[3] ?? 50) })
    .then((f) => process.stdout.write(`${JSON.stringify(f, null, 2)}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
