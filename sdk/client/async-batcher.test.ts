import { context, createContextKey, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { InvokeAsyncBatchResponse, InvokeAsyncRequest } from '../../proto/gen/stratus/v1/invoke';
import { StratusError } from '../core/errors';
import { AsyncBatcher, type BatchedEvent } from './async-batcher';

/** A send function that answers each entry from `answer` and records the batches it saw. */
function recordingSend(answer: (e: InvokeAsyncRequest) => InvokeAsyncBatchResponse['results'][number] = (e) => ({ result: { $case: 'accepted', value: { requestId: e.requestId, duplicate: false } } })) {
  const batches: Array<{ entries: InvokeAsyncRequest[]; deadlineMs: number; marker: unknown }> = [];
  const send = async (entries: InvokeAsyncRequest[], deadlineMs: number): Promise<InvokeAsyncBatchResponse> => {
    batches.push({ entries, deadlineMs, marker: context.active().getValue(MARK) });
    const results = entries.map(answer);
    return { results, failedCount: results.filter((r) => r.result?.$case === 'error').length };
  };
  return { batches, send };
}

const MARK = createContextKey('test-mark');

function event(n: number, over: Partial<BatchedEvent> = {}, payloadBytes = 2): BatchedEvent {
  return { request: { functionName: 'fn', qualifier: '', payload: Buffer.alloc(payloadBytes, 0x31), requestId: `id-${n}` }, generatedId: false, deadlineMs: 1_000_000 + n, ...over };
}

beforeAll(() => {
  // The SDK's own set-up: it installs the async-context manager the batcher's grouping relies on.
  new NodeTracerProvider().register();
});
afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

test('calls made in one turn go out as one batch, in order, with the earliest deadline, and each caller gets its own answer', async () => {
  const { batches, send } = recordingSend();
  const batcher = new AsyncBatcher(send);
  const answers = await Promise.all([3, 1, 2].map((n) => batcher.add(event(n))));
  expect(batches).toHaveLength(1);
  expect(batches[0]?.entries.map((e) => e.requestId)).toEqual(['id-3', 'id-1', 'id-2']);
  expect(batches[0]?.deadlineMs).toBe(1_000_001);
  expect(answers).toEqual([3, 1, 2].map((n) => ({ requestId: `id-${n}`, duplicate: false })));
});

test('calls in later turns go out as later batches when the first batch has already left', async () => {
  const { batches, send } = recordingSend();
  const batcher = new AsyncBatcher(send);
  await batcher.add(event(1));
  await batcher.add(event(2));
  expect(batches.map((b) => b.entries.length)).toEqual([1, 1]);
});

test('a batch is split when it reaches the entry limit or the byte limit', async () => {
  const { batches, send } = recordingSend();
  const byCount = new AsyncBatcher(send, { maxEntries: 3, maxBytes: 1_000 });
  await Promise.all([1, 2, 3, 4, 5, 6, 7].map((n) => byCount.add(event(n))));
  expect(batches.map((b) => b.entries.length)).toEqual([3, 3, 1]);
  batches.length = 0;
  const byBytes = new AsyncBatcher(send, { maxEntries: 100, maxBytes: 250 });
  await Promise.all([1, 2, 3, 4, 5].map((n) => byBytes.add(event(n, {}, 100))));
  expect(batches.map((b) => b.entries.length)).toEqual([2, 2, 1]);
});

test('a refused entry rejects only its own caller, with the code and message the router gave', async () => {
  const { send } = recordingSend((e) =>
    e.requestId === 'id-2' ? { result: { $case: 'error', value: { code: 'FunctionNotFound', message: "function 'x' does not exist" } } } : { result: { $case: 'accepted', value: { requestId: e.requestId, duplicate: false } } },
  );
  const batcher = new AsyncBatcher(send);
  const settled = await Promise.allSettled([1, 2, 3].map((n) => batcher.add(event(n))));
  expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  const err = (settled[1] as PromiseRejectedResult).reason as StratusError;
  expect(err).toBeInstanceOf(StratusError);
  expect([err.code, err.message]).toEqual(['FunctionNotFound', "function 'x' does not exist"]);
});

test('an unknown error code from the router becomes Internal rather than an unlisted code', async () => {
  const { send } = recordingSend(() => ({ result: { $case: 'error', value: { code: 'SomethingNew', message: 'm' } } }));
  await expect(new AsyncBatcher(send).add(event(1))).rejects.toMatchObject({ code: 'Internal', message: 'm' });
});

test('a failed call rejects every caller of that batch with the call\'s error', async () => {
  const failure = new StratusError('ServiceUnavailable', 'no router');
  const batcher = new AsyncBatcher(() => Promise.reject(failure));
  const settled = await Promise.allSettled([1, 2].map((n) => batcher.add(event(n))));
  expect(settled.map((s) => (s as PromiseRejectedResult).reason)).toEqual([failure, failure]);
});

test('an answer with fewer results than entries rejects the callers left without one', async () => {
  const batcher = new AsyncBatcher(async () => ({ results: [{ result: { $case: 'accepted', value: { requestId: 'id-1', duplicate: false } } }], failedCount: 0 }));
  const settled = await Promise.allSettled([1, 2].map((n) => batcher.add(event(n))));
  expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected']);
  expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'Internal' });
});

test('a duplicate answer for an id the SDK made up reads as not duplicate; for the caller\'s own id it stays duplicate', async () => {
  const { send } = recordingSend((e) => ({ result: { $case: 'accepted', value: { requestId: e.requestId, duplicate: true } } }));
  const batcher = new AsyncBatcher(send);
  const [made, given] = await Promise.all([batcher.add(event(1, { generatedId: true })), batcher.add(event(2))]);
  expect(made.duplicate).toBe(false);
  expect(given.duplicate).toBe(true);
});

test('events from different trace contexts go in separate batches, each sent in its own context', async () => {
  const { batches, send } = recordingSend();
  const batcher = new AsyncBatcher(send);
  await Promise.all([
    context.with(ROOT_CONTEXT.setValue(MARK, 'a'), () => batcher.add(event(1))),
    context.with(ROOT_CONTEXT.setValue(MARK, 'b'), () => batcher.add(event(2))),
    batcher.add(event(3)),
  ]);
  expect(batches.map((b) => [b.marker, b.entries.map((e) => e.requestId)])).toEqual([
    ['a', ['id-1']],
    ['b', ['id-2']],
    [undefined, ['id-3']],
  ]);
});
