import type { Meter } from '@opentelemetry/api';
import { LRUCache } from 'lru-cache';
import type { InvocationRecord, InvocationTrigger } from '../../sdk/core/invocation-record';
import { DURATION_BUCKETS_SECONDS } from '../../sdk/platform/metrics';

/** OpenTelemetry's faas.trigger values for Stratus' entry points. */
const FAAS_TRIGGER: Record<InvocationTrigger, 'http' | 'pubsub' | 'timer' | 'datasource' | 'other'> = {
  sync: 'other',
  async: 'other',
  http: 'http',
  schedule: 'timer',
  trigger: 'pubsub',
  mapping: 'datasource',
  destination: 'other',
  redrive: 'other',
};

/** Distinct error types kept per function; the rest are counted as `_OTHER` (a function may throw anything). */
const ERROR_TYPES_PER_FUNCTION = 20;

/**
 * The router's invocation metrics, named as OpenTelemetry's FaaS conventions name them:
 * faas.invocations (successful), faas.errors (by error.type), faas.timeouts, faas.invoke_duration,
 * faas.coldstarts and faas.init_duration, plus stratus.throttles, stratus.concurrent_executions and
 * stratus.async.event_age. Attributes: the function, faas.trigger, stratus.trigger and a bounded
 * error type; nothing per request.
 */
export class InvocationMetrics {
  private readonly invocations;
  private readonly errors;
  private readonly timeouts;
  private readonly throttles;
  private readonly duration;
  private readonly coldStarts;
  private readonly initDuration;
  private readonly eventAge;
  private readonly errorTypes = new LRUCache<string, Set<string>>({ max: 10_000 });

  constructor(meter: Meter, concurrency: () => ReadonlyMap<string, number>) {
    this.invocations = meter.createCounter('faas.invocations', { description: 'Invocations that ran and succeeded', unit: '{invocation}' });
    this.errors = meter.createCounter('faas.errors', { description: 'Invocations that ended in an error (function errors, timeouts, platform failures), by error.type', unit: '{error}' });
    this.timeouts = meter.createCounter('faas.timeouts', { description: 'Invocations stopped at their timeout', unit: '{timeout}' });
    this.throttles = meter.createCounter('stratus.throttles', { description: 'Invocations refused for want of concurrency (reserved, cluster limit or capacity)', unit: '{throttle}' });
    this.duration = meter.createHistogram('faas.invoke_duration', { description: 'Time functions ran, per invocation', unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS_SECONDS } });
    this.coldStarts = meter.createCounter('faas.coldstarts', { description: 'Invocations that started a new instance', unit: '{coldstart}' });
    this.initDuration = meter.createHistogram('faas.init_duration', { description: 'Init phase of new instances', unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS_SECONDS } });
    this.eventAge = meter.createHistogram('stratus.async.event_age', { description: 'Time from an event\'s acceptance to the start of its invocation', unit: 's', advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_SECONDS, 3600, 21_600] } });
    const concurrent = meter.createObservableGauge('stratus.concurrent_executions', { description: 'Invocations this router has running on agents now', unit: '{invocation}' });
    concurrent.addCallback((r) => {
      for (const [fn, n] of concurrency()) r.observe(n, { 'faas.name': fn });
    });
  }

  /** Counts one invocation's outcome. */
  observe(r: InvocationRecord): void {
    const base = { 'faas.name': r.functionName, 'faas.trigger': FAAS_TRIGGER[r.trigger], 'stratus.trigger': r.trigger };
    if (r.status === 'Throttled') {
      this.throttles.add(1, base);
      return;
    }
    if (r.queueWaitMs > 0) this.eventAge.record(r.queueWaitMs / 1000, { 'faas.name': r.functionName, 'stratus.trigger': r.trigger });
    if (r.status === 'Success') this.invocations.add(1, base);
    else this.errors.add(1, { ...base, 'error.type': this.errorType(r.functionName, r.errorType || r.status) });
    if (r.status === 'Timeout') this.timeouts.add(1, base);
    // Only what an agent ran has a duration (a platform timeout or failure has none to record).
    if (r.agentId) this.duration.record(r.durationMs / 1000, base);
    if (r.coldStart) {
      this.coldStarts.add(1, { 'faas.name': r.functionName });
      if (r.initDurationMs !== undefined) this.initDuration.record(r.initDurationMs / 1000, { 'faas.name': r.functionName });
    }
  }

  private errorType(fn: string, type: string): string {
    let seen = this.errorTypes.get(fn);
    if (!seen) this.errorTypes.set(fn, (seen = new Set()));
    if (seen.has(type)) return type;
    if (seen.size >= ERROR_TYPES_PER_FUNCTION) return '_OTHER';
    seen.add(type);
    return type;
  }
}
