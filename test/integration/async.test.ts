import * as grpc from '@grpc/grpc-js';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { InvokeServiceClient, type InvokeAsyncBatchResponse, type InvokeAsyncRequest, type InvokeAsyncResponse } from '../../proto/gen/stratus/v1/invoke';
import type { StratusClient } from '../../sdk/client/stratus-client';
import type { FunctionSettings } from '../../sdk/client/types';
import { StratusError } from '../../sdk/core/errors';
import { LIMITS } from '../../sdk/core/limits';
import { asyncConsumerName, asyncSubject, STREAMS } from '../../sdk/platform/nats-layout';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { EventRecorder, REPORT_JS } from '../helpers/event-recorder';
import { waitFor } from '../helpers/ports';
import type { StratusProcess } from '../helpers/stratus-process';

/**
 * Asynchronous invocation end to end: real nats-server, router and agent processes. Fixture
 * functions report each run to an EventRecorder; destination subjects are captured by streams
 * the test creates. Backoffs are shortened so retries take milliseconds, not minutes.
 */
const RETRY_BASE_MS = 300;
/** Short, so a run longer than it shows whether progress signals keep the event from being redelivered. */
const ACK_WAIT_MS = 2000;
const ROUTER_ENV = { STRATUS_ASYNC_RETRY_BASE_MS: String(RETRY_BASE_MS), STRATUS_ASYNC_THROTTLE_BASE_MS: '200', STRATUS_ASYNC_ACK_WAIT_MS: String(ACK_WAIT_MS) };

/** An invocation record as destinations and dead letters carry it. */
interface InvocationRecord {
  version: string;
  requestContext: { requestId: string; functionArn: string; condition: string; approximateInvokeCount: number };
  requestPayload: unknown;
  responseContext: { statusCode: number; executedVersion: string; functionError?: string };
  responsePayload: unknown;
}

let cluster: TestCluster;
let client: StratusClient;
let recorder: EventRecorder;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  recorder = await EventRecorder.start();
  cluster = await startCluster({ agents: 1, routerEnv: ROUTER_ENV, agentEnv: recorder.agentEnv() });
  client = cluster.client();
  nc = await connect({ servers: cluster.nats.url });
  jsm = await jetstreamManager(nc);
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
  await recorder?.stop();
});

/** A nodejs fixture: `report` (see REPORT_JS) is in scope, with `sleep(ms)`. */
function fixture(body: string): string {
  return functionDir({ 'index.js': `${REPORT_JS}\nconst sleep = (ms) => new Promise((r) => setTimeout(r, ms));\nexports.handler = async (event, context) => { ${body} };` });
}

async function deploy(name: string, body: string, settings: FunctionSettings = {}): Promise<void> {
  await client.deploy({ name, source: fixture(body), settings: { runtime: 'nodejs', handler: 'index.handler', ...settings, environment: { ...recorder.env(), ...settings.environment } } });
}

/** Reports start, runs `rest`, reports end. */
const OK = "await report('start', event, context); await report('end', event, context); return { ok: true, n: event.n };";
const FAIL = "await report('start', event, context); throw new Error('boom ' + event.n);";

/** A stream capturing `<prefix>.>` so a test can read what a destination received. */
async function capture(prefix: string, manager: JetStreamManager = jsm): Promise<{ subject: string; records(): Promise<InvocationRecord[]> }> {
  const name = prefix.replace(/[^A-Za-z0-9_-]/g, '_');
  await manager.streams.add({ name, subjects: [`${prefix}.>`] });
  return {
    subject: `${prefix}.records`,
    records: async () => {
      const info = await manager.streams.info(name);
      const out: InvocationRecord[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq += 1) {
        const m = await manager.streams.getMessage(name, { seq });
        if (m) out.push(m.json<InvocationRecord>());
      }
      return out;
    },
  };
}

async function waitForRecords(dest: { records(): Promise<InvocationRecord[]> }, count: number, timeoutMs = 20_000): Promise<InvocationRecord[]> {
  let got: InvocationRecord[] = [];
  await waitFor(`${count} destination records`, async () => (got = await dest.records()).length >= count, timeoutMs, 100);
  return got;
}

async function waitForDeadLetters(name: string, count: number, timeoutMs = 20_000): Promise<Awaited<ReturnType<StratusClient['listDeadLetters']>>['deadLetters']> {
  let got: Awaited<ReturnType<StratusClient['listDeadLetters']>>['deadLetters'] = [];
  await waitFor(`${count} dead letters of ${name}`, async () => (got = (await client.listDeadLetters(name)).deadLetters).length >= count, timeoutMs, 100);
  return got;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One of a function's async counters from a router's Prometheus endpoint. */
async function asyncCounter(router: StratusProcess, metric: string, fn: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${router.httpPort}/metrics`)).text();
  return Number(new RegExp(`^stratus_async_${metric}\\{function="${fn}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

test('an accepted event runs exactly once and its record reaches the on-success subject when the function succeeds', async () => {
  const name = uniqueName('ok');
  const dest = await capture(`dest.${name}`);
  await deploy(name, OK, { async: { onSuccess: { kind: 'subject', target: dest.subject } } });
  const { requestId, duplicate } = await client.invokeAsync(name, JSON.stringify({ n: 1 }));
  expect(duplicate).toBe(false);
  const [rec] = await waitForRecords(dest, 1);
  expect(rec?.requestContext).toMatchObject({ requestId, condition: 'Success', approximateInvokeCount: 1 });
  expect(rec?.requestContext.functionArn).toContain(`:function:${name}`);
  expect(rec?.requestPayload).toEqual({ n: 1 });
  expect(rec?.responsePayload).toEqual({ ok: true, n: 1 });
  expect(rec?.responseContext.functionError).toBeUndefined();
  await sleep(500);
  expect(recorder.of(name).map((r) => r.requestId)).toEqual([requestId]);
  expect(await dest.records()).toHaveLength(1);
});

test('the on-success record is the event of the destination function when the destination is a function', async () => {
  const sink = uniqueName('sink');
  const name = uniqueName('src');
  await deploy(sink, OK);
  await deploy(name, "await report('start', event, context); return 'done';", { async: { onSuccess: { kind: 'function', target: sink } } });
  const { requestId } = await client.invokeAsync(name, JSON.stringify({ n: 2 }));
  await recorder.waitFor('the sink to run', () => recorder.of(sink, 'end').length === 1);
  const event = recorder.of(sink)[0]?.event as InvocationRecord;
  expect(event.requestContext).toMatchObject({ requestId, condition: 'Success', approximateInvokeCount: 1 });
  expect(event.requestPayload).toEqual({ n: 2 });
  expect(event.responsePayload).toBe('done');
});

test('InvokeAsync answers FunctionNotFound and enqueues nothing when the function does not exist', async () => {
  const name = uniqueName('ghost');
  await expect(client.invokeAsync(name, '{}')).rejects.toMatchObject({ code: 'FunctionNotFound' });
  const info = await jsm.streams.info(STREAMS.async, { subjects_filter: asyncSubject(name) });
  expect(info.state.subjects?.[asyncSubject(name)] ?? 0).toBe(0);
  await expect(jsm.consumers.info(STREAMS.async, asyncConsumerName(name))).rejects.toThrow();
});

test('InvokeAsync enqueues nothing and answers PayloadTooLarge when the event is over 1 MB, or InvalidRequestContent when it is not JSON, from the SDK and from raw gRPC', async () => {
  const name = uniqueName('big');
  await deploy(name, OK);
  const tooBig = Buffer.alloc(LIMITS.maxAsyncPayloadBytes + 1, 0x61);
  const err = await client.invokeAsync(name, tooBig).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(StratusError);
  expect((err as StratusError).code).toBe('PayloadTooLarge');
  const notJson = await client.invokeAsync(name, 'order 42 shipped').catch((e: unknown) => e);
  expect(notJson).toBeInstanceOf(StratusError);
  expect(notJson).toMatchObject({ code: 'InvalidRequestContent', retryable: false, message: expect.stringMatching(/^the event is not valid JSON \(.+\): send a JSON document/) });

  const raw = new InvokeServiceClient(cluster.routers[0]?.address ?? '', grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': LIMITS.maxGrpcMessageBytes,
  });
  try {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${cluster.apiToken}`);
    const rawErr = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.invokeAsync({ functionName: name, qualifier: '', payload: tooBig, requestId: '' }, md, { deadline: Date.now() + 10_000 }, (e: grpc.ServiceError | null, _res?: InvokeAsyncResponse) => resolve(e)),
    );
    expect(rawErr?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(rawErr?.metadata.get('stratus-error-code')).toEqual(['PayloadTooLarge']);
    const rawNotJson = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.invokeAsync({ functionName: name, qualifier: '', payload: Buffer.from('{"n":1,}'), requestId: '' }, md, { deadline: Date.now() + 10_000 }, (e: grpc.ServiceError | null, _res?: InvokeAsyncResponse) => resolve(e)),
    );
    expect(rawNotJson?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(rawNotJson?.metadata.get('stratus-error-code')).toEqual(['InvalidRequestContent']);
  } finally {
    raw.close();
  }
  const info = await jsm.streams.info(STREAMS.async, { subjects_filter: asyncSubject(name) });
  expect(info.state.subjects?.[asyncSubject(name)] ?? 0).toBe(0);
});

test('events enqueued together through the SDK are each answered on their own: accepted ones run once, the unknown function\'s is refused', async () => {
  const name = uniqueName('together');
  const ghost = uniqueName('ghost');
  await deploy(name, OK);
  const settled = await Promise.allSettled([
    ...Array.from({ length: 20 }, (_, n) => client.invokeAsync(name, JSON.stringify({ n }))),
    client.invokeAsync(ghost, '{}'),
  ]);
  const accepted = settled.slice(0, 20).map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  expect(accepted.every((a) => a?.duplicate === false)).toBe(true);
  expect(new Set(accepted.map((a) => a?.requestId)).size).toBe(20);
  expect(settled[20]).toMatchObject({ status: 'rejected', reason: { code: 'FunctionNotFound' } });
  await recorder.waitFor('all 20 events to run', () => recorder.of(name, 'end').length === 20);
  expect(recorder.of(name, 'end').map((r) => r.requestId).sort()).toEqual(accepted.map((a) => a?.requestId).sort());
});

test('InvokeAsyncBatch answers each entry in order with failedCount (an entry that is not JSON refused alone), and refuses a batch over 500 entries with InvalidRequest', async () => {
  const name = uniqueName('batch');
  await deploy(name, OK);
  const raw = new InvokeServiceClient(cluster.routers[0]?.address ?? '', grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': LIMITS.maxGrpcMessageBytes,
  });
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${cluster.apiToken}`);
  const batch = (entries: InvokeAsyncRequest[]): Promise<{ err: grpc.ServiceError | null; res?: InvokeAsyncBatchResponse }> =>
    new Promise((resolve) => raw.invokeAsyncBatch({ entries }, md, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res?: InvokeAsyncBatchResponse) => resolve({ err, res })));
  try {
    const { err, res } = await batch([
      { functionName: name, qualifier: '', payload: Buffer.from('{"n":1}'), requestId: '' },
      { functionName: name, qualifier: '', payload: Buffer.alloc(LIMITS.maxAsyncPayloadBytes + 1, 0x61), requestId: '' },
      { functionName: name, qualifier: '', payload: Buffer.from('{"n":2}'), requestId: 'bad id!' },
      { functionName: name, qualifier: '', payload: Buffer.from('{"n":3}'), requestId: `given-${Date.now()}` },
      { functionName: name, qualifier: '', payload: Buffer.from('n=4'), requestId: '' },
    ]);
    expect(err).toBeNull();
    expect(res?.failedCount).toBe(3);
    expect(res?.results.map((r) => (r.result?.$case === 'error' ? r.result.value.code : r.result?.$case))).toEqual(['accepted', 'PayloadTooLarge', 'InvalidRequest', 'accepted', 'InvalidRequestContent']);
    await recorder.waitFor('the two accepted events to run', () => recorder.of(name, 'end').length === 2);

    const tooMany = Array.from({ length: LIMITS.maxAsyncBatchEntries + 1 }, () => ({ functionName: name, qualifier: '', payload: Buffer.from('{}'), requestId: '' }));
    const refused = await batch(tooMany);
    expect(refused.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.err?.metadata.get('stratus-error-code')).toEqual(['InvalidRequest']);
    await sleep(500);
    expect(recorder.of(name, 'end')).toHaveLength(2);
  } finally {
    raw.close();
  }
});

test('an event of exactly 1 MB is accepted and runs when it is at the limit', async () => {
  const name = uniqueName('limit');
  await deploy(name, "await report('start', { size: JSON.stringify(event).length }, context); return 'ok';");
  const json = JSON.stringify({ pad: '' });
  const event = JSON.stringify({ pad: 'x'.repeat(LIMITS.maxAsyncPayloadBytes - json.length) });
  expect(Buffer.byteLength(event)).toBe(LIMITS.maxAsyncPayloadBytes);
  const { requestId } = await client.invokeAsync(name, event);
  await recorder.waitFor('the 1 MB event to run', () => recorder.of(name).length === 1);
  expect(recorder.of(name)[0]).toMatchObject({ requestId, event: { size: LIMITS.maxAsyncPayloadBytes } });
});

test('a failing event runs three times with growing backoff and becomes one dead letter when its retries are exhausted', async () => {
  const name = uniqueName('fail');
  await deploy(name, FAIL);
  const { requestId } = await client.invokeAsync(name, JSON.stringify({ n: 3 }));
  const [dl] = await waitForDeadLetters(name, 1);
  expect(dl).toMatchObject({ requestId, condition: 'RetriesExhausted', approximateInvokeCount: 3, errorType: 'Error', errorMessage: 'boom 3' });
  const rec = dl?.record as InvocationRecord;
  expect(rec.requestPayload).toEqual({ n: 3 });
  expect(rec.requestContext).toMatchObject({ requestId, condition: 'RetriesExhausted', approximateInvokeCount: 3 });
  expect(rec.responseContext.functionError).toBe('Unhandled');
  const starts = recorder.of(name).map((r) => r.t);
  expect(starts).toHaveLength(3);
  // Backoff doubles: at least the base before the 2nd attempt, twice it before the 3rd.
  expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(RETRY_BASE_MS);
  expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(2 * RETRY_BASE_MS);
  expect(starts[2]! - starts[0]!).toBeLessThan(10_000);
  await sleep(1000);
  expect(recorder.of(name)).toHaveLength(3);
  expect((await client.listDeadLetters(name)).deadLetters).toHaveLength(1);
  expect(await client.getDeadLetter(name, dl!.sequence)).toEqual(dl);
  await expect(client.getDeadLetter(uniqueName('other'), dl!.sequence)).rejects.toMatchObject({ code: 'InvalidRequest' });
  const router = cluster.routers[0]!;
  expect([await asyncCounter(router, 'accepted_total', name), await asyncCounter(router, 'retried_total', name), await asyncCounter(router, 'dead_lettered_total', name)]).toEqual([1, 2, 1]);
});

test('a failing event runs once and is dead-lettered when maxRetryAttempts is 0', async () => {
  const name = uniqueName('once');
  await deploy(name, FAIL, { async: { maxRetryAttempts: 0 } });
  const { requestId } = await client.invokeAsync(name, JSON.stringify({ n: 4 }));
  const [dl] = await waitForDeadLetters(name, 1);
  expect(dl).toMatchObject({ requestId, condition: 'RetriesExhausted', approximateInvokeCount: 1, errorMessage: 'boom 4' });
  await sleep(3 * RETRY_BASE_MS);
  expect(recorder.of(name)).toHaveLength(1);
});

test('a failed event\'s record goes to the on-failure destination instead of the dead-letter stream when one is set', async () => {
  const name = uniqueName('onfail');
  const dest = await capture(`dest.${name}`);
  await deploy(name, FAIL, { async: { maxRetryAttempts: 1, onFailure: { kind: 'subject', target: dest.subject } } });
  const { requestId } = await client.invokeAsync(name, JSON.stringify({ n: 5 }));
  const [rec] = await waitForRecords(dest, 1);
  expect(rec?.requestContext).toMatchObject({ requestId, condition: 'RetriesExhausted', approximateInvokeCount: 2 });
  expect(rec?.requestPayload).toEqual({ n: 5 });
  expect(rec?.responseContext.functionError).toBe('Unhandled');
  expect(rec?.responsePayload).toMatchObject({ errorType: 'Error', errorMessage: 'boom 5' });
  expect(recorder.of(name)).toHaveLength(2);
  expect((await client.listDeadLetters(name)).deadLetters).toHaveLength(0);
});

test('an event that fails twice then succeeds runs three times and yields one success record when the third attempt succeeds', async () => {
  const name = uniqueName('flaky');
  const dest = await capture(`dest.${name}`);
  await deploy(name, "const runs = await report('start', event, context); if (runs < 3) throw new Error('not yet ' + runs); return { runs };", {
    async: { onSuccess: { kind: 'subject', target: dest.subject } },
  });
  const { requestId } = await client.invokeAsync(name, JSON.stringify({ n: 6 }));
  const [rec] = await waitForRecords(dest, 1);
  expect(rec?.requestContext).toMatchObject({ requestId, condition: 'Success', approximateInvokeCount: 3 });
  expect(rec?.responsePayload).toEqual({ runs: 3 });
  expect(recorder.of(name).map((r) => r.requestId)).toEqual([requestId, requestId, requestId]);
  await sleep(500);
  expect(await dest.records()).toHaveLength(1);
  expect((await client.listDeadLetters(name)).deadLetters).toHaveLength(0);
});

test('a repeated request id enqueues nothing and the function runs once when the caller sends it twice', async () => {
  const name = uniqueName('dedup');
  await deploy(name, OK);
  const requestId = `order-${Date.now()}`;
  const first = await client.invokeAsync(name, JSON.stringify({ n: 7 }), { requestId });
  const second = await client.invokeAsync(name, JSON.stringify({ n: 7 }), { requestId });
  expect(first).toEqual({ requestId, duplicate: false });
  expect(second).toEqual({ requestId, duplicate: true });
  await recorder.waitFor('the event to run', () => recorder.of(name, 'end').length === 1);
  // Also after it ran and left the queue, the id still deduplicates.
  expect(await client.invokeAsync(name, JSON.stringify({ n: 7 }), { requestId })).toEqual({ requestId, duplicate: true });
  await sleep(1000);
  expect(recorder.of(name).map((r) => r.requestId)).toEqual([requestId]);
});

test('one request id enqueues an event for each function when two functions are invoked with it', async () => {
  const first = uniqueName('fan-a');
  const second = uniqueName('fan-b');
  await deploy(first, OK);
  await deploy(second, OK);
  // A caller fanning one order out to two functions may well use the order id for both.
  const requestId = `fan-${Date.now()}`;
  expect(await client.invokeAsync(first, JSON.stringify({ n: 8 }), { requestId })).toEqual({ requestId, duplicate: false });
  expect(await client.invokeAsync(second, JSON.stringify({ n: 8 }), { requestId })).toEqual({ requestId, duplicate: false });
  await recorder.waitFor('both functions to run', () => recorder.of(first, 'end').length === 1 && recorder.of(second, 'end').length === 1);
});

test('events of one function complete promptly when another function has a long backlog', async () => {
  const slow = uniqueName('backlog');
  const fast = uniqueName('prompt');
  await deploy(slow, "await report('start', event, context); await sleep(1000); await report('end', event, context); return 'slow';", { reservedConcurrency: 2 });
  await deploy(fast, OK);
  await Promise.all(Array.from({ length: 50 }, (_, n) => client.invokeAsync(slow, JSON.stringify({ n }))));
  await recorder.waitFor('the backlog to start', () => recorder.of(slow).length >= 1);
  const enqueuedAt = new Map<string, number>();
  await Promise.all(
    Array.from({ length: 10 }, async (_, n) => {
      const t = Date.now();
      const { requestId } = await client.invokeAsync(fast, JSON.stringify({ n }));
      enqueuedAt.set(requestId, t);
    }),
  );
  await recorder.waitFor('all fast events to finish', () => recorder.of(fast, 'end').length === 10, 15_000);
  const latencies = recorder.of(fast, 'end').map((r) => r.t - (enqueuedAt.get(r.requestId) ?? 0));
  expect(Math.max(...latencies)).toBeLessThan(3000);
  // The backlog was still being worked through meanwhile.
  expect(recorder.of(slow, 'end').length).toBeLessThan(40);
  // Stop the backlog (reserved concurrency 0 fails the rest at once) so it does not load later tests.
  await client.updateFunctionConfiguration(slow, { reservedConcurrency: 0 }, ['reserved_concurrency']);
  await waitFor('the backlog to drain', async () => recorder.of(slow, 'end').length + (await client.listDeadLetters(slow, 0, 1000)).deadLetters.length >= 50, 20_000, 200);
  expect((await client.listDeadLetters(slow, 0, 1)).deadLetters[0]?.condition).toBe('ConcurrencyZero');
});

test('reserved concurrency 1 runs events one at a time and completes them all when ten are queued', async () => {
  const name = uniqueName('serial');
  await deploy(name, "await report('start', event, context); await sleep(150); await report('end', event, context); return 'ok';", { reservedConcurrency: 1 });
  const ids = (await Promise.all(Array.from({ length: 10 }, (_, n) => client.invokeAsync(name, JSON.stringify({ n }))))).map((r) => r.requestId);
  await recorder.waitFor('ten events to finish', () => recorder.of(name, 'end').length === 10, 30_000);
  const runs = recorder.runs.filter((r) => r.fn === name);
  expect(new Set(recorder.of(name, 'end').map((r) => r.requestId))).toEqual(new Set(ids));
  // Reports arrive in order: a start must always follow the previous run's end.
  expect(runs.map((r) => r.phase)).toEqual(Array.from({ length: 10 }, () => ['start', 'end']).flat());
  expect(new Set(runs.map((r) => r.instance)).size).toBe(1);
});

test('redriven dead letters run again and succeed, and purge removes the rest, when the function has been fixed', async () => {
  const name = uniqueName('redrive');
  await deploy(name, FAIL, { async: { maxRetryAttempts: 0 } });
  for (const n of [10, 11, 12, 13]) await client.invokeAsync(name, JSON.stringify({ n }));
  const letters = await waitForDeadLetters(name, 4);
  // The four ran concurrently, so they were dead-lettered in any order.
  const payloads = letters.map((d) => (d.record as InvocationRecord).requestPayload as { n: number });
  expect(payloads.map((p) => p.n).sort()).toEqual([10, 11, 12, 13]);
  await deploy(name, OK);
  const chosen = letters.slice(0, 3).map((d) => d.sequence);
  const { redriven, requestIds } = await client.redriveDeadLetters(name, chosen);
  expect(redriven).toBe(3);
  await recorder.waitFor('the redriven events to succeed', () => recorder.of(name, 'end').length === 3);
  const ends = recorder.of(name, 'end');
  expect(new Set(ends.map((r) => r.requestId))).toEqual(new Set(requestIds));
  expect(ends.map((r) => (r.event as { n: number }).n).sort()).toEqual(payloads.slice(0, 3).map((p) => p.n).sort());
  const left = (await client.listDeadLetters(name)).deadLetters;
  expect(left.map((d) => d.sequence)).toEqual([letters[3]?.sequence]);
  expect(await client.purgeDeadLetters(name)).toBe(1);
  expect((await client.listDeadLetters(name)).deadLetters).toHaveLength(0);
  await sleep(500);
  expect(recorder.of(name, 'end')).toHaveLength(3);
});

test('a redriven event is the original event when the payload is a JSON string, number or object', async () => {
  const name = uniqueName('exact');
  const raw = "await report('start', { body: typeof event === 'string' ? event : JSON.stringify(event) }, context);";
  await deploy(name, `${raw} throw new Error('not yet');`, { async: { maxRetryAttempts: 0 } });
  // A redrive must hand back the bytes first accepted. (Bytes that are not JSON never get that far:
  // InvokeAsync refuses them with InvalidRequestContent, tested above.)
  const payloads = ['"just text"', '42', '{"caf\u00e9":[1,{"n":null}]}'];
  for (const p of payloads) await client.invokeAsync(name, p);
  const letters = await waitForDeadLetters(name, 3);
  await deploy(name, `${raw} return 'ok';`);
  const { requestIds } = await client.redriveDeadLetters(name, letters.map((d) => d.sequence));
  const reruns = (): number => recorder.of(name).filter((r) => requestIds.includes(r.requestId)).length;
  await waitFor('the redriven events to run and leave the dead letters', async () => reruns() === 3 && (await client.listDeadLetters(name)).deadLetters.length === 0, 20_000, 100);
  const bodies = ['just text', '42', '{"caf\u00e9":[1,{"n":null}]}'];
  const firstRun = recorder.of(name).filter((r) => !requestIds.includes(r.requestId)).map((r) => r.event);
  expect(firstRun).toHaveLength(3);
  expect(firstRun).toEqual(expect.arrayContaining(bodies.map((body) => ({ body }))));
  const redriven = recorder.of(name).filter((r) => requestIds.includes(r.requestId)).map((r) => r.event);
  expect(redriven).toHaveLength(3);
  expect(redriven).toEqual(expect.arrayContaining(bodies.map((body) => ({ body }))));
});

test('a running event is not delivered again when it runs longer than the ack wait', async () => {
  const name = uniqueName('long');
  await deploy(name, "await report('start', event, context); await sleep(2.2 * Number(process.env.ACK_WAIT_MS)); await report('end', event, context); return 'done';", {
    timeoutSeconds: 30,
    environment: { ACK_WAIT_MS: String(ACK_WAIT_MS) },
  });
  const { requestId } = await client.invokeAsync(name, '{}');
  await recorder.waitFor('the long event to finish', () => recorder.of(name, 'end').length === 1, 30_000);
  await sleep(500);
  expect(recorder.of(name).map((r) => r.requestId)).toEqual([requestId]);
});

test('a timed-out event is a function error and is dead-lettered as Sandbox.Timedout when its retries are exhausted', async () => {
  const name = uniqueName('slowpoke');
  await deploy(name, "await report('start', event, context); await sleep(5000); return 'late';", { timeoutSeconds: 1, async: { maxRetryAttempts: 0 } });
  const { requestId } = await client.invokeAsync(name, '{}');
  const [dl] = await waitForDeadLetters(name, 1);
  expect(dl).toMatchObject({ requestId, condition: 'RetriesExhausted', approximateInvokeCount: 1, errorType: 'Sandbox.Timedout' });
  expect(recorder.of(name)).toHaveLength(1);
});

test('queued events are dead-lettered as FunctionNotFound when the function is deleted before they run', async () => {
  const name = uniqueName('doomed');
  await deploy(name, "await report('start', event, context); await sleep(1500); return 'ok';", { reservedConcurrency: 1 });
  const ids = (await Promise.all([1, 2, 3].map((n) => client.invokeAsync(name, JSON.stringify({ n }))))).map((r) => r.requestId);
  await recorder.waitFor('the first event to start', () => recorder.of(name).length === 1);
  await client.deleteFunction(name);
  const letters = await waitForDeadLetters(name, 2);
  expect(letters.map((d) => d.condition)).toEqual(['FunctionNotFound', 'FunctionNotFound']);
  expect(new Set([...letters.map((d) => d.requestId), recorder.of(name)[0]?.requestId])).toEqual(new Set(ids));
});

describe('with one instance slot in the cluster', () => {
  let small: TestCluster;
  let smallNc: NatsConnection;
  beforeAll(async () => {
    small = await startCluster({ agents: 1, routerEnv: { ...ROUTER_ENV, STRATUS_PLACEMENT_WAIT_MS: '200' }, agentEnv: { STRATUS_AGENT_MAX_INSTANCES: '1', ...recorder.agentEnv() } });
    smallNc = await connect({ servers: small.nats.url });
  }, 60_000);
  afterAll(async () => {
    await smallNc?.close();
    await small?.stop();
  });

  test('throttled events wait for capacity without using an attempt and complete when capacity frees', async () => {
    const smallClient = small.client();
    const hog = uniqueName('hog');
    const name = uniqueName('waits');
    const dest = await capture(`dest.${name}`, await jetstreamManager(smallNc));
    const dir = (body: string): string => fixture(body);
    await smallClient.deploy({ name: hog, source: dir("await report('start', event, context); await sleep(2000); return 'hogged';"), settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 10, environment: recorder.env() } });
    await smallClient.deploy({ name, source: dir(OK), settings: { runtime: 'nodejs', handler: 'index.handler', environment: recorder.env(), async: { onSuccess: { kind: 'subject', target: dest.subject } } } });
    const hogged = smallClient.invoke(hog, '{}');
    await recorder.waitFor('the hog to hold the only slot', () => recorder.of(hog).length === 1);
    const ids = (await Promise.all([1, 2, 3].map((n) => smallClient.invokeAsync(name, JSON.stringify({ n }))))).map((r) => r.requestId);
    expect((await hogged).functionError).toBeUndefined();
    const records = await waitForRecords(dest, 3, 30_000);
    expect(new Set(records.map((r) => r.requestContext.requestId))).toEqual(new Set(ids));
    for (const r of records) expect(r.requestContext).toMatchObject({ condition: 'Success', approximateInvokeCount: 1 });
    expect(recorder.of(name)).toHaveLength(3);
    expect(await asyncCounter(small.routers[0]!, 'throttled_total', name)).toBeGreaterThan(0);
  }, 60_000);
});
