/**
 * Versions and aliases with a real router and agent: a version runs exactly the code and
 * configuration it was published with after $LATEST changes; an alias splits traffic by its
 * weights; the executed version comes back with every result and in the invocation record; a
 * version an alias uses cannot be deleted; async events run the version they were sent to.
 */
import type { StratusClient } from '../../sdk/client/stratus-client';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';

const code = (tag: string): string => `exports.handler = async () => ({ tag: '${tag}', version: process.env.AWS_LAMBDA_FUNCTION_VERSION, memory: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE });`;

describe('versions and aliases', () => {
  let cluster: TestCluster;
  let client: StratusClient;
  const fn = uniqueName('ver');

  beforeAll(async () => {
    cluster = await startCluster({ agents: 1, routerEnv: { STRATUS_SCHEDULE_MIN_PERIOD_MS: '1000' } });
    client = cluster.client({ maxAttempts: 1 });
    await client.deploy({ name: fn, source: functionDir({ 'index.js': code('one') }), settings: { runtime: 'nodejs', handler: 'index.handler', memoryMb: 128 } });
  }, 60_000);
  afterAll(async () => cluster?.stop());

  const run = async (qualifier?: string): Promise<{ tag: string; version: string; memory: string; executed: string }> => {
    const r = await client.invoke(fn, '{}', { qualifier });
    expect(r.functionError).toBeUndefined();
    return { ...(JSON.parse(r.payload.toString()) as { tag: string; version: string; memory: string }), executed: r.executedVersion };
  };

  test('a version keeps the code and configuration it was published with; publishing an unchanged $LATEST returns the same version', async () => {
    const v1 = await client.versions.publish(fn, { description: 'first' });
    expect(v1.version).toBe('1');
    expect((await client.versions.publish(fn)).version).toBe('1');
    await client.deploy({ name: fn, source: functionDir({ 'index.js': code('two') }), settings: { memoryMb: 256 } });
    expect(await run()).toEqual({ tag: 'two', version: '$LATEST', memory: '256', executed: '$LATEST' });
    expect(await run('1')).toEqual({ tag: 'one', version: '1', memory: '128', executed: '1' });
    const v2 = await client.versions.publish(fn, { description: 'second' });
    expect(v2.version).toBe('2');
    expect((await client.versions.list(fn)).map((v) => [v.version, v.config.description, v.config.memoryMb])).toEqual([['1', 'first', 128], ['2', 'second', 256]]);
    // The CodeSha256 guard.
    await expect(client.versions.publish(fn, { codeSha256: 'f'.repeat(64) })).rejects.toMatchObject({ code: 'RevisionConflict' });
    await expect(client.invoke(fn, '{}', { qualifier: '9' })).rejects.toMatchObject({ code: 'FunctionNotFound' });
  });

  test('an alias runs its version, splits traffic by weight, and moves when updated; the record names the executed version', async () => {
    await client.versions.createAlias(fn, 'live', { version: '1' });
    expect(await run('live')).toEqual({ tag: 'one', version: '1', memory: '128', executed: '1' });
    await client.versions.updateAlias(fn, 'live', { routing: { version: '2', weight: 0.5 } });
    // The alias is read at most once a second on a router.
    await new Promise((r) => setTimeout(r, 1100));
    const seen = { '1': 0, '2': 0 } as Record<string, number>;
    for (let i = 0; i < 200; i += 1) seen[(await run('live')).executed]! += 1;
    // 200 draws at 50%: each side gets 70..130 with overwhelming probability (p < 1e-5 outside).
    expect(seen['1']).toBeGreaterThan(70);
    expect(seen['2']).toBeGreaterThan(70);
    await client.versions.updateAlias(fn, 'live', { version: '2', routing: null });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await run('live')).executed).toBe('2');
    expect(await client.versions.listAliases(fn)).toEqual([expect.objectContaining({ name: 'live', functionVersion: '2' })]);
    await waitFor('the records', async () => (await client.invocations.list(fn, { since: Date.now() - 60_000, limit: 1000 })).invocations.some((r) => r.version === '2'), 10_000, 200);
    const records = (await client.invocations.list(fn, { since: Date.now() - 60_000, limit: 1000 })).invocations;
    expect(new Set(records.map((r) => r.version))).toEqual(new Set(['$LATEST', '1', '2']));
  }, 60_000);

  test('a version an alias uses cannot be deleted; one no alias uses can', async () => {
    await expect(client.versions.delete(fn, '2')).rejects.toMatchObject({ code: 'ResourceConflict' });
    await client.versions.delete(fn, '1');
    expect((await client.versions.list(fn)).map((v) => v.version)).toEqual(['2']);
    await expect(client.versions.createAlias(fn, 'old', { version: '1' })).rejects.toMatchObject({ code: 'FunctionNotFound' });
    await expect(client.versions.createAlias(fn, '12', { version: '2' })).rejects.toMatchObject({ code: 'InvalidRequest' });
    await expect(client.versions.createAlias(fn, 'live', { version: '2' })).rejects.toMatchObject({ code: 'ResourceConflict' });
  });

  test('an async event runs the version its qualifier names', async () => {
    const { requestId } = await client.invokeAsync(fn, '{}', { qualifier: 'live' });
    await waitFor('the async run', async () => (await client.invocations.list(fn, { since: Date.now() - 60_000, trigger: 'async' })).invocations.some((r) => r.requestId === requestId), 20_000, 200);
    const rec = (await client.invocations.list(fn, { since: Date.now() - 60_000, trigger: 'async' })).invocations.find((r) => r.requestId === requestId)!;
    expect(rec).toMatchObject({ version: '2', status: 'Success' });
  });

  test('triggers, schedules and function destinations run the version or alias they name', async () => {
    const since = Date.now() - 1000;
    const trigger = await client.createTrigger(fn, `ver.${fn}.in`, { qualifier: 'live' });
    expect(trigger.qualifier).toBe('live');
    await client.publish(`ver.${fn}.in`, '{}');
    const schedule = await client.createSchedule(fn, 'rate(1 second)', { qualifier: '2' });
    const source = uniqueName('ver-src');
    await client.deploy({ name: source, source: functionDir({ 'index.js': 'exports.handler = async () => 1;' }), settings: { runtime: 'nodejs', handler: 'index.handler', async: { onSuccess: { kind: 'function', target: `${fn}:live` } } } });
    await client.invokeAsync(source, '{}');
    const byTrigger = async (t: string): Promise<string[]> => (await client.invocations.list(fn, { since, trigger: t as never })).invocations.map((r) => r.version);
    await waitFor('a run from each', async () => (await byTrigger('trigger')).length > 0 && (await byTrigger('schedule')).length > 0 && (await byTrigger('destination')).length > 0, 20_000, 200);
    await client.deleteSchedule(schedule.id);
    await client.deleteTrigger(trigger.id);
    expect(new Set([...(await byTrigger('trigger')), ...(await byTrigger('schedule')), ...(await byTrigger('destination'))])).toEqual(new Set(['2']));
    // An HTTP route to an alias.
    await client.createRoute('GET', `/${fn}/live`, fn, { auth: 'none', qualifier: 'live' });
    const http = async (): Promise<{ version: string }> => (await (await fetch(`http://127.0.0.1:${cluster.routers[0]!.httpPort}/${fn}/live`)).json()) as { version: string };
    await waitFor('the route to serve', async () => (await fetch(`http://127.0.0.1:${cluster.routers[0]!.httpPort}/${fn}/live`)).status === 200, 10_000, 100);
    expect((await http()).version).toBe('2');
    // A qualifier that names nothing is refused when the source is made.
    await expect(client.createRoute('GET', `/${fn}/nope`, fn, { qualifier: 'nope' })).rejects.toMatchObject({ code: 'FunctionNotFound' });
    await expect(client.createTrigger(fn, `ver.${fn}.other`, { qualifier: 'nope' })).rejects.toMatchObject({ code: 'FunctionNotFound' });
    await expect(client.createSchedule(fn, 'rate(1 second)', { qualifier: '99' })).rejects.toMatchObject({ code: 'FunctionNotFound' });
  }, 60_000);

  test('deleting the function deletes its versions and aliases', async () => {
    await client.deleteFunction(fn);
    await client.deploy({ name: fn, source: functionDir({ 'index.js': code('three') }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    expect(await client.versions.list(fn)).toEqual([]);
    expect(await client.versions.listAliases(fn)).toEqual([]);
  });
});
