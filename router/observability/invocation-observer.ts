import type { InvocationRecord } from '../../sdk/core/invocation-record';
import type { InvocationObserver } from '../invoke/invoker';
import type { InvocationMetrics } from './invocation-metrics';
import type { InvocationRecords } from './invocation-records';

/**
 * Where the invoker's records go: every outcome into the metrics; into the stored records, every
 * invocation that ran or failed, and throttles only where the caller saw them (a direct call, an
 * HTTP request). An async event or a mapping batch that is throttled waits and is tried again:
 * recording each try would flood the records with what the throttle counter already says.
 */
export class RecordingObserver implements InvocationObserver {
  constructor(
    private readonly metrics: InvocationMetrics,
    private readonly records: Pick<InvocationRecords, 'record'>,
  ) {}

  completed(r: InvocationRecord): void {
    this.metrics.observe(r);
    if (r.status === 'Throttled' && r.trigger !== 'sync' && r.trigger !== 'http') return;
    this.records.record(r);
  }
}
