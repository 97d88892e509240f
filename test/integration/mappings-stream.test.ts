import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { StratusClient } from '../../sdk/client/stratus-client';
import type { MappingSettingsPatch } from '../../sdk/core/mapping-config';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { EventRecorder, REPORT_JS } from '../helpers/event-recorder';
import { waitFor } from '../helpers/ports';
import { batchesOf, checkKeyOrder, type SeenRecord } from './mapping-checks';

/**
 * Stream event source mappings end to end: real nats-server, router and agent processes. The
 * fixture function reports every batch it gets (key, sequence, data) to an EventRecorder, then
 * succeeds, throws or reports failed items as the test asks. Retry backoffs are shortened.
 */
const ROUTER_ENV = { STRATUS_MAPPING_RETRY_BASE_MS: '100', STRATUS_MAPPING_THROTTLE_BASE_MS: '100' };

let cluster: TestCluster;
let client: StratusClient;
let recorder: EventRecorder;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  recorder = await EventRecorder.start();
  cluster = await startCluster({ agents: 1, routerEnv: ROUTER_ENV, agentEnv: recorder.agentEnv() });
  client = cluster.client();
  nc = await connect({ servers: cluster.nats.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
  await recorder?.stop();
});

/**
 * A function that reports its batch as {recs:[{k, s, d}]} and then runs `then` (with `event`,
 * `context` and `recs` in scope); it returns whatever `then` returns.
 */
async function deployBatchFunction(name: string, then = ''): Promise<void> {
  const body = `const recs = event.Records.map((r) => ({ k: r.key, s: Number(r.sequence), d: r.json }));
    await report('start', { recs }, context);
    ${then}`;
  await client.deploy({
    name,
    source: functionDir({ 'index.js': `${REPORT_JS}\nexports.handler = async (event, context) => { ${body} };` }),
    settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 10, environment: recorder.env() },
  });
}

async function createStream(): Promise<{ name: string; subject: (key: string) => string }> {
  const name = uniqueName('S').replace(/-/g, '_');
  const prefix = name.toLowerCase();
  await jsm.streams.add({ name, subjects: [`${prefix}.>`] });
  return { name, subject: (key) => `${prefix}.${key}` };
}

/** Publishes `count` JSON records {n, key} (keys k0…k{keys-1} in turn), a few hundred at a time; returns their sequences. */
async function publish(stream: { subject: (key: string) => string }, count: number, keys: number, extra: (n: number) => Record<string, unknown> = () => ({})): Promise<number[]> {
  const seqs: number[] = [];
  for (let start = 0; start < count; start += 250) {
    const acks = await Promise.all(
      Array.from({ length: Math.min(250, count - start) }, (_, i) => {
        const n = start + i;
        const key = `k${n % keys}`;
        const h = natsHeaders();
        h.set('Order-Key', key);
        return js.publish(stream.subject(key), JSON.stringify({ n, key, ...extra(n) }), { headers: h });
      }),
    );
    seqs.push(...acks.map((a) => a.seq));
  }
  return seqs;
}

function seen(fn: string): SeenRecord[][] {
  return recorder.of(fn).map((r) => (r.event as { recs: SeenRecord[] }).recs);
}

async function createMapping(fn: string, stream: string, settings: MappingSettingsPatch, startingPosition: 'LATEST' | 'TRIM_HORIZON' = 'LATEST'): Promise<string> {
  const m = await client.mappings.create(fn, { kind: 'stream', name: stream, filter: '' }, { startingPosition, settings });
  return m.id;
}

/** A stream capturing `<prefix>.>` so the test can read what an on-failure destination got. */
async function capture(prefix: string): Promise<{ subject: string; records(): Promise<Array<Record<string, any>>> }> {
  const name = prefix.replace(/[^A-Za-z0-9_-]/g, '_');
  await jsm.streams.add({ name, subjects: [`${prefix}.>`] });
  return {
    subject: `${prefix}.failed`,
    records: async () => {
      const info = await jsm.streams.info(name);
      const out: Array<Record<string, any>> = [];
      for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq += 1) {
        const m = await jsm.streams.getMessage(name, { seq });
        if (m) out.push(m.json<Record<string, any>>());
      }
      return out;
    },
  };
}

test('10,000 records over 50 keys are all processed, in order per key, in batches within the size limit when records arrive fast', async () => {
  const fn = uniqueName('many');
  await deployBatchFunction(fn, 'return null;');
  const stream = await createStream();
  const id = await createMapping(fn, stream.name, { batchSize: 100, maximumBatchingWindowMs: 200, orderingKey: { kind: 'json', path: 'key' }, parallelizationFactor: 4 });
  const started = Date.now();
  const seqs = await publish(stream, 10_000, 50);
  await recorder.waitFor('all 10,000 records', () => new Set(seen(fn).flat().map((r) => r.s)).size >= 10_000, 90_000);
  const batches = seen(fn);
  const all = batches.flat();
  // Every record at least once, and nothing that was not published.
  expect(new Set(all.map((r) => r.s))).toEqual(new Set(seqs));
  // No failures happened, so every record ran exactly once, and each key's records in stream order.
  expect(all).toHaveLength(10_000);
  expect(checkKeyOrder(batches)).toEqual([]);
  const sizes = batches.map((b) => b.length);
  expect(Math.max(...sizes)).toBeLessThanOrEqual(100);
  // Records arrive much faster than one per 200 ms window: batches fill up before their window ends.
  expect(sizes.filter((s) => s === 100).length).toBeGreaterThanOrEqual(Math.floor(0.8 * sizes.length));
  const m = await client.mappings.get(id);
  await waitFor('the checkpoint to reach the last record', async () => (await client.mappings.get(id)).checkpointSequence === seqs.at(-1), 10_000, 200);
  expect(m.holder).toBe(cluster.routers[0]?.name);
  process.stderr.write(`10,000 records in ${batches.length} batches, ${Date.now() - started} ms\n`);
}, 120_000);

test('a batch waits for its window and then carries every record that came meanwhile when records trickle in', async () => {
  const fn = uniqueName('window');
  await deployBatchFunction(fn, 'return null;');
  const stream = await createStream();
  await createMapping(fn, stream.name, { batchSize: 1000, maximumBatchingWindowMs: 1500 });
  const t0 = Date.now();
  for (let i = 0; i < 5; i += 1) {
    await js.publish(stream.subject('w'), JSON.stringify({ n: i }));
    await new Promise((r) => setTimeout(r, 100));
  }
  await recorder.waitFor('the batch', () => recorder.of(fn).length >= 1, 20_000);
  await new Promise((r) => setTimeout(r, 1000));
  const runs = recorder.of(fn);
  expect(runs).toHaveLength(1);
  expect(batchesOf(runs)[0]?.map((r) => r.d)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
  // The window counts from the first record: nothing went before it ended.
  expect((runs[0]?.t ?? 0) - t0).toBeGreaterThanOrEqual(1400);
});

test('a poison record is retried, sent to the on-failure destination, and its key and the other keys go on when bisect isolates it', async () => {
  const fn = uniqueName('poison');
  await deployBatchFunction(fn, "if (recs.some((r) => r.d && r.d.poison)) throw new Error('poison'); return null;");
  const stream = await createStream();
  const dest = await capture(`fail.${fn.replace(/-/g, '_')}`);
  await createMapping(fn, stream.name, {
    batchSize: 10,
    maximumBatchingWindowMs: 300,
    orderingKey: { kind: 'header', name: 'Order-Key' },
    parallelizationFactor: 2,
    bisectBatchOnFunctionError: true,
    maximumRetryAttempts: 2,
    onFailure: { kind: 'subject', target: dest.subject },
  });
  const seqs = await publish(stream, 60, 5, (n) => (n === 17 ? { poison: true } : {}));
  const poisonSeq = seqs[17] as number;
  let failures: Array<Record<string, any>> = [];
  await waitFor('the failure record', async () => (failures = await dest.records()).length >= 1, 30_000, 200);
  await recorder.waitFor('every other record', () => new Set(seen(fn).flat().map((r) => r.s)).size >= 60, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  expect(failures).toHaveLength(1);
  const info = failures[0]?.JetStreamBatchInfo;
  expect(info).toMatchObject({ stream: stream.name, sequences: [String(poisonSeq)], batchSize: 1, startSequence: String(poisonSeq), endSequence: String(poisonSeq) });
  expect(failures[0]?.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted' });
  expect(failures[0]?.requestContext.approximateInvokeCount).toBeGreaterThanOrEqual(3);
  expect(failures[0]?.responseContext).toMatchObject({ functionError: 'Unhandled' });
  expect(failures[0]?.responsePayload).toMatchObject({ errorMessage: 'poison' });
  const batches = seen(fn);
  // Alone, the poison record ran once and was retried twice.
  expect(batches.filter((b) => b.length === 1 && b[0]?.s === poisonSeq)).toHaveLength(3);
  // Every record ran; the poison record's key went on after it; each key's records in order (records
  // batched with the poison record ran again while bisecting: at least once, never out of order).
  const all = batches.flat();
  expect(new Set(all.map((r) => r.s))).toEqual(new Set(seqs));
  expect(checkKeyOrder(batches)).toEqual([]);
  const poisonKey = 'k2';
  const after = all.filter((r) => r.k === poisonKey && r.s > poisonSeq).map((r) => r.s);
  expect(after.length).toBeGreaterThan(0);
  // Records of other keys never waited for the poison record's retries to be given up.
  const firstFailureAt = recorder.of(fn).find((r) => (r.event as { recs: SeenRecord[] }).recs.some((x) => x.s === poisonSeq))?.t ?? 0;
  const lastOtherKey = Math.max(...recorder.of(fn).filter((r) => (r.event as { recs: SeenRecord[] }).recs.every((x) => x.k !== poisonKey)).map((r) => r.t));
  expect(lastOtherKey).toBeGreaterThan(firstFailureAt);
}, 60_000);

test('only the items from the lowest reported failure on are retried when the function returns batchItemFailures', async () => {
  const fn = uniqueName('partial');
  await deployBatchFunction(fn, 'return recs.length === 10 ? { batchItemFailures: [{ itemIdentifier: String(recs[8].s) }, { itemIdentifier: String(recs[6].s) }] } : { batchItemFailures: [] };');
  const stream = await createStream();
  const seqs = await publish(stream, 10, 10);
  await createMapping(fn, stream.name, { batchSize: 10, maximumBatchingWindowMs: 1000, reportBatchItemFailures: true }, 'TRIM_HORIZON');
  await recorder.waitFor('the retry', () => recorder.of(fn).length >= 2, 20_000);
  await new Promise((r) => setTimeout(r, 1000));
  const batches = seen(fn);
  expect(batches.map((b) => b.map((r) => r.s))).toEqual([seqs, seqs.slice(6)]);
});

test('an invalid batch response fails the whole batch, which is retried whole when ReportBatchItemFailures is on', async () => {
  const fn = uniqueName('invalid');
  await deployBatchFunction(fn, "return recs.length === 3 && !globalThis.once ? (globalThis.once = true, { batchItemFailures: [{ itemIdentifier: '' }] }) : {};");
  const stream = await createStream();
  const seqs = await publish(stream, 3, 3);
  await createMapping(fn, stream.name, { batchSize: 3, maximumBatchingWindowMs: 1000, reportBatchItemFailures: true }, 'TRIM_HORIZON');
  await recorder.waitFor('the retry', () => recorder.of(fn).length >= 2, 20_000);
  await new Promise((r) => setTimeout(r, 800));
  expect(seen(fn).map((b) => b.map((r) => r.s))).toEqual([seqs, seqs]);
});

test('throttles never use up retry attempts and the record runs once the function can run again', async () => {
  const fn = uniqueName('throttled');
  await deployBatchFunction(fn, 'return null;');
  await client.updateFunctionConfiguration(fn, { reservedConcurrency: 0 });
  const stream = await createStream();
  const id = await createMapping(fn, stream.name, { batchSize: 1, maximumRetryAttempts: 0 });
  const [seq] = await publish(stream, 1, 1);
  await waitFor('the throttle to show', async () => /TooManyRequests/.test((await client.mappings.get(id)).lastProcessingResult), 20_000, 200);
  expect(recorder.of(fn)).toHaveLength(0);
  expect((await client.listDeadLetters(fn)).deadLetters).toHaveLength(0);
  await client.updateFunctionConfiguration(fn, { reservedConcurrency: 5 });
  await recorder.waitFor('the record to run', () => recorder.of(fn).length >= 1, 30_000);
  expect(seen(fn)[0]?.map((r) => r.s)).toEqual([seq]);
  expect((await client.listDeadLetters(fn)).deadLetters).toHaveLength(0);
}, 60_000);

test("records given up on go to the function's dead letters with the records when the mapping has no destination", async () => {
  const fn = uniqueName('dlq');
  await deployBatchFunction(fn, "throw new TypeError('always');");
  const stream = await createStream();
  await createMapping(fn, stream.name, { batchSize: 2, maximumBatchingWindowMs: 500, maximumRetryAttempts: 1 });
  const seqs = await publish(stream, 2, 2);
  let letters: Awaited<ReturnType<StratusClient['listDeadLetters']>>['deadLetters'] = [];
  await waitFor('the dead letter', async () => (letters = (await client.listDeadLetters(fn)).deadLetters).length >= 1, 20_000, 200);
  expect(letters).toHaveLength(1);
  expect(letters[0]).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2, errorType: 'TypeError', errorMessage: 'always' });
  const rec = (await client.getDeadLetter(fn, letters[0]?.sequence ?? 0)).record as Record<string, any>;
  expect(rec.JetStreamBatchInfo.sequences).toEqual(seqs.map(String));
  expect(rec.requestPayload.Records.map((r: { sequence: string }) => r.sequence)).toEqual(seqs.map(String));
  expect(seen(fn)).toHaveLength(2);
});

test('an on-failure function gets the failure record as its event when records are given up on', async () => {
  const fn = uniqueName('failing');
  const sink = uniqueName('sink');
  await deployBatchFunction(fn, "throw new Error('nope');");
  await client.deploy({
    name: sink,
    source: functionDir({ 'index.js': `${REPORT_JS}\nexports.handler = async (event, context) => { await report('start', event, context); return null; };` }),
    settings: { runtime: 'nodejs', handler: 'index.handler', environment: recorder.env() },
  });
  const stream = await createStream();
  await createMapping(fn, stream.name, { batchSize: 1, maximumRetryAttempts: 0, onFailure: { kind: 'function', target: sink }, includeRecordsInFailures: true });
  const [seq] = await publish(stream, 1, 1);
  await recorder.waitFor('the sink to run', () => recorder.of(sink).length >= 1, 30_000);
  const event = recorder.of(sink)[0]?.event as Record<string, any>;
  expect(event.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 1 });
  expect(event.JetStreamBatchInfo.sequences).toEqual([String(seq)]);
  expect(event.requestPayload.Records[0]).toMatchObject({ sequence: String(seq), json: { n: 0, key: 'k0' } });
});

test('a disabled mapping stops polling and resumes from its checkpoint when enabled again', async () => {
  const fn = uniqueName('toggle');
  await deployBatchFunction(fn, 'return null;');
  const stream = await createStream();
  const id = await createMapping(fn, stream.name, { batchSize: 10 });
  const first = await publish(stream, 3, 3);
  await recorder.waitFor('the first records', () => seen(fn).flat().length >= 3, 20_000);
  const disabled = await client.mappings.update(id, { enabled: false });
  expect(disabled.state).toBe('Disabled');
  await waitFor('the lease to be handed back', async () => (await client.mappings.get(id)).holder === '', 20_000, 200);
  const second = await publish(stream, 4, 3);
  await new Promise((r) => setTimeout(r, 1500));
  expect(seen(fn).flat().map((r) => r.s)).toEqual(first);
  await client.mappings.update(id, { enabled: true });
  await recorder.waitFor('the records stored while disabled', () => seen(fn).flat().length >= 7, 20_000);
  expect(seen(fn).flat().map((r) => r.s)).toEqual([...first, ...second]);
});
