import { StratusError } from '../../sdk/core/errors';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster({ agents: 2, routers: 2, agentEnv: { STRATUS_AGENT_MAX_INSTANCES: '3' } });
}, 60_000);
afterAll(async () => cluster?.stop());

function sleeper(ms: number): string {
  return functionDir({ 'index.js': `exports.handler = async (e) => { await new Promise((r) => setTimeout(r, ${ms})); return e; };` });
}

test('exp both routers', async () => {
  const c1 = cluster.client({}, [cluster.routers[0]!]);
  const c2 = cluster.client({}, [cluster.routers[1]!]);
  const name = uniqueName('exp');
  for (let round = 0; round < 4; round++) {
    if (round === 0) await c1.deploy({ name, source: sleeper(700), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    const t0 = Date.now();
    const res = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? c2 : c1).invoke(name, '{}').then((r) => ({ a: r.report?.agentId, cold: r.report?.coldStart, ms: Date.now() - t0 }), (e: StratusError) => ({ err: e.code, msg: e.message, ms: Date.now() - t0 }))));
    console.log(round, JSON.stringify(res));
  }
});
