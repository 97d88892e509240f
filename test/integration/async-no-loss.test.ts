import type { StratusClient } from '../../sdk/client/stratus-client';
import type { StratusProcess } from '../helpers/stratus-process';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { EventRecorder, REPORT_JS } from '../helpers/event-recorder';
import { waitFor } from '../helpers/ports';

/**
 * The reliability promise for asynchronous work (PRODUCT.md §12): 2,000 events spread over two
 * agents and two routers, one process SIGKILLed mid-run; every accepted event must end up run or
 * dead-lettered. At-least-once allows duplicates; each test counts and prints them with
 * throughput and enqueue latency.
 */
const EVENTS = 2000;
const KILL_AFTER = 500;
const PRODUCERS = 32;
/** Per-agent slots; each router runs as many of one function's events, so the work spreads over both agents. */
const AGENT_SLOTS = 8;
/** Short, so events a killed router was running are redelivered within the test. */
const ACK_WAIT_MS = 3000;

let cluster: TestCluster;
let client: StratusClient;
let recorder: EventRecorder;

beforeAll(async () => {
  recorder = await EventRecorder.start();
  cluster = await startCluster({
    agents: 2,
    routers: 2,
    routerEnv: {
      STRATUS_ASYNC_RETRY_BASE_MS: '300',
      STRATUS_ASYNC_THROTTLE_BASE_MS: '200',
      STRATUS_ASYNC_ACK_WAIT_MS: String(ACK_WAIT_MS),
      STRATUS_ASYNC_MAX_CONCURRENCY_PER_FUNCTION: String(AGENT_SLOTS),
    },
    agentEnv: { STRATUS_AGENT_MAX_INSTANCES: String(AGENT_SLOTS), ...recorder.agentEnv() },
  });
  client = cluster.client();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await recorder?.stop();
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * Enqueues EVENTS events (PRODUCERS at a time), kills `victim()` after KILL_AFTER completions,
 * waits until every event has run or been dead-lettered, prints the figures and returns the
 * request ids that are neither.
 */
async function runWithKill(what: string, victim: (name: string) => Promise<StratusProcess>): Promise<string[]> {
  const name = uniqueName('noloss');
  await client.deploy({
    name,
    source: functionDir({ 'index.js': `${REPORT_JS}\nexports.handler = async (event, context) => { await report('end', event, context); return 'ok'; };` }),
    settings: { runtime: 'nodejs', handler: 'index.handler', environment: recorder.env() },
  });
  const ids = Array.from({ length: EVENTS }, (_, i) => `${name}-${i}`);
  const succeeded = (): Set<string> => new Set(recorder.of(name, 'end').map((r) => r.requestId));

  const started = Date.now();
  const enqueueMs: number[] = [];
  let next = 0;
  const produce = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next] as string;
      next += 1;
      const t = performance.now();
      // A caller-given request id makes the SDK's retry (or failover) after a lost answer safe.
      await client.invokeAsync(name, JSON.stringify({ id }), { requestId: id });
      enqueueMs.push(performance.now() - t);
    }
  };
  const producing = Promise.all(Array.from({ length: PRODUCERS }, produce));

  await recorder.waitFor(`${KILL_AFTER} completions`, () => recorder.of(name, 'end').length >= KILL_AFTER, 60_000);
  const killed = await victim(name);
  const completionsWhenKilled = recorder.of(name, 'end').length;
  await killed.kill();
  await producing;
  const enqueuedBy = Date.now();

  const deadLettered = new Set<string>();
  await waitFor(
    'every event to be run or dead-lettered',
    async () => {
      const done = succeeded();
      if (done.size + deadLettered.size < EVENTS) {
        deadLettered.clear();
        let after = 0;
        do {
          const page = await client.listDeadLetters(name, after, 1000);
          for (const d of page.deadLetters) deadLettered.add(d.requestId);
          after = page.next;
        } while (after);
      }
      return ids.every((id) => done.has(id) || deadLettered.has(id));
    },
    45_000,
    250,
  ).catch(() => undefined);
  const finished = Date.now();

  const done = succeeded();
  const missing = ids.filter((id) => !done.has(id) && !deadLettered.has(id));
  const sorted = [...enqueueMs].sort((a, b) => a - b);
  const figures = {
    killed: `${killed.name} after ${completionsWhenKilled} completions`,
    events: EVENTS,
    succeeded: done.size,
    deadLettered: deadLettered.size,
    missing: missing.length,
    duplicates: recorder.of(name, 'end').length - done.size,
    enqueueSeconds: ((enqueuedBy - started) / 1000).toFixed(1),
    endToEndSeconds: ((finished - started) / 1000).toFixed(1),
    eventsPerSecond: Math.round(EVENTS / ((finished - started) / 1000)),
    enqueueP50Ms: Number(percentile(sorted, 50).toFixed(1)),
    enqueueP99Ms: Number(percentile(sorted, 99).toFixed(1)),
  };
  process.stdout.write(`\nasync no-loss, ${what}: ${JSON.stringify(figures, null, 2)}\n`);
  expect(enqueueMs).toHaveLength(EVENTS);
  return missing;
}

test('every accepted event is run or dead-lettered when an agent is killed mid-run', async () => {
  const missing = await runWithKill('agent SIGKILL', async (name) => {
    // Both agents hold instances of the function, so the kill takes running work with it.
    const holding = (await client.getCluster()).agents.filter((a) => a.functions.some((f) => f.functionName === name && f.idle + f.busy + f.starting > 0));
    expect(holding.map((a) => a.agentId).sort()).toEqual(['agent-1', 'agent-2']);
    return cluster.agents[1]!;
  });
  expect(missing).toEqual([]);
}, 120_000);

test('every accepted event is run or dead-lettered when a router is killed mid-run', async () => {
  // Back to two agents' worth of capacity, so the remaining router is not throttled throughout.
  await cluster.addAgent('agent-3');
  await waitFor('the routers to drop the killed agent', async () => (await client.getCluster()).agents.length === 2, 20_000, 100);
  const missing = await runWithKill('router SIGKILL', async () => cluster.routers[1]!);
  expect(missing).toEqual([]);
}, 120_000);
