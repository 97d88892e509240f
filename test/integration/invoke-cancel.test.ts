/**
 * The caller's deadline and cancel reach the instance, against real nats-server, router and agent
 * processes: the function sees the caller's deadline, and a caller that goes away stops its instance.
 */
import type { StratusClient } from '../../sdk/client/stratus-client';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';

let cluster: TestCluster;
let client: StratusClient;

beforeAll(async () => {
  cluster = await startCluster({ agents: 1 });
  client = cluster.client();
}, 60_000);
afterAll(async () => cluster?.stop());

const SLEEPER = `exports.handler = async (event, context) => {
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  return { remaining: context.getRemainingTimeInMillis() };
};`;

async function deploy(): Promise<string> {
  const name = uniqueName('cancel');
  await client.deploy({ name, source: functionDir({ 'index.js': SLEEPER }), settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 20 } });
  return name;
}

test("the function's remaining time is the caller's deadline when it comes before the function timeout", async () => {
  const name = await deploy();
  const r = await client.invoke(name, '{}', { timeoutMs: 3000 });
  expect(r.functionError).toBeUndefined();
  const { remaining } = JSON.parse(r.payload.toString('utf8')) as { remaining: number };
  expect(remaining).toBeGreaterThan(0);
  expect(remaining).toBeLessThanOrEqual(3000);
}, 30_000);

test('a caller that aborts a running invocation stops its instance, so the next call is a cold start', async () => {
  const name = await deploy();
  expect((await client.invoke(name, '{}')).report?.coldStart).toBe(true);
  const controller = new AbortController();
  const aborted = client.invoke(name, JSON.stringify({ sleepMs: 1000 }), { signal: controller.signal });
  setTimeout(() => controller.abort(), 300);
  await expect(aborted).rejects.toBeDefined();
  // Had it run on, the instance would be idle again by now and the next call warm.
  await new Promise((r) => setTimeout(r, 1500));
  expect((await client.invoke(name, '{}')).report?.coldStart).toBe(true);
}, 30_000);
