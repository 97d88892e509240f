import type { DeadLetter as DeadLetterPb, ListDeadLettersResponse, PurgeDeadLettersResponse, RedriveDeadLettersResponse } from '../../proto/gen/stratus/v1/dead_letters';
import type { RouterTransport } from './router-transport';
import type { DeadLetterInfo } from './types';

/** A dead letter as SDK users see it; the record is parsed when it is JSON. */
export function deadLetterFromPb(d: DeadLetterPb): DeadLetterInfo {
  let record: unknown = null;
  try {
    record = JSON.parse(d.record.toString('utf8'));
  } catch {
    // Not every record is JSON (a raw event payload may be anything): hand it over as text.
    record = d.record.toString('utf8');
  }
  return {
    sequence: d.sequence,
    functionName: d.functionName,
    requestId: d.requestId,
    condition: d.condition,
    approximateInvokeCount: d.approximateInvokeCount,
    errorType: d.errorType,
    errorMessage: d.errorMessage,
    time: new Date(d.timeMs),
    record,
  };
}

/** A page of a function's dead letters, oldest first. */
export async function listDeadLetters(t: RouterTransport, name: string, afterSequence: number, maxItems: number): Promise<{ deadLetters: DeadLetterInfo[]; next: number }> {
  const res = await t.call<ListDeadLettersResponse>('read', 'ListDeadLetters', t.deadline(), undefined, (s, md, opts, cb) =>
    s.deadLetters.listDeadLetters({ functionName: name, afterSequence, maxItems }, md, opts, cb),
  );
  return { deadLetters: res.deadLetters.map(deadLetterFromPb), next: res.nextAfterSequence };
}

/** One dead letter with its full invocation record. */
export async function getDeadLetter(t: RouterTransport, name: string, sequence: number): Promise<DeadLetterInfo> {
  const res = await t.call<DeadLetterPb>('read', 'GetDeadLetter', t.deadline(), undefined, (s, md, opts, cb) => s.deadLetters.getDeadLetter({ functionName: name, sequence }, md, opts, cb));
  return deadLetterFromPb(res);
}

/** Runs dead letters again as new async invocations (all of the function's when `sequences` is empty). */
export async function redriveDeadLetters(t: RouterTransport, name: string, sequences: number[]): Promise<{ redriven: number; requestIds: string[] }> {
  return t.call<RedriveDeadLettersResponse>('write', 'RedriveDeadLetters', t.deadline(), undefined, (s, md, opts, cb) =>
    s.deadLetters.redriveDeadLetters({ functionName: name, sequences }, md, opts, cb),
  );
}

/** Deletes all of a function's dead letters; returns how many. */
export async function purgeDeadLetters(t: RouterTransport, name: string): Promise<number> {
  const res = await t.call<PurgeDeadLettersResponse>('write', 'PurgeDeadLetters', t.deadline(), undefined, (s, md, opts, cb) => s.deadLetters.purgeDeadLetters({ functionName: name }, md, opts, cb));
  return res.purged;
}
