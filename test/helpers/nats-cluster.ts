import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './stratus-process';

/** One textual change to a deploy/ file; it must match, so a reworded file fails loudly instead of running unchanged. */
export interface Replacement {
  from: string;
  to: string;
}

/** A deploy/ file's text with every replacement applied (all occurrences of each). */
export function renderDeployFile(relative: string, replacements: Replacement[]): string {
  let text = readFileSync(path.join(ROOT, 'deploy', relative), 'utf8');
  for (const r of replacements) {
    if (!text.includes(r.from)) throw new Error(`deploy/${relative} no longer contains '${r.from}': update the test that runs it`);
    text = text.split(r.from).join(r.to);
  }
  return text;
}

/** Where one NATS server of a staged cluster lives. */
export interface StagedNats {
  name: string;
  /** Its configuration file (the node file, which includes stratus-common.conf next to it). */
  configFile: string;
  dir: string;
}

/** One server to stage: its deploy/ node file and the changes to it and to stratus-common.conf. */
export interface NatsNodeSpec {
  name: string;
  /** Relative to deploy/, e.g. nats/nats-1.conf. */
  file: string;
  replacements: Replacement[];
  commonReplacements: Replacement[];
}

/**
 * Copies a node configuration and stratus-common.conf from deploy/ into `dir`/`name`/, each with
 * its replacements; JetStream's store is moved into that folder.
 */
export function stageNatsNode(dir: string, spec: NatsNodeSpec): StagedNats {
  const nodeDir = path.join(dir, spec.name);
  const store = { from: 'store_dir: "/var/lib/nats"', to: `store_dir: "${path.join(nodeDir, 'data')}"` };
  mkdirSync(path.join(nodeDir, 'data'), { recursive: true });
  writeFileSync(path.join(nodeDir, 'stratus-common.conf'), renderDeployFile('nats/stratus-common.conf', [...spec.commonReplacements, store]));
  const configFile = path.join(nodeDir, 'nats.conf');
  writeFileSync(configFile, renderDeployFile(spec.file, spec.replacements));
  return { name: spec.name, configFile, dir: nodeDir };
}

/** The passwords stratus-common.conf reads from the environment, made up for one test run. */
export function natsPasswords(seed: string): Record<'NATS_ROUTER_PASSWORD' | 'NATS_AGENT_PASSWORD' | 'NATS_CLIENT_PASSWORD' | 'NATS_ADMIN_PASSWORD', string> {
  return {
    NATS_ROUTER_PASSWORD: `router-${seed}`,
    NATS_AGENT_PASSWORD: `agent-${seed}`,
    NATS_CLIENT_PASSWORD: `client-${seed}`,
    NATS_ADMIN_PASSWORD: `admin-${seed}`,
  };
}

/** A running nats-server of a staged cluster. */
export interface RunningNats {
  name: string;
  process: ChildProcess;
  logFile: string;
  exited(): boolean;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** SIGTERM and wait (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/** Options for {@link runNats}. */
export interface RunNatsOptions {
  env: Record<string, string>;
  /** Wraps the command, e.g. to run it in a network namespace: (cmd, args) => ['ip', ['netns', 'exec', ns, cmd, ...args]]. */
  wrap?: (command: string, args: string[]) => [string, string[]];
}

/** Starts a staged server (waitForNatsHealthy says when it serves). */
export async function runNats(staged: StagedNats, options: RunNatsOptions): Promise<RunningNats> {
  const logFile = path.join(staged.dir, 'nats-server.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const [command, args] = (options.wrap ?? ((c, a) => [c, a]))('nats-server', ['-c', staged.configFile]);
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name: staged.name,
    process: child,
    logFile,
    exited,
    kill: async () => {
      if (exited()) return;
      child.kill('SIGKILL');
      await exit;
    },
    stop: async () => {
      if (exited()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Waits until every server's /healthz answers 200 (each needs the others for a JetStream meta leader); fails at once if one exits. */
export async function waitForNatsHealthy(servers: Array<{ running: RunningNats; healthzUrl: string }>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (const s of servers) {
    for (;;) {
      if (s.running.exited()) throw new Error(`${s.running.name} exited: ${readFileSync(s.running.logFile, 'utf8').slice(-1500)}`);
      if ((await fetch(s.healthzUrl, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0)) === 200) break;
      if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${s.running.name} to be healthy (log: ${s.running.logFile})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
