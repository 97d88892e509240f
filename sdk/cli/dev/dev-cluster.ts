import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { StratusError } from '../../core/errors';
import { LIMITS } from '../../core/limits';
import { findNatsServer, freePort, httpReady, launch, type Launched } from './launch';

/** Options of `stratus dev`. */
export interface DevClusterOptions {
  /** Where NATS data, logs and credentials live. */
  dataDir: string;
  natsPort: number;
  grpcPort: number;
  httpPort: number;
  /** Port of the agent's own gRPC endpoint (0 picks one). */
  agentPort: number;
  /** The compiled programs' root (dist/). */
  distDir: string;
  env: NodeJS.ProcessEnv;
  onStatus: (line: string) => void;
  /** Extra environment for the agent (e.g. STRATUS_SANDBOX=process for a comparison). */
  agentEnv?: Record<string, string>;
}

/** A running dev cluster. */
export interface DevCluster {
  endpoint: string;
  token: string;
  natsUrl: string;
  httpUrl: string;
  logDir: string;
  /** Stops agent, router and NATS, in that order. Runs once. */
  stop(): Promise<void>;
}

interface Credentials {
  apiToken: string;
  clusterToken: string;
}

async function credentials(dataDir: string): Promise<Credentials> {
  const file = path.join(dataDir, 'credentials.json');
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Credentials;
  } catch {
    // First start: make tokens and keep them, so profiles stay valid across restarts.
    const created = { apiToken: randomBytes(24).toString('hex'), clusterToken: randomBytes(24).toString('hex') };
    await fs.writeFile(file, JSON.stringify(created, null, 2), { mode: 0o600 });
    return created;
  }
}

function assertPortFree(port: number, flag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', () => reject(new StratusError('InvalidRequest', `port ${port} is in use: stop what uses it or pick another with ${flag}`)));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

/** Starts NATS (JetStream), a router and an agent on this machine, each a real process. */
export async function startDevCluster(o: DevClusterOptions): Promise<DevCluster> {
  await fs.mkdir(o.dataDir, { recursive: true });
  const dataDir = path.resolve(o.dataDir);
  // The agent's sandboxes run as an unprivileged user that must pass through to the code folders.
  await fs.chmod(dataDir, 0o711);
  const logDir = path.join(dataDir, 'logs');
  await fs.mkdir(logDir, { recursive: true });
  await assertPortFree(o.natsPort, '--nats-port');
  await assertPortFree(o.grpcPort, '--grpc-port');
  await assertPortFree(o.httpPort, '--http-port');
  const natsServer = findNatsServer(o.env);
  const creds = await credentials(dataDir);
  const started: Launched[] = [];
  const natsUrl = `nats://127.0.0.1:${o.natsPort}`;
  const monitorPort = await freePort();
  // max_payload has no command-line flag; the router refuses nats-server's 1 MiB default.
  const natsConfig = path.join(dataDir, 'nats-server.conf');
  await fs.writeFile(natsConfig, `max_payload: ${LIMITS.minNatsMaxPayloadBytes}\n`);
  const base: NodeJS.ProcessEnv = { PATH: o.env.PATH, HOME: o.env.HOME, STRATUS_NATS_URL: natsUrl, STRATUS_CLUSTER_TOKEN: creds.clusterToken };
  for (const k of Object.keys(o.env)) if (k.startsWith('OTEL_') || k === 'STRATUS_LOG_LEVEL') base[k] = o.env[k];
  const stopAll = async (): Promise<void> => {
    for (const p of started.reverse()) await p.stop(p.name === 'agent' ? 30_000 : 10_000);
  };
  try {
    o.onStatus(`starting nats-server on ${natsUrl} (JetStream store ${path.join(dataDir, 'nats')})`);
    started.push(
      await launch({
        name: 'nats-server',
        command: natsServer,
        args: ['-c', natsConfig, '-js', '-a', '127.0.0.1', '-p', String(o.natsPort), '-m', String(monitorPort), '-sd', path.join(dataDir, 'nats')],
        env: { PATH: o.env.PATH },
        logFile: path.join(logDir, 'nats-server.log'),
        ready: httpReady(`http://127.0.0.1:${monitorPort}/healthz`),
        readyTimeoutMs: 15_000,
      }),
    );
    o.onStatus(`starting router on 127.0.0.1:${o.grpcPort} (http ${o.httpPort})`);
    started.push(
      await launch({
        name: 'router',
        command: process.execPath,
        args: [path.join(o.distDir, 'router', 'main.js')],
        env: { ...base, STRATUS_ROUTER_ID: 'dev-router', STRATUS_HOST: '127.0.0.1', STRATUS_GRPC_PORT: String(o.grpcPort), STRATUS_HTTP_PORT: String(o.httpPort), STRATUS_API_TOKENS: creds.apiToken },
        logFile: path.join(logDir, 'router.log'),
        ready: httpReady(`http://127.0.0.1:${o.httpPort}/readyz`),
        readyTimeoutMs: 20_000,
      }),
    );
    const agentHttp = await freePort();
    o.onStatus('starting node agent');
    started.push(
      await launch({
        name: 'agent',
        command: process.execPath,
        args: [path.join(o.distDir, 'node-agent', 'main.js')],
        env: { ...base, STRATUS_AGENT_ID: 'dev-agent', STRATUS_GRPC_HOST: '127.0.0.1', STRATUS_GRPC_PORT: String(o.agentPort), STRATUS_HTTP_PORT: String(agentHttp), STRATUS_DATA_DIR: path.join(dataDir, 'agent'), ...o.agentEnv },
        logFile: path.join(logDir, 'agent.log'),
        ready: httpReady(`http://127.0.0.1:${agentHttp}/readyz`),
        readyTimeoutMs: 20_000,
      }),
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `127.0.0.1:${o.grpcPort}`,
    token: creds.apiToken,
    natsUrl,
    httpUrl: `http://127.0.0.1:${o.httpPort}`,
    logDir,
    stop: () => (stopping ??= stopAll()),
  };
}
