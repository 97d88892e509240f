#!/usr/bin/env node
/**
 * `node dist/bench/http-vs-grpc.js`: requests per second of a warm no-op function at 32
 * concurrent callers, through the HTTP gateway (keep-alive) and through the gRPC SDK's invoke,
 * on one dev cluster. Prints both and their ratio. `--requests=N` per round (default 3000; three alternating rounds, median reported).
 */
import * as http from 'node:http';
import { functionFolder, startBenchCluster } from './bench-cluster';
import { measure, type LatencyStats } from './stats';

const CONCURRENCY = 32;
const arg = process.argv.find((a) => a.startsWith('--requests='));
const REQUESTS = arg ? Number(arg.slice('--requests='.length)) : 3000;
const ROUNDS = 3;

/** The round with the median throughput. */
function median(rounds: LatencyStats[]): LatencyStats {
  return [...rounds].sort((a, b) => a.throughputPerS - b.throughputPerS)[Math.floor(rounds.length / 2)] as LatencyStats;
}

/** One GET over a keep-alive agent; resolves when the whole body has arrived. */
function get(agent: http.Agent, url: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function line(label: string, s: LatencyStats): string {
  return `${label.padEnd(26)} ${s.throughputPerS.toFixed(0).padStart(7)} req/s   p50 ${s.p50Ms.toFixed(2)} ms   p99 ${s.p99Ms.toFixed(2)} ms   (${s.count} requests)`;
}

async function main(): Promise<void> {
  const bench = await startBenchCluster();
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    await bench.client.deploy({ name: 'noop', source: functionFolder({ 'index.js': 'exports.handler = async () => ({ ok: true });' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    await bench.client.createRoute('GET', '/noop', 'noop', { auth: 'none' });
    const url = new URL('/noop', bench.cluster.httpUrl);
    const viaHttp = (): Promise<void> => get(agent, url);
    const viaGrpc = async (): Promise<void> => {
      const r = await bench.client.invoke('noop', '{}');
      if (r.functionError) throw new Error(r.functionError.errorMessage);
    };
    // Warm both paths (instances, connections, JIT) before measuring.
    await measure(CONCURRENCY * 20, CONCURRENCY, viaHttp);
    await measure(CONCURRENCY * 20, CONCURRENCY, viaGrpc);
    // Alternating rounds, then the median round of each, so drift in machine load hits both alike.
    const httpRounds: LatencyStats[] = [];
    const grpcRounds: LatencyStats[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      httpRounds.push(await measure(REQUESTS, CONCURRENCY, viaHttp));
      grpcRounds.push(await measure(REQUESTS, CONCURRENCY, viaGrpc));
    }
    const httpStats = median(httpRounds);
    const grpcStats = median(grpcRounds);
    process.stdout.write(`warm no-op function, ${CONCURRENCY} concurrent callers, median of ${ROUNDS} alternating rounds of ${REQUESTS} requests\n`);
    process.stdout.write(`${line('HTTP gateway (keep-alive)', httpStats)}\n`);
    process.stdout.write(`${line('gRPC SDK invoke', grpcStats)}\n`);
    process.stdout.write(`rounds, req/s: HTTP ${httpRounds.map((r) => r.throughputPerS.toFixed(0)).join(' ')}; gRPC ${grpcRounds.map((r) => r.throughputPerS.toFixed(0)).join(' ')}\n`);
    process.stdout.write(`HTTP / gRPC throughput ratio: ${(httpStats.throughputPerS / grpcStats.throughputPerS).toFixed(2)}\n`);
  } finally {
    agent.destroy();
    await bench.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
