/**
 * The reliability promise (PRODUCT.md §12) on separate hosts: three network namespaces joined by a
 * bridge, each running its own nats-server (a three-node JetStream cluster from deploy/nats) and
 * agent, two of them a router; the SDK runs in the root namespace with both routers. Under steady
 * sync and async load, each test breaks one thing — an agent, a router, a NATS server, a host's
 * link, or drains an agent — and prints what happened to every request. Accepted async events must
 * all complete (lost 0); sync calls fail only with a clear error and never run twice.
 */
import { rmSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { StratusClient } from '../../sdk/client/stratus-client';
import { asyncConsumerName, STREAMS } from '../../sdk/platform/nats-layout';
import { functionDir } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';
import { waitForNatsHealthy } from '../helpers/nats-cluster';
import { PORTS, startHostCluster, type HostCluster } from './host-cluster';
import { awaitOutcomes, ensureDoneStream, figuresOf, printFigures, RunJournal, startLoad, WORKER_JS, type Figures, type LoadRun } from './load';
import { netnsUnavailable, type Host } from './netns';

const AGENT_HEARTBEAT_MS = 500;

const unavailable = netnsUnavailable();
if (unavailable) process.stdout.write(`multi-host tests skipped: ${unavailable}\n`);
const describeHosts = unavailable ? describe.skip : describe;

describeHosts('a cluster on three hosts', () => {
  let cluster: HostCluster;
  let journal: RunJournal;
  let admin: NatsConnection;
  let client: StratusClient;
  let doneStream: string;
  let donePrefix: string;

  beforeAll(async () => {
    cluster = await startHostCluster({
      hosts: 3,
      routers: 2,
      agentEnv: {
        STRATUS_HEARTBEAT_MS: String(AGENT_HEARTBEAT_MS),
        STRATUS_AGENT_MAX_INSTANCES: '8',
        STRATUS_AGENT_MEMORY_MB: '2048',
      },
      routerEnv: {
        // Events a killed router was running come back after 5 s instead of 30.
        STRATUS_ASYNC_ACK_WAIT_MS: '5000',
        STRATUS_ASYNC_THROTTLE_BASE_MS: '200',
        STRATUS_ASYNC_RETRY_BASE_MS: '500',
        // Async work may not crowd out the sync callers: 2 routers x 4 plus 4 sync workers fit in two agents.
        STRATUS_ASYNC_MAX_CONCURRENCY_PER_FUNCTION: '4',
        STRATUS_PLACEMENT_WAIT_MS: '3000',
        STRATUS_HEARTBEAT_MS: '1000',
        STRATUS_LOG_LEVEL: process.env.STRATUS_LOG_LEVEL ?? 'info',
      },
    });
    journal = await RunJournal.start(cluster.net.bridgeIp);
    admin = await cluster.admin();
    doneStream = `CT_DONE_${cluster.net.runId}`;
    donePrefix = `ctest.${cluster.net.runId}`;
    await ensureDoneStream(admin, doneStream, donePrefix);
    client = cluster.client();
  }, 120_000);

  afterAll(async () => {
    await journal?.stop();
    await cluster?.stop();
  }, 60_000);

  const host = (i: number): Host => cluster.net.hosts[i - 1] as Host;
  const allAgents = (): string[] => cluster.net.hosts.map((h) => cluster.agentId(h));

  /** Deploys the worker fixture with its on-success records going to the test's capture stream. */
  async function deployWorker(name: string): Promise<string> {
    const target = `${donePrefix}.${name}`;
    const source = functionDir({ 'index.js': WORKER_JS });
    try {
      await client.deploy({
        name,
        source,
        settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 10, environment: { JOURNAL_URL: journal.url }, async: { onSuccess: { kind: 'subject', target } } },
      });
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
    return target;
  }

  /** The agent running the most invocations of `fn` right now, as router-1 sees it. */
  async function busiestAgent(fn: string): Promise<Host> {
    const view = await client.getCluster();
    const busy = (agentId: string): number => view.agents.find((a) => a.agentId === agentId)?.functions.filter((f) => f.functionName === fn).reduce((n, f) => n + f.busy + f.starting, 0) ?? 0;
    const candidates = cluster.net.hosts.filter((h) => cluster.agents.get(h.index) && !cluster.agents.get(h.index)!.exited());
    return candidates.sort((a, b) => busy(cluster.agentId(b)) - busy(cluster.agentId(a)))[0] as Host;
  }

  /** Resolves with when every running router stopped (or started) listing `agentId`. */
  async function routersSee(agentId: string, present: boolean, timeoutMs: number): Promise<number> {
    for (const r of cluster.routers.values()) {
      if (r.exited()) continue;
      const one = cluster.routerClient(r.host);
      try {
        await waitFor(`${r.name} to ${present ? 'list' : 'drop'} ${agentId}`, async () => (await one.getCluster()).agents.some((a) => a.agentId === agentId) === present, timeoutMs, 20);
      } finally {
        one.close();
      }
    }
    return Date.now();
  }

  /** What one test does to the cluster, and how it puts it back. */
  interface Fault {
    /** Runs once the load flows; returns notes for the figures. */
    during(load: LoadRun, fn: string): Promise<Record<string, string | number>>;
    /** Puts the cluster back for the next test; runs even when `during` failed. */
    restore(): Promise<void>;
  }

  /**
   * Deploys a fresh worker, runs load, applies the fault once the load flows, stops the load,
   * restores the cluster, waits for every accepted event's outcome and prints the figures.
   */
  async function scenario(title: string, tag: string, fault: Fault): Promise<{ figures: Figures; load: LoadRun }> {
    const fn = `ct-${tag}-${cluster.net.runId}`;
    const target = await deployWorker(fn);
    const load = startLoad({
      client,
      functionName: fn,
      tag: `${cluster.net.runId}-${tag}`,
      syncWorkers: 4,
      asyncEveryMs: 50,
      workMs: 250,
      syncTimeoutMs: 20_000,
      maxRequests: 3000,
      maxDurationMs: 120_000,
    });
    let notes: Record<string, string | number> = {};
    let failure: unknown;
    try {
      await load.progress(10, 30_000);
      notes = await fault.during(load, fn);
    } catch (err) {
      failure = err;
      notes = { 'the fault step failed': String(err) };
    } finally {
      await load.stop();
      await fault.restore();
    }
    const outcomes = await awaitOutcomes(admin, { doneStream, doneSubject: target, functionName: fn, accepted: load.accepted.keys(), timeoutMs: failure ? 30_000 : 90_000 });
    const figures = figuresOf(title, load, outcomes, journal, notes);
    printFigures(figures);
    if (failure) throw failure;
    if (outcomes.lost.length > 0) {
      process.stdout.write(`   lost request ids (runs the journal saw): ${outcomes.lost.slice(0, 20).map((id) => `${id} (${journal.runs.get(id) ?? 0})`).join(', ')}\n`);
      // Where the missing events are, for the post-mortem: still queued, in flight, or gone.
      const ci = await (await jetstreamManager(admin)).consumers.info(STREAMS.async, asyncConsumerName(fn)).catch((e: unknown) => String(e));
      process.stdout.write(`   async consumer: ${typeof ci === 'string' ? ci : JSON.stringify({ pending: ci.num_pending, ackPending: ci.num_ack_pending, redelivered: ci.num_redelivered, waiting: ci.num_waiting, delivered: ci.delivered, ackFloor: ci.ack_floor })}\n`);
    }
    return { figures, load };
  }

  test('an agent killed mid-load fails only its in-flight sync calls with AgentLost, new calls go to the other agents, and no accepted async event is lost', async () => {
    let victim: Host | undefined;
    let convergedAt = 0;
    const { figures, load } = await scenario('agent SIGKILL under load', 'agentkill', {
      during: async (l, fn) => {
        victim = await busiestAgent(fn);
        const killedAt = Date.now();
        await cluster.agents.get(victim.index)!.kill();
        convergedAt = await routersSee(cluster.agentId(victim), false, 10_000);
        await l.progress(20, 30_000);
        return { killed: cluster.agentId(victim), 'routers dropped it after (ms)': convergedAt - killedAt };
      },
      restore: async () => {
        if (victim) await cluster.startAgent(victim);
        await cluster.waitForAgents(allAgents());
      },
    });

    expect(Object.keys(figures.syncFailedByCode).filter((c) => c !== 'AgentLost')).toEqual([]);
    expect(figures.syncRanTwice).toBe(0);
    const after = load.sync.filter((s) => s.startedAt > convergedAt);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((s) => s.code !== undefined || s.agentId === cluster.agentId(victim!))).toEqual([]);
    expect(figures.asyncLost).toBe(0);
    expect(figures.asyncDeadLettered).toBe(0);
  });

  test('a router killed mid-load: the SDK fails over to the other router and no accepted event is lost', async () => {
    const r1 = host(1);
    let killedAt = 0;
    const { figures, load } = await scenario('router SIGKILL under load', 'routerkill', {
      during: async (l) => {
        killedAt = Date.now();
        await cluster.routers.get(r1.index)!.kill();
        await l.progress(20, 30_000);
        const firstOk = l.sync.filter((s) => !s.code && s.startedAt > killedAt).sort((a, b) => a.endedAt - b.endedAt)[0];
        const window = l.sync.filter((s) => s.endedAt >= killedAt && s.startedAt <= (firstOk?.endedAt ?? Infinity));
        const failedInWindow = window.filter((s) => s.code).length;
        return {
          killed: 'router-1',
          'first success after the kill (ms)': firstOk ? firstOk.endedAt - killedAt : 'none',
          'sync error rate during failover': `${failedInWindow} of ${window.length} calls (${window.length ? Math.round((100 * failedInWindow) / window.length) : 0}%)`,
        };
      },
      restore: async () => {
        if (cluster.routers.get(r1.index)!.exited()) await cluster.startRouter(r1);
        await cluster.waitForAgents(allAgents());
      },
    });

    // Only calls already sent to the dying router fail (the SDK cannot know whether they ran); new ones fail over.
    const failed = load.sync.filter((s) => s.code);
    expect(failed.filter((s) => s.code !== 'ServiceUnavailable' && s.code !== 'AgentLost')).toEqual([]);
    expect(failed.filter((s) => s.startedAt > killedAt + 1000)).toEqual([]);
    expect(load.sync.filter((s) => !s.code && s.startedAt > killedAt).length).toBeGreaterThan(0);
    expect(figures.syncRanTwice).toBe(0);
    expect(figures.asyncLost).toBe(0);
    expect(figures.asyncDeadLettered).toBe(0);
  });

  test('a NATS server killed mid-load: sync and async keep being served and nothing acknowledged is lost', async () => {
    let killed: Host | undefined;
    const { figures, load } = await scenario('NATS server SIGKILL under load', 'natskill', {
      during: async (l) => {
        // The server leading the async stream: the worst one to lose.
        const leader = (await (await jetstreamManager(admin)).streams.info(STREAMS.async)).cluster?.leader ?? 'nats-1';
        killed = cluster.net.hosts.find((h) => `nats-${h.index}` === leader) ?? host(1);
        const killedAt = Date.now();
        const okBefore = l.sync.filter((s) => !s.code).length;
        const acceptedBefore = l.accepted.size;
        await cluster.nats.get(killed.index)!.kill();
        await l.progress(20, 45_000);
        return {
          killed: `nats-${killed.index} (leader of ${STREAMS.async})`,
          'serving again (20 more sync answers and 20 more accepted events) after (ms)': Date.now() - killedAt,
          'sync succeeded / events accepted before the kill': `${okBefore} / ${acceptedBefore}`,
        };
      },
      restore: async () => {
        if (!killed) return;
        await cluster.startNats(killed);
        await waitForNatsHealthy([{ running: cluster.nats.get(killed.index)!, healthzUrl: `http://${killed.ip}:${PORTS.natsMonitor}/healthz` }]);
        await cluster.waitForAgents(allAgents());
      },
    });

    expect(load.sync.filter((s) => !s.code).length).toBeGreaterThan(20);
    expect(Object.keys(figures.syncFailedByCode).filter((c) => !['ServiceUnavailable', 'TooManyRequests', 'Timeout', 'AgentLost'].includes(c))).toEqual([]);
    expect(figures.syncRanTwice).toBe(0);
    expect(figures.asyncLost).toBe(0);
    expect(figures.asyncDeadLettered).toBe(0);
  });

  test('a host cut off from the network leaves placement and rejoins when its link comes back, and nothing is lost', async () => {
    const h3 = host(3);
    const id = cluster.agentId(h3);
    let restored = false;
    const { figures } = await scenario('host link down and up under load', 'hostcut', {
      during: async (l) => {
        const cutAt = Date.now();
        const acceptedBefore = l.accepted.size;
        cluster.net.cut(h3);
        let leftAt = 0;
        let acceptedWhileCut = 0;
        try {
          leftAt = await routersSee(id, false, 15_000);
          // Sync calls must keep flowing on the other two hosts. Async enqueues stall while JetStream
          // re-elects the leaders that were on the cut-off server (10-30 s on nats-server 2.9): they
          // are retried, and counted, not required here.
          await l.progress(20, 30_000, 'sync');
          await new Promise((r) => setTimeout(r, Math.max(0, cutAt + 8000 - Date.now())));
        } finally {
          acceptedWhileCut = l.accepted.size - acceptedBefore;
          cluster.net.restore(h3);
          restored = true;
        }
        const restoredAt = Date.now();
        const rejoinedAt = await routersSee(id, true, 45_000);
        await l.progress(10, 60_000);
        return {
          cut: `host-3 (nats-3 and ${id})`,
          'left placement after (ms)': leftAt - cutAt,
          'link down for (ms)': restoredAt - cutAt,
          'async events accepted while it was cut off': acceptedWhileCut,
          'rejoined placement after the link came back (ms)': rejoinedAt - restoredAt,
          'sync and async flowing again after the link came back (ms)': Date.now() - restoredAt,
        };
      },
      restore: async () => {
        if (!restored) cluster.net.restore(h3);
        // A server back from a partition is healthy once every replicated stream caught up: each
        // function's log stream is one more (it took 37-61 s here with them, 30 s being too tight).
        await waitForNatsHealthy([{ running: cluster.nats.get(h3.index)!, healthzUrl: `http://${h3.ip}:${PORTS.natsMonitor}/healthz` }], 90_000);
        await cluster.waitForAgents(allAgents(), 45_000);
      },
    });

    // Calls that were on the cut-off agent fail as lost or time out; a router whose NATS server was
    // on the cut-off host hears no heartbeats until its client gives that server up (6-8 s), and
    // says ServiceUnavailable meanwhile. None runs twice.
    expect(Object.keys(figures.syncFailedByCode).filter((c) => !['AgentLost', 'Timeout', 'ServiceUnavailable'].includes(c))).toEqual([]);
    expect(figures.syncRanTwice).toBe(0);
    expect(figures.asyncLost).toBe(0);
    expect(figures.asyncDeadLettered).toBe(0);
  });

  test('an agent drained with SIGTERM under load fails no calls and loses nothing', async () => {
    let victim: Host | undefined;
    let exitCode: number | null = null;
    const readiness = new Set<number>();
    const { figures } = await scenario('agent drain (SIGTERM) under load', 'drain', {
      during: async (l, fn) => {
        victim = await busiestAgent(fn);
        const agent = cluster.agents.get(victim.index)!;
        // Watch its readiness while it drains: it must say 503 before it goes away.
        let watching = true;
        const watcher = (async () => {
          for (let i = 0; watching && i < 1200; i += 1) {
            readiness.add(await fetch(agent.readyzUrl, { signal: AbortSignal.timeout(500) }).then((r) => r.status, () => 0));
            await new Promise((r) => setTimeout(r, 25));
          }
        })();
        const termAt = Date.now();
        const stopped = agent.stop(30_000);
        const droppedAt = await routersSee(cluster.agentId(victim), false, 10_000);
        exitCode = await stopped;
        const exitedAt = Date.now();
        watching = false;
        await watcher;
        await l.progress(20, 30_000);
        return {
          drained: cluster.agentId(victim),
          'routers dropped it after (ms)': droppedAt - termAt,
          'it exited after (ms)': exitedAt - termAt,
          'exit code': String(exitCode),
          'readiness answers seen while draining (0: no answer)': [...readiness].sort().join(', '),
        };
      },
      restore: async () => {
        if (victim && cluster.agents.get(victim.index)!.exited()) await cluster.startAgent(victim);
        await cluster.waitForAgents(allAgents());
      },
    });

    expect(exitCode).toBe(0);
    expect(readiness.has(503)).toBe(true);
    expect(figures.syncFailedByCode).toEqual({});
    expect(figures.syncSent).toBe(figures.syncSucceeded);
    expect(figures.syncRanTwice).toBe(0);
    expect(figures.asyncRefusedByCode).toEqual({});
    expect(figures.asyncLost).toBe(0);
    expect(figures.asyncDeadLettered).toBe(0);
  });

  test('stratus cluster data lists every agent with capacity and both routers when asked through either router', async () => {
    for (const r of cluster.routers.values()) {
      const one = cluster.routerClient(r.host);
      try {
        await waitFor(`${r.name} to list both routers`, async () => (await one.getCluster()).routers.length === 2, 10_000, 100);
        const view = await one.getCluster();
        expect(view.routerId).toBe(r.name);
        expect(view.replicas).toBe(3);
        expect(view.agents.map((a) => a.agentId).sort()).toEqual(allAgents());
        for (const a of view.agents) expect(a.slotsTotal).toBe(8);
        expect(view.routers.map((x) => [x.routerId, x.address, x.state])).toEqual([
          ['router-1', `${host(1).ip}:${PORTS.routerGrpc}`, 'ready'],
          ['router-2', `${host(2).ip}:${PORTS.routerGrpc}`, 'ready'],
        ]);
      } finally {
        one.close();
      }
    }
  });
});
