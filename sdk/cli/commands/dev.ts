import * as path from 'node:path';
import type { Command } from 'commander';
import { StratusClient } from '../../client/stratus-client';
import { StratusError } from '../../core/errors';
import type { CliContext } from '../context';
import { startDevCluster } from '../dev/dev-cluster';
import { profilePath, writeProfile } from '../profile';

interface DevFlags {
  dataDir: string;
  natsPort: string;
  grpcPort: string;
  httpPort: string;
  agentPort: string;
  example?: string;
  profile: string;
  tls?: boolean;
}

function port(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new StratusError('InvalidRequest', `${flag} ${value}: give a port number`);
  return n;
}

/** Deploys the example folder (a Node.js index.handler) and invokes it once, so a newcomer sees the whole path work. */
async function deployExample(client: StratusClient, dir: string, say: (l: string) => void): Promise<void> {
  const name = path.basename(path.resolve(dir));
  await client.deploy({ name, source: dir, settings: { runtime: 'nodejs', handler: 'index.handler' } });
  say(`deployed example '${name}' from ${dir}`);
  const result = await client.invoke(name, JSON.stringify({ name: 'Stratus' }));
  if (result.functionError) throw new StratusError('Internal', `the example failed: ${result.functionError.errorType}: ${result.functionError.errorMessage}`);
  say(`invoked '${name}' → ${result.payload.toString('utf8')} (${result.report?.coldStart ? 'cold' : 'warm'}, ${result.report?.durationMs.toFixed(1)} ms)`);
}

/** `stratus dev`: a whole cluster on this machine, kept running until Ctrl+C. */
export function registerDevCommand(program: Command, run: (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>): void {
  program
    .command('dev')
    .description('run NATS (JetStream), a router and an agent on this machine; writes a CLI profile')
    .option('--data-dir <dir>', 'where NATS data, logs and credentials live', '.stratus-dev')
    .option('--nats-port <port>', 'NATS client port', '4222')
    .option('--grpc-port <port>', 'router gRPC API port', '50051')
    .option('--http-port <port>', 'router HTTP port (HTTP gateway, health, readiness)', '8080')
    .option('--agent-port <port>', "agent's gRPC port (0 picks one)", '0')
    .option('--example <dir>', 'deploy this Node.js folder and invoke it once when the cluster is up')
    .option('--profile-name <name>', 'profile to write', 'default')
    .option('--tls', 'TLS on every hop (NATS, router gRPC and HTTP, router to agent), signed by a local CA made with openssl in the data directory')
    .action((flags: DevFlags & { profileName: string }) =>
      run(async ({ out, env }) => {
        const say = (line: string): void => out.note(`stratus dev: ${line}`);
        const cluster = await startDevCluster({
          dataDir: flags.dataDir,
          natsPort: port('--nats-port', flags.natsPort),
          grpcPort: port('--grpc-port', flags.grpcPort),
          httpPort: port('--http-port', flags.httpPort),
          agentPort: port('--agent-port', flags.agentPort),
          distDir: path.resolve(__dirname, '..', '..', '..'),
          env,
          onStatus: say,
          tls: Boolean(flags.tls),
        });
        const stop = new Promise<void>((resolve) => {
          for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
        });
        try {
          const file = profilePath(env);
          const { natsClient } = cluster;
          await writeProfile(file, flags.profileName, {
            endpoint: cluster.endpoint,
            token: cluster.token,
            ...(cluster.caFile ? { caFile: cluster.caFile } : {}),
            nats: { url: natsClient.url, user: natsClient.user, password: natsClient.password, ...(natsClient.caFile ? { caFile: natsClient.caFile } : {}) },
          });
          say(`wrote profile '${flags.profileName}' to ${file}`);
          if (flags.example) {
            const client = new StratusClient({ endpoints: cluster.endpoint, token: cluster.token, ...(cluster.caFile ? { tls: { caFile: cluster.caFile } } : {}) });
            try {
              await deployExample(client, flags.example, say);
            } finally {
              client.close();
            }
          }
          // Users' own NATS clients (publishing to trigger subjects) connect as stratus-client: the URL carries its password.
          const natsForClients = natsClient.url.replace('nats://', `nats://${natsClient.user}:${encodeURIComponent(natsClient.password)}@`);
          const summary = {
            endpoint: cluster.caFile ? `grpcs://${cluster.endpoint}` : cluster.endpoint,
            http: cluster.httpUrl,
            console: `${cluster.httpUrl.replace(/\/$/, '')}/console`,
            nats: natsForClients,
            ...(cluster.caFile ? { ca: cluster.caFile } : {}),
            logs: cluster.logDir,
            profile: file,
          };
          if (out.json) out.printJson(summary);
          else {
            for (const [key, value] of Object.entries(summary)) out.line(`${key.padEnd(9)} ${value}`);
            say('ready — try: npx stratus invoke hello --payload \'{"name":"Ada"}\', npx stratus logs hello -f, npx stratus console   (Ctrl+C stops the cluster)');
          }
          await stop;
          say('stopping');
        } finally {
          await cluster.stop();
        }
      }),
    );
}
