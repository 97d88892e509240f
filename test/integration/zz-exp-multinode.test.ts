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

test('exp kill with loops on both routers', async () => {
  const c1 = cluster.client({}, [cluster.routers[0]!]);
  const c2 = cluster.client({}, [cluster.routers[1]!]);
  const name = uniqueName('exp');
  await c1.deploy({ name, source: sleeper(200), settings: { runtime: 'nodejs', handler: 'index.handler' } });
  const t0 = Date.now();
  const out: unknown[] = [];
  let stop = false;
  const loops = [0, 1, 2, 3].map(async (k) => {
    for (let i = 0; !stop; i++) {
      const s = Date.now() - t0;
      try {
        const r = await (k % 2 ? c2 : c1).invoke(name, '{}', { timeoutMs: 10000 });
        out.push({ k, s, ms: Date.now() - t0 - s, a: r.report?.agentId });
      } catch (e) {
        out.push({ k, s, ms: Date.now() - t0 - s, err: (e as StratusError).code, msg: (e as Error).message });
      }
    }
  });
  await new Promise((r) => setTimeout(r, 1500));
  console.log('kill at', Date.now() - t0);
  await cluster.agents[0]!.kill();
  await new Promise((r) => setTimeout(r, 3000));
  stop = true;
  await Promise.all(loops);
  console.log(out.map((o) => JSON.stringify(o)).join('\n'));
});
