#!/usr/bin/env node
/**
 * `npm run bench`: starts a real cluster on this machine and measures Stratus against baselines
 * taken in the same run. Prints a table and writes bench/results/<time>.json. Nothing is asserted.
 * `--quick` runs fewer iterations.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { StratusClient } from '../sdk/client/stratus-client';
import { startDevCluster } from '../sdk/cli/dev/dev-cluster';
import { measure, type LatencyStats } from './stats';

const quick = process.argv.includes('--quick');
const N = quick ? 1000 : 5000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function grpcEchoBaseline(payload: Buffer, concurrency: number): Promise<LatencyStats> {
  const child = spawn(process.execPath, [path.join(__dirname, 'grpc-echo-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  const Echo = grpc.makeGenericClientConstructor(
    { echo: { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
    'Echo',
  );
  const client = new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { echo: (req: Buffer, cb: (e: Error | null) => void) => void };
  const call = (): Promise<void> => new Promise((resolve, reject) => client.echo(payload, (e) => (e ? reject(e) : resolve())));
  try {
    await measure(200, concurrency, call);
    return await measure(N, concurrency, call);
  } finally {
    client.close();
    child.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-'));
  const cluster = await startDevCluster({
    dataDir,
    natsPort: await freePort(),
    grpcPort: await freePort(),
    httpPort: await freePort(),
    agentPort: 0,
    distDir: path.resolve(__dirname, '..'),
    env: { ...process.env, STRATUS_LOG_LEVEL: 'warn' },
    onStatus: (l) => process.stderr.write(`bench: ${l}\n`),
  });
  const client = new StratusClient({ endpoints: cluster.endpoint, token: cluster.token });
  const fnDir = mkdtempSync(path.join(os.tmpdir(), 'bench-fn-'));
  writeFileSync(path.join(fnDir, 'index.js'), 'exports.handler = async (event) => event;');
  const results: Record<string, unknown> = { machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGb: Math.round(os.totalmem() / 1024 ** 3), node: process.version }, quick };
  const rows: string[][] = [];
  try {
    await client.deploy({ name: 'noop', source: fnDir, settings: { runtime: 'nodejs', handler: 'index.handler', memoryMb: 128 } });
    const payload = Buffer.from(JSON.stringify({ hello: 'world' }));
    for (const concurrency of [1, 64]) {
      const invoke = async (): Promise<void> => {
        const r = await client.invoke('noop', payload);
        if (r.functionError) throw new Error(r.functionError.errorMessage);
      };
      await measure(Math.max(200, concurrency * 4), concurrency, invoke);
      const stratus = await measure(N, concurrency, invoke);
      const raw = await grpcEchoBaseline(payload, concurrency);
      results[`syncWarm_c${concurrency}`] = { stratus, grpcEcho: raw };
      rows.push([
        `sync warm invoke, ${concurrency} caller(s)`,
        `${stratus.p50Ms.toFixed(3)} / ${stratus.p99Ms.toFixed(3)}`,
        `${raw.p50Ms.toFixed(3)} / ${raw.p99Ms.toFixed(3)}`,
        `${(stratus.p50Ms / raw.p50Ms).toFixed(2)}x`,
        `${stratus.throughputPerS.toFixed(0)} / ${raw.throughputPerS.toFixed(0)}`,
        `${((stratus.throughputPerS / raw.throughputPerS) * 100).toFixed(0)}%`,
      ]);
    }
  } finally {
    client.close();
    await cluster.stop();
  }
  const head = ['benchmark', 'p50/p99 ms', 'baseline p50/p99 ms (raw gRPC echo)', 'p50 ratio', 'req/s (ours / baseline)', 'throughput vs baseline'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ');
  process.stdout.write(`${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}\n${rows.map(line).join('\n')}\n`);
  const outDir = path.resolve(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`results written to ${file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
