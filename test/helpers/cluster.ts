import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { EphemeralDisks } from '../../node-agent/sandbox/ephemeral-disk';
import * as os from 'node:os';
import * as path from 'node:path';
import { StratusClient } from '../../sdk/client/stratus-client';
import type { StratusClientOptions } from '../../sdk/client/client-options';
import { startNatsServer, type NatsServerHandle } from './nats-server';
import { waitFor } from './ports';
import { startAgent, startRouter, type StratusProcess } from './stratus-process';

/** A whole cluster of real processes for one test file. */
export interface TestCluster {
  nats: NatsServerHandle;
  routers: StratusProcess[];
  agents: StratusProcess[];
  apiToken: string;
  clusterToken: string;
  logDir: string;
  /** A client for the given routers (default: all). */
  client(options?: Partial<StratusClientOptions>, routers?: StratusProcess[]): StratusClient;
  /** Starts one more agent. */
  addAgent(name: string, env?: Record<string, string>): Promise<StratusProcess>;
  /** Resolves once every router sees exactly `count` agents. */
  waitForAgents(count: number): Promise<void>;
  stop(): Promise<void>;
}

/** Options for {@link startCluster}. */
export interface ClusterOptions {
  routers?: number;
  agents?: number;
  agentEnv?: Record<string, string>;
  routerEnv?: Record<string, string>;
  /** Appended to nats-server's configuration (e.g. a tls block). */
  natsConfig?: string;
  /** Routers serve TLS signed by this CA: readiness probes and the cluster's own clients verify against it. */
  tlsCa?: Buffer;
}

/** Starts nats-server, routers and agents, and waits until the routers see every agent. */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const nats = await startNatsServer(options.natsConfig);
  const apiToken = randomBytes(16).toString('hex');
  const clusterToken = randomBytes(16).toString('hex');
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'stratus-test-logs-'));
  const clients: StratusClient[] = [];
  const tls: Partial<StratusClientOptions> = options.tlsCa ? { tls: { ca: options.tlsCa } } : {};
  const routers: StratusProcess[] = [];
  const agents: StratusProcess[] = [];
  /** Every agent this cluster started, those a test killed and dropped from `agents` too. */
  const started: StratusProcess[] = [];
  const cluster: TestCluster = {
    nats,
    routers,
    agents,
    apiToken,
    clusterToken,
    logDir,
    client: (overrides = {}, which = routers) => {
      const c = new StratusClient({ endpoints: which.map((r) => r.address), token: apiToken, ...tls, ...overrides });
      clients.push(c);
      return c;
    },
    addAgent: async (name, env = {}) => {
      const agent = await startAgent(name, { natsUrl: nats.url, clusterToken, logDir, env: { ...options.agentEnv, ...env } });
      agents.push(agent);
      started.push(agent);
      return agent;
    },
    waitForAgents: async (count) => {
      const probe = new StratusClient({ endpoints: routers.map((r) => r.address), token: apiToken, ...tls });
      try {
        for (const r of routers) {
          const one = new StratusClient({ endpoints: [r.address], token: apiToken, ...tls });
          try {
            await waitFor(`router ${r.name} to see ${count} agents`, async () => (await one.getCluster()).agents.length === count, 20_000, 100);
          } finally {
            one.close();
          }
        }
      } finally {
        probe.close();
      }
    },
    stop: async () => {
      for (const c of clients) c.close();
      await Promise.all([...agents, ...routers].map((p) => p.stop(10_000)));
      // Agents a test SIGKILLed leave their instances' /tmp disks mounted: unmount them, as the agent's next start would.
      for (const a of started) await sweepDisks(path.join(a.env.STRATUS_DATA_DIR ?? '/nonexistent', 'ephemeral'));
      await nats.stop();
    },
  };
  try {
    for (let i = 0; i < (options.routers ?? 1); i += 1) {
      routers.push(await startRouter(`router-${i + 1}`, { natsUrl: nats.url, apiToken, clusterToken, logDir, env: options.routerEnv, httpsCa: options.tlsCa }));
    }
    for (let i = 0; i < (options.agents ?? 1); i += 1) await cluster.addAgent(`agent-${i + 1}`);
    await cluster.waitForAgents(agents.length);
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw new Error(`${(err as Error).message} (logs in ${logDir})`);
  }
  return cluster;
}

/** Writes a function's files into a fresh folder and returns it. */
export function functionDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stratus-fn-'));
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content, { mode: name === 'bootstrap' ? 0o755 : 0o644 });
  }
  return dir;
}

let counter = 0;
/** A function name unique within this test run. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/** Unmounts, detaches and deletes the /tmp disks under `dir` (an agent's data directory's ephemeral/) that a killed agent left: what the agent's next start would do. */
export async function sweepDisks(dir: string): Promise<void> {
  await new EphemeralDisks({ dir, uid: 0, gid: 0, mkfsPath: 'mkfs.ext4', mountPath: 'mount', umountPath: 'umount', losetupPath: 'losetup' }).sweep();
}
