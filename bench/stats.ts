/** Latency statistics for benchmark tables. */
export interface LatencyStats {
  count: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  throughputPerS: number;
}

/** Percentile of sorted samples (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Summarises per-call latencies measured over `wallMs`. */
export function summarize(samplesMs: number[], wallMs: number): LatencyStats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return { count: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), meanMs: mean, throughputPerS: (sorted.length / wallMs) * 1000 };
}

/** Runs `op` `total` times with `concurrency` callers; returns per-call latency and wall time. */
export async function measure(total: number, concurrency: number, op: () => Promise<void>): Promise<LatencyStats> {
  const samples: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        const t0 = performance.now();
        await op();
        samples.push(performance.now() - t0);
      }
    }),
  );
  return summarize(samples, performance.now() - start);
}

/** The round with the median p50 (rounds of one figure, alternated with its baseline's). */
export function medianRound(rounds: LatencyStats[]): LatencyStats {
  return [...rounds].sort((a, b) => a.p50Ms - b.p50Ms)[Math.floor(rounds.length / 2)] as LatencyStats;
}
