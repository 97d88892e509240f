/**
 * Routers multiplex invocations to an agent on one long-lived stream: killing the agent must fail
 * exactly the invocations in flight on that stream (AgentLost, never re-run), and new invocations
 * must go to the surviving agent.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { StratusError } from '../../sdk/core/errors';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { freePort, waitFor } from '../helpers/ports';

let cluster: TestCluster;
/** The test's journal server: functions reach it on the host's loopback, which sandboxes reach only on allowed ports. */
let journalPort: number;
beforeAll(async () => {
  journalPort = await freePort();
  // Three instances per agent: six concurrent calls fill both agents, three on each stream.
  cluster = await startCluster({ agents: 2, routers: 1, agentEnv: { STRATUS_AGENT_MAX_INSTANCES: '3', STRATUS_SANDBOX_ALLOW_HOST_PORTS: String(journalPort) } });
}, 60_000);
afterAll(async () => cluster?.stop());

test('killing an agent fails every invocation in flight on its stream with AgentLost, and new invocations run on the other agent', async () => {
  const client = cluster.client();
  const name = uniqueName('streamloss');
  const ran: number[] = [];
  const journal = http.createServer((req, res) => {
    ran.push(Number(new URL(req.url ?? '', 'http://x').searchParams.get('seq')));
    res.end();
  });
  await new Promise<void>((resolve) => journal.listen(journalPort, '127.0.0.1', resolve));
  const journalUrl = `http://127.0.0.1:${(journal.address() as AddressInfo).port}/run`;
  await client.deploy({
    name,
    source: functionDir({
      'index.js': `exports.handler = async (e) => {
  await fetch(${JSON.stringify(journalUrl)} + '?seq=' + e.seq);
  await new Promise((r) => setTimeout(r, e.ms));
  return { seq: e.seq };
};`,
    }),
    settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 30 },
  });
  try {
    const call = (seq: number, ms: number): Promise<{ seq: number; agentId?: string; code?: string }> =>
      client.invoke(name, JSON.stringify({ seq, ms }), { timeoutMs: 30_000 }).then(
        (r) => ({ seq, agentId: r.report?.agentId }),
        (err: unknown) => ({ seq, code: err instanceof StratusError ? err.code : String(err) }),
      );
    const inFlight = Array.from({ length: 6 }, (_, seq) => call(seq, 4000));
    await waitFor('all six calls to be running', () => ran.length === 6, 20_000, 10);
    const victim = cluster.agents[0]!;
    const survivor = cluster.agents[1]!;
    await victim.kill();
    const outcomes = await Promise.all(inFlight);

    const lost = outcomes.filter((o) => o.code !== undefined);
    expect(lost.map((o) => o.code)).toEqual(['AgentLost', 'AgentLost', 'AgentLost']);
    expect(outcomes.filter((o) => o.agentId !== undefined).map((o) => o.agentId)).toEqual([survivor.name, survivor.name, survivor.name]);

    // New invocations, several at once, all go to the survivor.
    const after = await Promise.all(Array.from({ length: 3 }, (_, i) => call(100 + i, 10)));
    expect(after.map((o) => o.agentId ?? o.code)).toEqual([survivor.name, survivor.name, survivor.name]);

    // Nothing was re-run elsewhere: every call ran exactly once.
    const counts = new Map<number, number>();
    for (const seq of ran) counts.set(seq, (counts.get(seq) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.size).toBe(9);
  } finally {
    journal.closeAllConnections();
    journal.close();
  }
}, 90_000);

test('draining an agent (SIGTERM) finishes the invocations in flight on its stream and sends new ones elsewhere, with no AgentLost', async () => {
  const fresh = await cluster.addAgent('agent-3');
  await cluster.waitForAgents(2);
  const draining = cluster.agents.find((a) => a !== fresh && !a.exited())!;
  const client = cluster.client();
  const name = uniqueName('streamdrain');
  await client.deploy({
    name,
    source: functionDir({ 'index.js': 'exports.handler = async (e) => { await new Promise((r) => setTimeout(r, e.ms)); return { seq: e.seq }; };' }),
    settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 30 },
  });
  const call = (seq: number, ms: number): Promise<{ seq: number; agentId?: string; code?: string }> =>
    client.invoke(name, JSON.stringify({ seq, ms }), { timeoutMs: 30_000 }).then(
      (r) => ({ seq, agentId: r.report?.agentId }),
      (err: unknown) => ({ seq, code: err instanceof StratusError ? err.code : String(err) }),
    );
  // Six long calls fill both agents (three instances each), so three run on the agent about to drain.
  const long = Array.from({ length: 6 }, (_, seq) => call(seq, 2500));
  await new Promise((r) => setTimeout(r, 1500));
  const stopped = draining.stop();
  // While it drains, and after its calls finished (when it has room again), new calls keep coming;
  // they must be refused there or placed elsewhere, and run on the other agent.
  const during: Array<Promise<{ seq: number; agentId?: string; code?: string }>> = [];
  for (let i = 0; i < 25; i += 1) {
    during.push(call(100 + i, 10));
    await new Promise((r) => setTimeout(r, 100));
  }
  const longOutcomes = await Promise.all(long);
  const duringOutcomes = await Promise.all(during);
  await stopped;
  expect([...longOutcomes, ...duringOutcomes].filter((o) => o.code !== undefined)).toEqual([]);
  expect(longOutcomes.filter((o) => o.agentId === draining.name)).toHaveLength(3);
  for (const o of duringOutcomes) expect(o.agentId).toBe(fresh.name);
}, 90_000);
