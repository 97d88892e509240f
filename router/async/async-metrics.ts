import { LRUCache } from 'lru-cache';

/** Async counters of one function. */
export interface AsyncCounters {
  accepted: number;
  duplicates: number;
  succeeded: number;
  /** Function-error retries scheduled. */
  retried: number;
  /** Deliveries put back because no capacity was free or the platform failed (no attempt used). */
  throttled: number;
  deadLettered: number;
  /** Records that could not reach their destination and went to the dead-letter subject instead. */
  destinationFailures: number;
  /** Invocations stopped by the recursion guard (sync calls and events alike). */
  recursionStopped: number;
  /** Events an event source or destination was not allowed to deliver (dead-lettered as AccessDenied). */
  accessDenied: number;
  /** Age of the last event this router started, ms. */
  lastEventAgeMs: number;
}

function zero(): AsyncCounters {
  return { accepted: 0, duplicates: 0, succeeded: 0, retried: 0, throttled: 0, deadLettered: 0, destinationFailures: 0, recursionStopped: 0, accessDenied: 0, lastEventAgeMs: 0 };
}

/** Per-function async counters of this router, bounded (least recently active functions are dropped, and counted). */
export class AsyncMetrics {
  private readonly byFunction: LRUCache<string, AsyncCounters>;
  /** Functions whose counters were dropped to stay within the bound. */
  dropped = 0;

  constructor(maxFunctions: number) {
    this.byFunction = new LRUCache<string, AsyncCounters>({ max: maxFunctions, dispose: (_v, _k, reason) => (reason === 'evict' ? (this.dropped += 1) : undefined) });
  }

  /** Adds to a counter. */
  count(fn: string, counter: Exclude<keyof AsyncCounters, 'lastEventAgeMs'>, by = 1): void {
    this.get(fn)[counter] += by;
  }

  /** Records the age of an event being started. */
  eventAge(fn: string, ageMs: number): void {
    this.get(fn).lastEventAgeMs = ageMs;
  }

  /** A copy of every function's counters. */
  snapshot(): Record<string, AsyncCounters> {
    const out: Record<string, AsyncCounters> = {};
    for (const [fn, c] of this.byFunction.entries()) out[fn] = { ...c };
    return out;
  }

  /** Prometheus text exposition of the counters. */
  prometheus(): string {
    const names: Array<[keyof AsyncCounters, string, string]> = [
      ['accepted', 'counter', 'stratus_async_accepted_total'],
      ['duplicates', 'counter', 'stratus_async_duplicates_total'],
      ['succeeded', 'counter', 'stratus_async_succeeded_total'],
      ['retried', 'counter', 'stratus_async_retried_total'],
      ['throttled', 'counter', 'stratus_async_throttled_total'],
      ['deadLettered', 'counter', 'stratus_async_dead_lettered_total'],
      ['destinationFailures', 'counter', 'stratus_async_destination_failures_total'],
      ['recursionStopped', 'counter', 'stratus_recursion_stopped_total'],
      ['accessDenied', 'counter', 'stratus_async_access_denied_total'],
      ['lastEventAgeMs', 'gauge', 'stratus_async_event_age_ms'],
    ];
    const lines: string[] = [];
    for (const [key, type, metric] of names) {
      lines.push(`# TYPE ${metric} ${type}`);
      for (const [fn, c] of this.byFunction.entries()) lines.push(`${metric}{function="${fn}"} ${c[key]}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private get(fn: string): AsyncCounters {
    let c = this.byFunction.get(fn);
    if (!c) this.byFunction.set(fn, (c = zero()));
    return c;
  }
}
