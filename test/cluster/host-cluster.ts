/**
 * A Stratus cluster spread over network-namespace hosts: every host runs a nats-server (started
 * from deploy/nats/nats-N.conf, with the host names replaced by the hosts' addresses) and an agent;
 * the first `routers` hosts also run a router. Programs use the NATS users of
 * deploy/nats/stratus-common.conf, so the permissions are exercised under load too.
 */
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { StratusClient } from '../../sdk/client/stratus-client';
import { natsPasswords, runNats, stageNatsNode, waitForNatsHealthy, type RunningNats, type StagedNats } from '../helpers/nats-cluster';
import { sweepDisks } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';
import { distEntry } from '../helpers/stratus-process';
import { createNetwork, type Host, type TestNetwork } from './netns';

/** Ports every host uses (each host has its own port space). */
export const PORTS = { nats: 4222, natsMonitor: 8222, routerGrpc: 50051, routerHttp: 8080, agentGrpc: 7000, agentHttp: 7080 } as const;

/** A router or agent on a host. */
export interface HostProgram {
  name: string;
  host: Host;
  process: ChildProcess;
  logFile: string;
  /** Its /readyz, reachable from the test process over the bridge. */
  readyzUrl: string;
  exited(): boolean;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** SIGTERM; resolves with the exit code once it has exited (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Options for {@link startHostCluster}. */
export interface HostClusterOptions {
  hosts: number;
  routers: number;
  agentEnv?: Record<string, string>;
  routerEnv?: Record<string, string>;
}

/** The running cluster and how to break and mend it. */
export interface HostCluster {
  net: TestNetwork;
  dir: string;
  apiToken: string;
  nats: Map<number, RunningNats>;
  agents: Map<number, HostProgram>;
  routers: Map<number, HostProgram>;
  startNats(host: Host): Promise<void>;
  startAgent(host: Host): Promise<HostProgram>;
  startRouter(host: Host): Promise<HostProgram>;
  /** A client of every router (failover in host order). */
  client(): StratusClient;
  /** A client of one router only. */
  routerClient(host: Host): StratusClient;
  /** An operator's connection (stratus-admin) from the test process. */
  admin(): Promise<NatsConnection>;
  /** Resolves once every running router sees exactly these agents. */
  waitForAgents(agentIds: string[], timeoutMs?: number): Promise<void>;
  agentId(host: Host): string;
  stop(): Promise<void>;
}

/** Builds the hosts and starts NATS everywhere, routers, then agents; waits until routers see every agent. */
export async function startHostCluster(options: HostClusterOptions): Promise<HostCluster> {
  const net = createNetwork(options.hosts);
  const dir = mkdtempSync(path.join(os.tmpdir(), `stratus-hosts-${net.runId}-`));
  const apiToken = randomBytes(16).toString('hex');
  const clusterToken = randomBytes(16).toString('hex');
  const passwords = natsPasswords(randomBytes(8).toString('hex'));
  const natsUrl = net.hosts.map((h) => `nats://${h.ip}:${PORTS.nats}`).join(',');
  const staged = new Map<number, StagedNats>();
  const nats = new Map<number, RunningNats>();
  const agents = new Map<number, HostProgram>();
  const routers = new Map<number, HostProgram>();
  const clients: StratusClient[] = [];
  const dataDirs = new Map<number, string>();
  const admins: NatsConnection[] = [];

  const stage = (h: Host): StagedNats => {
    let s = staged.get(h.index);
    if (!s) {
      // deploy/nats/nats-N.conf as written; only the host names become this network's addresses.
      s = stageNatsNode(dir, {
        name: `nats-${h.index}`,
        file: `nats/nats-${h.index}.conf`,
        replacements: net.hosts.map((o) => ({ from: `nats-route://nats-${o.index}:6222`, to: `nats-route://${o.ip}:6222` })),
        commonReplacements: [],
      });
      staged.set(h.index, s);
    }
    return s;
  };

  const launch = async (kind: 'router' | 'node-agent', spec: { host: Host; name: string; env: Record<string, string>; readyzUrl: string }): Promise<HostProgram> => {
    const { host: h, name, env, readyzUrl } = spec;
    const logFile = path.join(dir, `${name}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = net.spawn(h, process.execPath, [distEntry(`${kind}/main.js`)], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/tmp', STRATUS_NATS_URL: natsUrl, STRATUS_CLUSTER_TOKEN: clusterToken, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const until = Date.now() + 30_000;
    for (;;) {
      if (exited()) throw new Error(`${name} on ${h.name} exited during start-up: ${readFileSync(logFile, 'utf8').slice(-1500)}`);
      if ((await fetch(readyzUrl, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0)) === 200) break;
      if (Date.now() > until) {
        child.kill('SIGKILL');
        throw new Error(`${name} on ${h.name} was not ready after 30 s: ${readFileSync(logFile, 'utf8').slice(-1500)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      name,
      host: h,
      process: child,
      logFile,
      readyzUrl,
      exited,
      kill: async () => {
        if (exited()) return;
        child.kill('SIGKILL');
        await exit;
      },
      stop: async (timeoutMs = 30_000) => {
        if (exited()) return child.exitCode;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        const code = await exit;
        clearTimeout(timer);
        return code;
      },
    };
  };

  const agentId = (h: Host): string => `agent-${h.index}`;
  const cluster: HostCluster = {
    net,
    dir,
    apiToken,
    nats,
    agents,
    routers,
    agentId,
    startNats: async (h) => {
      const running = await runNats(stage(h), { env: passwords, wrap: (c, a) => net.wrap(h, c, a) });
      nats.set(h.index, running);
    },
    startAgent: async (h) => {
      // Its own folder under the temporary directory: the sandbox user must be able to pass through its parents.
      const dataDir = dataDirs.get(h.index) ?? mkdtempSync(path.join(os.tmpdir(), `stratus-${net.runId}-agent-${h.index}-`));
      dataDirs.set(h.index, dataDir);
      const env = {
        STRATUS_AGENT_ID: agentId(h),
        STRATUS_NATS_USER: 'stratus-agent',
        STRATUS_NATS_PASSWORD: passwords.NATS_AGENT_PASSWORD,
        STRATUS_GRPC_HOST: '0.0.0.0',
        STRATUS_GRPC_PORT: String(PORTS.agentGrpc),
        STRATUS_ADVERTISE_ADDRESS: `${h.ip}:${PORTS.agentGrpc}`,
        STRATUS_HTTP_PORT: String(PORTS.agentHttp),
        STRATUS_DATA_DIR: dataDir,
        STRATUS_ECHO_FUNCTION_LOGS: 'false',
        ...options.agentEnv,
      };
      const agent = await launch('node-agent', { host: h, name: agentId(h), env, readyzUrl: `http://${h.ip}:${PORTS.agentHttp}/readyz` });
      agents.set(h.index, agent);
      return agent;
    },
    startRouter: async (h) => {
      const env = {
        STRATUS_ROUTER_ID: `router-${h.index}`,
        STRATUS_NATS_USER: 'stratus-router',
        STRATUS_NATS_PASSWORD: passwords.NATS_ROUTER_PASSWORD,
        STRATUS_HOST: '0.0.0.0',
        STRATUS_GRPC_PORT: String(PORTS.routerGrpc),
        STRATUS_HTTP_PORT: String(PORTS.routerHttp),
        STRATUS_ADVERTISE_ADDRESS: `${h.ip}:${PORTS.routerGrpc}`,
        STRATUS_API_TOKENS: apiToken,
        ...options.routerEnv,
      };
      const router = await launch('router', { host: h, name: `router-${h.index}`, env, readyzUrl: `http://${h.ip}:${PORTS.routerHttp}/readyz` });
      routers.set(h.index, router);
      return router;
    },
    client: () => {
      const c = new StratusClient({ endpoints: [...routers.values()].map((r) => `${r.host.ip}:${PORTS.routerGrpc}`), token: apiToken, connectTimeoutMs: 1000 });
      clients.push(c);
      return c;
    },
    routerClient: (h) => {
      const c = new StratusClient({ endpoints: [`${h.ip}:${PORTS.routerGrpc}`], token: apiToken, connectTimeoutMs: 1000 });
      clients.push(c);
      return c;
    },
    admin: async () => {
      const nc = await connect({ servers: natsUrl.split(','), user: 'stratus-admin', pass: passwords.NATS_ADMIN_PASSWORD, timeout: 5000, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 2000, maxPingOut: 3 });
      admins.push(nc);
      return nc;
    },
    waitForAgents: async (ids, timeoutMs = 20_000) => {
      const want = [...ids].sort().join(',');
      for (const r of routers.values()) {
        if (r.exited()) continue;
        const one = cluster.routerClient(r.host);
        try {
          await waitFor(`${r.name} to see agents ${want}`, async () => (await one.getCluster()).agents.map((a) => a.agentId).sort().join(',') === want, timeoutMs, 100);
        } finally {
          one.close();
        }
      }
    },
    stop: () => stopAll(Boolean(process.env.STRATUS_KEEP_TEST_LOGS)),
  };
  /** Stops everything; `keepLogs` leaves the folder with logs and NATS stores for a post-mortem. */
  async function stopAll(keepLogs: boolean): Promise<void> {
    try {
      for (const c of clients) c.close();
      await Promise.all(admins.map((nc) => nc.close().catch(() => undefined)));
      await Promise.all([...agents.values(), ...routers.values()].map((p) => p.stop(10_000)));
      await Promise.all([...nats.values()].map((n) => n.stop()));
    } finally {
      // Whatever happened above, the namespaces and the bridge go.
      net.teardown();
      for (const d of dataDirs.values()) {
        // Agents that were killed leave their instances' /tmp disks mounted under their data directory.
        await sweepDisks(path.join(d, 'ephemeral'));
        rmSync(d, { recursive: true, force: true });
      }
      if (!keepLogs) rmSync(dir, { recursive: true, force: true });
    }
  }

  try {
    for (const h of net.hosts) await cluster.startNats(h);
    await waitForNatsHealthy(net.hosts.map((h) => ({ running: nats.get(h.index)!, healthzUrl: `http://${h.ip}:${PORTS.natsMonitor}/healthz` })));
    for (const h of net.hosts.slice(0, options.routers)) await cluster.startRouter(h);
    for (const h of net.hosts) await cluster.startAgent(h);
    await cluster.waitForAgents(net.hosts.map(agentId));
  } catch (err) {
    await stopAll(true).catch(() => undefined);
    throw new Error(`${(err as Error).message} (logs in ${dir})`);
  }
  return cluster;
}
