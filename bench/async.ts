import { connect } from '@nats-io/transport-node';
import { headers } from '@nats-io/nats-core';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { asyncSubject, HEADERS } from '../sdk/platform/nats-layout';
import type { BenchCluster } from './bench-cluster';
import { functionFolder } from './bench-cluster';
import { measure, summarize, type LatencyStats } from './stats';

/** Async figures: enqueue latency (one caller) and events/s from enqueue to completion. */
export interface AsyncFigures {
  enqueue: LatencyStats;
  endToEnd: LatencyStats;
  /** Dispatch alone: events/s draining a backlog already in the function's queue. */
  drain: LatencyStats;
  rawPublish: LatencyStats;
  rawConsume: LatencyStats;
  /** Events of either run (end to end, backlog) that never completed. */
  lost: number;
}

async function waitForCount(read: () => Promise<number>, target: number, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  let n = await read();
  while (n < target && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    n = await read();
  }
  return n;
}

/** The router's count of a function's async events that ran successfully, from its /metrics. */
async function succeededCount(httpUrl: string, fn: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`stratus_async_succeeded_total{function="${fn}"} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/**
 * Stratus async path against raw JetStream in the same run: a no-op function with no
 * destination, its completions counted by the router's succeeded counter (an event counts once
 * its invocation has returned, just before its ack), so the count costs the path nothing.
 */
export async function measureAsync(bench: BenchCluster, events: number): Promise<AsyncFigures> {
  const nc = await connect({ servers: bench.cluster.natsUrl, user: bench.cluster.natsAdmin.user, pass: bench.cluster.natsAdmin.password });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const name = `async-noop-${Date.now()}`;
    await bench.client.deploy({
      name,
      source: functionFolder({ 'index.js': 'exports.handler = async (event) => event;' }),
      settings: { runtime: 'nodejs', handler: 'index.handler' },
    });
    await bench.client.invoke(name, '{}');
    const count = (): Promise<number> => succeededCount(bench.cluster.httpUrl, name);
    // One caller: what a client waits for an "accepted".
    const enqueue = await measure(Math.min(500, events), 1, async () => {
      await bench.client.invokeAsync(name, '{"n":1}');
    });
    await waitForCount(count, Math.min(500, events), 60_000);
    const before = await count();
    const start = performance.now();
    await measure(events, 32, async () => {
      await bench.client.invokeAsync(name, '{"n":2}');
    });
    const done = await waitForCount(count, before + events, 120_000);
    const endToEnd = summarize([], performance.now() - start);
    endToEnd.count = done - before;
    endToEnd.throughputPerS = ((done - before) / (performance.now() - start)) * 1000;

    // Dispatch alone: a backlog published straight to the function's queue subject, with the
    // headers the router writes, then drained (nothing else competes for the CPU meanwhile).
    const drainBefore = await count();
    const subject = asyncSubject(name);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < events; i += 1) {
      const h = headers();
      h.set(HEADERS.requestId, `bench-drain-${Date.now()}-${i}`);
      h.set(HEADERS.functionName, name);
      h.set(HEADERS.enqueuedAt, String(Date.now()));
      h.set(HEADERS.attempt, '0');
      pending.push(js.publish(subject, '{"n":3}', { headers: h }));
      if (pending.length >= 256) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const drainStart = performance.now();
    const drained = (await waitForCount(count, drainBefore + events, 120_000)) - drainBefore;
    const drain = summarize([], performance.now() - drainStart);
    drain.count = drained;
    drain.throughputPerS = (drained / (performance.now() - drainStart)) * 1000;

    // Baseline: raw JetStream publish (acknowledged) and pull-consume with acks.
    const rawStream = `BENCH_RAW_${Date.now()}`;
    await jsm.streams.add({ name: rawStream, subjects: [`bench.raw.${rawStream}`] });
    const rawPublish = await measure(Math.min(500, events), 1, async () => {
      await js.publish(`bench.raw.${rawStream}`, '{"n":1}');
    });
    await measure(events, 32, async () => {
      await js.publish(`bench.raw.${rawStream}`, '{"n":2}');
    });
    await jsm.consumers.add(rawStream, { durable_name: 'bench', ack_policy: AckPolicy.Explicit });
    const consumer = await js.consumers.get(rawStream, 'bench');
    const total = Math.min(500, events) + events;
    const t0 = performance.now();
    let got = 0;
    while (got < total) {
      // Never ask for more than is left: a fetch short of its count waits out its expiry.
      const batch = await consumer.fetch({ max_messages: Math.min(256, total - got), expires: 2000 });
      for await (const m of batch) {
        m.ack();
        got += 1;
      }
    }
    const rawConsume = summarize([], performance.now() - t0);
    rawConsume.count = got;
    rawConsume.throughputPerS = (got / (performance.now() - t0)) * 1000;
    return { enqueue, endToEnd, drain, rawPublish, rawConsume, lost: events - (done - before) + (events - drained) };
  } finally {
    await nc.close();
  }
}
