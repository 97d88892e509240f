/** Options for {@link AdaptiveLimit}. */
export interface AdaptiveLimitOptions {
  /** Concurrency the limit starts at (clamped to `max`). */
  initial: number;
  /** Highest the limit may go: the function's configured cap (reserved concurrency, per-function maximum). */
  max: number;
}

/** A wider window must deliver at least this much more per second to be kept. */
const GAIN_TO_GROW = 1.1;
/** A narrower window may deliver this much less per second and still be kept (fewer instances for nearly the same work). */
const LOSS_TO_SHRINK = 0.9;
/** Fewest completions a measurement is made of. */
const MIN_ROUND = 16;
/** Shortest measurement: rates over a few milliseconds are mostly scheduler and GC noise. */
const MIN_ROUND_MS = 500;

type Phase = 'warmup' | 'measure';

/**
 * How many async events of one function a router runs at once, found by hill-climbing on the
 * rate at which they complete.
 *
 * Why: pulling a function's whole window at once makes placement start an instance for every
 * event in flight. For a short function on a small cluster that means dozens of processes
 * competing for the CPU, each with cold JIT, and fewer events per second than a few busy
 * instances manage (measured on 2 cores: a no-op drains ~600/s with 8 in flight, ~260/s with 64).
 * For a long function (or one that waits on I/O), a wide window is exactly right. Latency cannot
 * tell the two apart (a function's own duration varies, and the agent's duration includes the
 * instance's CPU wait), but throughput can: widening helps a long function in proportion and a
 * CPU-bound short one not at all.
 *
 * Rounds: after each change, the completions of the events then in flight plus `limit` more are
 * skipped (events started under the old limit, and time for the new instances' cold starts,
 * which would otherwise make a wider window look no faster), then at least `max(2 * limit, 16)`
 * completions over at least 500 ms are timed. A round only counts if the
 * window stayed full throughout (a backlog); otherwise the rate measures demand, not capacity,
 * and the limit is left alone. Then: growing that paid off continues (doubling until the first
 * disappointment, then by a quarter); growing that did not is undone; shrinking that cost little
 * continues; shrinking that cost is undone. After an undo, the next round re-measures the kept
 * limit and then probes the other way, so the limit keeps tracking a load that changes.
 */
export class AdaptiveLimit {
  private value: number;
  private max: number;
  private phase: Phase = 'warmup';
  private seen = 0;
  private skip: number;
  private lastInflight = 0;
  private startedAt = 0;
  private full = true;
  private previous: { limit: number; rate: number } | undefined;
  private slowStart = true;
  private probeUp = true;

  constructor(options: AdaptiveLimitOptions) {
    this.max = Math.max(1, Math.floor(options.max));
    this.value = Math.max(1, Math.min(Math.floor(options.initial), this.max));
    this.skip = this.value;
  }

  /** The current limit: a whole number from 1 to the cap. */
  get limit(): number {
    return this.value;
  }

  /** Changes the cap (configuration changed); the limit follows it down at once. */
  setMax(max: number): void {
    const m = Math.max(1, Math.floor(max));
    if (m === this.max) return;
    this.max = m;
    if (this.value > m) this.change(m);
  }

  /**
   * Records one finished event. `inflight` is how many of the function's events were running
   * just before it finished; `refillAt` how far below the limit the window may fall before the
   * next pull. The window counts as full while it stays within twice that of the limit (a pull
   * takes a round trip, during which more events may finish).
   */
  record(nowMs: number, inflight: number, refillAt: number): void {
    if (inflight + 2 * refillAt < this.value) this.full = false;
    this.lastInflight = inflight;
    this.seen += 1;
    if (this.phase === 'warmup') {
      if (this.seen < this.skip) return;
      this.phase = 'measure';
      this.seen = 0;
      this.startedAt = nowMs;
      this.full = true;
      return;
    }
    const elapsed = nowMs - this.startedAt;
    if (this.seen < Math.max(2 * this.value, MIN_ROUND) || elapsed < MIN_ROUND_MS) return;
    if (!this.full) {
      // Demand-limited: the rate measures arrivals, not capacity; nothing learnt, measure again.
      this.restart();
      return;
    }
    this.decide((this.seen / elapsed) * 1000);
  }

  private decide(rate: number): void {
    const limit = this.value;
    const prev = this.previous;
    this.previous = { limit, rate };
    if (!prev || prev.limit === limit) {
      // First measurement, or the kept limit re-measured: probe, up first, then alternating.
      const up = this.probeUp || limit === 1;
      this.probeUp = !up;
      this.change(up ? this.grow(limit) : this.shrink(limit));
      return;
    }
    if (limit > prev.limit) {
      if (rate >= prev.rate * GAIN_TO_GROW) {
        this.change(this.grow(limit));
      } else {
        this.slowStart = false;
        this.probeUp = false;
        this.change(prev.limit);
      }
      return;
    }
    if (rate >= prev.rate * LOSS_TO_SHRINK) {
      this.change(this.shrink(limit));
    } else {
      this.probeUp = true;
      this.change(prev.limit);
    }
  }

  private grow(limit: number): number {
    return Math.min(this.max, Math.max(limit + 1, Math.round(limit * (this.slowStart ? 2 : 1.25))));
  }

  private shrink(limit: number): number {
    return Math.max(1, Math.min(limit - 1, Math.round(limit * 0.8)));
  }

  private change(next: number): void {
    this.value = Math.max(1, Math.min(this.max, next));
    this.restart();
  }

  private restart(): void {
    this.phase = 'warmup';
    this.seen = 0;
    this.skip = this.lastInflight + this.value;
    this.full = true;
  }
}
