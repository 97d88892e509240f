import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StratusClient } from '../sdk/client/stratus-client';
import { startDevCluster, type DevCluster } from '../sdk/cli/dev/dev-cluster';
import { freePort } from '../sdk/cli/dev/launch';

/** A local cluster for one benchmark section, with a client. */
export interface BenchCluster {
  cluster: DevCluster;
  client: StratusClient;
  stop(): Promise<void>;
}

/** Starts NATS, a router and an agent (with `agentEnv`) on free ports in a temporary folder. */
export async function startBenchCluster(agentEnv: Record<string, string> = {}): Promise<BenchCluster> {
  const cluster = await startDevCluster({
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-')),
    natsPort: await freePort(),
    grpcPort: await freePort(),
    httpPort: await freePort(),
    agentPort: 0,
    distDir: path.resolve(__dirname, '..'),
    env: { ...process.env, STRATUS_LOG_LEVEL: 'warn', STRATUS_ECHO_FUNCTION_LOGS: 'false' },
    agentEnv,
    tls: false,
    onStatus: (l) => process.stderr.write(`bench: ${l}\n`),
  });
  const client = new StratusClient({ endpoints: cluster.endpoint, token: cluster.token });
  return {
    cluster,
    client,
    stop: async () => {
      client.close();
      await cluster.stop();
    },
  };
}

/** Writes function files into a fresh folder. */
export function functionFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-fn-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content, { mode: name === 'bootstrap' ? 0o755 : 0o644 });
  }
  return dir;
}
