/**
 * Load for the multi-host tests, and the figures each test prints: synchronous calls from a few
 * workers, asynchronous events at a steady rate (each with its own request id, so a retried
 * enqueue is idempotent), a journal where the function reports every run, and a count of what
 * became of every accepted event — completed (its on-success record, captured by a stream),
 * dead-lettered, or lost. Every loop is bounded in count and time.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { StratusClient } from '../../sdk/client/stratus-client';
import { StratusError } from '../../sdk/core/errors';
import { deadLetterSubject, HEADERS, STREAMS } from '../../sdk/platform/nats-layout';

/** Counts the runs functions report: POST /run?id=<id>. Listens on the bridge, where every host reaches it. */
export class RunJournal {
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    /** Runs reported per request id. */
    readonly runs: Map<string, number>,
  ) {}

  /** Starts on `host` (the bridge address) on a free port. */
  static async start(host: string): Promise<RunJournal> {
    const runs = new Map<string, number>();
    const server = http.createServer((req, res) => {
      const id = new URL(req.url ?? '/', 'http://journal').searchParams.get('id');
      if (id) runs.set(id, (runs.get(id) ?? 0) + 1);
      req.resume();
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return new RunJournal(server, `http://${host}:${(server.address() as AddressInfo).port}/run`, runs);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The fixture: reports its run to the journal (giving up after 1 s: a host may be cut off), works `ms`, answers its id. */
export const WORKER_JS = `
exports.handler = async (event) => {
  await fetch(process.env.JOURNAL_URL + '?id=' + encodeURIComponent(event.id), { method: 'POST', signal: AbortSignal.timeout(1000) }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, event.ms));
  return { id: event.id };
};
`;

/** Makes the stream that captures on-success records of the test functions (subjects `prefix.>`). */
export async function ensureDoneStream(nc: NatsConnection, name: string, prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [`${prefix}.>`], num_replicas: 3, storage: StorageType.File });
}

/** One synchronous call and how it ended. */
export interface SyncOutcome {
  id: string;
  startedAt: number;
  endedAt: number;
  agentId?: string;
  /** StratusError code when it failed. */
  code?: string;
}

/** Options for {@link startLoad}. */
export interface LoadOptions {
  client: StratusClient;
  functionName: string;
  /** Request ids are `<tag>-s<n>` (sync) and `<tag>-a<n>` (async). */
  tag: string;
  syncWorkers: number;
  /** One async event every this many ms. */
  asyncEveryMs: number;
  /** How long each invocation works. */
  workMs: number;
  syncTimeoutMs: number;
  /** Hard bounds: no more requests of each kind than this, and nothing sent after this long. */
  maxRequests: number;
  maxDurationMs: number;
}

/** A running load. */
export interface LoadRun {
  sync: SyncOutcome[];
  /** Async request ids JetStream acknowledged, with when. */
  accepted: Map<string, number>;
  /** Async events given up after every enqueue attempt failed, by error code. */
  refused: Map<string, number>;
  /** Enqueue attempts that failed and were retried (same request id). */
  enqueueRetries: number;
  /**
   * Resolves once `n` more sync calls have succeeded and (unless `kinds` is "sync") `n` more events
   * been accepted; throws after `timeoutMs`.
   */
  progress(n: number, timeoutMs: number, kinds?: 'sync' | 'both'): Promise<void>;
  /** Stops sending and waits for every call in flight to end. */
  stop(): Promise<void>;
}

function codeOf(err: unknown): string {
  return err instanceof StratusError ? err.code : `non-Stratus error: ${String(err)}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts sync workers and the async producer. */
export function startLoad(o: LoadOptions): LoadRun {
  const started = Date.now();
  let stopped = false;
  let syncCount = 0;
  let asyncCount = 0;
  const run: LoadRun = {
    sync: [],
    accepted: new Map(),
    refused: new Map(),
    enqueueRetries: 0,
    progress: async (n, timeoutMs, kinds = 'both') => {
      const okBefore = run.sync.filter((s) => !s.code).length;
      const acceptedBefore = kinds === 'both' ? run.accepted.size : -Infinity;
      const until = Date.now() + timeoutMs;
      while (run.sync.filter((s) => !s.code).length < okBefore + n || run.accepted.size < acceptedBefore + n) {
        if (Date.now() > until || stopped) throw new Error(`load made no progress in ${timeoutMs} ms: ${run.sync.filter((s) => !s.code).length - okBefore} sync ok, ${run.accepted.size - acceptedBefore} accepted`);
        await sleep(50);
      }
    },
    stop: async () => {
      stopped = true;
      await Promise.all([...workers, producer, ...pending]);
    },
  };
  const going = (count: number): boolean => !stopped && count < o.maxRequests && Date.now() - started < o.maxDurationMs;

  const worker = async (): Promise<void> => {
    while (going(syncCount)) {
      const id = `${o.tag}-s${syncCount++}`;
      const startedAt = Date.now();
      try {
        const r = await o.client.invoke(o.functionName, JSON.stringify({ id, ms: o.workMs }), { timeoutMs: o.syncTimeoutMs });
        const outcome: SyncOutcome = { id, startedAt, endedAt: Date.now(), agentId: r.report?.agentId };
        if (r.functionError) outcome.code = `FunctionError:${r.functionError.errorType}`;
        run.sync.push(outcome);
      } catch (err) {
        run.sync.push({ id, startedAt, endedAt: Date.now(), code: codeOf(err) });
        // A failed call is not a reason to hammer: the next one waits a little.
        await sleep(50);
      }
    }
  };

  const pending = new Set<Promise<void>>();
  const enqueue = async (id: string): Promise<void> => {
    let last = '';
    // Up to 8 attempts, about 11 s of backoff: longer than a JetStream leader election.
    for (let attempt = 0; attempt < 8; attempt += 1) {
      try {
        await o.client.invokeAsync(o.functionName, JSON.stringify({ id, ms: o.workMs }), { requestId: id, timeoutMs: 10_000 });
        run.accepted.set(id, Date.now());
        return;
      } catch (err) {
        last = codeOf(err);
        run.enqueueRetries += 1;
        await sleep(300 * (attempt + 1));
      }
    }
    run.refused.set(last, (run.refused.get(last) ?? 0) + 1);
  };
  const producer = (async () => {
    while (going(asyncCount)) {
      // At most 32 enqueues in flight: a stalled cluster slows the producer instead of piling up work.
      if (pending.size < 32) {
        const p = enqueue(`${o.tag}-a${asyncCount++}`).finally(() => pending.delete(p));
        pending.add(p);
      }
      await sleep(o.asyncEveryMs);
    }
  })();
  const workers = Array.from({ length: o.syncWorkers }, () => worker());
  return run;
}

/** Request ids in the on-success records captured on `subject`, with how many records each has. */
async function successRecords(nc: NatsConnection, stream: string, subject: string): Promise<Map<string, number>> {
  return readIds(nc, stream, subject, (m) => (JSON.parse(new TextDecoder().decode(m.data)) as { requestContext: { requestId: string } }).requestContext.requestId);
}

async function readIds(nc: NatsConnection, stream: string, subject: string, idOf: (m: { data: Uint8Array; headers?: { get(k: string): string } }) => string): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  const js = jetstream(nc);
  // One subject as a string: nats-server 2.9 knows filter_subject, not the 2.10 list form.
  const consumer = await js.consumers.get(stream, { filter_subjects: subject });
  let left = (await consumer.info()).num_pending;
  if (left === 0) return ids;
  const messages = await consumer.consume({ max_messages: 500 });
  const guard = setTimeout(() => messages.stop(), 20_000);
  try {
    for await (const m of messages) {
      const id = idOf(m);
      ids.set(id, (ids.get(id) ?? 0) + 1);
      left = m.info.pending;
      if (left === 0) break;
    }
  } finally {
    clearTimeout(guard);
    messages.stop();
  }
  return ids;
}

/** What became of every accepted event. */
export interface AsyncOutcomes {
  completed: Map<string, number>;
  deadLettered: Map<string, number>;
  /** Accepted, and neither completed nor dead-lettered. */
  lost: string[];
}

/**
 * Waits (up to `timeoutMs`) until every accepted event has an on-success record or a dead letter,
 * re-reading both streams each second; returns what it found.
 */
export async function awaitOutcomes(nc: NatsConnection, o: { doneStream: string; doneSubject: string; functionName: string; accepted: Iterable<string>; timeoutMs: number }): Promise<AsyncOutcomes> {
  const accepted = [...o.accepted];
  const until = Date.now() + o.timeoutMs;
  for (;;) {
    try {
      const completed = await successRecords(nc, o.doneStream, o.doneSubject);
      const deadLettered = await readIds(nc, STREAMS.deadLetters, deadLetterSubject(o.functionName), (m) => m.headers?.get(HEADERS.requestId) ?? '');
      const lost = accepted.filter((id) => !completed.has(id) && !deadLettered.has(id));
      if (lost.length === 0 || Date.now() > until) return { completed, deadLettered, lost };
    } catch (err) {
      // JetStream may still be electing leaders after the fault: read again, within the deadline.
      if (Date.now() > until) throw err;
    }
    await sleep(1000);
  }
}

/** The figures one test prints. */
export interface Figures {
  test: string;
  syncSent: number;
  syncSucceeded: number;
  syncFailedByCode: Record<string, number>;
  /** Sync calls whose function ran more than once (must be 0: never silently re-run). */
  syncRanTwice: number;
  asyncAccepted: number;
  asyncRefusedByCode: Record<string, number>;
  asyncEnqueueRetries: number;
  asyncCompleted: number;
  asyncDeadLettered: number;
  asyncLost: number;
  /** On-success records beyond the first for one event (at-least-once allows them). */
  asyncDuplicates: number;
  /** Accepted events whose function ran more than once (redelivered after a crash). */
  asyncRedelivered: number;
  /** Completed events the caller never got an acknowledgement for (enqueue answer lost). */
  asyncCompletedUnacknowledged: number;
  notes: Record<string, string | number>;
}

/** Turns a load run and its outcomes into figures. */
export function figuresOf(test: string, load: LoadRun, outcomes: AsyncOutcomes, journal: RunJournal, notes: Record<string, string | number> = {}): Figures {
  const failed: Record<string, number> = {};
  for (const s of load.sync) if (s.code) failed[s.code] = (failed[s.code] ?? 0) + 1;
  const acceptedIds = [...load.accepted.keys()];
  return {
    test,
    syncSent: load.sync.length,
    syncSucceeded: load.sync.filter((s) => !s.code).length,
    syncFailedByCode: failed,
    syncRanTwice: load.sync.filter((s) => (journal.runs.get(s.id) ?? 0) > 1).length,
    asyncAccepted: load.accepted.size,
    asyncRefusedByCode: Object.fromEntries(load.refused),
    asyncEnqueueRetries: load.enqueueRetries,
    asyncCompleted: acceptedIds.filter((id) => outcomes.completed.has(id)).length,
    asyncDeadLettered: acceptedIds.filter((id) => outcomes.deadLettered.has(id)).length,
    asyncLost: outcomes.lost.length,
    asyncDuplicates: [...outcomes.completed.values()].reduce((n, c) => n + c - 1, 0),
    asyncRedelivered: acceptedIds.filter((id) => (journal.runs.get(id) ?? 0) > 1).length,
    asyncCompletedUnacknowledged: [...outcomes.completed.keys()].filter((id) => !load.accepted.has(id)).length,
    notes,
  };
}

/** Prints the figures as one block on stdout (outside jest's console capture, so CI logs show them as they are). */
export function printFigures(f: Figures): void {
  const codes = (r: Record<string, number>): string => (Object.keys(r).length === 0 ? 'none' : Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', '));
  const lines = [
    `── ${f.test}`,
    `   sync:  sent ${f.syncSent}, succeeded ${f.syncSucceeded}, failed ${f.syncSent - f.syncSucceeded} (${codes(f.syncFailedByCode)}), ran twice ${f.syncRanTwice}`,
    `   async: accepted ${f.asyncAccepted}, completed ${f.asyncCompleted}, dead-lettered ${f.asyncDeadLettered}, lost ${f.asyncLost}, duplicates ${f.asyncDuplicates}, redelivered ${f.asyncRedelivered}`,
    `          enqueue retries ${f.asyncEnqueueRetries}, given up ${codes(f.asyncRefusedByCode)}, completed without acknowledgement ${f.asyncCompletedUnacknowledged}`,
    ...Object.entries(f.notes).map(([k, v]) => `   ${k}: ${v}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
