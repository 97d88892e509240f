import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LIMITS } from '../../sdk/core/limits';
import { freePort } from './ports';

/** A real nats-server with JetStream on a free port and a temporary store. */
export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts nats-server and resolves once it says it is ready; `extraConfig` is appended to its configuration file (e.g. a tls block). */
export async function startNatsServer(extraConfig = ''): Promise<NatsServerHandle> {
  const port = await freePort();
  const storeDir = mkdtempSync(path.join(os.tmpdir(), 'stratus-nats-'));
  // max_payload has no command-line flag; routers refuse the 1 MiB default (see requireMaxPayload).
  const config = path.join(storeDir, 'nats-server.conf');
  writeFileSync(config, `max_payload: ${LIMITS.minNatsMaxPayloadBytes}\n${extraConfig}\n`);
  const child = spawn('nats-server', ['-c', config, '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${log}`)), 15_000);
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run nats-server (${err.message}): apt-get install nats-server`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${log}`));
    });
  });
  child.stderr?.resume();
  child.stdout?.resume();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
