import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import { StratusError } from '../../core/errors';
import { sleep } from '../../core/deadline';

/** A program the dev cluster started. */
export interface Launched {
  name: string;
  process: ChildProcess;
  logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs: number): Promise<void>;
}

/** What to start and how to tell it is ready. */
export interface LaunchSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  logFile: string;
  /** Resolves true once the program can serve. */
  ready: () => Promise<boolean>;
  readyTimeoutMs: number;
}

/** Starts a program with its output in a log file, and waits until `ready` says so. */
export async function launch(spec: LaunchSpec): Promise<Launched> {
  const log = createWriteStream(spec.logFile, { flags: 'a' });
  const child = spawn(spec.command, spec.args, { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const until = Date.now() + spec.readyTimeoutMs;
  for (;;) {
    if (spawnError) throw new StratusError('ServiceUnavailable', `could not start ${spec.name}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new StratusError('ServiceUnavailable', `${spec.name} exited during start-up (code ${child.exitCode}): see ${spec.logFile}`);
    }
    if (await spec.ready().catch(() => false)) break;
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new StratusError('ServiceUnavailable', `${spec.name} was not ready after ${spec.readyTimeoutMs} ms: see ${spec.logFile}`);
    }
    await sleep(100);
  }
  return {
    name: spec.name,
    process: child,
    logFile: spec.logFile,
    stop: async (graceMs) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Readiness by HTTP: the URL answers 200. */
export function httpReady(url: string): () => Promise<boolean> {
  return async () => (await fetch(url, { signal: AbortSignal.timeout(1000) })).status === 200;
}

/** Readiness by HTTPS: the URL answers 200 over TLS verified against `ca`. */
export function httpsReady(url: string, ca: Buffer): () => Promise<boolean> {
  return () =>
    new Promise((resolve, reject) => {
      const req = https.get(url, { ca, timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.once('timeout', () => req.destroy(new Error(`no answer from ${url} within 1 s`)));
      req.once('error', reject);
    });
}

/** Finds nats-server on PATH or where Debian installs it; says how to install it when missing. */
export function findNatsServer(env: NodeJS.ProcessEnv): string {
  if (env.STRATUS_NATS_SERVER) return env.STRATUS_NATS_SERVER;
  const found = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  for (const candidate of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) if (existsSync(candidate)) return candidate;
  throw new StratusError('ServiceUnavailable', 'nats-server is not installed: on Debian or Ubuntu run `sudo apt-get install nats-server` (npm run dev does this for you), or set STRATUS_NATS_SERVER to its path');
}

/** A TCP port free right now on 127.0.0.1 (the OS picks it; the caller binds it soon after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
