import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { StratusError } from '../../core/errors';
import { ensureDevCertificates, type DevCertificates } from './dev-certificates';
import { findNatsServer, freePort, httpReady, httpsReady, launch, type Launched } from './launch';

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
  /** TLS on every hop (NATS, router gRPC and HTTP, router to agent) with a local CA kept in the data directory. */
  tls: boolean;
}

/** What users' own NATS clients connect with: the stratus-client user of deploy/nats (no Stratus subjects). */
export interface DevNatsClient {
  url: string;
  user: string;
  password: string;
  /** The CA a client verifies the server with, when the cluster runs TLS. */
  caFile: string | undefined;
}

/** A running dev cluster. */
export interface DevCluster {
  endpoint: string;
  token: string;
  /** The CA clients verify routers with, when started with TLS. */
  caFile: string | undefined;
  natsUrl: string;
  natsClient: DevNatsClient;
  /** The NATS administrator (every subject and JetStream API): for benchmarks and operators' tools. */
  natsAdmin: DevNatsClient;
  httpUrl: string;
  logDir: string;
  /** Stops agent, router and NATS, in that order. Runs once. */
  stop(): Promise<void>;
}

/** The passwords deploy/nats/stratus-common.conf reads from nats-server's environment, one per user. */
type NatsPasswords = Record<'NATS_ROUTER_PASSWORD' | 'NATS_AGENT_PASSWORD' | 'NATS_CLIENT_PASSWORD' | 'NATS_ADMIN_PASSWORD', string>;

interface Credentials {
  apiToken: string;
  clusterToken: string;
  nats: NatsPasswords;
}

// nats-server parses an environment variable's value as a configuration value: hex that starts with
// a digit reads as a broken number. A letter first keeps every secret a plain string.
const secret = (): string => `s${randomBytes(24).toString('hex')}`;

async function credentials(dataDir: string): Promise<Credentials> {
  const file = path.join(dataDir, 'credentials.json');
  let kept: Partial<Credentials> = {};
  try {
    kept = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<Credentials>;
  } catch {
    // First start: nothing kept yet.
  }
  // Made once and kept, so profiles and users' NATS clients stay valid across restarts; a data
  // directory from before NATS had users gets its passwords now.
  const creds: Credentials = {
    apiToken: kept.apiToken ?? secret(),
    clusterToken: kept.clusterToken ?? secret(),
    nats: kept.nats ?? { NATS_ROUTER_PASSWORD: secret(), NATS_AGENT_PASSWORD: secret(), NATS_CLIENT_PASSWORD: secret(), NATS_ADMIN_PASSWORD: secret() },
  };
  if (JSON.stringify(creds) !== JSON.stringify(kept)) await fs.writeFile(file, JSON.stringify(creds, null, 2), { mode: 0o600 });
  return creds;
}

/**
 * nats-server's configuration: production's own settings, users and permissions
 * (deploy/nats/stratus-common.conf, copied next to it, since nats-server includes only relative
 * paths; its store directory changed to ours), so the dev cluster enforces exactly what production
 * does. The port and monitoring port come from the command line, which overrides the file.
 */
async function writeNatsConfig(dataDir: string, distDir: string, certs: DevCertificates | undefined): Promise<string> {
  const common = path.join(distDir, '..', 'deploy', 'nats', 'stratus-common.conf');
  let text: string;
  try {
    text = await fs.readFile(common, 'utf8');
  } catch (cause) {
    throw new StratusError('ServiceUnavailable', `cannot read ${common} (${(cause as Error).message}): run stratus dev from a Stratus checkout (npm run dev)`, { cause });
  }
  // nats-server refuses a store directory given both in the file and by -sd: the copy names ours.
  const storeDir = /store_dir: "[^"]*"/;
  if (!storeDir.test(text)) throw new StratusError('Internal', `${common} has no jetstream store_dir line for stratus dev to point at its data directory`);
  await fs.writeFile(path.join(dataDir, 'stratus-common.conf'), text.replace(storeDir, `store_dir: ${JSON.stringify(path.join(dataDir, 'nats'))}`));
  const tls = certs ? `tls {\n  cert_file: ${JSON.stringify(certs.certFile)}\n  key_file: ${JSON.stringify(certs.keyFile)}\n  timeout: 2\n}\n` : '';
  const file = path.join(dataDir, 'nats-server.conf');
  await fs.writeFile(file, `# Written by stratus dev at every start.\ninclude ./stratus-common.conf\n${tls}`);
  return file;
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
  const certs = o.tls ? await ensureDevCertificates(path.join(dataDir, 'tls')) : undefined;
  if (certs) o.onStatus(`TLS on every hop, certificates signed by the local CA ${certs.caFile}`);
  const started: Launched[] = [];
  const natsUrl = `nats://127.0.0.1:${o.natsPort}`;
  const monitorPort = await freePort();
  const natsConfig = await writeNatsConfig(dataDir, o.distDir, certs);
  // Each program gets its own NATS user, with only the permissions its role has in production.
  const base: NodeJS.ProcessEnv = { PATH: o.env.PATH, HOME: o.env.HOME, STRATUS_NATS_URL: natsUrl, STRATUS_CLUSTER_TOKEN: creds.clusterToken };
  const serveTls: NodeJS.ProcessEnv = certs ? { STRATUS_TLS_CERT_FILE: certs.certFile, STRATUS_TLS_KEY_FILE: certs.keyFile, STRATUS_NATS_CA_FILE: certs.caFile } : {};
  const ca = certs ? await fs.readFile(certs.caFile) : undefined;
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
        args: ['-c', natsConfig, '-js', '-a', '127.0.0.1', '-p', String(o.natsPort), '-m', String(monitorPort)],
        env: { PATH: o.env.PATH, ...creds.nats },
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
        env: {
          ...base,
          ...serveTls,
          // The agent advertises 127.0.0.1; its certificate also names localhost, which (unlike an IP) may be sent as the TLS server name.
          ...(certs ? { STRATUS_AGENT_TLS_CA_FILE: certs.caFile, STRATUS_AGENT_TLS_SERVER_NAME: 'localhost' } : {}),
          STRATUS_NATS_USER: 'stratus-router',
          STRATUS_NATS_PASSWORD: creds.nats.NATS_ROUTER_PASSWORD,
          STRATUS_ROUTER_ID: 'dev-router',
          STRATUS_HOST: '127.0.0.1',
          STRATUS_GRPC_PORT: String(o.grpcPort),
          STRATUS_HTTP_PORT: String(o.httpPort),
          STRATUS_API_TOKENS: creds.apiToken,
        },
        logFile: path.join(logDir, 'router.log'),
        ready: ca ? httpsReady(`https://127.0.0.1:${o.httpPort}/readyz`, ca) : httpReady(`http://127.0.0.1:${o.httpPort}/readyz`),
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
        env: {
          ...base,
          ...serveTls,
          STRATUS_NATS_USER: 'stratus-agent',
          STRATUS_NATS_PASSWORD: creds.nats.NATS_AGENT_PASSWORD,
          STRATUS_AGENT_ID: 'dev-agent', STRATUS_GRPC_HOST: '127.0.0.1', STRATUS_GRPC_PORT: String(o.agentPort), STRATUS_HTTP_PORT: String(agentHttp), STRATUS_DATA_DIR: path.join(dataDir, 'agent'),
          // Functions call the router's API (with their role's credentials) through a port of their sandbox's loopback.
          // Over TLS they would need the dev CA inside the sandbox, which they do not get yet.
          ...(certs ? {} : { STRATUS_FUNCTION_API_ENDPOINT: `127.0.0.1:${o.grpcPort}`, STRATUS_SANDBOX_ALLOW_HOST_PORTS: String(o.grpcPort) }),
          ...o.agentEnv,
        },
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
    // With TLS, dialed by name: Node warns when a TLS server name is an IP address (RFC 6066), and grpc-js sends the host as one.
    endpoint: certs ? `localhost:${o.grpcPort}` : `127.0.0.1:${o.grpcPort}`,
    token: creds.apiToken,
    caFile: certs?.caFile,
    natsUrl,
    natsClient: { url: natsUrl, user: 'stratus-client', password: creds.nats.NATS_CLIENT_PASSWORD, caFile: certs?.caFile },
    natsAdmin: { url: natsUrl, user: 'stratus-admin', password: creds.nats.NATS_ADMIN_PASSWORD, caFile: certs?.caFile },
    httpUrl: `${certs ? 'https' : 'http'}://127.0.0.1:${o.httpPort}`,
    logDir,
    stop: () => (stopping ??= stopAll()),
  };
}
