import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import type { StratusClient } from '../../sdk/client/stratus-client';
import type { StratusError } from '../../sdk/core/errors';

/** Reserved concurrency and the cluster-wide limit turn excess synchronous calls into throttles. */
let cluster: TestCluster;
let client: StratusClient;
const SLOW = "exports.handler = async (e) => { await new Promise((r) => setTimeout(r, e.ms || 1500)); return 'done'; };";

beforeAll(async () => {
  cluster = await startCluster({ agents: 1, routerEnv: { STRATUS_PLACEMENT_WAIT_MS: '300', STRATUS_CLUSTER_CONCURRENCY: '3' } });
  client = cluster.client({ maxAttempts: 1 });
}, 60_000);
afterAll(async () => cluster?.stop());

async function outcomes(name: string, calls: number): Promise<string[]> {
  const settled = await Promise.allSettled(Array.from({ length: calls }, () => client.invoke(name, '{"ms":1500}')));
  return settled.map((s) => (s.status === 'fulfilled' ? 'ok' : (s.reason as StratusError).code)).sort();
}

test('reserved concurrency caps a function and throttles the excess when more calls arrive at once', async () => {
  const name = uniqueName('capped');
  await client.deploy({ name, source: functionDir({ 'index.js': SLOW }), settings: { runtime: 'nodejs', handler: 'index.handler', reservedConcurrency: 1 } });
  expect(await outcomes(name, 3)).toEqual(['TooManyRequests', 'TooManyRequests', 'ok']);
});

test('the cluster concurrency limit throttles calls past it when functions together exceed it', async () => {
  const names = [uniqueName('a'), uniqueName('b')];
  for (const name of names) await client.deploy({ name, source: functionDir({ 'index.js': SLOW }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
  const settled = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => client.invoke(names[i % 2] as string, '{"ms":1500}')));
  const codes = settled.map((s) => (s.status === 'fulfilled' ? 'ok' : (s.reason as StratusError).code));
  expect(codes.filter((c) => c === 'ok')).toHaveLength(3);
  expect(codes.filter((c) => c === 'TooManyRequests')).toHaveLength(2);
  const rejected = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult;
  expect((rejected.reason as StratusError).message).toMatch(/concurrency limit/);
});
