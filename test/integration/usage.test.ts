import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import type { StratusClient } from '../../sdk/client/stratus-client';
import type { UsageReport } from '../../sdk/client/usage-client';
import type { StratusError } from '../../sdk/core/errors';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';
import { distEntry, startRouter } from '../helpers/stratus-process';

// Metering with real routers, agents and JetStream: the figures match a known set of invocations
// exactly, nothing is billed while instances idle, tenants see only their own, and a router killed
// with SIGKILL right after answering loses (and doubles) nothing.

const CLI = distEntry('sdk/cli/main.js');
// A price table where the free tier runs out at once, so the cost is not zero.
const PRICES = { STRATUS_FREE_REQUESTS: '2', STRATUS_FREE_GB_SECONDS: '0', STRATUS_PRICE_PER_MILLION_REQUESTS: '0.2', STRATUS_PRICE_PER_GB_SECOND: '0.0000166667' };

describe('metering', () => {
  let cluster: TestCluster;
  let carol: StratusClient;
  let carolToken: string;
  const tenant = `tu${process.pid}`;
  const syncFn = uniqueName('u-sync');
  const asyncFn = uniqueName('u-async');
  let billedSync = 0;

  const usageOf = async (client: StratusClient, options: { tenant?: string } = {}): Promise<UsageReport> => client.usage.get(options);

  beforeAll(async () => {
    cluster = await startCluster({ agents: 1, routerEnv: PRICES });
    const { token } = await cluster.client().auth.createToken({ tenant, principal: 'carol' });
    carolToken = token;
    carol = cluster.client({ token });
    await carol.deploy({ name: syncFn, source: functionDir({ 'index.js': 'exports.handler = async (e) => { const until = Date.now() + (e.ms || 0); while (Date.now() < until); return e; };' }), settings: { runtime: 'nodejs', handler: 'index.handler', memoryMb: 256 } });
    await carol.deploy({ name: asyncFn, source: functionDir({ 'index.js': 'exports.handler = async () => "ok";' }), settings: { runtime: 'nodejs', handler: 'index.handler', memoryMb: 512 } });
  }, 90_000);
  afterAll(async () => cluster?.stop());

  test('synchronous and asynchronous invocations are metered exactly: requests, billed ms, GB-seconds', async () => {
    for (const ms of [0, 5, 20, 0, 40]) {
      const res = await carol.invoke(syncFn, JSON.stringify({ ms }));
      billedSync += res.report!.billedDurationMs;
    }
    for (let i = 0; i < 3; i += 1) await carol.invokeAsync(asyncFn, '{}');
    await waitFor('the async events to be metered', async () => ((await usageOf(carol)).tenants[0]?.functions.find((f) => f.functionName === asyncFn)?.requests ?? 0) >= 3, 30_000, 200);
    const report = await usageOf(carol);
    expect(report.month).toBe(new Date().toISOString().slice(0, 7));
    expect(report.tenants.map((t) => t.tenant)).toEqual([tenant]);
    const [mine] = report.tenants;
    const sync = mine!.functions.find((f) => f.functionName === syncFn)!;
    expect(sync).toEqual({ functionName: syncFn, requests: 5, billedDurationMs: billedSync, mbMs: billedSync * 256, gbSeconds: (billedSync * 256) / 1024 / 1000 });
    expect(billedSync).toBeGreaterThanOrEqual(65);
    const async = mine!.functions.find((f) => f.functionName === asyncFn)!;
    expect(async.requests).toBe(3);
    expect(async.mbMs).toBe(async.billedDurationMs * 512);
    expect(mine!.requests).toBe(8);
    // Past the (test's) free tier of 2 requests and 0 GB-s, at Lambda's prices.
    expect(mine!.cost.freeRequestsUsed).toBe(2);
    expect(mine!.cost.requests).toBeCloseTo((6 / 1_000_000) * 0.2, 12);
    expect(mine!.cost.compute).toBeCloseTo(mine!.gbSeconds * 0.0000166667, 12);
    expect(mine!.cost.total).toBeCloseTo(mine!.cost.requests + mine!.cost.compute, 12);
  });

  test('idle warm instances are never billed', async () => {
    const before = await usageOf(carol);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await usageOf(carol)).toEqual(before);
  });

  test('a tenant reads only its own usage; an administrator reads every tenant\'s', async () => {
    const { token } = await cluster.client().auth.createToken({ tenant: `${tenant}x`, principal: 'dave' });
    const dave = cluster.client({ token });
    expect((await usageOf(dave)).tenants).toEqual([]);
    const err = await dave.usage.get({ tenant }).then(() => undefined, (e: StratusError) => e);
    expect(err?.code).toBe('AccessDenied');
    expect(err?.message).toContain(`usage:read on tenant ${tenant}`);
    expect((await usageOf(cluster.client())).tenants.map((t) => t.tenant)).toContain(tenant);
    expect((await cluster.client().usage.get({ month: '1999-01' })).tenants).toEqual([]);
    expect((await cluster.client().usage.get({ month: 'last month' }).then(() => undefined, (e: StratusError) => e))?.message).toContain('YYYY-MM');
  });

  test('usage survives a router SIGKILLed right after answering: nothing lost, nothing counted twice', async () => {
    const before = (await usageOf(carol)).tenants[0]!;
    let billed = 0;
    for (let i = 0; i < 10; i += 1) billed += (await carol.invoke(syncFn, '{}')).report!.billedDurationMs;
    await cluster.routers[0]!.kill();
    const router = await startRouter('router-2', { natsUrl: cluster.nats.url, apiToken: cluster.apiToken, clusterToken: cluster.clusterToken, logDir: cluster.logDir, env: PRICES });
    cluster.routers.push(router);
    const after = cluster.client({ token: carolToken }, [router]);
    const now = (await usageOf(after)).tenants[0]!;
    const sync = now.functions.find((f) => f.functionName === syncFn)!;
    const was = before.functions.find((f) => f.functionName === syncFn)!;
    expect(sync.requests).toBe(was.requests + 10);
    expect(sync.billedDurationMs).toBe(was.billedDurationMs + billed);
    expect(sync.mbMs).toBe((was.billedDurationMs + billed) * 256);
    expect(now.requests).toBe(before.requests + 10);

    // The CLI prints the same figures for scripts.
    const cli = spawnSync(process.execPath, [CLI, 'usage', '--json'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), STRATUS_ENDPOINT: router.address, STRATUS_TOKEN: carolToken }, encoding: 'utf8', timeout: 30_000 });
    expect(cli.status).toBe(0);
    expect(JSON.parse(cli.stdout)).toEqual(JSON.parse(JSON.stringify(await usageOf(after))));
    const table = spawnSync(process.execPath, [CLI, 'usage'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), STRATUS_ENDPOINT: router.address, STRATUS_TOKEN: carolToken }, encoding: 'utf8', timeout: 30_000 });
    expect(table.stdout).toContain(syncFn);
    expect(table.stdout).toContain('TOTAL');
  }, 60_000);
});
