#!/usr/bin/env node
/**
 * `node dist/bench/mappings.js`: records per second through an event source mapping into a no-op
 * batch function, at batch sizes 1, 100 and 1,000, on a local cluster (NATS, a router, an agent,
 * real sandboxes). A backlog is published first, then the mapping is created at TRIM_HORIZON and
 * timed until its checkpoint reaches the last record. Prints a table and writes
 * bench/results/mappings-<time>.json. Nothing is asserted. `--quick` uses smaller backlogs.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { MappingSettingsPatch } from '../sdk/core/mapping-config';
import { functionFolder, startBenchCluster } from './bench-cluster';
import { writeResults } from './results-file';

const quick = process.argv.includes('--quick');

interface Case {
  name: string;
  records: number;
  settings: MappingSettingsPatch;
  /** Number of distinct ordering keys in the data (0: no key). */
  keys: number;
}

interface Row {
  name: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  batches: number;
}

const CASES: Case[] = [
  { name: 'batch 1', records: quick ? 500 : 3000, settings: { batchSize: 1 }, keys: 0 },
  { name: 'batch 100', records: quick ? 10_000 : 50_000, settings: { batchSize: 100 }, keys: 0 },
  { name: 'batch 1,000', records: quick ? 20_000 : 200_000, settings: { batchSize: 1000 }, keys: 0 },
  { name: 'batch 100, 4 in parallel, 100 keys', records: quick ? 10_000 : 50_000, settings: { batchSize: 100, parallelizationFactor: 4, orderingKey: { kind: 'subject' } }, keys: 100 },
];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function main(): Promise<void> {
  const bench = await startBenchCluster();
  const nc = await connect({ servers: bench.cluster.natsUrl, user: bench.cluster.natsAdmin.user, pass: bench.cluster.natsAdmin.password });
  const rows: Row[] = [];
  try {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    await bench.client.deploy({ name: 'noop-batch', source: functionFolder({ 'index.js': 'exports.handler = async (event) => null;' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    // Warm an instance so the first case does not pay the cold start.
    await bench.client.invoke('noop-batch', '{"Records":[]}');
    for (const [i, c] of CASES.entries()) {
      const stream = `BENCH_${i}`;
      await jsm.streams.add({ name: stream, subjects: [`bench${i}.>`] });
      const payload = JSON.stringify({ id: 'order-00000000', amount: 12.5, currency: 'EUR' });
      for (let start = 0; start < c.records; start += 1000) {
        const n = Math.min(1000, c.records - start);
        await Promise.all(Array.from({ length: n }, (_, j) => js.publish(`bench${i}.${c.keys ? `k${(start + j) % c.keys}` : 'x'}`, payload)));
      }
      const last = (await jsm.streams.info(stream)).state.last_seq;
      const t0 = performance.now();
      const m = await bench.client.mappings.create('noop-batch', { kind: 'stream', name: stream, filter: '' }, { startingPosition: 'TRIM_HORIZON', settings: c.settings });
      for (;;) {
        const state = await bench.client.mappings.get(m.id);
        if (state.checkpointSequence >= last) break;
        await sleep(20);
      }
      const seconds = (performance.now() - t0) / 1000;
      const metrics = await fetch(`${bench.cluster.httpUrl}/metrics`).then((r) => r.text());
      const batches = Number(new RegExp(`stratus_mapping_batches_total\\{mapping="${m.id}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
      rows.push({ name: c.name, records: c.records, seconds, recordsPerSecond: c.records / seconds, batches });
      process.stderr.write(`bench: ${c.name}: ${c.records} records in ${seconds.toFixed(2)} s (${batches} batches)\n`);
      await bench.client.mappings.delete(m.id);
      await jsm.streams.delete(stream);
    }
  } finally {
    await nc.close();
    await bench.stop();
  }
  const head = ['mapping', 'records', 'seconds', 'records/s', 'batches'];
  const cells = rows.map((r) => [r.name, String(r.records), r.seconds.toFixed(2), r.recordsPerSecond.toFixed(0), String(r.batches)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => `| ${c.map((x, i) => x.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  process.stdout.write(`${line(head)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${cells.map(line).join('\n')}\n`);
  const file = writeResults('mappings-', quick, rows);
  process.stdout.write(`results written to ${file}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
