#!/usr/bin/env node
/**
 * `npm run bench`: starts real clusters on this machine and measures Stratus against baselines
 * taken in the same run. Prints a table and writes bench/results/<time>.json. Nothing is asserted.
 * `--quick` runs fewer iterations.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import { startBenchCluster, functionFolder } from './bench-cluster';
import { measureAsync } from './async';
import { measureBareSpawn, measureColdStarts, measureWarmAfterPause, NOOP_FUNCTIONS } from './cold-start';
import { measureFootprint, type TreeMemory } from './footprint';
import { measurePlacement } from './placement';
import { measureSecurity } from './security';
import { measureLogging } from './observability';
import { measureRouterMemory, type ProcessMemory } from './router-memory';
import { measure, type LatencyStats } from './stats';
import { writeResults } from './results-file';

const quick = process.argv.includes('--quick');
const N = quick ? 1000 : 5000;
const COLD_ROUNDS = quick ? 10 : 40;

interface Row {
  name: string;
  ours: LatencyStats;
  baselineName: string;
  baseline: LatencyStats;
  /** Unit of the two figures: ms (default) or us as p50 / p99; MB as RSS / peak RSS (then throughput is NaN). */
  unit?: 'ms' | 'us' | 'MB';
}

/** A memory figure in a Row: RSS as p50Ms, peak RSS as p99Ms. */
function memoryRow(m: { rssMb: number; peakRssMb: number }): LatencyStats {
  return { count: 1, p50Ms: m.rssMb, p99Ms: m.peakRssMb, meanMs: m.rssMb, throughputPerS: NaN };
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
async function natsRequestBaseline(nats: { url: string; user: string; password: string }, payload: Buffer, concurrency: number): Promise<LatencyStats> {
  const child = spawn(process.execPath, [path.join(__dirname, 'nats-echo-server.js'), nats.url, nats.user, nats.password], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const nc = await connect({ servers: nats.url, user: nats.user, pass: nats.password });
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
      rows.push({ name: `sync warm invoke, ${concurrency} caller(s)`, ours, baselineName: 'raw NATS request (reference)', baseline: await natsRequestBaseline(bench.cluster.natsAdmin, payload, concurrency) });
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
  // These rows measure starts without pre-started runtimes (the pool is off); the pool has its own rows below.
  const noPool = { STRATUS_PRESTART_NODEJS: '0', STRATUS_PRESTART_PYTHON: '0' };
  for (const [label, agentEnv] of [['sandboxed (bwrap + cgroups)', noPool], ['unsandboxed (process driver)', { ...noPool, STRATUS_SANDBOX: 'process' }]] as const) {
    const bench = await startBenchCluster(agentEnv);
    try {
      for (const runtime of ['nodejs', 'python', 'provided'] as const) {
        rows.push({ name: `cold start ${runtime}, ${label}`, ours: await measureColdStarts(bench.client, runtime, COLD_ROUNDS), baselineName: `bare ${runtime === 'provided' ? 'sh' : runtime} spawn`, baseline: bare[runtime] as LatencyStats });
      }
    } finally {
      await bench.stop();
    }
  }
  await coldStartsPrestarted(rows, bare);
}

/** Cold starts that take a pre-started runtime (sandboxed): each round waits until the pool is refilled, as it is when starts are not back to back. */
async function coldStartsPrestarted(rows: Row[], bare: Record<string, LatencyStats>): Promise<void> {
  const bench = await startBenchCluster({ STRATUS_PRESTART_NODEJS: '2', STRATUS_PRESTART_PYTHON: '2' });
  try {
    for (const runtime of ['nodejs', 'python'] as const) {
      const initMs: number[] = [];
      const ours = await measureColdStarts(bench.client, runtime, COLD_ROUNDS, { pauseMs: 600, initMs });
      const init = initMs.sort((a, b) => a - b)[Math.floor(initMs.length / 2)] ?? NaN;
      rows.push({ name: `cold start ${runtime}, pre-started runtime (init p50 ${init.toFixed(1)} ms)`, ours, baselineName: `bare ${runtime} spawn`, baseline: bare[runtime] as LatencyStats });
      const warm = await measureWarmAfterPause(bench.client, runtime, Math.ceil(COLD_ROUNDS / 2), 600);
      rows.push({ name: `cold start ${runtime}, pre-started, over a warm invoke`, ours, baselineName: 'warm invoke after the same 600 ms pause', baseline: warm });
    }
  } finally {
    await bench.stop();
  }
}

/**
 * What a /tmp of its own on disk (ephemeral-disk.ts: a sparse ext4 image, loop-mounted) costs a
 * cold start, against today's tmpfs, in one run: new sandboxes (the disk is made on the start's
 * path) and pre-started runtimes (made while they wait, so a start should not pay it).
 */
async function tmpCost(rows: Row[]): Promise<void> {
  const figures = async (tmp: 'disk' | 'tmpfs'): Promise<Record<string, LatencyStats>> => {
    const out: Record<string, LatencyStats> = {};
    const fresh = await startBenchCluster({ STRATUS_SANDBOX_TMP: tmp, STRATUS_PRESTART_NODEJS: '0', STRATUS_PRESTART_PYTHON: '0' });
    try {
      for (const runtime of ['nodejs', 'python'] as const) out[`cold start ${runtime}, new sandbox`] = await measureColdStarts(fresh.client, runtime, COLD_ROUNDS);
    } finally {
      await fresh.stop();
    }
    const pooled = await startBenchCluster({ STRATUS_SANDBOX_TMP: tmp, STRATUS_PRESTART_NODEJS: '2', STRATUS_PRESTART_PYTHON: '0' });
    try {
      out['cold start nodejs, pre-started runtime'] = await measureColdStarts(pooled.client, 'nodejs', COLD_ROUNDS, { pauseMs: 600 });
    } finally {
      await pooled.stop();
    }
    return out;
  };
  const disk = await figures('disk');
  const tmpfs = await figures('tmpfs');
  for (const [name, ours] of Object.entries(disk)) rows.push({ name: `${name}, /tmp on its own disk`, ours, baselineName: 'same, /tmp a tmpfs', baseline: tmpfs[name] as LatencyStats });
}

/**
 * What a sandbox's own network (pasta, sandbox-network.ts) costs: the same starts and warm calls
 * with STRATUS_SANDBOX_NETWORK=isolated (ours, the default) and =host (the baseline), in one run.
 */
async function isolationCost(rows: Row[]): Promise<void> {
  type Figures = Record<string, LatencyStats>;
  const run = async (network: 'isolated' | 'host'): Promise<Figures> => {
    const figures: Figures = {};
    const fresh = await startBenchCluster({ STRATUS_SANDBOX_NETWORK: network, STRATUS_PRESTART_NODEJS: '0', STRATUS_PRESTART_PYTHON: '0' });
    try {
      for (const runtime of ['nodejs', 'python', 'provided'] as const) figures[`cold start ${runtime}, new sandbox`] = await measureColdStarts(fresh.client, runtime, COLD_ROUNDS);
    } finally {
      await fresh.stop();
    }
    const pooled = await startBenchCluster({ STRATUS_SANDBOX_NETWORK: network, STRATUS_PRESTART_NODEJS: '2', STRATUS_PRESTART_PYTHON: '2' });
    try {
      for (const runtime of ['nodejs', 'python'] as const) {
        figures[`cold start ${runtime}, pre-started`] = await measureColdStarts(pooled.client, runtime, COLD_ROUNDS, { pauseMs: 600 });
        const name = `warm-${runtime}-${network}`;
        const fn = NOOP_FUNCTIONS[runtime];
        await pooled.client.deploy({ name, source: functionFolder(fn.files), settings: { runtime, handler: fn.handler } });
        const invoke = async (): Promise<void> => {
          const r = await pooled.client.invoke(name, '{"hello":"world"}');
          if (r.functionError) throw new Error(r.functionError.errorMessage);
        };
        await measure(200, 1, invoke);
        figures[`sync warm invoke ${runtime}, 1 caller`] = await measure(quick ? 500 : N, 1, invoke);
      }
    } finally {
      await pooled.stop();
    }
    return figures;
  };
  const isolated = await run('isolated');
  const shared = await run('host');
  for (const [name, ours] of Object.entries(isolated)) rows.push({ name: `${name}, own network (pasta)`, ours, baselineName: 'same, host network', baseline: shared[name] as LatencyStats });
}

async function securitySection(rows: Row[]): Promise<void> {
  const bench = await startBenchCluster();
  try {
    const f = await measureSecurity(bench, quick ? 1000 : 5000);
    rows.push({ name: 'sync warm invoke, tenant token (identity store, authorized)', ours: f.tenantInvoke, baselineName: 'same, bootstrap admin token', baseline: f.adminInvoke });
    for (const c of [1, 64] as const) rows.push({ name: `usage record stored (group commit), ${c} caller(s)`, ours: f.usageRecord[c], baselineName: 'raw JetStream publish (acked)', baseline: f.rawPublish[c] });
    rows.push({ name: 'function credentials: mint + verify', ours: f.sessionMintVerify, baselineName: 'one bare HMAC-SHA256', baseline: f.bareHmac, unit: 'us' });
  } finally {
    await bench.stop();
  }
}

async function observabilitySection(rows: Row[]): Promise<void> {
  const bench = await startBenchCluster();
  try {
    const f = await measureLogging(bench, quick ? 1000 : 5000);
    rows.push({ name: 'sync warm invoke, function logs 1 line (to its log stream)', ours: f.oneLine, baselineName: 'same function, no line', baseline: f.silent });
    rows.push({ name: 'sync warm invoke, function logs 100 lines', ours: f.hundredLines, baselineName: 'same function, no line', baseline: f.silent });
  } finally {
    await bench.stop();
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

function placementSection(rows: Row[]): void {
  const f = measurePlacement({ functions: 10_000, agents: 200, rounds: quick ? 20_000 : 100_000 });
  const floor = 'Map lookup of the function key, same timed loop';
  rows.push({ name: 'placement decision, 10,000 fns / 200 agents (warm mix)', ours: f.decision, baselineName: floor, baseline: f.mapLookup, unit: 'us' });
  rows.push({ name: 'placement decision, room path (fn on no agent)', ours: f.coldDecision, baselineName: floor, baseline: f.mapLookup, unit: 'us' });
  rows.push({ name: 'pre-index: concurrency + placement scans', ours: f.scanDecision, baselineName: floor, baseline: f.mapLookup, unit: 'us' });
  // The index moves work from every invocation to every heartbeat: this is its price there.
  rows.push({ name: 'heartbeat take-in: decode + re-index (~150 fns)', ours: f.heartbeatApply, baselineName: 'decoding the heartbeat only', baseline: f.heartbeatDecode, unit: 'us' });
}

async function routerMemorySection(rows: Row[]): Promise<void> {
  const functions = quick ? 25_000 : 100_000;
  const f = await measureRouterMemory({ functions, sample: quick ? 10 : 50 });
  const n = functions.toLocaleString('en-US');
  const baselineName = 'idle router, 0 functions';
  const mem = (m: ProcessMemory): LatencyStats => memoryRow(m);
  const anon = (m: ProcessMemory): string => `anon ${m.anonMb.toFixed(1)} MB`;
  rows.push({ name: `router RSS, ${n} fns written while it watched (${anon(f.afterWatchingWrites)})`, ours: mem(f.afterWatchingWrites), baselineName: `${baselineName} (${anon(f.idle)})`, baseline: mem(f.idle), unit: 'MB' });
  rows.push({ name: `router RSS, restarted over ${n} fns, ${f.sampled} invoked (${anon(f.afterRestartAndInvokes)})`, ours: mem(f.afterRestartAndInvokes), baselineName: `${baselineName} (${anon(f.idle)})`, baseline: mem(f.idle), unit: 'MB' });
}

async function footprintSection(rows: Row[]): Promise<void> {
  const f = await measureFootprint();
  const label = (t: TreeMemory): string => `PSS ${t.pssMb.toFixed(1)}${t.cgroupMb === undefined ? '' : `, cgroup ${t.cgroupMb.toFixed(1)}`} MB`;
  const bare = { nodejs: ['bare node -e, idle', f.bareNode], python: ['bare python3 -c, idle', f.barePython], provided: ['bare sh loop, idle', f.bareSh] } as const;
  for (const [runtime, tree] of Object.entries(f.instances)) {
    const [baselineName, baseline] = bare[runtime as keyof typeof bare];
    rows.push({ name: `idle warm ${runtime} instance, sandbox tree (${label(tree)})`, ours: memoryRow(tree), baselineName, baseline: memoryRow(baseline), unit: 'MB' });
  }
  for (const [runtime, tree] of Object.entries(f.prestarted)) {
    const [baselineName, baseline] = bare[runtime as keyof typeof bare];
    rows.push({ name: `idle pre-started ${runtime} runtime, no function (${label(tree)})`, ours: memoryRow(tree), baselineName, baseline: memoryRow(baseline), unit: 'MB' });
  }
  rows.push({ name: `idle agent (${label(f.agent)})`, ours: memoryRow(f.agent), baselineName: 'bare node -e, idle', baseline: memoryRow(f.bareNode), unit: 'MB' });
  rows.push({ name: `idle router (${label(f.router)})`, ours: memoryRow(f.router), baselineName: 'bare node -e, idle', baseline: memoryRow(f.bareNode), unit: 'MB' });
}

function printTable(rows: Row[]): void {
  const head = ['benchmark', 'p50 / p99 (MB: RSS / peak)', 'baseline', 'baseline p50 / p99', 'ratio', 'per second, ours / baseline'];
  // Throughput-only rows have no per-call latency.
  const figures = (s: LatencyStats, unit: Row['unit'] = 'ms'): string =>
    Number.isNaN(s.p50Ms) ? '-' : unit === 'us' ? `${(s.p50Ms * 1000).toFixed(2)} / ${(s.p99Ms * 1000).toFixed(2)} us` : unit === 'MB' ? `${s.p50Ms.toFixed(1)} / ${s.p99Ms.toFixed(1)} MB` : `${s.p50Ms.toFixed(2)} / ${s.p99Ms.toFixed(2)} ms`;
  const ratio = (r: Row): string =>
    Number.isNaN(r.ours.p50Ms) ? `${((r.ours.throughputPerS / r.baseline.throughputPerS) * 100).toFixed(0)}% of throughput` : `${(r.ours.p50Ms / r.baseline.p50Ms).toFixed(2)}x`;
  const cells = rows.map((r) => [
    r.name,
    figures(r.ours, r.unit),
    r.baselineName,
    figures(r.baseline, r.unit),
    ratio(r),
    r.unit === 'MB' ? '-' : `${r.ours.throughputPerS.toFixed(0)} / ${r.baseline.throughputPerS.toFixed(0)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => `| ${c.map((x, i) => x.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  process.stdout.write(`${line(head)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${cells.map(line).join('\n')}\n`);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  // --only=sync,async runs just those sections; an unknown name is a usage error, not an empty table.
  const sections = ['sync', 'cold', 'isolation', 'tmp', 'security', 'observability', 'async', 'placement', 'footprint'];
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
  const unknown = only?.filter((s) => !sections.includes(s)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown bench section ${unknown.join(', ')}: choose from ${sections.join(', ')}`);
  const wanted = (s: string): boolean => !only || only.includes(s);
  if (wanted('sync')) await syncWarm(rows);
  if (wanted('cold')) await coldStarts(rows);
  if (wanted('isolation')) await isolationCost(rows);
  if (wanted('tmp')) await tmpCost(rows);
  if (wanted('security')) await securitySection(rows);
  if (wanted('observability')) await observabilitySection(rows);
  if (wanted('async')) await asyncPath(rows);
  if (wanted('placement')) {
    placementSection(rows);
    await routerMemorySection(rows);
  }
  if (wanted('footprint')) await footprintSection(rows);
  printTable(rows);
  const file = writeResults('', quick, rows);
  process.stdout.write(`results written to ${file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
