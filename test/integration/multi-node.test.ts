import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { StratusError } from '../../sdk/core/errors';
import type { StratusClient } from '../../sdk/client/stratus-client';
import type { InvokeResult } from '../../sdk/client/types';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { freePort, waitFor } from '../helpers/ports';

const HEARTBEAT_MS = 250; // what test/helpers/stratus-process.ts gives agents

let cluster: TestCluster;
/** The test's journal server: functions reach it on the host's loopback, which sandboxes reach only on allowed ports. */
let journalPort: number;
beforeAll(async () => {
  journalPort = await freePort();
  cluster = await startCluster({ agents: 2, routers: 2, agentEnv: { STRATUS_AGENT_MAX_INSTANCES: '3', STRATUS_SANDBOX_ALLOW_HOST_PORTS: String(journalPort) } });
}, 60_000);
afterAll(async () => cluster?.stop());

/** A nodejs function that sleeps `ms` and answers with a tag, so tests can tell code versions apart. */
function sleeper(ms: number, tag = 'v1'): string {
  return functionDir({ 'index.js': `exports.handler = async (e) => { await new Promise((r) => setTimeout(r, ${ms})); return { tag: ${JSON.stringify(tag)}, e }; };` });
}

async function deploy(client: StratusClient, name: string, dir: string): Promise<void> {
  await client.deploy({ name, source: dir, settings: { runtime: 'nodejs', handler: 'index.handler' } });
}

function agentOf(r: InvokeResult): string {
  expect(r.functionError).toBeUndefined();
  return r.report?.agentId ?? '';
}

test('placement spreads invocations over both agents when one agent has no room for them all', async () => {
  const client = cluster.client({}, [cluster.routers[0]!]);
  const name = uniqueName('spread');
  await deploy(client, name, sleeper(700));
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => client.invoke(name, JSON.stringify({ i }))));
  const agents = results.map(agentOf);
  expect(new Set(agents)).toEqual(new Set(['agent-1', 'agent-2']));
});

test('placement spreads distinct functions over both agents when they are invoked concurrently', async () => {
  const client = cluster.client({}, [cluster.routers[0]!]);
  const names = Array.from({ length: 4 }, () => uniqueName('distinct'));
  for (const name of names) await deploy(client, name, sleeper(500));
  const results = await Promise.all(names.map((name) => client.invoke(name, '{}')));
  expect(new Set(results.map(agentOf))).toEqual(new Set(['agent-1', 'agent-2']));
});

test('a router serves a function deployed or updated through another router when invoked right after', async () => {
  const [r1, r2] = [cluster.routers[0]!, cluster.routers[1]!];
  const via1 = cluster.client({}, [r1]);
  const via2 = cluster.client({}, [r2]);
  const name = uniqueName('shared');
  await deploy(via1, name, sleeper(0, 'v1'));
  expect(JSON.parse((await via2.invoke(name, '{}')).payload.toString())).toMatchObject({ tag: 'v1' });
  expect(JSON.parse((await via1.invoke(name, '{}')).payload.toString())).toMatchObject({ tag: 'v1' });

  await deploy(via2, name, sleeper(0, 'v2'));
  // Router 1 cached v1 above; the registry watch must replace it before its next invocation.
  expect(JSON.parse((await via1.invoke(name, '{}')).payload.toString())).toMatchObject({ tag: 'v2' });
  expect(JSON.parse((await via2.invoke(name, '{}')).payload.toString())).toMatchObject({ tag: 'v2' });
});

test('routers drop an agent and invocations keep working without re-running when the agent is killed mid-call', async () => {
  const client = cluster.client({}, [cluster.routers[0]!]);
  const name = uniqueName('survivor');
  // Each run reports its seq to this journal before it sleeps (instances share the host's loopback,
  // not its files), so the test sees how often every call ran. Call KILL_SEQ sleeps long: the agent
  // running it is killed mid-call.
  const KILL_SEQ = 3;
  const ran: number[] = [];
  const journal = http.createServer((req, res) => {
    ran.push(Number(new URL(req.url ?? '', 'http://x').searchParams.get('seq')));
    res.end();
  });
  await new Promise<void>((resolve) => journal.listen(journalPort, '127.0.0.1', resolve));
  const journalUrl = `http://127.0.0.1:${(journal.address() as AddressInfo).port}/run`;
  const dir = functionDir({
    'index.js': `exports.handler = async (e) => {
  await fetch(${JSON.stringify(journalUrl)} + '?seq=' + e.seq);
  await new Promise((r) => setTimeout(r, e.seq === ${KILL_SEQ} ? 3000 : 100));
  return { seq: e.seq };
};`,
  });
  await deploy(client, name, dir);

  interface Outcome { seq: number; startedAt: number; agentId?: string; code?: string }
  const outcomes: Outcome[] = [];
  let stop = false;
  const loop = (async () => {
    for (let seq = 0; !stop; seq += 1) {
      const startedAt = Date.now();
      try {
        const r = await client.invoke(name, JSON.stringify({ seq }), { timeoutMs: 15_000 });
        outcomes.push({ seq, startedAt, agentId: agentOf(r) });
      } catch (err) {
        outcomes.push({ seq, startedAt, code: err instanceof StratusError ? err.code : String(err) });
      }
    }
  })();

  try {
    await waitFor(`call ${KILL_SEQ} to start running`, () => ran.includes(KILL_SEQ), 15_000, 5);
    // Warm locality keeps a function's sequential calls on the agent that holds its instance.
    const warmOn = outcomes[outcomes.length - 1]?.agentId;
    const victim = cluster.agents.find((a) => a.name === warmOn)!;
    const survivor = cluster.agents.find((a) => a !== victim && !a.exited())!;
    expect(outcomes.map((o) => o.agentId)).toEqual(Array.from({ length: KILL_SEQ }, () => victim.name));
    const killedAt = Date.now();
    await victim.kill();

    for (const router of cluster.routers) {
      const one = cluster.client({}, [router]);
      await waitFor(`${router.name} to drop ${victim.name}`, async () => (await one.getCluster()).agents.every((a) => a.agentId !== victim.name), 5000, 20);
    }
    const convergedAt = Date.now();
    expect(convergedAt - killedAt).toBeLessThan(HEARTBEAT_MS * 8);
    expect((await cluster.client({}, [cluster.routers[1]!]).getCluster()).agents.map((a) => a.agentId)).toEqual([survivor.name]);

    await waitFor('five calls after the view converged', () => outcomes.filter((o) => o.startedAt >= convergedAt).length >= 5, 15_000, 20);
    stop = true;
    await loop;

    const errors = outcomes.filter((o) => o.code !== undefined);
    expect(errors.map((o) => o.code).filter((c) => c !== 'AgentLost')).toEqual([]);
    expect(outcomes.find((o) => o.seq === KILL_SEQ)?.code).toBe('AgentLost');
    for (const o of outcomes.filter((x) => x.startedAt >= convergedAt)) expect(o).toMatchObject({ agentId: survivor.name });

    // Never silently re-run: every call ran at most once, and every answered call exactly once.
    const ranTimes = new Map<number, number>();
    for (const seq of ran) ranTimes.set(seq, (ranTimes.get(seq) ?? 0) + 1);
    expect([...ranTimes.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    for (const o of outcomes.filter((x) => x.agentId)) expect(ranTimes.get(o.seq)).toBe(1);
  } finally {
    stop = true;
    await loop;
    journal.closeAllConnections();
    journal.close();
  }
});

test('the SDK fails over to the second router when the first is killed', async () => {
  const client = cluster.client({}, cluster.routers);
  const name = uniqueName('failover');
  await deploy(client, name, sleeper(0));
  expect(agentOf(await client.invoke(name, '{}'))).not.toBe('');

  await cluster.routers[0]!.kill();
  const r = await client.invoke(name, '{}', { timeoutMs: 10_000 });
  expect(JSON.parse(r.payload.toString())).toMatchObject({ tag: 'v1' });
  expect((await client.getCluster()).routerId).toBe(cluster.routers[1]!.name);
});
