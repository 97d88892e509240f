import type { InvocationRecord } from '../../sdk/core/invocation-record';

/** A function's last hour at a glance, as the console shows it. */
export interface FunctionStats {
  requests: number;
  errors: number;
  throttles: number;
  coldStarts: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Invocations per bucket, oldest first. */
  requestsSeries: number[];
  /** Errors per bucket, oldest first. */
  errorsSeries: number[];
  /** p99 duration per bucket (0 where nothing ran). */
  p99Series: number[];
}

function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Empty stats over `buckets` buckets. */
export function emptyStats(buckets: number): FunctionStats {
  return { requests: 0, errors: 0, throttles: 0, coldStarts: 0, p50Ms: undefined, p99Ms: undefined, requestsSeries: new Array(buckets).fill(0), errorsSeries: new Array(buckets).fill(0), p99Series: new Array(buckets).fill(0) };
}

/**
 * Adds invocation records up per function over the window [now - windowMs, now), in `buckets`
 * equal buckets: counts, exact p50/p99 of durations, and series for sparklines. Throttles count as
 * requests the function did not run, as Lambda's Throttles metric is apart from Invocations.
 */
export function functionStats(records: readonly InvocationRecord[], nowMs: number, windowMs: number, buckets: number): Map<string, FunctionStats> {
  const from = nowMs - windowMs;
  const width = windowMs / buckets;
  const out = new Map<string, FunctionStats>();
  const durations = new Map<string, number[]>();
  const bucketDurations = new Map<string, number[][]>();
  for (const r of records) {
    if (r.startMs < from || r.startMs >= nowMs) continue;
    let s = out.get(r.functionName);
    if (!s) {
      out.set(r.functionName, (s = emptyStats(buckets)));
      durations.set(r.functionName, []);
      bucketDurations.set(r.functionName, Array.from({ length: buckets }, () => []));
    }
    const b = Math.min(buckets - 1, Math.floor((r.startMs - from) / width));
    if (r.status === 'Throttled') {
      s.throttles += 1;
      continue;
    }
    s.requests += 1;
    s.requestsSeries[b]! += 1;
    if (r.status !== 'Success') {
      s.errors += 1;
      s.errorsSeries[b]! += 1;
    }
    if (r.coldStart) s.coldStarts += 1;
    if (r.status !== 'Failed') {
      durations.get(r.functionName)!.push(r.durationMs);
      bucketDurations.get(r.functionName)![b]!.push(r.durationMs);
    }
  }
  for (const [fn, s] of out) {
    const all = durations.get(fn)!.sort((a, b) => a - b);
    s.p50Ms = percentile(all, 50);
    s.p99Ms = percentile(all, 99);
    s.p99Series = bucketDurations.get(fn)!.map((d) => percentile(d.sort((a, b) => a - b), 99) ?? 0);
  }
  return out;
}
