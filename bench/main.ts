#!/usr/bin/env node
/**
 * `npm run bench`: starts real clusters on this machine and measures Stratus against baselines
 * taken in the same run. Prints a table and writes bench/results/<time>.json. Nothing is asserted.
 * `--quick` runs fewer iterations.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import { startBenchCluster, functionFolder } from './bench-cluster';
import { measureAsync } from './async';
import { measureBareSpawn, measureColdStarts } from './cold-start';
import { measure, type LatencyStats } from './stats';

const quick = process.argv.includes('--quick');
const N = quick ? 1000 : 5000;
const COLD_ROUNDS = quick ? 10 : 40;

interface Row {
  name: string;
  ours: LatencyStats;
  baselineName: string;
  baseline: LatencyStats;
}

async function grpcEchoBaseline(payload: Buffer, concurrency: number): Promise<LatencyStats> {
  const child = spawn(process.execPath, [path.join(__dirname, 'grpc-echo-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  const identity = (b: Buffer): Buffer => b;
  const Echo = grpc.makeGenericClientConstructor(
    { echo: { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
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

/** A raw NATS request/reply to a responder in another process, for reference next to the gRPC echo. */
async function natsRequestBaseline(natsUrl: string, payload: Buffer, concurrency: number): Promise<LatencyStats> {
  const child = spawn(process.execPath, [path.join(__dirname, 'nats-echo-server.js'), natsUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const nc = await connect({ servers: natsUrl });
  const call = async (): Promise<void> => {
    await nc.request('bench.echo', payload, { timeout: 10_000 });
  };
  try {
    await measure(200, concurrency, call);
    return await measure(N, concurrency, call);
  } finally {
    await nc.close();
    child.kill('SIGTERM');
  }
}

async function syncWarm(rows: Row[]): Promise<void> {
  const bench = await startBenchCluster();
  try {
    await bench.client.deploy({ name: 'noop', source: functionFolder({ 'index.js': 'exports.handler = async (event) => event;' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    const payload = Buffer.from(JSON.stringify({ hello: 'world' }));
    for (const concurrency of [1, 64]) {
      const invoke = async (): Promise<void> => {
        const r = await bench.client.invoke('noop', payload);
        if (r.functionError) throw new Error(r.functionError.errorMessage);
      };
      await measure(Math.max(200, concurrency * 4), concurrency, invoke);
      const ours = await measure(N, concurrency, invoke);
      rows.push({ name: `sync warm invoke, ${concurrency} caller(s)`, ours, baselineName: 'raw grpc-js unary echo', baseline: await grpcEchoBaseline(payload, concurrency) });
      rows.push({ name: `sync warm invoke, ${concurrency} caller(s)`, ours, baselineName: 'raw NATS request (reference)', baseline: await natsRequestBaseline(bench.cluster.natsUrl, payload, concurrency) });
    }
  } finally {
    await bench.stop();
  }
}

async function coldStarts(rows: Row[]): Promise<void> {
  const bare: Record<string, LatencyStats> = {
    nodejs: await measureBareSpawn(process.execPath, ['-e', 'process.stdout.write("x")'], COLD_ROUNDS),
    python: await measureBareSpawn('/usr/bin/python3', ['-c', 'print(1)'], COLD_ROUNDS),
    provided: await measureBareSpawn('/bin/sh', ['-c', 'echo 1'], COLD_ROUNDS),
  };
  for (const [label, agentEnv] of [['sandboxed (bwrap + cgroups)', {}], ['unsandboxed (process driver)', { STRATUS_SANDBOX: 'process' }]] as const) {
    const bench = await startBenchCluster(agentEnv);
    try {
      for (const runtime of ['nodejs', 'python', 'provided'] as const) {
        rows.push({ name: `cold start ${runtime}, ${label}`, ours: await measureColdStarts(bench.client, runtime, COLD_ROUNDS), baselineName: `bare ${runtime === 'provided' ? 'sh' : runtime} spawn`, baseline: bare[runtime] as LatencyStats });
      }
    } finally {
      await bench.stop();
    }
  }
}

async function asyncPath(rows: Row[]): Promise<void> {
  const bench = await startBenchCluster();
  try {
    const f = await measureAsync(bench, quick ? 2000 : 10_000);
    rows.push({ name: 'async enqueue (accepted), 1 caller', ours: f.enqueue, baselineName: 'raw JetStream publish (acked)', baseline: f.rawPublish });
    rows.push({ name: `async end to end, events/s (lost: ${f.lost})`, ours: f.endToEnd, baselineName: 'raw JetStream pull consume + ack', baseline: f.rawConsume });
    rows.push({ name: 'async dispatch of a queued backlog, events/s', ours: f.drain, baselineName: 'raw JetStream pull consume + ack', baseline: f.rawConsume });
  } finally {
    await bench.stop();
  }
}

function printTable(rows: Row[]): void {
  const head = ['benchmark', 'p50 / p99 ms', 'baseline', 'baseline p50 / p99 ms', 'ratio', 'per second, ours / baseline'];
  // Throughput-only rows have no per-call latency.
  const ms = (s: LatencyStats): string => (Number.isNaN(s.p50Ms) ? '-' : `${s.p50Ms.toFixed(2)} / ${s.p99Ms.toFixed(2)}`);
  const ratio = (r: Row): string =>
    Number.isNaN(r.ours.p50Ms) ? `${((r.ours.throughputPerS / r.baseline.throughputPerS) * 100).toFixed(0)}% of throughput` : `${(r.ours.p50Ms / r.baseline.p50Ms).toFixed(2)}x`;
  const cells = rows.map((r) => [
    r.name,
    ms(r.ours),
    r.baselineName,
    ms(r.baseline),
    ratio(r),
    `${r.ours.throughputPerS.toFixed(0)} / ${r.baseline.throughputPerS.toFixed(0)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => `| ${c.map((x, i) => x.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  process.stdout.write(`${line(head)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${cells.map(line).join('\n')}\n`);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  if (!only || only === 'sync') await syncWarm(rows);
  if (!only || only === 'cold') await coldStarts(rows);
  if (!only || only === 'async') await asyncPath(rows);
  printTable(rows);
  const outDir = path.resolve(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGb: Math.round(os.totalmem() / 1024 ** 3), node: process.version, kernel: os.release() };
  writeFileSync(file, `${JSON.stringify({ machine, quick, rows }, null, 2)}\n`);
  process.stdout.write(`results written to ${file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
