/**
 * What a poller has finished beyond its checkpoint, as plain data. The durable consumer's ack
 * floor only moves over a contiguous prefix, and batches of different keys finish out of order,
 * so when a mapping moves to another router (or restarts) records after the floor that were
 * already done would run again. The holder writes this hint on every lease renewal; the next
 * poller acknowledges the records it names as done without invoking. Every claim in a hint is a
 * fact ("these records were done"), so an old hint, or one from a router that lost its lease,
 * is never wrong — at worst it names fewer records than it could.
 */

/** Done: every sequence up to `floor`, and those up to `upTo` outside the `pending` ranges. */
export interface ProgressHint {
  floor: number;
  upTo: number;
  /** Inclusive [first, last] ranges of sequences not done, sorted. */
  pending: Array<[number, number]>;
}

/** Most pending ranges a hint holds; a poller with more writes none (records then simply run again). */
export const MAX_PENDING_RANGES = 10_000;

/**
 * The hint of a poller holding `held` (records received, not yet done), having received up to
 * `maxSeq` and finished up to `maxDoneSeq`. Undefined when it would be too large to write.
 */
export function snapshotProgress(held: Iterable<number>, maxSeq: number, maxDoneSeq: number): ProgressHint | undefined {
  const sorted = [...held].sort((a, b) => a - b);
  const first = sorted[0];
  if (first === undefined) return { floor: maxSeq, upTo: maxSeq, pending: [] };
  const floor = first - 1;
  const upTo = Math.max(floor, maxDoneSeq);
  const pending: Array<[number, number]> = [];
  for (const s of sorted) {
    if (s > upTo) break;
    const last = pending[pending.length - 1];
    if (last && last[1] === s - 1) last[1] = s;
    else pending.push([s, s]);
    if (pending.length > MAX_PENDING_RANGES) return undefined;
  }
  return { floor, upTo, pending };
}

/** Whether the hint says record `seq` was done. */
export function isDone(hint: ProgressHint, seq: number): boolean {
  if (seq <= hint.floor) return true;
  if (seq > hint.upTo) return false;
  let lo = 0;
  let hi = hint.pending.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = hint.pending[mid] as [number, number];
    if (seq < a) hi = mid - 1;
    else if (seq > b) lo = mid + 1;
    else return false;
  }
  return true;
}

/**
 * A new poller's hint extended with what an older hint says beyond it: right after a takeover
 * the new poller has not reached everything the old one had done, and writing only its own
 * hint would forget the rest.
 */
export function mergeHints(newer: ProgressHint, older: ProgressHint | undefined): ProgressHint {
  if (!older || older.upTo <= newer.upTo) return newer;
  const tail = older.pending.filter(([, b]) => b > newer.upTo).map(([a, b]): [number, number] => [Math.max(a, newer.upTo + 1), b]);
  return { floor: newer.floor, upTo: older.upTo, pending: [...newer.pending, ...tail] };
}

/** Reads a stored hint, or undefined when it is not one. */
export function parseProgressHint(value: unknown): ProgressHint | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Partial<ProgressHint>;
  if (!Number.isSafeInteger(v.floor) || !Number.isSafeInteger(v.upTo) || !Array.isArray(v.pending)) return undefined;
  const ok = v.pending.every((r) => Array.isArray(r) && r.length === 2 && Number.isSafeInteger(r[0]) && Number.isSafeInteger(r[1]));
  return ok ? { floor: v.floor as number, upTo: v.upTo as number, pending: v.pending } : undefined;
}
