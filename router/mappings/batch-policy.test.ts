import { backoffDelayMs, decideAfterInvoke, parseBatchItemFailures, splitExpired, type BackoffSettings } from './batch-policy';

const body = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const SEQS = [10, 12, 15, 20];
const BACKOFF: BackoffSettings = { retryBaseMs: 100, retryCapMs: 1000, throttleBaseMs: 50, throttleCapMs: 400 };
const recs = SEQS.map((seq) => ({ seq }));
const half = (): number => 0;

describe('parseBatchItemFailures', () => {
  test.each([
    ['an empty response', undefined],
    ['an empty body', ''],
    ['a null response', 'null'],
    ['an empty object', {}],
    ['a null batchItemFailures', { batchItemFailures: null }],
    ['an empty batchItemFailures', { batchItemFailures: [] }],
    ['a response that is not an object', '"done"'],
  ])('reports full success when the function returns %s', (_what, payload) => {
    expect(parseBatchItemFailures(payload === undefined ? undefined : body(payload), SEQS)).toEqual({ kind: 'success' });
  });

  test.each([
    ['text that is not JSON', 'oops'],
    ['batchItemFailures that is not a list', { batchItemFailures: 'x' }],
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['the identifier under another key', { batchItemFailures: [{ itemId: '12' }] }],
    ['an identifier that is no sequence number', { batchItemFailures: [{ itemIdentifier: 'abc' }] }],
    ['an entry that is not an object', { batchItemFailures: ['12'] }],
  ])('reports full failure when the function returns %s', (_what, payload) => {
    expect(parseBatchItemFailures(body(payload), SEQS).kind).toBe('failure');
  });

  test('retries from the lowest reported sequence when several items failed', () => {
    expect(parseBatchItemFailures(body({ batchItemFailures: [{ itemIdentifier: '20' }, { itemIdentifier: '12' }] }), SEQS)).toEqual({ kind: 'partial', fromSeq: 12 });
    expect(parseBatchItemFailures(body({ batchItemFailures: [{ itemIdentifier: 15 }] }), SEQS)).toEqual({ kind: 'partial', fromSeq: 15 });
  });

  test('counts as full success when the lowest reported sequence is past the batch', () => {
    expect(parseBatchItemFailures(body({ batchItemFailures: [{ itemIdentifier: '99' }] }), SEQS)).toEqual({ kind: 'success' });
  });
});

describe('decideAfterInvoke', () => {
  const group = { records: recs, attempts: 0, throttles: 0, meta: undefined };

  test('acknowledges everything when the batch succeeds', () => {
    expect(decideAfterInvoke(group, { kind: 'returned', items: { kind: 'success' } }, { maximumRetryAttempts: 2, bisectBatchOnFunctionError: false }, BACKOFF, 0)).toEqual({ done: recs, exhausted: [], retry: [] });
  });

  test('retries the same batch with a growing delay and no attempt used when throttled', () => {
    const d = decideAfterInvoke({ ...group, throttles: 3 }, { kind: 'throttled' }, { maximumRetryAttempts: 0, bisectBatchOnFunctionError: false }, BACKOFF, 1000, half);
    expect(d.retry).toEqual([{ records: recs, attempts: 0, throttles: 4, notBeforeMs: 1000 + 200, meta: undefined }]);
    expect(d.exhausted).toEqual([]);
  });

  test('retries the whole batch using an attempt when the function fails and bisect is off', () => {
    const d = decideAfterInvoke({ ...group, attempts: 1 }, { kind: 'functionError' }, { maximumRetryAttempts: 2, bisectBatchOnFunctionError: false }, BACKOFF, 0, half);
    expect(d.retry).toEqual([{ records: recs, attempts: 2, throttles: 0, notBeforeMs: 100, meta: undefined }]);
  });

  test('gives the batch up when its retries are used', () => {
    const d = decideAfterInvoke({ ...group, attempts: 2 }, { kind: 'functionError' }, { maximumRetryAttempts: 2, bisectBatchOnFunctionError: false }, BACKOFF, 0);
    expect(d).toEqual({ done: [], exhausted: recs, retry: [] });
    expect(decideAfterInvoke(group, { kind: 'functionError' }, { maximumRetryAttempts: 0, bisectBatchOnFunctionError: false }, BACKOFF, 0).exhausted).toEqual(recs);
  });

  test('never gives up when maximum retry attempts is -1', () => {
    const d = decideAfterInvoke({ ...group, attempts: 10_000 }, { kind: 'functionError' }, { maximumRetryAttempts: -1, bisectBatchOnFunctionError: false }, BACKOFF, 0);
    expect(d.retry[0]?.attempts).toBe(10_001);
  });

  test('splits the batch in two at once without using an attempt when bisect is on', () => {
    const d = decideAfterInvoke({ ...group, attempts: 1 }, { kind: 'functionError' }, { maximumRetryAttempts: 1, bisectBatchOnFunctionError: true }, BACKOFF, 7);
    expect(d.retry.map((r) => [r.records.map((x) => x.seq), r.attempts, r.notBeforeMs])).toEqual([
      [[10, 12], 1, 7],
      [[15, 20], 1, 7],
    ]);
  });

  test('uses an attempt on a lone record when bisect has nothing left to split', () => {
    const d = decideAfterInvoke({ records: [{ seq: 5 }], attempts: 0, throttles: 0, meta: undefined }, { kind: 'functionError' }, { maximumRetryAttempts: 3, bisectBatchOnFunctionError: true }, BACKOFF, 0, half);
    expect(d.retry).toEqual([{ records: [{ seq: 5 }], attempts: 1, throttles: 0, notBeforeMs: 50, meta: undefined }]);
  });

  test('acknowledges records before the lowest failed item and retries the rest when the response is partial', () => {
    const d = decideAfterInvoke(group, { kind: 'returned', items: { kind: 'partial', fromSeq: 15 } }, { maximumRetryAttempts: 5, bisectBatchOnFunctionError: true }, BACKOFF, 0, half);
    expect(d.done.map((r) => r.seq)).toEqual([10, 12]);
    expect(d.retry.map((r) => [r.records.map((x) => x.seq), r.attempts])).toEqual([[[15, 20], 1]]);
  });

  test('bisects an invalid partial response like a function error when bisect is on', () => {
    const d = decideAfterInvoke(group, { kind: 'returned', items: { kind: 'failure', reason: 'x' } }, { maximumRetryAttempts: 0, bisectBatchOnFunctionError: true }, BACKOFF, 0);
    expect(d.retry).toHaveLength(2);
  });
});

test('backoff doubles up to its cap with jitter of at most half when steps grow', () => {
  expect(backoffDelayMs(0, 100, 1000, () => 1)).toBe(100);
  expect(backoffDelayMs(3, 100, 1000, () => 1)).toBe(800);
  expect(backoffDelayMs(9, 100, 1000, () => 1)).toBe(1000);
  expect(backoffDelayMs(9, 100, 1000, () => 0)).toBe(500);
});

test('splitExpired separates records past the maximum age and keeps all when there is no limit', () => {
  const rs = [{ timestampMs: 0 }, { timestampMs: 50_000 }, { timestampMs: 100_000 }];
  expect(splitExpired(rs, 60, 100_000)).toEqual({ expired: [rs[0]], fresh: [rs[1], rs[2]] });
  expect(splitExpired(rs, -1, 10 ** 12).expired).toEqual([]);
});
