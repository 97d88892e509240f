import type { Meter } from '@opentelemetry/api';
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

  /**
   * Reports the counters through OpenTelemetry (Prometheus at /metrics, OTLP when configured), under
   * the names they have always had: stratus.async.accepted is stratus_async_accepted_total, and so on.
   */
  observe(meter: Meter): void {
    const counters: Array<[Exclude<keyof AsyncCounters, 'lastEventAgeMs'>, string, string]> = [
      ['accepted', 'stratus.async.accepted', 'Async events accepted'],
      ['duplicates', 'stratus.async.duplicates', 'Async events dropped as repeats of one already accepted'],
      ['succeeded', 'stratus.async.succeeded', 'Async events whose invocation succeeded'],
      ['retried', 'stratus.async.retried', 'Retries scheduled after a function error'],
      ['throttled', 'stratus.async.throttled', 'Deliveries put back for want of capacity or after a platform failure (no attempt used)'],
      ['deadLettered', 'stratus.async.dead_lettered', 'Events sent to the dead letters'],
      ['destinationFailures', 'stratus.async.destination_failures', 'Invocation records that could not reach their destination'],
      ['recursionStopped', 'stratus.recursion_stopped', 'Invocations stopped by the recursion guard'],
      ['accessDenied', 'stratus.async.access_denied', 'Events an event source or destination was not allowed to deliver'],
    ];
    const instruments = counters.map(([key, name, description]) => [key, meter.createObservableCounter(name, { description, unit: '{event}' })] as const);
    const age = meter.createObservableGauge('stratus.async.event_age_ms', { description: 'Age of the last async event this router started', unit: 'ms' });
    meter.addBatchObservableCallback(
      (r) => {
        for (const [fn, c] of this.byFunction.entries()) {
          for (const [key, instrument] of instruments) r.observe(instrument, c[key], { function: fn });
          r.observe(age, c.lastEventAgeMs, { function: fn });
        }
      },
      [...instruments.map(([, i]) => i), age],
    );
  }

  private get(fn: string): AsyncCounters {
    let c = this.byFunction.get(fn);
    if (!c) this.byFunction.set(fn, (c = zero()));
    return c;
  }
}
