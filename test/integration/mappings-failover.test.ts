import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { StratusClient } from '../../sdk/client/stratus-client';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { EventRecorder, REPORT_JS } from '../helpers/event-recorder';
import { waitFor } from '../helpers/ports';
import { batchesOf, checkKeyOrder } from './mapping-checks';

/**
 * A mapping survives the router polling it: two routers, the lease holder is killed with
 * SIGKILL mid-stream, the other takes the lease over when it expires and resumes from the
 * checkpoint. Leases live 3 s here (10 s by default).
 */
const ROUTER_ENV = { STRATUS_MAPPING_LEASE_TTL_MS: '3000', STRATUS_MAPPING_RETRY_BASE_MS: '100', STRATUS_MAPPING_THROTTLE_BASE_MS: '100' };

let cluster: TestCluster;
let client: StratusClient;
let recorder: EventRecorder;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  recorder = await EventRecorder.start();
  cluster = await startCluster({ routers: 2, agents: 1, routerEnv: ROUTER_ENV, agentEnv: recorder.agentEnv() });
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

async function deploySlowBatchFunction(name: string, ms: number): Promise<void> {
  const body = `const recs = event.Records.map((r) => ({ k: r.key, s: Number(r.sequence), d: r.json }));
    await report('start', { recs }, context);
    await new Promise((r) => setTimeout(r, ${ms}));
    return null;`;
  await client.deploy({
    name,
    source: functionDir({ 'index.js': `${REPORT_JS}\nexports.handler = async (event, context) => { ${body} };` }),
    settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 10, environment: recorder.env() },
  });
}

const distinct = (fn: string): number => new Set(batchesOf(recorder.of(fn)).flat().map((r) => r.s)).size;

test('mappings spread over the routers when several are alive', async () => {
  const fn = uniqueName('spread');
  await deploySlowBatchFunction(fn, 0);
  const stream = uniqueName('SP').replace(/-/g, '_');
  await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
  const ids: string[] = [];
  for (let i = 0; i < 12; i += 1) ids.push((await client.mappings.create(fn, { kind: 'stream', name: stream, filter: '' })).id);
  let holders: string[] = [];
  await waitFor('every mapping to be polled', async () => (holders = await Promise.all(ids.map(async (id) => (await client.mappings.get(id)).holder))).every(Boolean), 20_000, 200);
  expect(new Set(holders)).toEqual(new Set(cluster.routers.map((r) => r.name)));
  for (const id of ids) await client.mappings.delete(id);
});

test('processing resumes from the checkpoint on the other router and skips nothing when the polling router is killed mid-stream', async () => {
  const fn = uniqueName('failover');
  await deploySlowBatchFunction(fn, 40);
  const stream = uniqueName('F').replace(/-/g, '_');
  await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`] });
  const m = await client.mappings.create(fn, { kind: 'stream', name: stream, filter: '' }, { settings: { batchSize: 20, orderingKey: { kind: 'subject' }, parallelizationFactor: 2 } });
  let holder = '';
  await waitFor('a router to take the lease', async () => (holder = (await client.mappings.get(m.id)).holder) !== '', 15_000, 100);

  const total = 3000;
  const seqs: number[] = [];
  for (let start = 0; start < total; start += 250) {
    const acks = await Promise.all(Array.from({ length: 250 }, (_, i) => js.publish(`${stream.toLowerCase()}.k${(start + i) % 30}`, JSON.stringify({ n: start + i }))));
    seqs.push(...acks.map((a) => a.seq));
  }
  await recorder.waitFor('a third of the records', () => distinct(fn) >= total / 3, 30_000);
  const victim = cluster.routers.find((r) => r.name === holder);
  expect(victim).toBeDefined();
  await victim?.kill();
  const doneAtKill = distinct(fn);
  expect(doneAtKill).toBeLessThan(total);
  const killedAt = Date.now();

  await recorder.waitFor('every record', () => distinct(fn) >= total, 60_000);
  const tookOverMs = (recorder.of(fn).find((r) => r.t > killedAt + 50)?.t ?? killedAt) - killedAt;
  const batches = batchesOf(recorder.of(fn));
  const all = batches.flat();
  expect(new Set(all.map((r) => r.s))).toEqual(new Set(seqs));
  expect(checkKeyOrder(batches)).toEqual([]);
  const survivor = cluster.routers.find((r) => r !== victim);
  const after = await client.mappings.get(m.id);
  expect(after.holder).toBe(survivor?.name);
  await waitFor('the checkpoint to reach the last record', async () => (await client.mappings.get(m.id)).checkpointSequence === seqs.at(-1), 15_000, 200);
  process.stderr.write(`failover: ${doneAtKill} of ${total} done at the kill, resumed after ${tookOverMs} ms, ${all.length - total} records ran twice\n`);
}, 120_000);
