import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import type { StratusClient } from '../../sdk/client/stratus-client';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { EventRecorder, REPORT_JS } from '../helpers/event-recorder';
import { distEntry } from '../helpers/stratus-process';
import { batchesOf, checkKeyOrder, type SeenRecord } from './mapping-checks';

/**
 * Data-change triggers end to end: tables (KV buckets) and buckets of objects created through
 * the API, whose changes reach a function as change records through a mapping; plus the CLI.
 */
let cluster: TestCluster;
let client: StratusClient;
let recorder: EventRecorder;

beforeAll(async () => {
  recorder = await EventRecorder.start();
  cluster = await startCluster({ agents: 1, agentEnv: recorder.agentEnv(), routerEnv: { STRATUS_MAPPING_RETRY_BASE_MS: '100', STRATUS_MAPPING_THROTTLE_BASE_MS: '100' } });
  client = cluster.client();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await recorder?.stop();
});

/** A function reporting every record it gets whole, as {recs:[{k, s, d: record}]}. */
async function deployRecorder(name: string): Promise<void> {
  const body = `await report('start', { recs: event.Records.map((r) => ({ k: r.key ?? r.name, s: Number(r.sequence), d: r })) }, context); return null;`;
  await client.deploy({
    name,
    source: functionDir({ 'index.js': `${REPORT_JS}\nexports.handler = async (event, context) => { ${body} };` }),
    settings: { runtime: 'nodejs', handler: 'index.handler', environment: recorder.env() },
  });
}

const records = (fn: string): Array<Record<string, any>> => batchesOf(recorder.of(fn)).flat().map((r: SeenRecord) => r.d as Record<string, any>);
const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('table puts, deletes and purges reach the function as change records with previous values, in order per key', async () => {
  const table = uniqueName('users').replace(/-/g, '_');
  const fn = uniqueName('onusers');
  expect(await client.tables.create(table, { history: 5 })).toMatchObject({ name: table, history: 5, stream: `KV_${table}` });
  await deployRecorder(fn);
  await client.mappings.create(fn, { kind: 'table', name: table, filter: '' }, { settings: { batchSize: 10, maximumBatchingWindowMs: 300 } });

  const r1 = await client.tables.put(table, 'a', '{"v":1}');
  await client.tables.put(table, 'b', 'text');
  const r3 = await client.tables.put(table, 'a', '{"v":2}');
  await client.tables.deleteItem(table, 'a');
  await client.tables.put(table, 'a', '{"v":3}');
  await client.tables.deleteItem(table, 'b', { purge: true });
  await client.tables.put(table, 'c.d', '7');
  await recorder.waitFor('7 change records', () => records(fn).length >= 7, 20_000);
  const got = records(fn);
  expect(checkKeyOrder(batchesOf(recorder.of(fn)))).toEqual([]);
  const ofKey = (k: string): Array<Record<string, any>> => got.filter((r) => r.key === k);
  expect(ofKey('a').map((r) => [r.operation, r.newValue?.json ?? null, r.previousValue?.json ?? null])).toEqual([
    ['PUT', { v: 1 }, null],
    ['PUT', { v: 2 }, { v: 1 }],
    ['DEL', null, { v: 2 }],
    ['PUT', { v: 3 }, null],
  ]);
  expect(ofKey('a')[1]).toMatchObject({
    eventSource: 'stratus:table',
    eventName: 'PUT',
    table,
    revision: r3,
    sequence: String(r3),
    newValue: { data: b64('{"v":2}') },
    previousValue: { revision: r1, data: b64('{"v":1}') },
  });
  expect(ofKey('a')[1]?.eventSourceArn).toMatch(new RegExp(`table/${table}$`));
  expect(Date.parse(ofKey('a')[1]?.timestamp)).toBeGreaterThan(Date.now() - 60_000);
  expect(ofKey('b').map((r) => [r.operation, r.newValue?.data ?? null, r.previousValue])).toEqual([
    ['PUT', b64('text'), null],
    ['PURGE', null, null],
  ]);
  expect(ofKey('c.d')).toMatchObject([{ operation: 'PUT', newValue: { json: 7 } }]);
});

test('object puts and deletes reach the function as object records with size and digest', async () => {
  const bucket = uniqueName('files').replace(/-/g, '_');
  const fn = uniqueName('onfiles');
  await client.buckets.create(bucket);
  await deployRecorder(fn);
  await client.mappings.create(fn, { kind: 'bucket', name: bucket, filter: '' }, { settings: { batchSize: 10 } });
  const put = await client.buckets.put(bucket, 'reports/q1.txt', 'hello objects');
  await recorder.waitFor('the put record', () => records(fn).length >= 1, 20_000);
  await client.buckets.put(bucket, 'other', Buffer.alloc(300_000, 7));
  await client.buckets.deleteObject(bucket, 'reports/q1.txt');
  await recorder.waitFor('3 object records', () => records(fn).length >= 3, 20_000);
  const got = records(fn);
  expect(checkKeyOrder(batchesOf(recorder.of(fn)))).toEqual([]);
  const q1 = got.filter((r) => r.name === 'reports/q1.txt');
  expect(q1.map((r) => r.operation)).toEqual(['PUT', 'DEL']);
  expect(q1[0]).toMatchObject({ eventSource: 'stratus:bucket', bucket, name: 'reports/q1.txt', operation: 'PUT', size: 13, digest: put.digest });
  expect(q1[1]).toMatchObject({ operation: 'DEL', size: 0, digest: null });
  expect(got.find((r) => r.name === 'other')).toMatchObject({ operation: 'PUT', size: 300_000 });
  expect((await client.buckets.get(bucket, 'other')).data).toEqual(Buffer.alloc(300_000, 7));
  expect((await client.buckets.listObjects(bucket)).map((o) => o.name)).toEqual(['other']);
});

test('a table or bucket that feeds a mapping cannot be deleted until the mapping is', async () => {
  const table = uniqueName('kept').replace(/-/g, '_');
  const fn = uniqueName('onkept');
  await client.tables.create(table);
  await deployRecorder(fn);
  const m = await client.mappings.create(fn, { kind: 'table', name: table, filter: '' });
  await expect(client.tables.delete(table)).rejects.toMatchObject({ code: 'ResourceConflict' });
  await client.mappings.delete(m.id);
  await expect(client.mappings.get(m.id)).rejects.toMatchObject({ code: 'ResourceNotFound' });
  await client.tables.delete(table);
  expect((await client.tables.list()).map((t) => t.name)).not.toContain(table);
});

test('mapping creation is refused with a code and a fix when the function or the source does not exist', async () => {
  const fn = uniqueName('lonely');
  await deployRecorder(fn);
  await expect(client.mappings.create(uniqueName('ghost'), { kind: 'stream', name: 'NOPE', filter: '' })).rejects.toMatchObject({ code: 'FunctionNotFound' });
  await expect(client.mappings.create(fn, { kind: 'stream', name: 'NOPE_STREAM', filter: '' })).rejects.toMatchObject({ code: 'ResourceNotFound', message: expect.stringMatching(/create it first/) });
  await expect(client.mappings.create(fn, { kind: 'table', name: 'no_such_table', filter: '' })).rejects.toMatchObject({ code: 'ResourceNotFound', message: expect.stringMatching(/stratus tables create/) });
  await expect(client.mappings.create(fn, { kind: 'stream', name: 'S', filter: '' }, { settings: { batchSize: 0 } })).rejects.toMatchObject({ code: 'InvalidRequest' });
});

test('the CLI creates a table and a mapping, writes and reads items, and shows the mapping when used as documented', async () => {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), STRATUS_ENDPOINT: cluster.routers[0]?.address ?? '', STRATUS_TOKEN: cluster.apiToken };
  const cli = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [distEntry('sdk/cli/main.js'), ...args], { env, encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const table = uniqueName('clitable').replace(/-/g, '_');
  const fn = uniqueName('clifn');
  await deployRecorder(fn);
  expect(cli('tables', 'create', table, '--history', '3').code).toBe(0);
  const created = cli('--json', 'mappings', 'create', fn, '--table', table, '--batch-size', '5', '--window', '100ms', '--max-retries', '2', '--bisect', '--on-failure', 'subject:failed.cli');
  expect(created.stderr).toBe('');
  const m = JSON.parse(created.stdout) as { id: string; settings: Record<string, unknown> };
  expect(m.settings).toMatchObject({ batchSize: 5, maximumBatchingWindowMs: 100, maximumRetryAttempts: 2, bisectBatchOnFunctionError: true, onFailure: { kind: 'subject', target: 'failed.cli' } });
  expect(cli('tables', 'put', table, 'k1', 'hello').code).toBe(0);
  expect(cli('tables', 'get', table, 'k1').stdout).toBe('hello');
  await recorder.waitFor('the change record', () => records(fn).length >= 1, 20_000);
  const ls = cli('mappings', 'ls', fn);
  expect(ls.stdout).toContain(m.id);
  expect(ls.stdout).toContain(`table ${table}`);
  const get = JSON.parse(cli('--json', 'mappings', 'get', m.id).stdout) as { checkpointSequence: number; holder: string };
  expect(get.holder).toBe('router-1');
  const updated = JSON.parse(cli('--json', 'mappings', 'update', m.id, '--disable', '--no-on-failure').stdout) as { state: string; settings: { onFailure?: unknown } };
  expect(updated.state).toBe('Disabled');
  expect(updated.settings.onFailure).toBeUndefined();
  const bad = cli('mappings', 'create', fn, '--table', table, '--stream', 'X');
  expect(bad.code).toBe(3);
  expect(bad.stderr).toMatch(/exactly one source/);
  expect(cli('mappings', 'rm', m.id).code).toBe(0);
  expect(cli('tables', 'rm', table).code).toBe(0);
});
