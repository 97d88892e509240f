/**
 * What happens to a batch after an invocation, as plain functions: reading a partial batch
 * response (reference: async-and-event-sources.md §4.3), retrying, bisecting, giving up, and
 * dropping records past their maximum age.
 */
import type { RetrySpec } from './key-scheduler';

/** What a function's response says about its batch when ReportBatchItemFailures is on. */
export type ItemFailures = { kind: 'success' } | { kind: 'failure'; reason: string } | { kind: 'partial'; fromSeq: number };

/** How an invocation of a batch ended. */
export type InvokeOutcome =
  /** Throttled, or the platform failed before or around the function: no retry attempt is used. */
  | { kind: 'throttled' }
  /** The function threw, timed out or crashed. */
  | { kind: 'functionError' }
  /** The function returned; with ReportBatchItemFailures on, what it reported. */
  | { kind: 'returned'; items: ItemFailures };

/** The settings a decision depends on. */
export interface PolicySettings {
  /** -1: retry until the records expire. */
  maximumRetryAttempts: number;
  bisectBatchOnFunctionError: boolean;
}

/** Backoff settings: delays double from the base up to the cap, with jitter. */
export interface BackoffSettings {
  retryBaseMs: number;
  retryCapMs: number;
  throttleBaseMs: number;
  throttleCapMs: number;
}

/** The group that ran, as the policy sees it. */
export interface RanGroup<T, M> {
  records: T[];
  attempts: number;
  throttles: number;
  meta: M | undefined;
}

/** What to do with a batch's records: acknowledge, send to the on-failure destination, or retry. */
export interface BatchDecision<T, M> {
  done: T[];
  /** Retries ran out: these go to the on-failure destination (condition RetryAttemptsExhausted). */
  exhausted: T[];
  retry: Array<RetrySpec<T, M>>;
}

const DIGITS = /^\d{1,16}$/;

function sequenceOf(id: unknown): number | undefined {
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return id;
  if (typeof id === 'string' && DIGITS.test(id)) return Number(id);
  return undefined;
}

/**
 * Reads a batch response by the §4.3 rules: an empty or null response, or an empty or null
 * `batchItemFailures`, is full success; a response that is not JSON, a `batchItemFailures` that
 * is not a list, or an entry whose `itemIdentifier` is missing, null, empty or not a sequence
 * number is full failure; otherwise the lowest reported sequence is where the batch is retried
 * from. Stream rules, not SQS ones: an identifier outside the batch is no failure by itself.
 */
export function parseBatchItemFailures(payload: Uint8Array | undefined, batchSeqs: readonly number[]): ItemFailures {
  const text = payload ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8').trim() : '';
  if (text === '') return { kind: 'success' };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: 'failure', reason: 'the response is not JSON' };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { kind: 'success' };
  const list = (body as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return { kind: 'success' };
  if (!Array.isArray(list)) return { kind: 'failure', reason: 'batchItemFailures is not a list' };
  if (list.length === 0) return { kind: 'success' };
  let lowest = Infinity;
  for (const item of list) {
    const id = item !== null && typeof item === 'object' ? (item as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (id === undefined || id === null || id === '') return { kind: 'failure', reason: 'a batchItemFailures entry has no itemIdentifier (empty, null or under another key)' };
    const seq = sequenceOf(id);
    if (seq === undefined) return { kind: 'failure', reason: `itemIdentifier ${JSON.stringify(id)} is not a record's sequence number` };
    lowest = Math.min(lowest, seq);
  }
  const last = batchSeqs.length > 0 ? Math.max(...batchSeqs) : 0;
  // The lowest reported record is the new checkpoint: nothing of this batch from there on means full success.
  return lowest > last ? { kind: 'success' } : { kind: 'partial', fromSeq: lowest };
}

/** A delay that doubles per step from `baseMs` up to `capMs`, with up to half of it as jitter. */
export function backoffDelayMs(step: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(step, 30));
  return Math.round(exp * (0.5 + random() / 2));
}

/**
 * Decides what follows an invocation. Throttles retry the same batch with backoff and use no
 * attempt. A partial response acknowledges what precedes the lowest reported record and retries
 * the rest as one batch, using an attempt. A function error (or an invalid partial response)
 * bisects a batch of two or more when bisect is on, using no attempt (Lambda: "splitting does not
 * use up retry attempts"); otherwise it retries the whole batch after a backoff, using an
 * attempt, until `maximumRetryAttempts` are used (-1: never), and then gives up on it.
 */
export function decideAfterInvoke<T extends { seq: number }, M>(group: RanGroup<T, M>, outcome: InvokeOutcome, settings: PolicySettings, backoff: BackoffSettings, nowMs: number, random: () => number = Math.random): BatchDecision<T, M> {
  const { records, attempts, meta } = group;
  if (outcome.kind === 'throttled') {
    const delay = backoffDelayMs(group.throttles, backoff.throttleBaseMs, backoff.throttleCapMs, random);
    return { done: [], exhausted: [], retry: [{ records, attempts, throttles: group.throttles + 1, notBeforeMs: nowMs + delay, meta }] };
  }
  if (outcome.kind === 'returned' && outcome.items.kind === 'success') return { done: records, exhausted: [], retry: [] };
  const fail = (failed: T[], done: T[]): BatchDecision<T, M> => {
    if (settings.maximumRetryAttempts !== -1 && attempts + 1 > settings.maximumRetryAttempts) return { done, exhausted: failed, retry: [] };
    const delay = backoffDelayMs(attempts, backoff.retryBaseMs, backoff.retryCapMs, random);
    return { done, exhausted: [], retry: [{ records: failed, attempts: attempts + 1, throttles: 0, notBeforeMs: nowMs + delay, meta }] };
  };
  if (outcome.kind === 'returned' && outcome.items.kind === 'partial') {
    const from = outcome.items.fromSeq;
    return fail(
      records.filter((r) => r.seq >= from),
      records.filter((r) => r.seq < from),
    );
  }
  if (settings.bisectBatchOnFunctionError && records.length > 1) {
    const half = Math.ceil(records.length / 2);
    return {
      done: [],
      exhausted: [],
      retry: [
        { records: records.slice(0, half), attempts, throttles: 0, notBeforeMs: nowMs, meta },
        { records: records.slice(half), attempts, throttles: 0, notBeforeMs: nowMs, meta },
      ],
    };
  }
  return fail(records, []);
}

/** Splits records into those older than the maximum age (-1: none are) and the rest. */
export function splitExpired<T extends { timestampMs: number }>(records: readonly T[], maximumRecordAgeSeconds: number, nowMs: number): { expired: T[]; fresh: T[] } {
  if (maximumRecordAgeSeconds === -1) return { expired: [], fresh: [...records] };
  const limit = nowMs - maximumRecordAgeSeconds * 1000;
  const expired: T[] = [];
  const fresh: T[] = [];
  for (const r of records) (r.timestampMs < limit ? expired : fresh).push(r);
  return { expired, fresh };
}
