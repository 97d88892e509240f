import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync } from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, waitFor } from './ports';

/** Repository root, where dist/ lives. */
export const ROOT = path.resolve(__dirname, '..', '..');

/** The compiled entry point of a program; integration tests run what users run. */
export function distEntry(relative: string): string {
  const file = path.join(ROOT, 'dist', relative);
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build before the integration tests (npm test does)`);
  return file;
}

/** A router or agent running as a real child process. */
export interface StratusProcess {
  name: string;
  grpcPort: number;
  httpPort: number;
  address: string;
  logFile: string;
  /** The environment it was started with (e.g. STRATUS_DATA_DIR). */
  env: Record<string, string>;
  process: ChildProcess;
  /** Sends SIGTERM and waits for a clean exit (up to `timeoutMs`, then SIGKILL). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  exited(): boolean;
}

/** Options for starting a router or agent. */
export interface StartOptions {
  natsUrl: string;
  env?: Record<string, string>;
  logDir?: string;
  /** The router serves HTTPS (STRATUS_TLS_CERT_FILE): its readiness is asked over TLS verified against this CA. */
  httpsCa?: Buffer;
}

/** GETs `url` and resolves its status; over TLS verified against `ca` when given. */
export function httpStatus(url: string, ca?: Buffer): Promise<number> {
  if (!ca) return fetch(url).then((res) => res.status);
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
  });
}

async function launch(kind: 'router' | 'node-agent', name: string, options: StartOptions, env: Record<string, string>): Promise<StratusProcess> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const logDir = options.logDir ?? mkdtempSync(path.join(os.tmpdir(), 'stratus-logs-'));
  const logFile = path.join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    STRATUS_NATS_URL: options.natsUrl,
    STRATUS_GRPC_PORT: String(grpcPort),
    STRATUS_HTTP_PORT: String(httpPort),
    STRATUS_HOST: '127.0.0.1',
    STRATUS_GRPC_HOST: '127.0.0.1',
    ...env,
    ...options.env,
  };
  const child = spawn(process.execPath, [distEntry(`${kind}/main.js`)], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const exitPromise = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(`${name} to be ready (log: ${logFile})`, async () => {
    if (exited()) throw new Error('exited');
    const scheme = options.httpsCa && kind === 'router' ? 'https' : 'http';
    return (await httpStatus(`${scheme}://127.0.0.1:${httpPort}/readyz`, kind === 'router' ? options.httpsCa : undefined)) === 200;
  }, 20_000).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}${exited() ? ` — it exited with ${child.exitCode}; see ${logFile}` : ''}`);
  });
  return {
    name,
    grpcPort,
    httpPort,
    address: `127.0.0.1:${grpcPort}`,
    logFile,
    env: childEnv,
    process: child,
    exited,
    stop: async (timeoutMs = 15_000) => {
      if (exited()) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exitPromise;
      clearTimeout(timer);
      return code;
    },
    kill: async () => {
      if (exited()) return;
      child.kill('SIGKILL');
      await exitPromise;
    },
  };
}

/** Starts a router process; resolves when /readyz answers 200. */
export function startRouter(name: string, options: StartOptions & { apiToken: string; clusterToken: string }): Promise<StratusProcess> {
  return launch('router', name, options, {
    STRATUS_ROUTER_ID: name,
    STRATUS_API_TOKENS: options.apiToken,
    STRATUS_CLUSTER_TOKEN: options.clusterToken,
  });
}

/** Starts a node agent process with its own data directory; resolves when /readyz answers 200. */
export function startAgent(name: string, options: StartOptions & { clusterToken: string }): Promise<StratusProcess> {
  return launch('node-agent', name, options, {
    STRATUS_AGENT_ID: name,
    STRATUS_CLUSTER_TOKEN: options.clusterToken,
    STRATUS_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), `stratus-${name}-`)),
    STRATUS_HEARTBEAT_MS: '250',
  });
}
